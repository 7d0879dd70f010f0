/**
 * The page's two inference engines measured in headless Chromium, as the app runs them: TF.js wasm (SIMD, XNNPACK)
 * and ONNX Runtime Web (wasm SIMD) on the shipped models, each in a module Web Worker, loaded through the app's own
 * loader (web/src/recognition/loadInBrowser.ts) from the files the app's build publishes (vite.config.ts: the
 * models, their generated model.onnx, the wasm binaries).
 *
 *   npx tsx bench/web-engines.ts [--calls 200] [--warmup 30] [--batch 64] [--batches 20] [--scripts digits,hanzi]
 *                                [--isolated] [--threads 2] [--json FILE]
 *
 * Both engines are loaded in their own workers first, then timed in 10 alternating rounds (a tenth of the calls of
 * one engine, then of the other), so that load from other processes falls on both alike. Per model and engine, all
 * in the worker unless named: `inference` (the forward pass alone,
 * `InferenceEngine.run` on one preprocessed image; median and 90th percentile of `--calls` calls after `--warmup`),
 * `recognize` (`Recognizer.recognize` of a 280x280 RGBA drawing: preprocessing, forward pass, calibration,
 * decoding), `roundTrip` (the same seen from the page: pixels transferred to the worker and the answer back, as the
 * app's BrowserEngine does), `batch` throughput (images/s of `run` on `--batch` images, median of `--batches`),
 * `load` (loader called to recognizer ready, no cache) and `first` (the first forward pass), the fastest call of
 * `inference` and `recognize` (what the machine does with no other process in the way), and the largest
 * difference of the two engines' probabilities on the drawing. The page is served without cross-origin isolation
 * (so both engines run one thread, as on a plain static host); `--isolated` also serves it with COOP/COEP headers
 * (`crossOriginIsolated`), where ONNX Runtime runs `--threads` threads and TF.js's threaded wasm its default.
 * Then the download each engine adds to the app (JavaScript and wasm, raw and gzipped) and the model files.
 * Prints a table and one JSON line (also written to `--json`). Needs /usr/bin/chromium.
 */
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ensureWebBuild } from '../src/server/ensureWebBuild.ts';
import { median, percentile } from './stats.ts';
import type { EngineResult, RunOptions } from './web-engines/page.ts';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '30' },
    batch: { type: 'string', default: '64' },
    batches: { type: 'string', default: '20' },
    scripts: { type: 'string', default: 'digits,hanzi' },
    isolated: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});
const positive = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer, got ${text}`);
  return value;
};
const calls = positive('calls', values.calls);
const warmup = positive('warmup', values.warmup);
const batch = positive('batch', values.batch);
const batches = positive('batches', values.batches);
const threads = positive('threads', values.threads);
const scripts = values.scripts.split(',') as Array<'digits' | 'hanzi'>;
for (const script of scripts) if (script !== 'digits' && script !== 'hanzi') throw new Error(`--scripts: unknown script ${script}`);

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm',
};

/** Serves `root` on 127.0.0.1; with `isolated`, every answer carries COOP/COEP so the page is cross-origin isolated. */
async function serve(root: string, isolated: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(root, path));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(root) || !existsSync(file)) return void response.writeHead(404, { 'content-type': 'text/html' }).end('not found');
    const headers: Record<string, string> = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
    if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    response.writeHead(200, headers);
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

/** Bytes and gzip -9 bytes of a file. */
function sizes(path: string): { bytes: number; gzip: number } {
  const bytes = readFileSync(path);
  return { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/** The bench page, built with the app's Vite config (same plugins: models, model.onnx, wasm files) into `outDir`. */
async function buildBenchPage(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: join(repoRoot, 'vite.config.ts'),
    root: join(repoRoot, 'bench/web-engines'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 1 << 20 },
  });
}

type Row = { script: string; engine: string; backend: string; isolated: boolean } & Record<string, unknown>;
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

await ensureWebBuild();
const outDir = mkdtempSync(join(tmpdir(), 'hwr-web-engines-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const rows: Row[] = [];
try {
  await buildBenchPage(outDir);
  for (const isolated of values.isolated ? [false, true] : [false]) {
    const host = await serve(outDir, isolated);
    try {
      const page = await browser.newPage();
      page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400 && !response.url().endsWith('favicon.ico')) console.error(`page request: HTTP ${response.status()} ${response.url()}`);
      });
      page.on('console', (message) => {
        if (message.type() === 'warning' || (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))) console.error(`page console: ${message.text()}`);
      });
      await page.goto(host.url);
      await page.waitForFunction(() => document.getElementById('state')?.textContent === 'ready');
      for (const script of scripts) {
        const options: RunOptions = { script, engines: ['tfjs', 'onnxruntime-web'], threads: isolated ? threads : 1, calls, warmup, batch, batches, rounds: 10 };
        const results = await page.evaluate((run) => (window as unknown as { runBench(o: RunOptions): Promise<EngineResult[]> }).runBench(run), options);
        const reference = results[0]!.probabilities;
        for (const result of results) {
          rows.push({
            script,
            engine: result.engine,
            backend: result.backend,
            isolated: result.crossOriginIsolated,
            hardwareConcurrency: result.hardwareConcurrency,
            loadMs: round(result.loadMs, 1),
            firstRunMs: round(result.firstRunMs, 2),
            inferenceMedianMs: round(median(result.inference)),
            inferenceP90Ms: round(percentile(result.inference, 0.9)),
            inferenceMinMs: round(Math.min(...result.inference)),
            recognizeMinMs: round(Math.min(...result.recognize)),
            recognizeMedianMs: round(median(result.recognize)),
            roundTripMedianMs: round(median(result.roundTrip)),
            batch,
            batchImagesPerSecond: Math.round((batch * 1000) / median(result.batch)),
            maxProbabilityDifference: Math.max(...result.probabilities.map((p, i) => Math.abs(p - reference[i]!))),
            label: result.label,
          });
        }
      }
      await page.close();
    } finally {
      await host.close();
    }
  }
  const assets = readdirSync(join(outDir, 'assets'));
  const asset = (prefix: string): string => join(outDir, 'assets', assets.find((name) => name.startsWith(prefix))!);
  const download = {
    // The worker's chunk holds TF.js (core, layers, wasm backend's JS) and the shared core: loaded with either engine.
    workerChunk: sizes(asset('bench.worker-')),
    tfjs: { 'tfjs-backend-wasm-simd.wasm': sizes(join(outDir, 'wasm/tfjs-backend-wasm-simd.wasm')) },
    onnxruntimeWeb: {
      'ortWebEngine chunk (onnxruntime-web/wasm JS)': sizes(asset('ortWebEngine-')),
      'ort-wasm-simd-threaded.js': sizes(join(outDir, 'wasm/ort-wasm-simd-threaded.js')),
      'ort-wasm-simd-threaded.wasm': sizes(join(outDir, 'wasm/ort-wasm-simd-threaded.wasm')),
    },
    models: Object.fromEntries(scripts.flatMap((script) => ['weights.bin', 'model.json', 'model.onnx'].map((name) => [`${script}/${name}`, sizes(join(outDir, 'models', script, name))]))),
  };
  console.log('script   engine            backend           isolated   load ms   first ms  inference ms: median (p90) min  recognize ms: median min  round trip ms  batch img/s  max |dp|  label');
  for (const row of rows) {
    console.log([
      row.script.padEnd(7), row.engine.padEnd(16), String(row.backend).padEnd(16), String(row.isolated).padEnd(8),
      String(row.loadMs).padStart(8), String(row.firstRunMs).padStart(9),
      `${row.inferenceMedianMs} (${row.inferenceP90Ms}) ${row.inferenceMinMs}`.padStart(30), `${row.recognizeMedianMs} ${row.recognizeMinMs}`.padStart(24),
      String(row.roundTripMedianMs).padStart(14), String(row.batchImagesPerSecond).padStart(12),
      Number(row.maxProbabilityDifference).toExponential(1).padStart(9), String(row.label),
    ].join('  '));
  }
  console.log(JSON.stringify(download, null, 1));
  const report = { bench: 'web-engines', chromium: browser.version(), calls, warmup, batch, batches, rows, download, date: new Date().toISOString() };
  console.log(JSON.stringify(report));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await browser.close();
  rmSync(outDir, { recursive: true, force: true });
}

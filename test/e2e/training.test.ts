/**
 * Training in the browser:
 * - the wasm training kernels and hwr's SIMD module load in a Chromium Web Worker through `setupBackend` (the path the
 *   page's training worker takes), and there Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput and MaxPoolGrad match
 *   the `cpu` backend on random shapes within test/backend/kernels.test.ts's tolerance (1e-4 relative);
 * - the training worker (web/src/training/training.worker.ts) teaches a tiny script (l, o, x x 5 samples, a few
 *   variants and epochs) from the shipped digits model: progress in phase order, one usable model, a final model that
 *   recognizes its training samples; and a cancelled job ends with `CANCELLED`;
 * - `modelFolderFiles` (web/src/training/modelFiles.ts) writes a folder that `hwr predict --model DIR` reads (Node).
 * The workers are esbuild bundles of the same sources (Vite's build is exercised by the page's tests), served with the
 * TF.js wasm binaries, `kernels.wasm` and the digits model by a static server.
 *
 * The Chromium parts are skipped, with a message, when /usr/bin/chromium is absent.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { modelFiles } from '../../src/train/inkScript.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { modelFolderFiles } from '../../web/src/training/modelFiles.ts';
import type { ModelFiles, TrainingProgress } from '../../web/src/training/types.ts';
import { expectClose } from '../fixtures/backends.ts';
import { hwr } from '../fixtures/cli.ts';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { serveStatic, type StaticServer } from './staticServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/e2e/training skipped its Chromium parts: no Chromium at ${CHROMIUM}`);

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const TOLERANCE = 1e-4;

/** The kernel worker: runs each case on wasm (training kernels + SIMD) and on cpu, and posts both outputs. */
const KERNEL_WORKER = `
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './src/backend/backend.ts';
import { simdBuild, simdKernels, simdKernelsAvailable } from './src/backend/simd/index.ts';
const values = (size, seed) => {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2 ** 31 - 1; }
  return out;
};
const size = (shape) => shape.reduce((a, b) => a * b, 1);
function compute(c) {
  const x = tf.tensor4d(values(size(c.x), 1), c.x);
  const filter = tf.tensor4d(values(size(c.filter), 2), c.filter);
  const y = tf.conv2d(x, filter, c.stride, c.pad);
  const dy = tf.tensor4d(values(size(y.shape), 3), y.shape);
  const pooled = tf.maxPool(x, c.pool, c.pool, 'valid');
  const dPool = tf.tensor4d(values(size(pooled.shape), 4), pooled.shape);
  return [
    y,
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }),
    tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }),
    tf.grad((input) => tf.sum(tf.mul(tf.maxPool(input, c.pool, c.pool, 'valid'), dPool)))(x),
  ];
}
self.onmessage = async ({ data }) => {
  try {
    const backend = await setupBackend({ wasmPaths: data.wasmPaths });
    // Bound to the wasm backend's heap: the kernels' SIMD paths run (not their XNNPACK fallbacks).
    const simd = simdKernelsAvailable() && simdKernels(tf.backend()) !== undefined;
    const results = [];
    for (const c of data.cases) {
      const outputs = {};
      for (const name of ['wasm', 'cpu']) {
        await setupBackend({ backend: name });
        outputs[name] = tf.tidy(() => compute(c).map((t) => Array.from(t.dataSync())));
      }
      results.push(outputs);
    }
    self.postMessage({ backend, simd, build: simdBuild(), results });
  } catch (error) {
    self.postMessage({ error: String(error && error.stack || error) });
  }
};`;

/** A training worker driver: posts one request and collects the worker's messages until it ends. */
const DRIVER_PAGE = `<!doctype html><meta charset="utf-8"><script>
window.runTraining = (request, cancelAfterProgress) => new Promise((resolve) => {
  const worker = new Worker('training.worker.js', { type: 'module' });
  const messages = [];
  worker.onmessage = ({ data }) => {
    if (data.type === 'usable' || data.type === 'done') data = { ...data, model: { ...data.model, weightData: Array.from(new Uint8Array(data.model.weightData)) } };
    messages.push(data);
    if (cancelAfterProgress && data.type === 'progress' && data.progress.phase === 'head') worker.postMessage({ type: 'cancel' });
    if (data.type === 'done' || data.type === 'failed') { worker.terminate(); resolve(messages); }
  };
  worker.onerror = (event) => { messages.push({ type: 'failed', error: { code: 'WORKER_ERROR', message: event.message } }); resolve(messages); };
  worker.postMessage({ ...request, baseUrl: new URL(request.baseUrl, location.href).href, wasmUrl: new URL('wasm/', location.href).href });
});
</script>`;

type Pad = 'valid' | 'same';
interface KernelCase { x: number[]; filter: number[]; stride: number; pad: Pad; pool: number }

/** Random conv shapes (seeded): channel counts that do and do not fill the SIMD kernels' 8 lanes, strides 1 and 2. */
function randomCases(count: number, seed: number): KernelCase[] {
  let s = seed;
  const next = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  return Array.from({ length: count }, (_, i) => {
    const k = [1, 3, 5][next(3)]!;
    const inC = [1, 3, 8, 16][next(4)]!;
    const outC = i % 2 === 0 ? [8, 16, 32][next(3)]! : [3, 5, 12][next(3)]!;
    const side = 6 + next(10);
    return { x: [1 + next(3), side, side + next(3), inC], filter: [k, k, inC, outC], stride: 1 + next(2), pad: next(2) === 0 ? 'valid' : 'same', pool: 2 };
  });
}

/** Bundles `contents` (an ES module importing the repo's sources) for a browser worker, as an ES module. */
async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: repoRoot, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

describe.skipIf(!hasChromium)('training in a Chromium Web Worker', () => {
  let browser: Browser;
  let server: StaticServer;
  let page: Page;
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'hwr-training-e2e-'));
    const require = createRequire(import.meta.url);
    const tfjsWasm = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    mkdirSync(join(root, 'wasm'));
    for (const name of readdirSync(tfjsWasm).filter((file) => file.endsWith('.wasm'))) cpSync(join(tfjsWasm, name), join(root, 'wasm', name));
    // The bundles' `new URL('./kernels.wasm', import.meta.url)` (and './kernels-relaxed.wasm') resolve beside them.
    for (const name of ['kernels.wasm', 'kernels-relaxed.wasm']) cpSync(join(repoRoot, 'src/backend/simd', name), join(root, name));
    mkdirSync(join(root, 'models/digits'), { recursive: true });
    for (const name of ['model.json', 'weights.bin', 'metadata.json', 'SHA256SUMS']) cpSync(join(repoRoot, 'models/digits', name), join(root, 'models/digits', name));
    writeFileSync(join(root, 'kernels.worker.js'), await bundle(KERNEL_WORKER));
    writeFileSync(join(root, 'training.worker.js'), await bundle(`import './web/src/training/training.worker.ts';`));
    writeFileSync(join(root, 'index.html'), DRIVER_PAGE);
    server = await serveStatic(root);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.warn(`[chromium] ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) console.warn(`[chromium] HTTP ${response.status()} ${response.url()}`);
    });
    await page.goto(server.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('runs Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput and MaxPoolGrad on the relaxed-SIMD kernels, matching cpu', async () => {
    const cases = randomCases(8, 11);
    const answer = await page.evaluate(async ([kernelCases, wasmPaths]) => new Promise<{ error?: string; backend: string; simd: boolean; build?: string; results: Array<Record<'wasm' | 'cpu', number[][]>> }>((resolve) => {
      const worker = new Worker('kernels.worker.js', { type: 'module' });
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (event) => resolve({ error: event.message, backend: '', simd: false, results: [] });
      worker.postMessage({ cases: kernelCases, wasmPaths });
    }), [cases, new URL('wasm/', server.url).href] as const);
    expect(answer.error).toBeUndefined();
    expect(answer.backend).toBe('wasm');
    expect(answer.simd).toBe(true);
    // Chromium has relaxed SIMD (since 114): the worker fetched kernels-relaxed.wasm (fused multiply-add GEMMs).
    expect(answer.build).toBe('relaxed-simd');
    const names = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad'];
    answer.results.forEach((outputs, i) => {
      names.forEach((name, j) => expectClose(outputs.wasm[j]!, outputs.cpu[j]!, `${name}, case ${JSON.stringify(cases[i])}`, TOLERANCE));
    });
  }, 60_000);

  it('teaches a tiny script: progress in order, one usable model, a final model that reads its samples', async () => {
    const dataset = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/ink/tiny.json'), 'utf8'));
    const request = { type: 'train', dataset, baseUrl: 'models/digits/', seed: 3, recipe: { variantsPerSample: 6, headEpochs: 3, fineTuneEpochs: 1 } };
    const messages = await page.evaluate(([r]) => (window as unknown as { runTraining: (r: unknown, c: boolean) => Promise<Array<Record<string, unknown>>> }).runTraining(r, false), [request] as const);
    const last = messages.at(-1)!;
    expect(last.type, JSON.stringify(last).slice(0, 400)).toBe('done');
    expect(last.backend).toBe('wasm');
    expect(last.simd).toBe(true);
    const phases = messages.filter((m) => m.type === 'progress').map((m) => (m.progress as TrainingProgress).phase);
    expect([...new Set(phases)]).toEqual(['synthesis', 'head', 'fine-tune', 'done']);
    expect(messages.filter((m) => m.type === 'usable')).toHaveLength(1);
    const model = last.model as Omit<ModelFiles, 'weightData'> & { weightData: number[] };
    expect(model.metadata.classes).toEqual(['l', 'o', 'x']);

    // The final model, loaded in Node from its files, recognizes its training samples (ink, as the page would).
    await setupBackend();
    const files: ModelFiles = { ...model, weightData: Uint8Array.from(model.weightData).buffer };
    const dir = mkdtempSync(join(tmpdir(), 'hwr-taught-'));
    try {
      for (const [name, bytes] of Object.entries(await modelFolderFiles(files))) writeFileSync(join(dir, name), bytes);
      const recognizer = await loadRecognizer(dir, undefined, { engine: 'tfjs' });
      const { sampleInk } = await import('../../src/data/inkDataset.ts');
      let correct = 0;
      for (const sample of dataset.samples) if ((await recognizer.recognizeInk(sampleInk(sample))).label === sample.label) correct++;
      expect(correct / dataset.samples.length).toBeGreaterThan(0.8);
      recognizer.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('cancels: the job ends with CANCELLED', async () => {
    const dataset = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/ink/tiny.json'), 'utf8'));
    const request = { type: 'train', dataset, baseUrl: 'models/digits/', seed: 3, recipe: { variantsPerSample: 6, headEpochs: 50, fineTuneEpochs: 5 } };
    const messages = await page.evaluate(([r]) => (window as unknown as { runTraining: (r: unknown, c: boolean) => Promise<Array<Record<string, unknown>>> }).runTraining(r, true), [request] as const);
    const last = messages.at(-1)!;
    expect(last.type).toBe('failed');
    expect((last.error as { code: string }).code).toBe('CANCELLED');
  }, 60_000);
});

describe('a model folder from ModelFiles', () => {
  it('is read by hwr predict --model DIR', async () => {
    await setupBackend();
    const recognizer = await loadRecognizer('digits', undefined, { engine: 'tfjs' });
    const files = await modelFiles(recognizer.model!, recognizer.metadata);
    const dir = mkdtempSync(join(tmpdir(), 'hwr-model-folder-'));
    try {
      const folder = await modelFolderFiles(files);
      expect(Object.keys(folder)).toEqual(['model.json', 'weights.bin', 'metadata.json', 'SHA256SUMS']);
      for (const [name, bytes] of Object.entries(folder)) writeFileSync(join(dir, name), bytes);
      const digits = await mnistTestDigits(3);
      const images = await Promise.all(digits.map(async (digit, i) => {
        const path = join(dir, `digit-${i}.png`);
        writeFileSync(path, await digitPng(digit));
        return path;
      }));
      const run = await hwr('predict', '--model', dir, '--json', ...images);
      expect(run.code, run.stderr).toBe(0);
      const results = JSON.parse(run.stdout) as Array<{ label: string }>;
      expect(results.map((r) => r.label)).toEqual(digits.map((d) => d.label));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      recognizer.dispose();
    }
  }, 60_000);

  it('refuses weights whose length disagrees with their specs (BAD_MODEL)', async () => {
    const files: ModelFiles = {
      modelTopology: {},
      weightSpecs: [{ name: 'dense/kernel', shape: [3, 2], dtype: 'float32' }],
      weightData: new ArrayBuffer(20),
      metadata: { name: 'broken' } as ModelFiles['metadata'],
    };
    await expect(modelFolderFiles(files)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringMatching(/broken: weightData has 20 bytes but weightSpecs list 24/) });
  });
});

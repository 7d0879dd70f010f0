/**
 * Serving benchmark: the HTTP server under load on loopback, as `npm run bench` reports it (and `npm run bench:serve`
 * alone). Separate from the tests, which never assert timings.
 *
 *   npm run bench:serve                          TF.js with workers 0, 1 and one per core, ONNX Runtime with one per core;
 *                                                10 s per concurrency
 *   npm run bench:serve -- --quick               3 s per concurrency
 *   options: --workers 0,1,2 (TF.js)  --onnx-workers 2 (ONNX Runtime; empty for none)  --seconds N
 *            --concurrency 1,8,32,128  --no-large  --out <dir>
 *
 * What is measured:
 * - `POST /api/predict` of one 280x280 PNG (an MNIST digit scaled 10 times: what the page sends), by autocannon
 *   at concurrency 1, 8, 32 and 128 over keep-alive connections: requests/s, and p50 and p99 latency in ms, for
 *   each engine (`HWR_ENGINE=tfjs` or `onnx`: what runs the model in the server) and worker count (0 = recognition
 *   on the event loop, as before the pool; N = a pool of N worker threads, src/server/recognitionPool.ts). Each
 *   configuration is a fresh server in a child process (bench/serveServer.ts), warmed up for 2 s at concurrency 8.
 * - Where a request's time goes: 50 requests one after another on each configuration, with the server's own
 *   timings from each answer (`timings`: decoding the PNG with libvips, preprocessing in JavaScript, the model):
 *   medians, and the client's round trip.
 * - The engines side by side: TF.js and ONNX Runtime servers with one worker per core, both started, at concurrency
 *   32 in alternating rounds of 5 s (5 each; the idle server uses no CPU meanwhile): medians of requests/s.
 * - `GET /api/health` latency at concurrency 1 while 45-megapixel PNGs (8000x5625) are recognized one after another,
 *   and the server's own longest event-loop stall meanwhile (`monitorEventLoopDelay`): how long one large image
 *   holds up every other request (issue 8, defect 7), for each worker count.
 * - Abandoned uploads: 16 clients post 45-megapixel PNGs at once and close their connections 1.5 s later; the
 *   seconds until the server's CPU use (all threads) falls under 10% of a core (issue 8, defect 8).
 * Results: bench/serving.json and a section of bench/results.md (between the `serving` markers), or `--out`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { loadMnist } from '../src/data/mnist.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MARK_START = '<!-- serving:start -->';
const MARK_END = '<!-- serving:end -->';

/** What runs the model in the server: `HWR_ENGINE` of bench/serveServer.ts. */
export type ServingEngine = 'tfjs' | 'onnx';

/** One server configuration: its engine and worker count. */
export interface ServingConfiguration {
  engine: ServingEngine;
  workers: number;
}

/** One load level of one configuration. */
export interface LoadRow {
  /** Absent in reports written before engines existed (TF.js then). */
  engine?: ServingEngine;
  workers: number;
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx (e.g. 503 BUSY), and connection errors and timeouts. */
  non2xx: number;
  errors: number;
}

/** Health latency while large images are recognized. */
export interface StallRow {
  engine?: ServingEngine;
  workers: number;
  largeImages: number;
  largeImageMs: number[];
  healthRequests: number;
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  /** The server's event-loop delay meanwhile (ms): the longest stall, and its p99. */
  eventLoopMaxMs: number;
  eventLoopP99Ms: number;
  /** Seconds from 16 clients closing their 45 MP uploads until the server used under 10% of a core. */
  idleAfterAbandonS: number;
}

/** What the serving benchmark reports. */
export interface ServingReport {
  command: string;
  date: string;
  /** `loadAverage` at the start and at the end of the run (1, 5 and 15 minutes): other work on the machine. */
  machine: { cpu: string; cores: number; memoryGB: number; node: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  secondsPerLevel: number;
  rows: LoadRow[];
  stalls: StallRow[];
  /** Per configuration, medians of the server's own timings of sequential requests (ms); absent in older reports. */
  breakdown?: BreakdownRow[];
  /** TF.js and ONNX Runtime servers in alternating rounds at one concurrency; null when one engine was not run. */
  engineComparison?: EngineComparison | null;
}

/** Where one request's time goes (medians over `requests` sequential requests, ms). */
export interface BreakdownRow {
  engine: ServingEngine;
  workers: number;
  /** What the server's `GET /api/health` said runs the model (`onnxruntime` or `tfjs`). */
  engineReported: string;
  requests: number;
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  /** The client's round trip: the above, plus HTTP, the thread hand-over and the answer's PNG of the processed image. */
  roundTripMs: number;
}

/** Requests/s of each engine at `concurrency` with `workers` workers, one sample per round (rounds alternate). */
export interface EngineComparison {
  workers: number;
  concurrency: number;
  secondsPerRound: number;
  tfjs: number[];
  onnx: number[];
}

/** Options of `runServingBench`. */
export interface ServingOptions {
  /** Worker counts of the TF.js server; default 0, 1 and one per core. */
  workerCounts?: number[];
  /** Worker counts of the ONNX Runtime server; default one per core. */
  onnxWorkerCounts?: number[];
  concurrencies?: number[];
  seconds?: number;
  large?: boolean;
  log?: (line: string) => void;
}

/** Starts bench/serveServer.ts with `workers` in a child process; resolves once it listens and its model is loaded. */
interface Server {
  url: string;
  child: ChildProcess;
  /** Sends a command line to the server (`reset`, `report`) and resolves with its next output line, when it answers. */
  command(text: string, answers: boolean): Promise<string | undefined>;
}

async function startServer({ workers, engine }: ServingConfiguration): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/serveServer.ts'), String(workers)], {
    cwd: ROOT,
    env: { ...process.env, HWR_ENGINE: engine },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once('exit', (code) => reject(new Error(`serving bench: server (${engine}) with ${workers} workers exited with code ${code}`)));
    lines.once('line', (line) => resolveUrl((JSON.parse(line) as { url: string }).url));
  });
  const command = async (text: string, answers: boolean): Promise<string | undefined> => {
    const answer = answers ? new Promise<string>((done) => lines.once('line', done)) : undefined;
    child.stdin!.write(`${text}\n`);
    return answer;
  };
  return { url, child, command };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

/** The 280x280 PNG of the first MNIST test digit (a 7): dark ink on white, as the page draws it. */
async function digitPng(scale: number, margin: number): Promise<Buffer> {
  const { test } = await loadMnist({ limit: 1 });
  const inverted = Buffer.from(test.images.slice(0, 784).map((value) => 255 - value));
  return sharp(inverted, { raw: { width: 28, height: 28, channels: 1 } })
    .resize(28 * scale, 28 * scale, { kernel: 'cubic' })
    .extend({ top: margin, bottom: margin, left: margin, right: margin, background: '#ffffff' })
    .png()
    .toBuffer();
}

/** An 8000x5625 (45 MP) PNG with the digit in the middle. */
async function largePng(): Promise<Buffer> {
  const digit = await digitPng(40, 0); // 1120x1120
  return sharp({ create: { width: 8000, height: 5625, channels: 3, background: '#ffffff' } })
    .composite([{ input: digit, left: 3440, top: 2252 }])
    .png({ compressionLevel: 6 })
    .toBuffer();
}

function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * 16 clients post `large` at once and close their connections 1.5 s later; resolves with the seconds until the
 * server's CPU use (sampled every 0.5 s) falls under 10% of a core, at most 120.
 */
async function abandonedUploads(url: string, large: Buffer, command: Server['command']): Promise<number> {
  const clients = Array.from({ length: 16 }, () => new AbortController());
  const uploads = clients.map((client) =>
    fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(large), signal: client.signal }).catch(() => undefined));
  await new Promise((done) => setTimeout(done, 1500));
  for (const client of clients) client.abort();
  await Promise.all(uploads);
  const closed = performance.now();
  const cpuMs = async (): Promise<number> => (JSON.parse((await command('cpu', true))!) as { cpuMs: number }).cpuMs;
  let before = await cpuMs();
  let sampled = performance.now();
  while (performance.now() - closed < 120_000) {
    await new Promise((done) => setTimeout(done, 500));
    const [now, at] = [await cpuMs(), performance.now()];
    if ((now - before) / (at - sampled) < 0.1) return (sampled - closed) / 1000;
    [before, sampled] = [now, at];
  }
  return 120;
}

const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 0.5);

/**
 * `count` requests of `png`, one after another: medians of the server's own timings (decode, preprocess, model)
 * and of the client's round trip, and the engine the server's health route names.
 */
async function requestBreakdown(url: string, png: Buffer, config: ServingConfiguration, count: number): Promise<BreakdownRow> {
  const health = (await (await fetch(`${url}/api/health`)).json()) as { engine?: string };
  const decode: number[] = [];
  const preprocess: number[] = [];
  const inference: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
    const body = (await response.json()) as { timings?: { decodeMs?: number; preprocessMs: number; inferenceMs: number } };
    roundTrip.push(performance.now() - started);
    if (response.status !== 200 || !body.timings) throw new Error(`serving bench: POST /api/predict answered ${response.status}`);
    decode.push(body.timings.decodeMs ?? NaN);
    preprocess.push(body.timings.preprocessMs);
    inference.push(body.timings.inferenceMs);
  }
  return {
    ...config,
    engineReported: health.engine ?? 'unknown',
    requests: count,
    decodeMs: median(decode),
    preprocessMs: median(preprocess),
    inferenceMs: median(inference),
    roundTripMs: median(roundTrip),
  };
}

/**
 * TF.js and ONNX Runtime servers with `workers` workers, both started, loaded at `concurrency` in alternating rounds
 * (TF.js first in even rounds) of `seconds` each after a 2 s warm-up of each: requests/s per round.
 */
async function compareEngines(png: Buffer, workers: number, concurrency: number, seconds: number, rounds: number, log: (line: string) => void): Promise<EngineComparison> {
  const engines: ServingEngine[] = ['tfjs', 'onnx'];
  const servers = await Promise.all(engines.map((engine) => startServer({ engine, workers })));
  const comparison: EngineComparison = { workers, concurrency, secondsPerRound: seconds, tfjs: [], onnx: [] };
  try {
    const post = (url: string) => ({ url: `${url}/api/predict`, method: 'POST' as const, headers: { 'content-type': 'image/png' }, body: png, timeout: 30 });
    for (const server of servers) await autocannon({ ...post(server.url), connections: concurrency, duration: 2 });
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const index of order) {
        const result = await autocannon({ ...post(servers[index]!.url), connections: concurrency, duration: seconds });
        comparison[engines[index]!].push(result.requests.total / result.duration);
      }
      log(`serving: engines at concurrency ${concurrency}, ${workers} workers, round ${round + 1}: TF.js ${comparison.tfjs.at(-1)!.toFixed(0)} req/s, ONNX Runtime ${comparison.onnx.at(-1)!.toFixed(0)} req/s`);
    }
  } finally {
    await Promise.all(servers.map((server) => stopServer(server.child)));
  }
  return comparison;
}

/** Runs the benchmark (see the module comment). */
export async function runServingBench(options: ServingOptions = {}): Promise<ServingReport> {
  const cores = availableParallelism();
  const loadAverageStart = loadAverage();
  const workerCounts = options.workerCounts ?? [...new Set([0, 1, cores])];
  const onnxWorkerCounts = options.onnxWorkerCounts ?? [cores];
  const configurations: ServingConfiguration[] = [
    ...workerCounts.map((workers) => ({ engine: 'tfjs' as const, workers })),
    ...onnxWorkerCounts.map((workers) => ({ engine: 'onnx' as const, workers })),
  ];
  const concurrencies = options.concurrencies ?? [1, 8, 32, 128];
  const seconds = options.seconds ?? 10;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const png = await digitPng(10, 0);
  const large = options.large === false ? null : await largePng();
  const rows: LoadRow[] = [];
  const stalls: StallRow[] = [];
  const breakdown: BreakdownRow[] = [];
  for (const config of configurations) {
    const { workers, engine } = config;
    const { url, child, command } = await startServer(config);
    try {
      const post = { url: `${url}/api/predict`, method: 'POST' as const, headers: { 'content-type': 'image/png' }, body: png, timeout: 30 };
      await autocannon({ ...post, connections: 8, duration: 2 });
      const times = await requestBreakdown(url, png, config, 50);
      breakdown.push(times);
      log(`serving: ${engine}, ${workers} workers, one request at a time (${times.engineReported}): decode ${times.decodeMs.toFixed(2)} ms, preprocess ${times.preprocessMs.toFixed(2)} ms, model ${times.inferenceMs.toFixed(2)} ms, round trip ${times.roundTripMs.toFixed(2)} ms`);
      for (const concurrency of concurrencies) {
        const result = await autocannon({ ...post, connections: concurrency, duration: seconds });
        const row: LoadRow = {
          engine,
          workers,
          concurrency,
          requestsPerSecond: result.requests.total / result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts,
        };
        rows.push(row);
        log(`serving: ${engine}, ${workers} workers, concurrency ${concurrency}: ${row.requestsPerSecond.toFixed(0)} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms${row.non2xx + row.errors ? `, ${row.non2xx} non-2xx, ${row.errors} errors` : ''}`);
      }
      if (large) {
        const healthMs: number[] = [];
        const largeImageMs: number[] = [];
        let done = false;
        await command('reset', false);
        const uploads = (async () => {
          for (let i = 0; i < 3; i++) {
            const started = performance.now();
            const response = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(large) });
            await response.arrayBuffer();
            if (response.status !== 200) throw new Error(`serving bench: the 45 MP image got ${response.status}`);
            largeImageMs.push(performance.now() - started);
          }
          done = true;
        })();
        while (!done) {
          const started = performance.now();
          await (await fetch(`${url}/api/health`)).arrayBuffer();
          healthMs.push(performance.now() - started);
        }
        await uploads;
        const delay = JSON.parse((await command('report', true))!) as { maxMs: number; p99Ms: number };
        const idleAfterAbandonS = await abandonedUploads(url, large, command);
        const sorted = [...healthMs].sort((a, b) => a - b);
        const stall: StallRow = {
          engine,
          workers,
          largeImages: largeImageMs.length,
          largeImageMs,
          healthRequests: healthMs.length,
          healthP50Ms: percentile(sorted, 0.5),
          healthP99Ms: percentile(sorted, 0.99),
          healthMaxMs: sorted[sorted.length - 1] ?? NaN,
          eventLoopMaxMs: delay.maxMs,
          eventLoopP99Ms: delay.p99Ms,
          idleAfterAbandonS,
        };
        stalls.push(stall);
        log(`serving: ${engine}, ${workers} workers, during 45 MP uploads: health p50 ${stall.healthP50Ms.toFixed(1)} ms, max ${stall.healthMaxMs.toFixed(1)} ms; longest event-loop stall ${stall.eventLoopMaxMs.toFixed(0)} ms; idle ${stall.idleAfterAbandonS.toFixed(1)} s after 16 clients left`);
      }
    } finally {
      await stopServer(child);
    }
  }
  const both = workerCounts.includes(cores) && onnxWorkerCounts.includes(cores);
  const engineComparison = both && concurrencies.includes(32) ? await compareEngines(png, cores, 32, Math.min(5, seconds), 5, log) : null;
  return {
    command: 'npm run bench:serve',
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores, memoryGB: Math.round(totalmem() / 2 ** 30 * 10) / 10, node: process.version, loadAverageStart, loadAverageEnd: loadAverage() },
    secondsPerLevel: seconds,
    rows,
    stalls,
    breakdown,
    engineComparison,
  };
}

const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const workersLabel = (workers: number): string => (workers === 0 ? '0 (event loop)' : String(workers));
const engineLabel = (engine: ServingEngine | undefined): string => (engine === 'onnx' ? 'ONNX Runtime' : 'TF.js');

/** The breakdown table and the prose that reads it (what share of a request the model is). */
function breakdownMarkdown(report: ServingReport): string[] {
  const rows = report.breakdown ?? [];
  if (rows.length === 0) return [];
  const lines = [
    '',
    'Where a request\'s time goes: 50 `POST /api/predict` of the same PNG one after another on each server (after its warm-up), medians of the server\'s own `timings` in each answer ' +
      '(decoding with libvips; preprocessing in JavaScript: `preprocessDigit` with the photo steps of `mnist-com-v2`; the model through the engine) and of the client\'s round trip ' +
      '(which adds HTTP, the hand-over to a worker thread and the PNG of the processed image in the answer):',
    '',
    '| engine | workers | engine named by /api/health | decode (ms) | preprocess (ms) | model (ms) | round trip (ms) | model share of round trip |',
    '|---|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((b) => `| ${engineLabel(b.engine)} | ${workersLabel(b.workers)} | ${b.engineReported} | ${fmt(b.decodeMs, 2)} | ${fmt(b.preprocessMs, 2)} | ${fmt(b.inferenceMs, 2)} | ${fmt(b.roundTripMs, 2)} | ${((b.inferenceMs / b.roundTripMs) * 100).toFixed(0)}% |`),
  ];
  return lines;
}

/** The engine comparison's line (requests/s of each engine in alternating rounds). */
function comparisonMarkdown(report: ServingReport): string[] {
  const c = report.engineComparison;
  if (!c) return [];
  const med = (xs: number[]) => median(xs);
  const [tfjs, onnx] = [med(c.tfjs), med(c.onnx)];
  const cell = (xs: number[]) => xs.map((x) => fmt(x)).join(', ');
  return [
    '',
    `The engines side by side: a TF.js and an ONNX Runtime server with ${c.workers} workers each, both started, loaded in turn at concurrency ${c.concurrency} for ${c.secondsPerRound} s, ` +
      `${c.tfjs.length} rounds in alternating order (the idle server uses no CPU meanwhile): the fair comparison, since the table's rows were measured one configuration after another, each under whatever load it met. Requests/s per round: TF.js ${cell(c.tfjs)}; ONNX Runtime ${cell(c.onnx)}. ` +
      `Medians: TF.js ${fmt(tfjs)}, ONNX Runtime ${fmt(onnx)} requests/s (${onnx >= tfjs ? '+' : ''}${((onnx / tfjs - 1) * 100).toFixed(1)}%).`,
  ];
}

/** The report as a Markdown section (between the `serving` markers). */
export function servingMarkdown(report: ServingReport): string {
  const { machine } = report;
  const lines = [
    MARK_START,
    '## Serving: requests/s and latency on loopback',
    '',
    `Written by \`${report.command}\` on ${report.date.slice(0, 10)}. Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB RAM, Node ${machine.node}; load average ${machine.loadAverageStart.join(', ')} at the start and ${machine.loadAverageEnd.join(', ')} at the end (other work on the machine). ` +
      `autocannon in the benchmark process, the server (\`buildServer\`, shipped model) in a child process; ${report.secondsPerLevel} s per level after a 2 s warm-up. ` +
      '`POST /api/predict` with a 280x280 PNG over keep-alive connections. Engine: what runs the model in the server (`HWR_ENGINE=tfjs` or `onnx`; the same shipped model). Workers: 0 runs preprocessing and inference on the event loop, as the server did before the pool (but on images already downscaled to 1024 px by libvips); N is a pool of N worker threads. ' +
      shareProse(report),
    '',
    '| engine | workers | concurrency | requests/s | p50 (ms) | p99 (ms) | non-2xx / errors |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...report.rows.map((row) => `| ${engineLabel(row.engine)} | ${workersLabel(row.workers)} | ${row.concurrency} | ${fmt(row.requestsPerSecond)} | ${fmt(row.p50Ms, 1)} | ${fmt(row.p99Ms, 1)} | ${row.non2xx} / ${row.errors} |`),
    ...comparisonMarkdown(report),
    ...breakdownMarkdown(report),
  ];
  if (report.stalls.length > 0) {
    lines.push(
      '',
      '`GET /api/health` at concurrency 1 while three 45-megapixel PNGs (8000x5625, one after another) are recognized, and the server\'s longest event-loop stall meanwhile (`monitorEventLoopDelay`, in the server process):',
      '',
      '| engine | workers | health requests | health p50 (ms) | health p99 (ms) | health max (ms) | longest event-loop stall (ms) | each 45 MP image (s) | busy after 16 clients left (s) |',
      '|---|---|---:|---:|---:|---:|---:|---|---:|',
      ...report.stalls.map((s) => `| ${engineLabel(s.engine)} | ${workersLabel(s.workers)} | ${s.healthRequests} | ${fmt(s.healthP50Ms, 1)} | ${fmt(s.healthP99Ms, 1)} | ${fmt(s.healthMaxMs, 1)} | ${fmt(s.eventLoopMaxMs)} | ${s.largeImageMs.map((ms) => fmt(ms / 1000, 2)).join(', ')} | ${fmt(s.idleAfterAbandonS, 1)} |`),
      '',
      'Busy after 16 clients left: 16 clients post a 45-megapixel PNG each at once and close their connections 1.5 s later; the seconds until the server uses under 10% of a core (sampled every 0.5 s).',
    );
  }
  lines.push(MARK_END);
  return `${lines.join('\n')}\n`;
}

/**
 * The rise in requests/s that the server's own timings predict from TF.js to ONNX Runtime with `workers` workers
 * (default: one per core): time per request on TF.js over that on ONNX Runtime, where decode + preprocessing
 * (the same code with either engine) is the mean of both servers' medians and the model is each engine's median.
 * A prediction, not a bound: HTTP and the thread hand-over (shared) lower it, and load changes every term.
 * Null without both breakdowns.
 */
export function predictedEngineRise(report: ServingReport, workers = report.machine.cores): { rise: number; sharedMs: number; tfjsMs: number; onnxMs: number } | null {
  const rows = report.breakdown ?? [];
  const tfjs = rows.find((b) => b.engine === 'tfjs' && b.workers === workers);
  const onnx = rows.find((b) => b.engine === 'onnx' && b.workers === workers);
  if (!tfjs || !onnx) return null;
  const sharedMs = (tfjs.decodeMs + tfjs.preprocessMs + onnx.decodeMs + onnx.preprocessMs) / 2;
  const tfjsMs = sharedMs + tfjs.inferenceMs;
  const onnxMs = sharedMs + onnx.inferenceMs;
  return { rise: tfjsMs / onnxMs, sharedMs, tfjsMs, onnxMs };
}

/**
 * What share of a request the model is, from the breakdown of the one-per-core servers (or the first of each engine):
 * why a faster forward pass moves requests/s little.
 */
function shareProse(report: ServingReport): string {
  const rows = report.breakdown ?? [];
  const pick = (engine: ServingEngine) => rows.find((b) => b.engine === engine && b.workers === report.machine.cores) ?? rows.find((b) => b.engine === engine);
  const [tfjs, onnx] = [pick('tfjs'), pick('onnx')];
  if (!tfjs) return 'Most of each request is decoding and preprocessing, not the model.';
  let text = `Most of each request is not the model: one at a time, the server decodes the PNG in ${fmt(tfjs.decodeMs, 2)} ms and preprocesses it in ${fmt(tfjs.preprocessMs, 2)} ms, ` +
    `while TF.js runs the model in ${fmt(tfjs.inferenceMs, 2)} ms`;
  const bound = predictedEngineRise(report);
  if (onnx && bound) {
    text += ` and ONNX Runtime in ${fmt(onnx.inferenceMs, 2)} ms (medians; table below). From these timings the faster engine should raise requests/s by about ` +
      `${((bound.rise - 1) * 100).toFixed(0)}% (decode + preprocess, the same code for both, ${fmt(bound.sharedMs, 2)} ms on average, + model: ${fmt(bound.tfjsMs, 2)} ms against ${fmt(bound.onnxMs, 2)} ms), ` +
      'less where HTTP and the thread hand-over, shared by both, take their part; what it does under load is the engines side by side below the table. ' +
      'These are wall-clock times on a shared machine: one server\'s preprocessing median can differ from the other\'s by a few ms although the code is the same.';
  } else {
    text += ' (medians; table below).';
  }
  return text;
}

/** The serving section of `markdown` (between the markers, markers included), or undefined when it has none. */
export function servingSectionOf(markdown: string): string | undefined {
  const start = markdown.indexOf(MARK_START);
  const end = markdown.indexOf(MARK_END);
  return start >= 0 && end > start ? `${markdown.slice(start, end + MARK_END.length)}\n` : undefined;
}

/** Puts `section` in place of the serving section of `markdown` (or at its end). */
export function withServingSection(markdown: string, section: string): string {
  const start = markdown.indexOf(MARK_START);
  const end = markdown.indexOf(MARK_END);
  if (start >= 0 && end > start) return markdown.slice(0, start) + section.trimEnd() + markdown.slice(end + MARK_END.length);
  return `${markdown.trimEnd()}\n\n${section}`;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      workers: { type: 'string' },
      'onnx-workers': { type: 'string' },
      concurrency: { type: 'string' },
      seconds: { type: 'string' },
      'no-large': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const list = (text: string | undefined): number[] | undefined => (text === undefined ? undefined : text.split(',').filter((x) => x !== '').map(Number));
  const report = await runServingBench({
    workerCounts: list(flags.workers),
    onnxWorkerCounts: list(flags['onnx-workers']),
    concurrencies: list(flags.concurrency),
    seconds: flags.seconds ? Number(flags.seconds) : flags.quick ? 3 : 10,
    large: !flags['no-large'],
  });
  const outDir = resolve(flags.out ?? join(ROOT, 'bench'));
  await mkdir(outDir, { recursive: true });
  const section = servingMarkdown(report);
  await writeFile(join(outDir, 'serving.json'), `${JSON.stringify(report, null, 2)}\n`);
  const resultsMd = join(outDir, 'results.md');
  const existing = await readFile(resultsMd, 'utf8').catch(() => '');
  await writeFile(resultsMd, withServingSection(existing, section));
  process.stdout.write(`${section}\nwritten: ${join(outDir, 'serving.json')}, ${resultsMd}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

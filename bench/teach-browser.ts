/**
 * Teaching a script in Chromium: the page's training worker (web/src/training/training.worker.ts, from a Vite build
 * of the app) trains on `docs/examples/latin-5.json` (Latin a-z, 5 samples per symbol by one generated writer:
 * Hershey Sans 1-stroke with pen style 1) from the page's base, `DEFAULT_TEACHING_BASE` (glyphs-latin; `--base NAME`: another model
 * folder of the built app's models/), with `trainInkScript`'s default recipe and
 * seed 1, on TF.js's wasm backend with hwr's training kernels and SIMD module. Measured:
 * - time to a usable model (the worker's `usable` message) and in all (`done`), from the `train` request (loading the
 *   base model included), on the page's clock;
 * - the page's main thread while the worker trains: the longest gap between `requestAnimationFrame` callbacks and
 *   the long tasks (`PerformanceObserver`, entry type `longtask`: tasks over 50 ms), i.e. whether drawing stays smooth;
 * - top-1 accuracy of the usable and the final models, recognized in Node through the recognizer's ink path
 *   (`recognizeInk`: `inkImageFor` at the model's pen width, then its preprocessing profile), on 20 more samples per
 *   symbol by the training writer (same font and pen style, fresh per-character variation: `writerDataset` seed 2)
 *   and on 5 samples per symbol by each other print font of bench/teach.ts (`LATIN_PRINT_FONTS` less futural, pen
 *   styles 201+, seed 3).
 * Targets (issue 11): usable < 60 s, all < 3 min, no frame > 100 ms.
 *
 *   npx tsx bench/teach-browser.ts [--dist DIR] [--out DIR] [--base glyphs-latin|digits|hanzi]
 *     --dist: an already built app (default: `vite build` into a temporary folder)
 *     --out: where teach-browser.json and teach-browser.md go (default bench/)
 * Needs /usr/bin/chromium. Times are wall-clock on this machine: noisy unless it was idle.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { setupBackend } from '../src/backend/backend.ts';
import { DEFAULT_TEACHING_BASE } from '../src/train/teachingBase.ts';
import { loadRecognizer, type Recognizer } from '../src/core/recognizer.ts';
import { readInkDataset, sampleInk, type InkDataset } from '../src/data/inkDataset.ts';
import { LATIN_LOWERCASE, plotterWriter, writerDataset } from '../src/data/plotterFonts.ts';
import { loadPlotterFont } from '../src/node/plotterFonts.ts';
import { INK_SCRIPT_DEFAULTS } from '../src/train/inkScript.ts';
import { serveStatic } from '../test/e2e/staticServer.ts';
import { modelFilesHandler } from '../web/src/training/modelFiles.ts';
import type { ModelFiles, TrainingProgress } from '../web/src/training/types.ts';
import { LATIN_PRINT_FONTS } from './teach.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const DATASET = 'docs/examples/latin-5.json';
/** How long the frame loop runs with no training first, as the control, ms. */
const IDLE_MS = 10_000;

/** The driver page: a rAF loop and a long-task observer on the main thread, the built training worker beside it. */
const DRIVER_PAGE = `<!doctype html><meta charset="utf-8"><title>teach bench</title><canvas id="c" width="200" height="200"></canvas><script>
const toBase64 = (buffer) => {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};
/** The same frame loop for \`ms\` with no worker: the control (what the machine alone does to frames). */
window.idleFrames = (ms) => new Promise((resolve) => {
  const gaps = [];
  let last = performance.now();
  const end = last + ms;
  const context = document.getElementById('c').getContext('2d');
  const tick = (now) => {
    gaps.push(now - last);
    last = now;
    context.fillRect((gaps.length * 7) % 200, 100, 2, 2);
    if (now < end) requestAnimationFrame(tick);
    else resolve(gaps.slice(1));
  };
  requestAnimationFrame(tick);
});
window.teach = (workerUrl, request) => new Promise((resolve) => {
  const frames = [];
  let last = performance.now();
  let running = true;
  const context = document.getElementById('c').getContext('2d');
  const tick = (now) => {
    frames.push({ at: now, gap: now - last });
    last = now;
    context.fillRect((frames.length * 7) % 200, 100, 2, 2); // some drawing, as the pad would
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const longTasks = [];
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) longTasks.push({ at: entry.startTime, duration: entry.duration }); }).observe({ entryTypes: ['longtask'] });
  const started = performance.now();
  const events = [];
  let lastStep = '';
  let usable = null;
  const worker = new Worker(workerUrl, { type: 'module' });
  // The models are converted for Node only after the measurement ends, so that the conversion is not counted.
  const finish = (at, result) => {
    running = false;
    worker.terminate();
    const convert = (model) => model && { ...model, weightData: toBase64(model.weightData) };
    resolve({
      at, frames: frames.map((f) => ({ at: f.at - started, gap: f.gap })), longTasks: longTasks.map((t) => ({ at: t.at - started, duration: t.duration })), events,
      usable: usable && { at: usable.at, model: convert(usable.model) },
      result: result.type === 'done' ? { type: 'done', backend: result.backend, simd: result.simd, model: convert(result.model) } : result,
    });
  };
  worker.onmessage = ({ data }) => {
    const at = performance.now() - started;
    if (data.type === 'progress') {
      events.push({ at, progress: data.progress });
      // To the terminal once per epoch (a call into Playwright is main-thread work too).
      const step = data.progress.phase + ' ' + data.progress.epoch;
      if (step !== lastStep && window.reportProgress) window.reportProgress(at, data.progress);
      lastStep = step;
    } else if (data.type === 'usable') usable = { at, model: data.model };
    else finish(at, data);
  };
  worker.onerror = (event) => finish(performance.now() - started, { type: 'failed', error: { code: 'WORKER_ERROR', message: event.message } });
  const { base, ...train } = request;
  worker.postMessage({ ...train, baseUrl: new URL('models/' + base + '/', location.href).href, wasmUrl: new URL('wasm/', location.href).href });
});
</script>`;

interface PageModel extends Omit<ModelFiles, 'weightData'> {
  weightData: string;
}

interface PageRun {
  at: number;
  usable: { at: number; model: PageModel } | null;
  /** rAF callbacks: ms since the request, and the gap since the previous one. */
  frames: Array<{ at: number; gap: number }>;
  /** Long tasks: ms since the request, and their duration. */
  longTasks: Array<{ at: number; duration: number }>;
  events: Array<{ at: number; progress: TrainingProgress }>;
  result: { type: 'done'; backend: string; simd: boolean; model: PageModel } | { type: 'failed'; error: { code: string; message: string } };
}

/** Top-1 accuracy of a model on a dataset's samples, through the recognizer's ink path. */
async function accuracy(recognizer: Recognizer, dataset: InkDataset): Promise<{ accuracy: number; correct: number; total: number }> {
  let correct = 0;
  for (const sample of dataset.samples) if ((await recognizer.recognizeInk(sampleInk(sample))).topK[0]?.label === sample.label) correct++;
  return { accuracy: correct / dataset.samples.length, correct, total: dataset.samples.length };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

function filesOf(model: PageModel): ModelFiles {
  const bytes = Buffer.from(model.weightData, 'base64');
  return { ...model, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
}

function builtWorker(dist: string): string {
  const name = readdirSync(join(dist, 'assets')).find((file) => /^training\.worker-.*\.js$/.test(file));
  if (!name) throw new Error(`${dist}/assets has no training.worker-*.js: is it a build of this version of the app?`);
  return `assets/${name}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dist: { type: 'string' }, out: { type: 'string' }, base: { type: 'string', default: DEFAULT_TEACHING_BASE } } });
  const base = values.base!;
  if (!/^[\w-]+$/.test(base)) throw new Error(`--base ${base}: expected a shipped model's name (glyphs-latin, digits, hanzi)`);
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)} at the start`;
  let dist = values.dist ? resolve(values.dist) : '';
  const built = !dist;
  if (built) {
    dist = mkdtempSync(join(tmpdir(), 'hwr-teach-browser-'));
    process.stderr.write(`teach-browser: vite build --outDir ${dist}\n`);
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', dist, '--emptyOutDir'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const dataset = readInkDataset(readFileSync(join(ROOT, DATASET), 'utf8'), DATASET);
  writeFileSync(join(dist, 'teach-bench.html'), DRIVER_PAGE);
  const server = await serveStatic(dist);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  let run: PageRun;
  let idleGaps: number[];
  let browserVersion: string;
  try {
    browserVersion = browser.version();
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') process.stderr.write(`[chromium] ${message.text()}\n`);
    });
    await page.exposeFunction('reportProgress', (at: number, progress: TrainingProgress) => {
      process.stderr.write(`teach-browser: ${(at / 1000).toFixed(1)} s ${progress.phase} ${progress.epoch}/${progress.epochs} loss ${progress.loss?.toFixed(3) ?? '-'} accuracy ${progress.accuracy?.toFixed(3) ?? '-'}\n`);
    });
    await page.goto(`${server.url}teach-bench.html`);
    process.stderr.write(`teach-browser: training ${dataset.classes.length} classes x ${dataset.samples.length / dataset.classes.length} samples in Chromium ${browserVersion}\n`);
    idleGaps = await page.evaluate((ms) => (window as unknown as { idleFrames: (ms: number) => Promise<number[]> }).idleFrames(ms), IDLE_MS);
    run = await page.evaluate(([url, request]) => (window as unknown as { teach: (u: string, r: unknown) => Promise<PageRun> }).teach(url, request),
      [builtWorker(dist), { type: 'train', dataset, seed: 1, base }] as const);
  } finally {
    await browser.close();
    await server.close();
    if (built) rmSync(dist, { recursive: true, force: true });
  }
  if (run.result.type !== 'done') throw new Error(`training failed in the worker: ${run.result.error.code}: ${run.result.error.message}`);

  await setupBackend();
  const futural = loadPlotterFont('futural');
  const chars = [...LATIN_LOWERCASE];
  const sameWriter = writerDataset([plotterWriter(futural, 1)], chars, { script: 'latin', samplesPerClass: 20, seed: 2 });
  const others = writerDataset(LATIN_PRINT_FONTS.filter((key) => key !== 'futural').map((key, i) => plotterWriter(loadPlotterFont(key), 201 + i)), chars, { script: 'latin', samplesPerClass: 5, seed: 3 });
  const scores: Record<string, { sameWriter: Awaited<ReturnType<typeof accuracy>>; otherWriters: Awaited<ReturnType<typeof accuracy>> }> = {};
  for (const [name, model] of [['usable', run.usable?.model], ['final', run.result.model]] as const) {
    if (!model) continue;
    const files = filesOf(model);
    const recognizer = await loadRecognizer({ model: modelFilesHandler(files), metadata: files.metadata });
    scores[name] = { sameWriter: await accuracy(recognizer, sameWriter), otherWriters: await accuracy(recognizer, others) };
    recognizer.dispose();
  }

  const phases: Record<string, { startS: number; endS: number }> = {};
  for (const { at, progress } of run.events) {
    const phase = (phases[progress.phase] ??= { startS: at / 1000, endS: at / 1000 });
    phase.endS = at / 1000;
  }
  // The first frame's gap is from page load to the first callback, not a frame during training.
  const frames = run.frames.slice(1);
  const sorted = frames.map((f) => f.gap).sort((a, b) => a - b);
  const slowest = [...frames].sort((a, b) => b.gap - a.gap).slice(0, 5).map((f) => ({ atS: round1(f.at / 1000), gapMs: Math.round(f.gap) }));
  const result = {
    command: `npx tsx bench/teach-browser.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    machine,
    browser: `Chromium ${browserVersion!} (headless)`,
    date: new Date().toISOString(),
    dataset: { file: DATASET, classes: dataset.classes.length, samples: dataset.samples.length },
    base,
    recipe: { ...INK_SCRIPT_DEFAULTS },
    backend: run.result.backend,
    simdKernels: run.result.simd,
    usableSeconds: run.usable ? run.usable.at / 1000 : null,
    totalSeconds: run.at / 1000,
    phases,
    mainThread: {
      frames: frames.length,
      longestFrameMs: sorted.at(-1) ?? null,
      p99FrameMs: sorted[Math.floor(0.99 * (sorted.length - 1))] ?? null,
      framesOver100Ms: frames.filter((f) => f.gap > 100).length,
      idleControl: { seconds: IDLE_MS / 1000, frames: idleGaps!.length, longestFrameMs: idleGaps!.length ? Math.max(...idleGaps!) : null, framesOver100Ms: idleGaps!.filter((gap) => gap > 100).length },
      slowestFrames: slowest,
      progressMessages: run.events.length,
      longTasks: run.longTasks.length,
      longestTaskMs: run.longTasks.length ? Math.max(...run.longTasks.map((t) => t.duration)) : null,
      longTaskList: run.longTasks.map((t) => ({ atS: round1(t.at / 1000), durationMs: Math.round(t.duration) })),
    },
    accuracy: scores,
    testData: {
      sameWriter: 'writerDataset([plotterWriter(futural, 1)], a-z, { samplesPerClass: 20, seed: 2 })',
      otherWriters: `writerDataset(${LATIN_PRINT_FONTS.length - 1} print fonts (LATIN_PRINT_FONTS less futural) with pen styles 201+, a-z, { samplesPerClass: 5, seed: 3 })`,
    },
  };
  const outDir = resolve(values.out ?? join(ROOT, 'bench'));
  writeFileSync(join(outDir, 'teach-browser.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(outDir, 'teach-browser.md'), markdown(result));
  process.stdout.write(markdown(result));
}

function markdown(r: {
  command: string; machine: string; browser: string; date: string; base: string; backend: string; simdKernels: boolean; usableSeconds: number | null; totalSeconds: number;
  phases: Record<string, { startS: number; endS: number }>;
  mainThread: {
    frames: number; longestFrameMs: number | null; p99FrameMs: number | null; framesOver100Ms: number; slowestFrames: Array<{ atS: number; gapMs: number }>;
    idleControl: { seconds: number; frames: number; longestFrameMs: number | null; framesOver100Ms: number };
    progressMessages: number; longTasks: number; longestTaskMs: number | null; longTaskList: Array<{ atS: number; durationMs: number }>;
  };
  accuracy: Record<string, { sameWriter: { accuracy: number; correct: number; total: number }; otherWriters: { accuracy: number; correct: number; total: number } }>;
  testData: { sameWriter: string; otherWriters: string };
}): string {
  const s = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(1)} s`);
  const ms = (x: number | null): string => (x === null ? 'none' : `${x.toFixed(0)} ms`);
  const pct = (a: { accuracy: number; correct: number; total: number }): string => `${(100 * a.accuracy).toFixed(1)}% (${a.correct}/${a.total})`;
  const lines = [
    '# Teaching a script in the browser (bench/teach-browser.ts)',
    '',
    `Command: \`${r.command}\`. ${r.date}. ${r.machine}; ${r.browser}; TF.js ${r.backend} backend in the training worker, hwr's SIMD kernels ${r.simdKernels ? 'on' : 'OFF'}.`,
    `Data: ${DATASET} (26 symbols x 5 samples, one generated writer), base model ${r.base}, trainInkScript's default recipe (with KNOWN_LABELS_RECIPE where the base knows every label: glyphs-latin's Latin letters), seed 1.`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| time to a usable model | ${s(r.usableSeconds)} | < 60 s |`,
    `| total training time | ${s(r.totalSeconds)} | < 180 s |`,
    `| longest main-thread frame (rAF gap) | ${ms(r.mainThread.longestFrameMs)} (p99 ${ms(r.mainThread.p99FrameMs)}, ${r.mainThread.framesOver100Ms} of ${r.mainThread.frames} frames over 100 ms) | no frame > 100 ms |`,
    `| control: the same frame loop for ${r.mainThread.idleControl.seconds} s before training | longest ${ms(r.mainThread.idleControl.longestFrameMs)}, ${r.mainThread.idleControl.framesOver100Ms} of ${r.mainThread.idleControl.frames} frames over 100 ms | |`,
    `| main-thread long tasks (> 50 ms) | ${r.mainThread.longTasks}, longest ${ms(r.mainThread.longestTaskMs)} (the page handled ${r.mainThread.progressMessages} progress messages) | |`,
    ...Object.entries(r.accuracy).map(([name, a]) => `| top-1, ${name} model: same writer / other writers | ${pct(a.sameWriter)} / ${pct(a.otherWriters)} | >= 95% / >= 85% |`),
    '',
    `Slowest frames (s from the request: gap): ${r.mainThread.slowestFrames.map((f) => `${f.atS} s: ${f.gapMs} ms`).join(', ')}. Long tasks: ${r.mainThread.longTaskList.map((t) => `${t.atS} s: ${t.durationMs} ms`).join(', ') || 'none'}.`,
    '',
    `Phases (s from the request, loading the base model included): ${Object.entries(r.phases).map(([name, p]) => `${name} ${p.startS.toFixed(1)}-${p.endS.toFixed(1)}`).join(', ')}.`,
    '',
    `Test data: same writer ${r.testData.sameWriter}; other writers ${r.testData.otherWriters}. Recognized in Node through recognizeInk (the page's ink path).`,
    'Times are wall-clock on a machine that may have been shared: noisy unless it was idle.',
    'Reading the frames: the page\'s main thread only draws and handles the worker\'s messages; frame gaps over 100 ms that no long task explains, absent from the control, come from CPU scheduling (the worker\'s thread and other processes on a loaded machine), not from the page\'s own work.',
    '',
  ];
  return lines.join('\n');
}

await main();

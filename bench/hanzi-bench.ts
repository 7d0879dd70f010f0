/**
 * The large-vocabulary rows of `npm run bench` (issue 9): the `hccr-vgg` architecture (64x64x1 input, 3,755 classes,
 * src/models/hccrVgg.ts) and the shipped `models/hanzi`, beside PyTorch in the same run. Run by bench/bench.ts (all
 * rows, or only these with `npm run bench -- --only hanzi`); the results go to their own section of
 * bench/results.md (between the `hanzi` markers) and to `hanzi` in bench/results.json.
 *
 * What is measured, in rounds with TypeScript and PyTorch in alternating order (as the digit rows):
 * - training images/s: random 64x64 data, batch 64, Adam, `model.trainOnBatch`, with 1 thread and, where the
 *   machine has 2 cores, 2 (TypeScript: TF.js wasm with our SIMD kernels and the data-parallel trainer of
 *   src/train/parallel.ts; PyTorch: `torch.set_num_threads`), the same network rebuilt in bench/torch_bench.py;
 * - single-image latency from a drawn character: ink from Make Me a Hanzi's stroke medians (`hanzi-writer-data`)
 *   rendered once, before timing, as a page canvas holds it (300x300 RGBA, dark pen on white paper); the timed call
 *   is `Recognizer.recognize` of the shipped `models/hanzi`: `preprocessorFor(metadata)` (the CJK profile, 64x64),
 *   the model, and the top 10 candidates. TypeScript runs inference on 1 thread;
 * - the same split in parts: the preprocessing alone (`timings.preprocessMs` of those calls), and the model alone
 *   (`predictProbabilities` on a prepared `[1, 64, 64, 1]` input) beside PyTorch's;
 * - PyTorch is eval mode under `torch.no_grad()`, softmax, probabilities read back; each request asks for the
 *   fastest configuration a user would pick (`"variant": "best"` in bench/torch_bench.py: NCHW or channels_last
 *   memory for training; eager NCHW, eager channels_last, or TorchScript frozen with `optimize_for_inference` for
 *   inference), tried at the start of each request. Its latency has no preprocessing: PyTorch gets a ready tensor.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { describeSimdBuild, simdBuild, type SimdBuild } from '../src/backend/simd/index.ts';
import { renderInk } from '../src/core/ink.ts';
import type { Recognizer } from '../src/core/recognizer.ts';
import type { PixelBuffer } from '../src/core/types.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { loadRecognizer } from '../src/node/recognizer.ts';
import { median, percentile } from './stats.ts';
import { BenchTrainers, timeCalls } from './tsTrainers.ts';

/** The architecture of the training rows and its input. */
const ARCHITECTURE = 'hccr-vgg';
const CLASSES = 3755;
const SIZE = 64;
const BATCH = 64;
/** The shipped model of the latency rows. */
const MODEL = 'hanzi';
/** Side of the drawing in px, as a page's writing box. */
export const CANVAS_PX = 300;
/** Ten characters of many shapes and stroke counts (2 to 13 strokes), cycled through by the latency calls. */
const CHARACTERS = Array.from('永的我你好中国字写爱');
/** Candidates returned per call, the default for a large vocabulary. */
const TOP_K = 10;
/** The target for one character in Node, preprocessing included (median). */
export const LATENCY_TARGET_MS = 30;
/** The targets in the page: one character in the page's worker (median, preprocessing included), and top-1 of characters written there. */
export const PAGE_LATENCY_TARGET_MS = 60;
export const PAGE_TOP1_TARGET = 0.9;

/** What bench/hanzi-page.ts prints (its one JSON line). */
interface PageFigures {
  characters: number;
  top1: number;
  top10: number;
  workerMedianMs: number;
  roundTripMedianMs: number;
}

/**
 * Runs bench/hanzi-page.ts in a child process (headless Chromium on the static build, `n` characters replayed as
 * pointer events) and returns its figures, or null without /usr/bin/chromium.
 * @throws Error when the page bench fails or prints no JSON line
 */
async function pageFigures(n: number, log: (line: string) => void): Promise<PageFigures | null> {
  if (!existsSync('/usr/bin/chromium')) {
    log('bench: no /usr/bin/chromium, the page rows are left out');
    return null;
  }
  const script = new URL('./hanzi-page.ts', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--n', String(n)], { maxBuffer: 16 << 20 });
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`bench/hanzi-page.ts printed no JSON line: ${stdout.slice(-500)}`);
  return JSON.parse(line) as PageFigures;
}

/** The PyTorch side (bench/bench.ts's `TorchSide`): one JSON request, one JSON answer. */
export interface TorchRequester {
  request<T>(body: Record<string, unknown>): Promise<T>;
}

/** Options of `runHanziBench`. */
export interface HanziBenchOptions {
  rounds: number;
  quick: boolean;
  /** Training thread counts, e.g. `[1, 2]`. */
  threadCounts: number[];
  /** Null: TypeScript only (the PyTorch columns say n/a). */
  torch: TorchRequester | null;
  /** Where progress lines go. Default stderr. */
  log?: (line: string) => void;
}

/** One table row: TypeScript's and PyTorch's figure, and the ratio TypeScript / PyTorch. */
export interface HanziRow {
  measure: string;
  /** Training: the threads of each side; latency: `1 / N`, TypeScript's thread and PyTorch's N. */
  threads: string;
  ts: number;
  torch: number | null;
  ratio: number | null;
  unit: 'img/s' | 'ms';
  better: 'higher' | 'lower';
  /** The PyTorch configuration that was fastest, by how often it was picked over the rounds, e.g. `channels-last x5`. */
  torchVariant: string | null;
}

/** What `runHanziBench` measured. */
export interface HanziReport {
  date: string;
  rounds: number;
  quick: boolean;
  /** The model of the latency rows, as its metadata describes it. */
  model: { dir: string; name: string; architecture: string; classes: number; inputShape: number[]; preprocessing: string; parameters: number; epochs: number; testAccuracy: number | null };
  drawing: string;
  loadAverage: { start: number[]; end: number[] };
  /** Which build of hwr's SIMD training kernels ran (`simdBuild` of src/backend/simd/index.ts). */
  simdBuild: SimdBuild | null;
  rows: HanziRow[];
  targets: Array<{ target: string; measured: string; met: boolean | null }>;
  /** Every sample (img/s per round, or ms per call), rounded, for other statistics. */
  samples: Array<{ measure: string; threads: number; ts: number[]; torch: number[] }>;
}

const loads = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * The drawings of the latency rows: each character's stroke medians rendered at `CANVAS_PX` square, an 18 px pen,
 * a 30 px margin, as RGBA with dark ink (gray 20) on opaque white paper, the pixels a page's canvas hands over.
 * @throws HwrError `BAD_ARGUMENT` when `hanzi-writer-data` lacks a character
 */
export async function drawnCharacters(): Promise<PixelBuffer[]> {
  return Promise.all(
    CHARACTERS.map(async (char) => {
      const coverage = renderInk(await loadHanziInk(char), { width: CANVAS_PX, height: CANVAS_PX, strokeWidth: 18, margin: 30 });
      const data = new Uint8ClampedArray(CANVAS_PX * CANVAS_PX * 4);
      for (let i = 0; i < coverage.data.length; i++) {
        const level = 255 - Math.round((coverage.data[i]! * (255 - 20)) / 255);
        data.set([level, level, level, 255], i * 4);
      }
      return { width: CANVAS_PX, height: CANVAS_PX, data };
    }),
  );
}

/** The TypeScript side: one `hccr-vgg` per thread count for training, the shipped model for latency. */
class TsHanzi {
  private readonly trainers = new BenchTrainers();
  private batch: [tf.Tensor, tf.Tensor] | null = null;

  private constructor(
    readonly recognizer: Recognizer,
    readonly dir: string,
    private readonly drawings: PixelBuffer[],
    private readonly prepared: Float32Array,
  ) {}

  static async create(): Promise<TsHanzi> {
    // TF.js explicitly: this side measures the TypeScript (TF.js wasm) path against PyTorch; `auto` would run ONNX Runtime.
    const recognizer = await loadRecognizer(MODEL, undefined, { engine: 'tfjs' });
    const drawings = await drawnCharacters();
    const [height, width] = recognizer.metadata.inputShape;
    if (height !== SIZE || width !== SIZE) throw new Error(`models/${MODEL}: input ${height}x${width}, expected ${SIZE}x${SIZE}`);
    // The model-only rows take the first drawing as the model sees it.
    const prepared = (await recognizer.recognize(drawings[0]!)).processed;
    return new TsHanzi(recognizer, MODEL, drawings, prepared);
  }

  /** Training images/s over `steps` steps of batch 64 after `warmup` steps. */
  async train(threads: number, steps: number, warmup: number): Promise<number> {
    const model = await this.trainers.get(ARCHITECTURE, { classes: CLASSES, seed: 1, inputSize: SIZE }, threads);
    this.batch ??= [tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 1), tf.tidy(() => tf.oneHot(tf.randomUniform([BATCH], 0, CLASSES, 'int32', 2), CLASSES).toFloat())];
    const [xs, ys] = this.batch;
    return this.trainers.imagesPerSecond(model, xs, ys, steps, warmup);
  }

  /** Per call, ms: the whole `recognize` (drawing to top 10) and its preprocessing part; `warmup` calls untimed. */
  async recognize(calls: number, warmup: number): Promise<{ total: number[]; preprocess: number[] }> {
    const total: number[] = [];
    const preprocess: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const image = this.drawings[i % this.drawings.length]!;
      const start = performance.now();
      const result = await this.recognizer.recognize(image, { topK: TOP_K });
      const ms = performance.now() - start;
      if (result.topK.length !== TOP_K) throw new Error(`recognize gave ${result.topK.length} candidates, expected ${TOP_K}`);
      if (i >= warmup) {
        total.push(ms);
        preprocess.push(result.timings.preprocessMs);
      }
    }
    return { total, preprocess };
  }

  /** Per call, ms: the model alone on a prepared `[1, 64, 64, 1]` input, probabilities read back. */
  async modelOnly(calls: number, warmup: number): Promise<number[]> {
    return timeCalls(() => this.recognizer.predictProbabilities(this.prepared, 1), calls, warmup);
  }

  async dispose(): Promise<void> {
    await this.trainers.dispose();
    if (this.batch) tf.dispose(this.batch);
    this.recognizer.dispose();
  }
}

type Kind = 'train' | 'latency' | 'model';

/** One measured quantity over the rounds. */
interface Case {
  kind: Kind;
  threads: number;
  ts: number[];
  /** Preprocessing ms of the `latency` calls. */
  tsPreprocess: number[];
  torch: number[];
  torchVariants: string[];
}

/**
 * Measures the large-vocabulary rows (see the module comment). Loads `models/hanzi` (whatever it holds: the latency
 * does not depend on the weights) and builds `hccr-vgg` for each thread count.
 * @throws Error when the model is not 64x64 or a PyTorch request fails
 */
export async function runHanziBench(options: HanziBenchOptions): Promise<HanziReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const start = loads();
  const { torch, rounds, quick } = options;
  const trainSteps = quick ? 3 : 8;
  const trainWarmup = quick ? 1 : 2;
  const calls = quick ? 30 : 60;
  const warmup = 10;
  const ts = await TsHanzi.create();
  const cases: Case[] = [
    ...options.threadCounts.map((threads) => ({ kind: 'train' as const, threads })),
    // TypeScript infers on 1 thread; PyTorch with 1 and with 2, as the digit rows.
    ...options.threadCounts.map((threads) => ({ kind: 'latency' as const, threads })),
    { kind: 'model' as const, threads: 1 },
  ].map((c) => ({ ...c, ts: [], tsPreprocess: [], torch: [], torchVariants: [] }));

  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const measureTs = async () => {
        if (c.kind === 'train') c.ts.push(await ts.train(c.threads, trainSteps, trainWarmup));
        else if (c.kind === 'model') c.ts.push(...(await ts.modelOnly(calls, warmup)));
        else if (c.threads === 1 || !cases.some((o) => o.kind === 'latency' && o.threads === 1)) {
          const { total, preprocess } = await ts.recognize(calls, warmup);
          c.ts.push(...total);
          c.tsPreprocess.push(...preprocess);
        }
      };
      const measureTorch = async () => {
        if (!torch) return;
        if (c.kind === 'train') {
          const answer = await torch.request<{ imagesPerSecond: number; variant: string }>({ op: 'train', model: ARCHITECTURE, threads: c.threads, batch: BATCH, steps: trainSteps, warmup: trainWarmup, variant: 'best' });
          c.torch.push(answer.imagesPerSecond);
          c.torchVariants.push(answer.variant);
        } else {
          const answer = await torch.request<{ ms: number[]; variant: string }>({ op: 'latency', model: ARCHITECTURE, threads: c.threads, calls, warmup, variant: 'best' });
          c.torch.push(...answer.ms);
          c.torchVariants.push(answer.variant);
        }
      };
      if ((round + i) % 2 === 0) {
        await measureTs();
        await measureTorch();
      } else {
        await measureTorch();
        await measureTs();
      }
    }
    log(`bench: hanzi round ${round + 1}/${rounds} done`);
  }
  // The TypeScript latency does not depend on PyTorch's threads: the 1-thread case's calls serve both rows.
  const tsLatency = cases.find((c) => c.kind === 'latency' && c.threads === 1) ?? cases.find((c) => c.kind === 'latency')!;
  for (const c of cases) if (c.kind === 'latency' && c !== tsLatency) c.ts = tsLatency.ts;

  const rows = rowsOf(cases, tsLatency);
  const metadata = ts.recognizer.metadata;
  const model = {
    dir: `models/${MODEL}`,
    name: metadata.name,
    architecture: metadata.architecture,
    classes: metadata.classes.length,
    inputShape: metadata.inputShape,
    preprocessing: metadata.preprocessing,
    parameters: ts.recognizer.model?.countParams() ?? metadata.parameters,
    epochs: metadata.epochs,
    testAccuracy: metadata.testAccuracy ?? null,
  };
  await ts.dispose();
  const e2e = rows.find((r) => r.measure.startsWith('recognize a drawing'))!;
  const page = await pageFigures(quick ? 50 : 200, log);
  if (page) {
    rows.push(
      { measure: `recognize a character written in the page, in its Web Worker (Chromium), median of ${page.characters}`, threads: '1', ts: page.workerMedianMs, torch: null, ratio: null, unit: 'ms', better: 'lower', torchVariant: null },
    );
  }
  const round1 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    date: new Date().toISOString(),
    rounds,
    quick,
    model,
    drawing: `${CHARACTERS.length} characters (${CHARACTERS.join('')}) from hanzi-writer-data's stroke medians, rendered at ${CANVAS_PX}x${CANVAS_PX} px, 18 px pen, RGBA dark on white`,
    loadAverage: { start, end: loads() },
    simdBuild: simdBuild(),
    rows,
    targets: [
      {
        target: `one character recognized in Node in at most ${LATENCY_TARGET_MS} ms (median), preprocessing included`,
        measured: `${e2e.ts.toFixed(2)} ms median over ${tsLatency.ts.length} calls`,
        met: e2e.ts <= LATENCY_TARGET_MS,
      },
      ...(page
        ? [
            {
              target: `one character recognized in the page's worker in at most ${PAGE_LATENCY_TARGET_MS} ms (median), preprocessing included`,
              measured: `${page.workerMedianMs.toFixed(2)} ms median over ${page.characters} characters (round trip from the page ${page.roundTripMedianMs.toFixed(2)} ms)`,
              met: page.workerMedianMs <= PAGE_LATENCY_TARGET_MS,
            },
            {
              target: `top-1 of characters written in the page at least ${PAGE_TOP1_TARGET * 100}%`,
              measured: `top-1 ${(page.top1 * 100).toFixed(1)}%, top-10 ${(page.top10 * 100).toFixed(1)}% of ${page.characters} characters`,
              met: page.top1 >= PAGE_TOP1_TARGET,
            },
          ]
        : []),
    ],
    samples: cases.map((c) => ({ measure: c.kind, threads: c.threads, ts: c.ts.map(c.kind === 'train' ? (x) => Math.round(x * 10) / 10 : round1), torch: c.torch.map(c.kind === 'train' ? (x) => Math.round(x * 10) / 10 : round1) })),
  };
}

/** `channels-last x3, nchw x2`: how often each PyTorch configuration was the fastest. */
function variantsOf(picks: string[]): string | null {
  if (picks.length === 0) return null;
  const counts = new Map<string, number>();
  for (const p of picks) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${v} x${n}`).join(', ');
}

function rowsOf(cases: Case[], tsLatency: Case): HanziRow[] {
  const rows: HanziRow[] = [];
  const add = (measure: string, threads: string, ts: number, torch: number | null, unit: HanziRow['unit'], torchVariant: string | null) =>
    rows.push({ measure, threads, ts, torch, ratio: torch ? ts / torch : null, unit, better: unit === 'img/s' ? 'higher' : 'lower', torchVariant });
  for (const c of cases.filter((x) => x.kind === 'train')) {
    add(`${ARCHITECTURE} training, batch ${BATCH}, Adam`, String(c.threads), median(c.ts), c.torch.length ? median(c.torch) : null, 'img/s', variantsOf(c.torchVariants));
  }
  for (const c of cases.filter((x) => x.kind === 'latency')) {
    const torch = c.torch.length ? c.torch : null;
    const variant = variantsOf(c.torchVariants);
    add(`recognize a drawing (${CANVAS_PX}x${CANVAS_PX} to top ${TOP_K}; PyTorch: the model alone), median of ${c.ts.length} calls`, `1 / ${c.threads}`, median(c.ts), torch && median(torch), 'ms', variant);
    add(`recognize a drawing, p99 of ${c.ts.length} calls`, `1 / ${c.threads}`, percentile(c.ts, 0.99), torch && percentile(torch, 0.99), 'ms', variant);
  }
  add(`of which preprocessing (CJK profile to ${SIZE}x${SIZE}), median`, '1', median(tsLatency.tsPreprocess), null, 'ms', null);
  const model = cases.find((c) => c.kind === 'model')!;
  add(`model alone (a prepared [1, ${SIZE}, ${SIZE}, 1] input), median of ${model.ts.length} calls`, '1 / 1', median(model.ts), model.torch.length ? median(model.torch) : null, 'ms', variantsOf(model.torchVariants));
  return rows;
}

const MARK_START = '<!-- hanzi:start -->';
const MARK_END = '<!-- hanzi:end -->';

const fmt = (x: number, digits: number): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The section of bench/results.md for these rows, between the `hanzi` markers. */
export function hanziMarkdown(report: HanziReport, command: string): string {
  const m = report.model;
  // The latency does not depend on the weights: a placeholder or a model in training measures the same.
  const trained = /placeholder/i.test(m.name)
    ? '; untrained, a placeholder of the trained model\'s shape: the latency does not depend on the weights'
    : m.testAccuracy != null
      ? `, test top-1 ${(m.testAccuracy * 100).toFixed(2)}%`
      : `, ${m.epochs} epoch${m.epochs === 1 ? '' : 's'} trained, no test figure in its metadata yet`;
  const lines = [
    MARK_START,
    `## Chinese characters: ${ARCHITECTURE} training and the shipped \`${m.dir}\` (${m.classes.toLocaleString('en-US')} classes, ${m.inputShape[0]}x${m.inputShape[1]})`,
    '',
    `Written by \`${command}\` on ${report.date.slice(0, 10)}, ${report.rounds} round${report.rounds === 1 ? '' : 's'}${report.quick ? ' (quick)' : ''}, TypeScript and PyTorch in alternating order. ` +
      `Load average ${report.loadAverage.start.join(', ')} at the start and ${report.loadAverage.end.join(', ')} at the end (other work on the machine slows both sides: read the ratios). ` +
      `hwr's SIMD training kernels: ${describeSimdBuild(report.simdBuild)}.`,
    '',
    `Training: random ${SIZE}x${SIZE} data, ${CLASSES.toLocaleString('en-US')} classes, batch ${BATCH}, Adam, the same network in both (bench/torch_bench.py), each side warmed up on first use (up to 300 steps or 5 s), medians over rounds. ` +
      `Latency: \`Recognizer.recognize\` of \`${m.dir}\` (${m.name}, ${m.parameters.toLocaleString('en-US')} parameters${trained}) on ${report.drawing}, ` +
      `rendered before timing; the timed call is the CJK profile (\`preprocessorFor(metadata)\`, ${m.preprocessing}), the model and the top ${TOP_K}, on 1 thread. ` +
      'PyTorch gets a ready tensor (no preprocessing), eval mode, `torch.no_grad()`, softmax read back, with the threads after the slash; ' +
      'each request uses the fastest of the configurations a user would pick (training: NCHW or channels_last; inference: eager NCHW, eager channels_last, TorchScript frozen with `optimize_for_inference`), tried first; the last column says which won. ' +
      'Ratio = TypeScript / PyTorch (for latency, below 1 means TypeScript is faster).',
    '',
    '| measure | threads | TypeScript | PyTorch | ratio | PyTorch configuration |',
    '|---|---|---:|---:|---:|---|',
    ...report.rows.map((r) => {
      const digits = r.unit === 'ms' ? 2 : 0;
      return `| ${r.measure} (${r.unit}) | ${r.threads} | ${fmt(r.ts, digits)} | ${r.torch == null ? 'n/a' : fmt(r.torch, digits)} | ${r.ratio == null ? 'n/a' : r.ratio.toFixed(2)} | ${r.torchVariant ?? ''} |`;
    }),
    '',
    ...report.targets.map((t) => `- ${t.met === null ? '?' : t.met ? 'met' : 'NOT met'}: ${t.target} (${t.measured})`),
    MARK_END,
  ];
  return `${lines.join('\n')}\n`;
}

/** The hanzi section of `markdown`, markers included, or null. */
export function hanziSectionOf(markdown: string): string | null {
  const start = markdown.indexOf(MARK_START);
  const end = markdown.indexOf(MARK_END);
  return start >= 0 && end > start ? markdown.slice(start, end + MARK_END.length) + '\n' : null;
}

/** Puts `section` in place of the hanzi section of `markdown`; else before the serving section, or at the end. */
export function withHanziSection(markdown: string, section: string): string {
  const start = markdown.indexOf(MARK_START);
  const end = markdown.indexOf(MARK_END);
  if (start >= 0 && end > start) return markdown.slice(0, start) + section.trimEnd() + markdown.slice(end + MARK_END.length);
  const serving = markdown.indexOf('<!-- serving:start -->');
  if (serving >= 0) return `${markdown.slice(0, serving)}${section.trimEnd()}\n\n${markdown.slice(serving)}`;
  return `${markdown.trimEnd()}\n\n${section}`;
}

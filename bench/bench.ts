/**
 * `npm run bench`: speed and memory of training and inference, for the seed CNN and the default model (hwr-net),
 * beside PyTorch on the same machine in the same run, and inference on ONNX Runtime (`onnxruntime-node`) beside both.
 * Separate from the tests (which never assert timings).
 *
 *   npm run bench                      full run (about 16 minutes on 2 idle cores): writes bench/results.json and .md
 *   npm run bench -- --quick           short run (about 1 minute), writes .tmp/bench-quick.json and .md
 *   npm run bench -- --only hanzi      only the Chinese-character rows (bench/hanzi-bench.ts, about 4 minutes idle, with 200 characters written in Chromium): their
 *                                      section of bench/results.md and `hanzi` in results.json are replaced, the rest kept
 *   npm run bench -- --only digits     everything but those rows (the previous hanzi section is kept)
 *   npm run bench -- --only teach      only the teach-a-script evaluation (bench/teach.ts: 26 symbols from 5 samples each,
 *                                      accuracy on the same and other generated writers): writes bench/teach.json and .md;
 *                                      its options --base digits,hanzi  --script latin,symbols  --writers N  --quick  --recipe JSON  --out <dir>.
 *                                      The full run does not include it.
 *   npm run bench -- --only lines      only the line-reading evaluation (bench/lines.ts: digit lines as images and ink,
 *                                      Chinese lines, speed of a 10-digit line, confidence bins): writes bench/lines.json
 *                                      and .md; its options --quick  --lines N  --engine auto|onnx|tfjs  --stub  --no-pairs  --out <dir>.
 *                                      The full run does not include it.
 *   options: --rounds N  --no-torch  --no-epoch  --no-serve  --python /usr/bin/python3  --out <dir>
 *            (--no-epoch and --no-serve keep the epoch rows and the serving section of the previous results, saying
 *            from which run they are)
 *
 * What is measured, per model (random data, batch 64, Adam; the same architectures in bench/torch_bench.py):
 * - training images/s with 1 thread, and with 2 threads where the machine has 2 cores (TypeScript: the
 *   data-parallel trainer of src/train/parallel.ts; PyTorch: `torch.set_num_threads(2)`), through
 *   `model.trainOnBatch` (the step `fitDataset` takes, without the data pipeline);
 * - batched inference images/s (batch 256) and single-image latency (median and p99 over all calls of all rounds),
 *   through `Recognizer.predictProbabilities` (a preprocessed `[1, 28, 28, 1]` tensor, predict, read back), against
 *   `softmax(model(x))` under `torch.no_grad()` in PyTorch's fastest configuration (eager NCHW, channels_last or
 *   TorchScript frozen with `optimize_for_inference`, chosen per request by bench/torch_bench.py's `variant: best`);
 *   TypeScript inference always runs on one thread;
 * - the same inference on ONNX Runtime (bench/onnx-bench.ts), one intra-op thread, the same model's ONNX form
 *   (src/export/onnx.ts): (a) a raw `InferenceSession.run` on a ready tensor, (b) hwr's path on the ONNX Runtime
 *   engine (`Recognizer.predictProbabilities` through src/node/onnxEngine.ts: what the server and the CLI run), and
 *   the int8 QDQ form on a raw session; measured in the same rounds as TF.js and PyTorch, in rotating order, (a) and
 *   (b) call by call in turn. The target: (b) within 10% of (a) (median single-image latency);
 * - peak resident memory (RSS sampled after every TypeScript training step);
 * - one full MNIST epoch of hwr-net through `train()` in a child process, with 1 and 2 threads: epoch seconds,
 *   images/s and peak RSS (`process.resourceUsage().maxRSS`) of a real training run.
 * - serving (bench/serve.ts, skipped by --quick and --no-serve): the HTTP server on loopback, requests/s and p50/p99
 *   latency at concurrency 1, 8, 32 and 128 with 0, 1 and one-per-core recognition workers.
 * - Chinese characters (bench/hanzi-bench.ts): hccr-vgg (64x64, 3,755 classes) training images/s with 1 and 2 threads,
 *   and the single-image latency of the shipped models/hanzi from a 300x300 drawing, preprocessing included.
 * TypeScript and PyTorch are measured in alternating order, round after round, so that the noise of a shared
 * machine hits both; figures are medians over rounds and ratios are TypeScript / PyTorch.
 * PyTorch is Debian's `python3-torch` (for /usr/bin/python3); when absent the PyTorch columns say so. It runs in two
 * configurations (issue 13), each in its own process per thread count, the environment set by bench/torchEnv.ts:
 * "as installed" (inherited environment, the system's libblas.so.3, eager NCHW) and "tuned" (Debian's OpenBLAS
 * through LD_LIBRARY_PATH when `libopenblas0-pthread` is installed, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset,
 * OPENBLAS_NUM_THREADS = the threads under test, passive OpenMP waits with 2 threads, stable glibc heap, the fastest
 * layout or form per request); both are warmed up before their first timed request, and ratios are against the
 * faster of the two. The report says which BLAS each process mapped; without OpenBLAS the bench still runs and says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { createRecognizer, type Recognizer } from '../src/core/recognizer.ts';
import { getArchitecture } from '../src/models/index.ts';
import { setupBackend } from '../src/backend/backend.ts';
import { describeSimdBuild, simdBuild } from '../src/backend/simd/index.ts';
import { median, percentile } from './stats.ts';
import { findOpenBlasDir, OPENBLAS_DIRS, torchProcessEnv, TORCH_CONFIGS, type TorchConfig } from './torchEnv.ts';
import { BenchTrainers, timeCalls } from './tsTrainers.ts';
import { batchInput, benchMetadata, OrtSide, singleInput, type OrtWay } from './onnx-bench.ts';
import { train } from '../src/train/train.ts';
import { hanziMarkdown, hanziSectionOf, runHanziBench, withHanziSection, type HanziReport } from './hanzi-bench.ts';
import { teachMain } from './teach.ts';
import { linesMain } from './lines.ts';
import { predictedEngineRise, runServingBench, servingMarkdown, servingSectionOf, withServingSection, type ServingReport } from './serve.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODELS = ['seed-cnn', 'hwr-net'] as const;
type ModelName = (typeof MODELS)[number];
type Kind = 'train' | 'infer' | 'latency';

/**
 * One measured quantity: TypeScript and PyTorch samples (images/s per round, or ms per call); for inference with
 * 1 thread also the ONNX Runtime samples of each way (bench/onnx-bench.ts).
 */
interface Case {
  model: ModelName;
  kind: Kind;
  threads: number;
  ts: number[];
  /** PyTorch tuned (bench/torchEnv.ts), in the fastest memory layout or form of each request (`variant: best`). */
  torch: number[];
  /** PyTorch as installed (inherited environment, system BLAS), eager NCHW. */
  torchDefault: number[];
  /** The tuned PyTorch's configuration each round measured (`variant` of torch_bench.py's answer), when it says. */
  torchVariants: string[];
  ort?: Record<OrtWay, number[]>;
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
    'no-epoch': { type: 'boolean', default: false },
    'no-serve': { type: 'boolean', default: false },
    python: { type: 'string' },
    out: { type: 'string' },
    'epoch-run': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    only: { type: 'string' },
    // --only teach's own options (bench/teach.ts)
    base: { type: 'string' },
    script: { type: 'string' },
    writers: { type: 'string' },
    recipe: { type: 'string' },
    // --only lines's own options (bench/lines.ts)
    lines: { type: 'string' },
    engine: { type: 'string' },
    stub: { type: 'boolean' },
    'no-pairs': { type: 'boolean' },
  },
});
if (flags.only !== undefined && flags.only !== 'digits' && flags.only !== 'hanzi' && flags.only !== 'teach' && flags.only !== 'lines') {
  process.stderr.write(`bench: --only ${flags.only}: expected digits, hanzi, teach or lines\n`);
  process.exit(2);
}
const runDigits = flags.only !== 'hanzi';
const runHanzi = flags.only !== 'digits';

const quick = flags.quick!;
const rounds = Number(flags.rounds ?? (quick ? 2 : 5));
const trainSteps: Record<ModelName, number> = quick ? { 'seed-cnn': 10, 'hwr-net': 6 } : { 'seed-cnn': 100, 'hwr-net': 50 };
const warmupSteps = quick ? 2 : 3;
const inferBatch = 256;
const inferReps = quick ? 2 : 5;
const latencyCalls = 100; // per round; pooled over rounds (>= 200 calls)
const latencyWarmup = 20;
/** PyTorch's untimed warm-up on first use of each model, layout and thread count per process (torch_bench.py). */
const torchWarmSeconds = quick ? 1.5 : 5;
const threadCounts = availableParallelism() >= 2 ? [1, 2] : [1];

const mb = (bytes: number): number => bytes / 2 ** 20;
const round = (kind: Kind) => (x: number): number => (kind === 'latency' ? Math.round(x * 1000) / 1000 : Math.round(x * 10) / 10);

/** One bench/torch_bench.py --serve process: one JSON request and answer per line. */
class TorchProcess {
  private readonly pending: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  private readonly child: ReturnType<typeof spawn>;
  private exited: Error | null = null;

  constructor(python: string, env: NodeJS.ProcessEnv, label: string) {
    this.child = spawn(python, [join(ROOT, 'bench/torch_bench.py'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'], env });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.pending.shift()?.resolve(line));
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`torch_bench.py (${label}) exited with ${signal ?? `code ${code}`}`);
      for (const waiting of this.pending.splice(0)) waiting.reject(this.exited);
    });
  }

  request<T>(body: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolveAnswer, reject) => {
      this.pending.push({
        resolve: (line) => {
          const answer = JSON.parse(line) as T & { error?: string };
          if (answer.error) reject(new Error(`torch_bench.py: ${answer.error}`));
          else resolveAnswer(answer);
        },
        reject,
      });
      this.child.stdin!.write(`${JSON.stringify(body)}\n`);
    });
  }

  close(): void {
    this.child.stdin!.end();
  }
}

/**
 * The PyTorch side: one bench/torch_bench.py process per configuration and thread count (bench/torchEnv.ts sets
 * each one's environment: OpenBLAS, its threads and the heap are fixed when a process starts), started on first use.
 * A request goes to the process of its `config` (`default` or `tuned`; `tuned` when absent, so bench/hanzi-bench.ts
 * measures the tuned PyTorch) and its `threads` (1 when absent); `config` is not passed on.
 */
class TorchSide {
  private readonly processes = new Map<string, TorchProcess>();
  /** The directory of Debian's libopenblas0-pthread, or null when it is not installed (the tuned process then runs on the system's BLAS). */
  readonly openblasDir = findOpenBlasDir();

  private constructor(private readonly python: string) {}

  /** A side for the first Python that imports torch; else the reason none was found. */
  static start(python: string | undefined): TorchSide | string {
    const candidates = python ? [python] : ['/usr/bin/python3', 'python3'];
    const found = candidates.find((candidate) => spawnSync(candidate, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
    return found ? new TorchSide(found) : `PyTorch not found (tried ${candidates.join(', ')}): install Debian's python3-torch (apt-get install -y python3-torch) to compare`;
  }

  request<T>(body: Record<string, unknown>): Promise<T> {
    const { config = 'tuned', ...rest } = body;
    if (!TORCH_CONFIGS.includes(config as TorchConfig)) return Promise.reject(new Error(`unknown PyTorch configuration ${String(config)}: expected ${TORCH_CONFIGS.join(' or ')}`));
    const threads = Number(rest.threads ?? 1);
    const key = `${config as TorchConfig}, ${threads} thread(s)`;
    let child = this.processes.get(key);
    if (!child) {
      child = new TorchProcess(this.python, torchProcessEnv(config as TorchConfig, threads, process.env, this.openblasDir), key);
      this.processes.set(key, child);
    }
    return child.request<T>(rest);
  }

  close(): void {
    for (const child of this.processes.values()) child.close();
  }
}

/** What torch_bench.py's `info` reports of one process (the fields this benchmark reads). */
interface TorchInfo {
  torch: string;
  python: string;
  parallel: string;
  mkldnn: boolean;
  blasInfo: string | null;
  blas: { kind: string; libblas: string | null; libraries: string[]; openblas: { config: string | null; core: string | null; threads: number | null } | null };
  env: Record<string, string | null>;
  threads: number;
  matmulGflops: number;
}

/** One PyTorch process as the report describes it. */
interface TorchProcessInfo {
  config: TorchConfig;
  threads: number;
  /** e.g. `OpenBLAS (Zen, 1 thread(s)): /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3`. */
  blas: string;
  matmulGflops: number;
  /** The variables of torch_bench.py's ENV_KEYS that were set. */
  env: Record<string, string>;
}

function describeTorchProcess(config: TorchConfig, info: TorchInfo): TorchProcessInfo {
  const o = info.blas.openblas;
  const blas = `${info.blas.kind}${o ? ` (${o.core}, ${o.threads} thread(s))` : ''}: ${info.blas.libblas ?? 'no libblas.so.3 mapped'}`;
  const env = Object.fromEntries(Object.entries(info.env).filter((entry): entry is [string, string] => entry[1] != null));
  return { config, threads: info.threads, blas, matmulGflops: Math.round(info.matmulGflops * 10) / 10, env };
}

/** The TypeScript side: one compiled model per (architecture, threads) for training, one for inference. */
class TsSide {
  private readonly trainers = new BenchTrainers(torchWarmSeconds);
  private readonly recognizers = new Map<ModelName, Recognizer>();
  private readonly batch = new Map<ModelName, [tf.Tensor, tf.Tensor]>();
  /** Peak RSS in bytes seen after any training step. */
  peakTrainingRss = 0;

  /** Training images/s over `steps` steps of batch 64 after `warmup` steps. */
  async train(name: ModelName, threads: number): Promise<number> {
    const model = await this.trainers.get(name, { classes: 10, seed: 1 }, threads);
    if (!this.batch.has(name)) {
      this.batch.set(name, tf.tidy(() => [tf.randomUniform([64, 28, 28, 1], 0, 1, 'float32', 1), tf.oneHot(tf.randomUniform([64], 0, 10, 'int32', 2), 10).toFloat()]));
    }
    const [xs, ys] = this.batch.get(name)!;
    return this.trainers.imagesPerSecond(model, xs, ys, trainSteps[name], warmupSteps, () => {
      this.peakTrainingRss = Math.max(this.peakTrainingRss, process.memoryUsage.rss());
    });
  }

  private recognizer(name: ModelName): Recognizer {
    let recognizer = this.recognizers.get(name);
    if (!recognizer) {
      const model = getArchitecture(name).create({ classes: 10, seed: 2 });
      recognizer = createRecognizer(model, benchMetadata(name, model.countParams()));
      this.recognizers.set(name, recognizer);
    }
    return recognizer;
  }

  /** Batched inference images/s (batch 256). */
  async infer(name: ModelName): Promise<number> {
    const recognizer = this.recognizer(name);
    const inputs = batchInput(inferBatch);
    await recognizer.predictProbabilities(inputs, inferBatch);
    const start = performance.now();
    for (let i = 0; i < inferReps; i++) await recognizer.predictProbabilities(inputs, inferBatch);
    return (inferBatch * inferReps * 1000) / (performance.now() - start);
  }

  /** Single-image latencies in ms: preprocessed `[1, 28, 28, 1]` input, predict, probabilities read back. */
  async latency(name: ModelName): Promise<number[]> {
    const recognizer = this.recognizer(name);
    const input = singleInput();
    return timeCalls(() => recognizer.predictProbabilities(input, 1), latencyCalls, latencyWarmup);
  }

  async dispose(): Promise<void> {
    await this.trainers.dispose();
    for (const recognizer of this.recognizers.values()) recognizer.dispose();
    for (const tensors of this.batch.values()) tf.dispose(tensors);
  }
}

/** Result of one full-MNIST epoch of hwr-net in a child process (`--epoch-run`). */
interface EpochRun {
  threads: number;
  epochSeconds: number;
  imagesPerSecond: number;
  trainingImages: number;
  testAccuracy: number;
  wallSeconds: number;
  maxRssMB: number;
}

/** Child-process mode: one epoch of the default model on full MNIST through `train()`; prints an `EpochRun`. */
async function epochRun(threads: number): Promise<void> {
  const outDir = await mkdtemp(join(tmpdir(), 'hwr-bench-epoch-'));
  const started = performance.now();
  try {
    const result = await train({ model: 'hwr-net', epochs: 1, batchSize: 64, learningRate: 0.002, seed: 1, outDir, threads, progressBar: false, print: (line) => process.stderr.write(`  ${line}\n`) });
    const epoch = result.state.history[0]!;
    const run: EpochRun = {
      threads,
      epochSeconds: epoch.seconds,
      imagesPerSecond: epoch.imagesPerSecond,
      trainingImages: Math.round(epoch.imagesPerSecond * epoch.seconds),
      testAccuracy: result.test!.accuracy,
      wallSeconds: (performance.now() - started) / 1000,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
    };
    process.stdout.write(`${JSON.stringify(run)}\n`);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Runs `epochRun` in a child process (its own memory, so that its peak RSS is the training run's alone). */
function runEpochChild(threads: number): Promise<EpochRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--epoch-run', '--threads', String(threads)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolveRun(JSON.parse(last) as EpochRun);
      else reject(new Error(`epoch run with ${threads} thread(s) failed (exit code ${code})`));
    });
  });
}

function machine(torchInfo: TorchInfo | null) {
  return {
    cpu: cpus()[0]?.model?.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.versions.node,
    tfjs: `${tf.version.tfjs} ${tf.getBackend()} (one thread per TF.js instance; hwr's SIMD training kernels: ${describeSimdBuild(simdBuild())})`,
    onnxruntime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    torch: torchInfo ? `${torchInfo.torch} (Python ${torchInfo.python}, ${torchInfo.parallel}, mkldnn ${torchInfo.mkldnn})` : null,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const fmt = (x: number | null | undefined, digits = 0): string =>
  x == null || Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

interface Row {
  model: ModelName;
  measure: string;
  threads: string;
  ts: number;
  /** The faster of `torchDefault` and `torchTuned` (what the ratio is against), null without PyTorch. */
  torch: number | null;
  /** PyTorch as installed, eager NCHW (bench/torchEnv.ts `default`). */
  torchDefault: number | null;
  /** PyTorch tuned: OpenBLAS, pinned threads, stable heap, fastest layout or form (bench/torchEnv.ts `tuned`). */
  torchTuned: number | null;
  /** Which of the two `torch` is. */
  torchFaster: TorchConfig | null;
  /** TypeScript / `torch`. */
  ratio: number | null;
  unit: string;
  better: 'higher' | 'lower';
  /** The tuned PyTorch's configuration: each variant that won a round, with its count (e.g. `torchscript x3, nchw x2`). */
  torchVariant: string | null;
}

/** `torchscript x3, nchw x2`: how often each configuration was the fastest, most often first. */
function variantSummary(variants: string[]): string | null {
  if (variants.length === 0) return null;
  const counts = new Map<string, number>();
  for (const v of variants) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${v} x${n}`).join(', ');
}

/** The faster of PyTorch as installed and tuned (higher or lower figure, by `better`), and which it is. */
function fasterTorch(torchDefault: number | null, torchTuned: number | null, better: Row['better']): { torch: number | null; torchFaster: TorchConfig | null } {
  if (torchDefault == null || torchTuned == null) return torchTuned != null ? { torch: torchTuned, torchFaster: 'tuned' } : { torch: torchDefault, torchFaster: torchDefault == null ? null : 'default' };
  const tunedWins = better === 'higher' ? torchTuned >= torchDefault : torchTuned <= torchDefault;
  return tunedWins ? { torch: torchTuned, torchFaster: 'tuned' } : { torch: torchDefault, torchFaster: 'default' };
}

/**
 * Reduces the cases to table rows: medians of rounds (throughput) or of pooled calls (latency, also p99), for
 * TypeScript and both PyTorch configurations; the ratio is against the faster PyTorch.
 */
function rowsOf(cases: Case[]): Row[] {
  const rows: Row[] = [];
  for (const c of cases) {
    const stat = (xs: number[], f: (xs: number[]) => number): number | null => (xs.length ? f(xs) : null);
    const add = (measure: string, f: (xs: number[]) => number, unit: string, better: Row['better']) => {
      const ts = f(c.ts);
      const [torchDefault, torchTuned] = [stat(c.torchDefault, f), stat(c.torch, f)];
      const { torch, torchFaster } = fasterTorch(torchDefault, torchTuned, better);
      rows.push({ model: c.model, measure, threads: c.kind === 'train' ? String(c.threads) : `1 / ${c.threads}`, ts, torch, torchDefault, torchTuned, torchFaster, ratio: torch ? ts / torch : null, unit, better, torchVariant: variantSummary(c.torchVariants) });
    };
    const p99 = (xs: number[]): number => percentile(xs, 0.99);
    if (c.kind === 'train') add('training, batch 64, Adam', median, 'img/s', 'higher');
    if (c.kind === 'infer') add(`batched inference, batch ${inferBatch}`, median, 'img/s', 'higher');
    if (c.kind === 'latency') {
      add(`single-image latency, median of ${c.ts.length} calls`, median, 'ms', 'lower');
      add(`single-image latency, p99 of ${c.ts.length} calls`, p99, 'ms', 'lower');
    }
  }
  return rows;
}

/** One row of the inference-engine table: one measure of one model on every engine, 1 thread each. */
interface EngineRow {
  model: ModelName;
  measure: string;
  unit: 'ms' | 'img/s';
  /** (a) raw ONNX Runtime session, (b) hwr's path on the ONNX Runtime engine, the int8 form on a raw session. */
  raw: number;
  hwr: number;
  int8: number;
  /** (c) hwr's path on TF.js, (d) the faster of PyTorch as installed and tuned (null without PyTorch). */
  tfjs: number;
  torch: number | null;
  torchFaster: TorchConfig | null;
  torchVariant: string | null;
}

/** The engine rows: for each model, latency median and p99 (pooled calls) and batched images/s (median of rounds). */
function engineRowsOf(cases: Case[]): EngineRow[] {
  const rows: EngineRow[] = [];
  for (const c of cases) {
    if (!c.ort || c.threads !== 1 || c.kind === 'train') continue;
    const torchVariant = variantSummary(c.torchVariants);
    const stat = (xs: number[], q: 'median' | 'p99'): number => (q === 'median' ? median(xs) : percentile(xs, 0.99));
    const add = (measure: string, unit: EngineRow['unit'], q: 'median' | 'p99') => {
      const torchOf = (xs: number[]): number | null => (xs.length ? stat(xs, q) : null);
      const { torch, torchFaster } = fasterTorch(torchOf(c.torchDefault), torchOf(c.torch), unit === 'ms' ? 'lower' : 'higher');
      rows.push({ model: c.model, measure, unit, raw: stat(c.ort!.raw, q), hwr: stat(c.ort!.hwr, q), int8: stat(c.ort!.int8, q), tfjs: stat(c.ts, q), torch, torchFaster, torchVariant });
    };
    if (c.kind === 'latency') {
      add(`single-image latency, median of ${c.ts.length} calls`, 'ms', 'median');
      add(`single-image latency, p99 of ${c.ts.length} calls`, 'ms', 'p99');
    } else {
      add(`batched inference, batch ${inferBatch}`, 'img/s', 'median');
    }
  }
  return rows;
}

/** The configuration column: which PyTorch was faster, and the tuned one's layout or form over the rounds. */
function torchColumn(faster: TorchConfig | null, tunedVariant: string | null): string {
  if (faster == null) return '';
  return `${faster === 'tuned' ? 'tuned' : 'as installed'} faster${tunedVariant ? `; tuned: ${tunedVariant}` : ''}`;
}

/** The lines that say how each PyTorch process ran (its BLAS, threads, environment and matmul speed). */
function torchConfigMarkdown(report: Report): string[] {
  if (!report.torchProcesses.length) return [];
  const envText = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `\`${k}=${v}\``).join(' ') || 'none of them set';
  return [
    'PyTorch ran in two configurations, each in its own process per thread count (bench/torchEnv.ts; the environment is fixed when a process starts). ' +
      '**As installed**: Debian\'s torch (BLAS_INFO=generic: it calls whatever `libblas.so.3` the loader finds) in the environment `npm run bench` inherited, eager NCHW. ' +
      '**Tuned**: Debian\'s OpenBLAS (`libopenblas0-pthread`) through `LD_LIBRARY_PATH` when installed, `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` unset, `OPENBLAS_NUM_THREADS` and `OMP_NUM_THREADS` = the threads under test (and with 2, `OMP_WAIT_POLICY=PASSIVE`: no spinning at barriers on a shared machine), ' +
      '`GLIBC_TUNABLES` fixing the malloc mmap and trim thresholds (no page-fault stalls), and per request the faster of NCHW and channels_last (training) or of eager NCHW, eager channels_last and TorchScript frozen with `optimize_for_inference` (inference). ' +
      `Both warm up before the first timed request of each model (up to 300 steps or ${torchWarmSecondsOf(report)} s), and so does each TypeScript training model (bench/tsTrainers.ts, since session 22), so every round in the figures is warm. ` +
      'Ratios are against the faster of the two. What each process found (torch_bench.py `info`; matmul: 512x512 float32 `torch.mm`):',
    '',
    '| PyTorch | threads | BLAS (`libblas.so.3` mapped) | matmul GFLOP/s | environment (of LD_LIBRARY_PATH, OPENBLAS_*, OMP_*, GOMP_SPINCOUNT, GLIBC_TUNABLES) |',
    '|---|---:|---|---:|---|',
    ...report.torchProcesses.map((p) => `| ${p.config === 'tuned' ? 'tuned' : 'as installed'} | ${p.threads} | ${p.blas} | ${fmt(p.matmulGflops, 1)} | ${envText(p.env)} |`),
    '',
  ];
}

const torchWarmSecondsOf = (report: Report): number => (report.quick ? 1.5 : 5);

/** The section of the ONNX Runtime rows (empty when the report has none). */
function enginesMarkdown(report: Report): string[] {
  if (!report.engines.length) return [];
  const checks = Object.entries(report.onnxChecks)
    .map(([model, c]) => `${model} ${c.maxAbsDiff.toExponential(1)} (ONNX files: float32 ${fmt(c.bytes.float32 / 1024)} KB, int8 ${fmt(c.bytes.int8 / 1024)} KB)`)
    .join('; ');
  const ratio = (x: number | null, y: number | null): string => (x == null || y == null ? 'n/a' : (x / y).toFixed(2));
  return [
    '## Inference: ONNX Runtime beside TF.js and PyTorch (1 thread each)',
    '',
    'The same random-weight models as above, in the same rounds (the engines measured in rotating order; (a) and (b) call by call in turn, their order alternating each call, ' +
      'since they differ by microseconds that block-by-block noise on a shared machine would swamp). ' +
      '(a) ONNX Runtime itself: `InferenceSession.run` on a ready input tensor, the model\'s ONNX form written by src/export/onnx.ts, 1 intra-op thread; ' +
      '(b) hwr\'s path on the ONNX Runtime engine: `Recognizer.predictProbabilities` through src/node/onnxEngine.ts (input array to probabilities, what the server\'s workers and the CLI run); ' +
      'int8: the int8 QDQ form (per-channel weights, activations calibrated on 256 MNIST training images) on a raw session; ' +
      '(c) hwr\'s path on TF.js (the TypeScript column above); (d) PyTorch with 1 thread, the faster of as installed and tuned (above; the last column says which, and the tuned one\'s form). ' +
      `Largest |ONNX Runtime - TF.js| probability over 256 inputs: ${checks}. ` +
      'Ratios of latency: below 1 means the first is faster; of images/s: above 1 means the first is faster.',
    '',
    '| model | measure | ONNX Runtime (a) | hwr on ONNX Runtime (b) | (b) / (a) | ONNX Runtime int8 | hwr on TF.js (c) | PyTorch (d) | (b) / (d) | (c) / (d) | PyTorch configuration |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...report.engines.map((r) => {
      const d = r.unit === 'ms' ? 3 : 0;
      return `| ${r.model} | ${r.measure} (${r.unit}) | ${fmt(r.raw, d)} | ${fmt(r.hwr, d)} | ${ratio(r.hwr, r.raw)} | ${fmt(r.int8, d)} | ${fmt(r.tfjs, d)} | ${r.torch == null ? 'n/a' : fmt(r.torch, d)} | ${ratio(r.hwr, r.torch)} | ${ratio(r.tfjs, r.torch)} | ${torchColumn(r.torchFaster, r.torchVariant)} |`;
    }),
    '',
  ];
}

function markdown(report: Report): string {
  const m = report.machine;
  const lines = [
    '# Benchmark: TypeScript (TF.js wasm, ONNX Runtime) beside PyTorch (CPU)',
    '',
    `Written by \`${report.command}\` on ${report.date.slice(0, 10)}. Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB RAM, ${m.os}; ` +
      `Node ${m.node}, TF.js ${m.tfjs}, ${m.onnxruntime ?? 'no ONNX Runtime'}; PyTorch ${m.torch ?? 'not installed'}. Load average at start: ${m.loadAverageAtStart.join(', ')} (a shared machine: read the ratios).`,
    '',
    `Random data, the same architectures (bench/torch_bench.py), ${report.rounds} rounds with TypeScript and PyTorch in alternating order; ` +
      'throughputs are medians over rounds, latencies the median and p99 of all calls. Threads: for training, each side uses the same number ' +
      '(TypeScript: data-parallel workers, src/train/parallel.ts); for inference, TypeScript uses 1 thread and PyTorch the number shown after the slash. ' +
      'TypeScript here is TF.js (the ONNX Runtime rows follow in the next section). PyTorch: as installed and tuned, below; the last column says which was faster and which layout or form the tuned one picked in how many rounds. ' +
      'Ratio = TypeScript / the faster PyTorch (for latency, below 1 means TypeScript is faster).',
    '',
    ...torchConfigMarkdown(report),
    '| model | measure | threads | TypeScript | PyTorch as installed | PyTorch tuned | ratio | PyTorch configuration |',
    '|---|---|---|---:|---:|---:|---:|---|',
    ...report.rows.map((r) => {
      const digits = r.unit === 'ms' ? 2 : 0;
      const n = (x: number | null): string => (x == null ? 'n/a' : fmt(x, digits));
      return `| ${r.model} | ${r.measure} (${r.unit}) | ${r.threads} | ${fmt(r.ts, digits)} | ${n(r.torchDefault)} | ${n(r.torchTuned)} | ${r.ratio == null ? 'n/a' : r.ratio.toFixed(2)} | ${torchColumn(r.torchFaster, r.torchVariant)} |`;
    }),
    '',
  ];
  if (report.torchNote) lines.push(`Note: ${report.torchNote}`, '');
  const speedups = report.speedups.map((s) => `${s.model} ${s.side} ${s.speedup.toFixed(2)}x`).join(', ');
  if (speedups) lines.push(`Training speed-up from 1 to 2 threads (same run; PyTorch tuned): ${speedups}.`, '');
  lines.push(`Peak RSS of the benchmark process while training (every TypeScript model and worker alive at once): ${fmt(report.peakTrainingRssMB)} MB.`, '');
  lines.push(...enginesMarkdown(report));
  if (report.epochs.length) {
    const from = report.epochsFrom ? ` These rows are from the run of ${report.epochsFrom.date.slice(0, 10)} (\`${report.epochsFrom.command}\`): this run skipped the epoch (--no-epoch) and kept them.` : '';
    lines.push(
      '## One full MNIST epoch of the default model (hwr-net), through `train()`',
      '',
      `54,000 training images with augmentation, then validation on 6,000; each run in its own process (\`npm run bench\` spawns \`bench/bench.ts --epoch-run\`).${from}`,
      '',
      '| threads | epoch (s) | training img/s | peak RSS (MB) | test accuracy after 1 epoch | wall time incl. loading and test (s) |',
      '|---:|---:|---:|---:|---:|---:|',
      ...report.epochs.map((e) => `| ${e.threads} | ${fmt(e.epochSeconds, 1)} | ${fmt(e.imagesPerSecond)} | ${fmt(e.maxRssMB)} | ${(e.testAccuracy * 100).toFixed(2)}% | ${fmt(e.wallSeconds)} |`),
      '',
    );
  }
  lines.push('## Targets', '', ...report.targets.map((t) => `- ${t.met === null ? '?' : t.met ? 'met' : 'NOT met'}: ${t.target} (${t.measured})`), '');
  return lines.join('\n');
}

interface Report {
  command: string;
  date: string;
  machine: ReturnType<typeof machine>;
  rounds: number;
  quick: boolean;
  torchNote: string | null;
  /** Each PyTorch process: configuration, threads, the BLAS it mapped, matmul GFLOP/s, its tuning environment. */
  torchProcesses: TorchProcessInfo[];
  rows: Row[];
  speedups: Array<{ model: ModelName; side: 'TypeScript' | 'PyTorch'; speedup: number }>;
  peakTrainingRssMB: number;
  epochs: EpochRun[];
  /** When `epochs` were kept from an earlier run (this one had --no-epoch): that run's command and date. */
  epochsFrom: { command: string; date: string } | null;
  /** The ONNX Runtime rows beside TF.js and PyTorch (bench/onnx-bench.ts). */
  engines: EngineRow[];
  /** Per model: largest |ONNX Runtime float32 - TF.js| probability over 256 inputs, and the ONNX file sizes in bytes. */
  onnxChecks: Record<string, { maxAbsDiff: number; bytes: { float32: number; int8: number } }>;
  targets: Array<{ target: string; measured: string; met: boolean | null }>;
  samples: Case[];
  /** The serving benchmark (bench/serve.ts), or null when skipped. */
  serving: ServingReport | null;
  /** The Chinese-character rows (bench/hanzi-bench.ts), or null when never measured. */
  hanzi: HanziReport | null;
}

function targetsOf(rows: Row[], engines: EngineRow[], epochs: EpochRun[], peakMB: number, serving: ServingReport | null): Report['targets'] {
  const find = (model: ModelName, measure: string, threads: string) => rows.find((r) => r.model === model && r.measure.startsWith(measure) && r.threads === threads);
  const targets: Report['targets'] = [];
  for (const threads of threadCounts.map(String)) {
    const r = find('seed-cnn', 'training', threads);
    if (r) targets.push({ target: `seed-cnn training throughput >= 0.5 of PyTorch's, ${threads} thread(s) each`, measured: r.ratio == null ? 'no PyTorch' : `ratio ${r.ratio.toFixed(2)}`, met: r.ratio == null ? null : r.ratio >= 0.5 });
  }
  for (const model of MODELS) {
    const r = find(model, 'single-image latency, median', '1 / 1');
    if (r) targets.push({ target: `${model} single-image latency on TF.js no slower than PyTorch's (median, 1 thread each)`, measured: r.torch == null ? `${r.ts.toFixed(2)} ms, no PyTorch` : `${r.ts.toFixed(2)} ms vs ${r.torch.toFixed(2)} ms`, met: r.ratio == null ? null : r.ratio <= 1 });
  }
  for (const model of MODELS) {
    const e = engines.find((row) => row.model === model && row.measure.startsWith('single-image latency, median'));
    if (!e) continue;
    targets.push({
      target: `${model}: hwr's path on the ONNX Runtime engine within 10% of ONNX Runtime's own single-image latency (median, 1 thread)`,
      measured: `${e.hwr.toFixed(3)} ms vs ${e.raw.toFixed(3)} ms, ratio ${(e.hwr / e.raw).toFixed(2)}`,
      met: e.hwr <= 1.1 * e.raw,
    });
    targets.push({
      target: `${model} single-image latency on the ONNX Runtime engine no slower than PyTorch's (median, 1 thread each)`,
      measured: e.torch == null ? `${e.hwr.toFixed(3)} ms, no PyTorch` : `${e.hwr.toFixed(3)} ms vs ${e.torch.toFixed(3)} ms`,
      met: e.torch == null ? null : e.hwr <= e.torch,
    });
  }
  const comparison = serving?.engineComparison;
  if (comparison) {
    const [onnxRps, tfjsRps] = [median(comparison.onnx), median(comparison.tfjs)];
    const expected = predictedEngineRise(serving, comparison.workers)?.rise;
    targets.push({
      target: `the server's requests/s at concurrency ${comparison.concurrency} (${comparison.workers} workers) rise with the ONNX Runtime engine`,
      measured: `${fmt(onnxRps)} vs ${fmt(tfjsRps)} requests/s on TF.js, ${((onnxRps / tfjsRps - 1) * 100).toFixed(1)}%; ` +
        (expected == null ? 'no time breakdown' : `the per-request time breakdown predicts about ${((expected - 1) * 100).toFixed(1)}%`) +
        `; serving run of ${serving.date.slice(0, 16).replace('T', ' ')} UTC`,
      met: onnxRps >= tfjsRps,
    });
  }
  const peaks = [peakMB, ...epochs.map((e) => e.maxRssMB)];
  targets.push({ target: 'peak memory while training under 1.5 GB', measured: `${epochs.map((e) => `${fmt(e.maxRssMB)} MB for the full epoch with ${e.threads} thread(s)`).concat(`${fmt(peakMB)} MB for this benchmark process`).join(', ')}`, met: Math.max(...peaks) < 1536 });
  return targets;
}

async function main(): Promise<void> {
  await setupBackend();
  const torchOrReason = flags['no-torch'] ? 'PyTorch skipped (--no-torch)' : TorchSide.start(flags.python);
  const torch = typeof torchOrReason === 'string' ? null : torchOrReason;
  const torchNotes = typeof torchOrReason === 'string' ? [torchOrReason] : [];
  // What each PyTorch process found (one per configuration and thread count; --only hanzi uses the tuned ones only).
  const torchProcesses: TorchProcessInfo[] = [];
  let torchInfo: TorchInfo | null = null;
  for (const config of torch ? (runDigits ? TORCH_CONFIGS : (['tuned'] as const)) : []) {
    for (const threads of threadCounts) {
      const answer = await torch!.request<TorchInfo>({ op: 'info', config, threads });
      if (config === 'tuned' && threads === 1) torchInfo = answer;
      torchProcesses.push(describeTorchProcess(config, answer));
    }
  }
  if (torch && !torch.openblasDir) {
    torchNotes.push(`OpenBLAS not found (${OPENBLAS_DIRS.join(' or ')}): the tuned PyTorch runs on the system's libblas.so.3 (${torchInfo?.blas.kind ?? 'unknown'}); apt-get install -y libopenblas0-pthread for the reference issue 13 asks for`);
  } else if (torchInfo && torchInfo.blas.kind !== 'OpenBLAS') {
    torchNotes.push(`the tuned PyTorch was to load OpenBLAS from ${torch!.openblasDir} but mapped ${torchInfo.blas.libblas ?? 'no libblas.so.3'}`);
  }
  const torchNote = torchNotes.length ? torchNotes.join('; ') : null;
  const info = machine(torchInfo);
  process.stderr.write(`bench: ${rounds} rounds, threads ${threadCounts.join(' and ')}; ${torchInfo ? `PyTorch ${torchInfo.torch}, tuned on ${torchInfo.blas.kind}` : ''}${torchNote ? ` (${torchNote})` : ''}\n`);
  const outDir = resolve(flags.out ?? (quick ? join(ROOT, '.tmp') : join(ROOT, 'bench')));
  const base = quick && !flags.out ? 'bench-quick' : 'results';
  const options = [quick && '--quick', flags.only && `--only ${flags.only}`, flags['no-epoch'] && '--no-epoch', flags['no-serve'] && '--no-serve', flags['no-torch'] && '--no-torch'].filter(Boolean);
  const command = `npm run bench${options.length ? ` -- ${options.join(' ')}` : ''}`;
  await mkdir(outDir, { recursive: true });
  const previousMd = await readFile(join(outDir, `${base}.md`), 'utf8').catch(() => '');
  const previousJson = await readFile(join(outDir, `${base}.json`), 'utf8').then((text) => JSON.parse(text) as Partial<Report>, () => ({}) as Partial<Report>);

  if (!runDigits) {
    // --only hanzi: the hanzi section and `hanzi` are replaced; everything else is kept as it was.
    const hanzi = await runHanziBench({ rounds, quick, threadCounts, torch });
    torch?.close();
    const section = hanziMarkdown(hanzi, command);
    await writeFile(join(outDir, `${base}.json`), `${JSON.stringify({ ...previousJson, hanzi }, null, 2)}\n`);
    await writeFile(join(outDir, `${base}.md`), withHanziSection(previousMd, section));
    process.stdout.write(`${section}\nwritten: ${join(outDir, `${base}.json`)}, ${join(outDir, `${base}.md`)}\n`);
    return;
  }

  const ts = new TsSide();
  const onnx = new OrtSide();
  const cases: Case[] = [];
  for (const model of MODELS) {
    for (const threads of threadCounts) cases.push({ model, kind: 'train', threads, ts: [], torch: [], torchDefault: [], torchVariants: [] });
    for (const kind of ['infer', 'latency'] as const) {
      for (const threads of threadCounts) {
        const ort = threads === 1 ? { raw: [], hwr: [], int8: [] } : undefined;
        cases.push({ model, kind, threads, ts: [], torch: [], torchDefault: [], torchVariants: [], ...(ort ? { ort } : {}) });
      }
    }
  }
  for (const model of MODELS) await onnx.model(model); // exported, calibrated and loaded before any timing
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const measureTs = async () => {
        if (c.kind === 'train') c.ts.push(await ts.train(c.model, c.threads));
        else if (c.kind === 'infer') c.ts.push(await ts.infer(c.model));
        else c.ts.push(...(await ts.latency(c.model)));
      };
      // PyTorch tuned (the fastest layout or form per request) and as installed (eager NCHW): bench/torchEnv.ts.
      const measureTorch = (config: TorchConfig) => async () => {
        if (!torch) return;
        const [samples, variant] = config === 'tuned' ? [c.torch, 'best'] : [c.torchDefault, 'nchw'];
        const common = { config, model: c.model, threads: c.threads, variant, warmSeconds: torchWarmSeconds };
        if (c.kind === 'train') {
          const answer = await torch.request<{ imagesPerSecond: number; variant: string }>({ op: 'train', ...common, batch: 64, steps: trainSteps[c.model], warmup: warmupSteps });
          samples.push(answer.imagesPerSecond);
          if (config === 'tuned') c.torchVariants.push(answer.variant);
        } else if (c.kind === 'infer') {
          const answer = await torch.request<{ imagesPerSecond: number; variant: string }>({ op: 'infer', ...common, batch: inferBatch, reps: inferReps });
          samples.push(answer.imagesPerSecond);
          if (config === 'tuned') c.torchVariants.push(answer.variant);
        } else {
          const answer = await torch.request<{ ms: number[]; variant: string }>({ op: 'latency', ...common, calls: latencyCalls, warmup: latencyWarmup });
          samples.push(...answer.ms);
          if (config === 'tuned') c.torchVariants.push(answer.variant);
        }
      };
      const measureInt8 = async () => {
        if (c.kind === 'infer') c.ort!.int8.push(await onnx.infer(c.model, 'int8', inferBatch, inferReps));
        else c.ort!.int8.push(...(await onnx.latency(c.model, 'int8', latencyCalls, latencyWarmup)));
      };
      // ONNX Runtime's raw session and hwr's path on it, call by call in turn (OrtSide.paired): their difference is
      // microseconds, which block-by-block noise on a shared machine would swamp.
      const measureOrtPair = async () => {
        const pair = c.kind === 'infer' ? await onnx.paired(c.model, inferBatch, inferReps, 1) : await onnx.paired(c.model, 1, latencyCalls, latencyWarmup);
        c.ort!.raw.push(...pair.raw);
        c.ort!.hwr.push(...pair.hwr);
      };
      // Every side of a case in turn, the order rotated each round and case so that the machine's noise hits all.
      const sides = [measureTs, measureTorch('tuned'), measureTorch('default'), ...(c.ort ? [measureOrtPair, measureInt8] : [])];
      const first = (round + i) % sides.length;
      for (const side of [...sides.slice(first), ...sides.slice(0, first)]) await side();
    }
    process.stderr.write(`bench: round ${round + 1}/${rounds} done\n`);
  }
  const peakTrainingRssMB = mb(ts.peakTrainingRss);
  const onnxChecks = await onnx.checks();
  await ts.dispose();
  await onnx.dispose();
  const hanzi = runHanzi ? await runHanziBench({ rounds, quick, threadCounts, torch }) : null;
  torch?.close();

  let epochs: EpochRun[] = [];
  let epochsFrom: Report['epochsFrom'] = null;
  if (!quick && !flags['no-epoch']) {
    for (const threads of threadCounts) {
      process.stderr.write(`bench: one full MNIST epoch of hwr-net with ${threads} thread(s)\n`);
      epochs.push(await runEpochChild(threads));
    }
  } else if (!quick && previousJson.epochs?.length) {
    // --no-epoch keeps the epoch rows of the previous results, saying from which run they are.
    epochs = previousJson.epochs;
    epochsFrom = previousJson.epochsFrom ?? { command: previousJson.command ?? 'npm run bench', date: previousJson.date ?? '' };
  }

  const serving = quick || flags['no-serve'] ? null : await runServingBench();
  // --no-serve keeps the serving section of the previous results (it names its own run and date).
  const keptServing = !quick && flags['no-serve'] ? { section: servingSectionOf(previousMd), report: previousJson.serving ?? null } : null;

  const rows = rowsOf(cases);
  const engines = engineRowsOf(cases);
  const speedups: Report['speedups'] = [];
  if (threadCounts.includes(2)) {
    for (const model of MODELS) {
      const one = cases.find((c) => c.model === model && c.kind === 'train' && c.threads === 1)!;
      const two = cases.find((c) => c.model === model && c.kind === 'train' && c.threads === 2)!;
      speedups.push({ model, side: 'TypeScript', speedup: median(two.ts) / median(one.ts) });
      if (torch) speedups.push({ model, side: 'PyTorch', speedup: median(two.torch) / median(one.torch) });
    }
  }
  const report: Report = {
    command,
    date: new Date().toISOString(),
    machine: info,
    rounds,
    quick,
    torchNote,
    torchProcesses,
    rows,
    speedups,
    peakTrainingRssMB,
    epochs,
    epochsFrom,
    engines,
    onnxChecks,
    targets: targetsOf(rows, engines, epochs, peakTrainingRssMB, serving ?? keptServing?.report ?? null),
    // Every sample, rounded (img/s to 1, ms to 0.001), for anyone who wants other statistics.
    samples: cases.map((c) => ({
      ...c,
      ts: c.ts.map(round(c.kind)),
      torch: c.torch.map(round(c.kind)),
      torchDefault: c.torchDefault.map(round(c.kind)),
      ...(c.ort ? { ort: { raw: c.ort.raw.map(round(c.kind)), hwr: c.ort.hwr.map(round(c.kind)), int8: c.ort.int8.map(round(c.kind)) } } : {}),
    })),
    serving: serving ?? keptServing?.report ?? null,
    hanzi: hanzi ?? previousJson.hanzi ?? null,
  };
  const servingSection = serving ? servingMarkdown({ ...serving, command: report.command }) : keptServing?.section;
  const withServing = servingSection ? withServingSection(markdown(report), servingSection) : markdown(report);
  // --only digits keeps the hanzi section of the previous results.
  const hanziSection = hanzi ? hanziMarkdown(hanzi, command) : hanziSectionOf(previousMd);
  const md = hanziSection ? withHanziSection(withServing, hanziSection) : withServing;
  await writeFile(join(outDir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, `${base}.md`), md);
  // serving.json (what `npm run bench:serve` writes) follows the serving section, so that the two never disagree.
  if (serving) await writeFile(join(outDir, 'serving.json'), `${JSON.stringify({ ...serving, command }, null, 2)}\n`);
  process.stdout.write(`${md}\nwritten: ${join(outDir, `${base}.json`)}, ${join(outDir, `${base}.md`)}${serving ? `, ${join(outDir, 'serving.json')}` : ''}\n`);
}

if (flags['epoch-run']) await epochRun(Number(flags.threads));
else if (flags.only === 'teach') await teachMain(process.argv.slice(2), `npm run bench -- ${process.argv.slice(2).join(' ')}`);
else if (flags.only === 'lines') await linesMain(process.argv.slice(2), `npm run bench -- ${process.argv.slice(2).join(' ')}`);
else await main();

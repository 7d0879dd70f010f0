/**
 * Teaching a new script from a few drawn samples: `trainInkScript` turns an `hwr-ink-dataset` into a model, by transfer
 * learning from a pretrained recognizer (the shipped digits model by default).
 *
 * The recipe:
 * 1. **synthesis**: every sample becomes `variantsPerSample` variants (`augmentInk`, stroke-level augmentation), each
 *    rendered exactly as recognition renders ink (`inkImage` at the model's pen width, `inkPenWidthFor`, times the
 *    variant's `penWidthFactor`) and normalized by the base model's preprocessing profile (`preprocessorFor`), so that
 *    training and recognition see the same pixels;
 * 2. **model**: the base model's convolutional layers, up to the input of its first Dense layer (hwr-net: its
 *    flattened 3x3x128 = 1,152 features; hccr-vgg: its 256 globally pooled ones; Dropout layers left out, identity
 *    at inference) with their weights,
 *    then a new softmax Dense layer over `dataset.classes` (no rejection class: a taught script has no negatives to
 *    learn one from);
 * 3. **head**: the new Dense layer alone is trained (Adam) on the frozen features, computed once per variant; the
 *    model is then *usable* (`onUsable`);
 * 4. **fine-tune**: the top `fineTuneLayers` weight layers (or all) are unfrozen and trained at a low learning rate, on
 *    fresh variants each epoch.
 * A few more variants per sample, never trained on, give the validation accuracy recorded as `testAccuracy`.
 *
 * Environment-neutral (tfjs-core, tfjs-layers, src/core, src/data; no Node imports), so the page's training worker
 * runs it unchanged. Works on any TF.js backend that can train convolutions: `wasm` with hwr's training kernels
 * (`setupBackend()`, src/backend/backend.ts; the browser registers the same kernels) or, slowly, `cpu`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initializers, input as tfInput, layers as tfLayers, model as tfModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { hwrError } from '../core/errors.ts';
import { inkImage } from '../core/ink.ts';
import { inkPenWidthFor, preprocessorFor } from '../core/preprocessing.ts';
import { topKIndices } from '../core/recognizer.ts';
import type { ModelMetadata } from '../core/types.ts';
import { createRng, shuffledIndices, type Rng } from '../data/augment.ts';
import { augmentInk, type InkAugmentOptions } from '../data/inkAugment.ts';
import { sampleInk, type InkDataset } from '../data/inkDataset.ts';

/** A model and its metadata: the base to learn from, a model to continue from, and the result. */
export interface ScriptModel {
  model: LayersModel;
  metadata: ModelMetadata;
}

/**
 * A model as files in memory (TF.js model artifacts, as `tf.io.withSaveHandler` gives them and `tf.io.fromMemory` takes
 * them, plus hwr's metadata): what `onUsable` receives, what the training worker hands to the page and the page keeps
 * in IndexedDB, and the content of a model folder (web/src/training/modelFiles.ts writes one).
 */
export interface ModelFiles {
  /** `model.json`'s `modelTopology` (Keras-style layers JSON). */
  modelTopology: object;
  /** Names, shapes and dtypes of the tensors in `weightData`, in order. */
  weightSpecs: Array<{ name: string; shape: number[]; dtype: string }>;
  /** The weights, concatenated (`weights.bin`). */
  weightData: ArrayBuffer;
  /** `metadata.json`. */
  metadata: ModelMetadata;
}

/** Where a run is: reported at every phase change and at least once per epoch (the page shows it as it comes). */
export interface TrainingProgress {
  /** `synthesis`: augmenting and rendering; `head`: the new classifier on frozen features; `fine-tune`; `done`. */
  phase: 'synthesis' | 'head' | 'fine-tune' | 'done';
  /** Fraction of the whole run done, in [0, 1] (estimated from the work of each phase). */
  fraction: number;
  /** Epoch within the phase, from 1 (0 in `synthesis` and before the first epoch ends), and the phase's epoch count (0 in `synthesis`). */
  epoch: number;
  epochs: number;
  /** Mean training loss (cross-entropy, nats) and top-1 accuracy in [0, 1] of the last epoch; null before the first. */
  loss: number | null;
  accuracy: number | null;
  /** ms since the run started. */
  elapsedMs: number;
  /** True once `onUsable` has been called. */
  usable: boolean;
}

/** Options of `trainInkScript`. Counts are integers. */
export interface TrainInkScriptOptions {
  /** Seed of augmentation, shuffling and the new layer's initialization; the same seed and data give the same model. Default 1. */
  seed?: number;
  /** Training variants per sample in the synthesis phase, >= 1. Default 30. */
  variantsPerSample?: number;
  /** Held-out variants per sample for the validation accuracy (never trained on), >= 0; 0: `testAccuracy` null. Default 2. */
  validationVariantsPerSample?: number;
  /** Epochs of the head phase, >= 1. Default 20. */
  headEpochs?: number;
  /** Epochs of the fine-tune phase, >= 0 (0: the head-phase model is the result). Default 2. */
  fineTuneEpochs?: number;
  /** Variants per sample in each fine-tune epoch (fresh ones each epoch), >= 1. Default: `variantsPerSample`. */
  fineTuneVariantsPerSample?: number;
  /** Weight-bearing layers (Conv2D, Dense, BatchNormalization) unfrozen for fine-tuning, counted from the top, or `all`. Default `all`. */
  fineTuneLayers?: number | 'all';
  /**
   * Name of the base model's layer whose output is the features the new output layer reads (it must be 2-D, e.g.
   * `re_lu_ReLU4` of hwr-net: its 128-unit penultimate representation); the layers above it are left out. Default:
   * the input of the base model's first Dense layer (its convolutional features). Measured on Latin a-z (5 samples of
   * one generated writer, digits base): the convolutional features recognize other writers' letters better than the
   * penultimate layer (71% against 63% top-1 on other fonts, same-writer 98% either way).
   */
  featureLayer?: string;
  /** Images per batch, >= 1. Default 32. */
  batchSize?: number;
  /** Adam learning rate of the head phase. Default 0.003. */
  headLearningRate?: number;
  /** Adam learning rate of the fine-tune phase. Default 0.0005. */
  fineTuneLearningRate?: number;
  /** The augmentation's knobs (`InkAugmentOptions`); default its defaults. */
  augment?: InkAugmentOptions;
  /**
   * Continue from this model instead of `base` (personalization): its feature layers and, for the classes it already
   * has (matched by label), its output units; new classes get fresh units. Its input shape and preprocessing are kept.
   */
  startFrom?: ScriptModel;
  /**
   * When the base already knows every one of the script's labels (a class `<prefix><label>` for one prefix of
   * `KNOWN_LABEL_PREFIXES`: the Latin letters of models/glyphs-latin), start from it (`baseKnowingLabels`): its
   * penultimate features and those labels' own output units, with `KNOWN_LABELS_RECIPE` for the head learning rate
   * and the fine-tune epochs unless they are given. Ignored with `startFrom`. Default true; false: always learn a new
   * output layer on the base's convolutional features.
   */
  knownLabels?: boolean;
  /** Checked between batches and samples; when aborted the run rejects with an error whose `code` is `CANCELLED`. */
  signal?: AbortSignal;
  /** Called at every phase change and at least once per epoch. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Called once, after the head phase, with the usable model as files (it may be used while fine-tuning goes on). */
  onUsable?: (snapshot: ModelFiles) => void;
  /** `metadata.version`: the hwr version (src/node/onnxCache.ts's `HWR_VERSION` in Node). Default `unknown`. */
  version?: string;
  /** `metadata.command`: what reproduces the model. Default a description of this call. */
  command?: string;
  /** `metadata.trainedOn`: the machine, e.g. `AMD EPYC, 2 cores, Node 20, TF.js wasm`. Default null. */
  trainedOn?: string;
}

/**
 * A base model that already knows a script's letters, as the model to continue from (`TrainInkScriptOptions.startFrom`):
 * its classes named `<prefix><label>` for one of `labels` are renamed to the label (e.g. a Latin glyph base's
 * `latin/a` -> `a`; scripts/train-glyph-base.ts `--latin-fonts`), so that the script model reads the base's
 * penultimate features (the input of its last Dense layer) and those labels' output units start from the base's
 * trained ones; labels it does not know get fresh units. Measured (notes/TEACH-RECIPE.md, "A Latin glyph base"):
 * Latin a-z taught from one writer then reads other print fonts at 87.6% with `{ headLearningRate: 0.0005,
 * fineTuneEpochs: 0 }`, against 77.6% from the digits base's convolutional features.
 * @param base    the pretrained model and its metadata (not modified; the returned model shares its layers)
 * @param labels  the script's class labels (`dataset.classes`)
 * @param prefix  the base's name prefix of those classes, e.g. `latin/`
 * @returns the base with the renamed classes, or null when it knows none of `labels`
 */
export function baseKnowingLabels(base: ScriptModel, labels: readonly string[], prefix: string): ScriptModel | null {
  const wanted = new Set(labels);
  const known = new Set(base.metadata.classes);
  if (!labels.some((label) => known.has(`${prefix}${label}`))) return null;
  const classes = base.metadata.classes.map((c) => (c.startsWith(prefix) && wanted.has(c.slice(prefix.length)) && !known.has(c.slice(prefix.length)) ? c.slice(prefix.length) : c));
  return { model: base.model, metadata: { ...base.metadata, classes } };
}

/**
 * Name prefixes of a base's classes that stand for letters a script may use as its labels (`knownLabels`): `latin/`
 * (a-z and the capitals whose shape differs from the small letter, in models/glyphs-latin; scripts/train-glyph-base.ts
 * `--latin-fonts`).
 */
export const KNOWN_LABEL_PREFIXES: readonly string[] = Object.freeze(['latin/']);

/**
 * The recipe's changes when a script starts from a base's own units for its labels (`knownLabels`): the head learns
 * slowly from the base's units and nothing is fine-tuned, which keeps what the base knows of other letterforms.
 * Measured (notes/TEACH-RECIPE.md, "A Latin glyph base", run D against B): other print fonts 87.6% against 79.9% with
 * the default recipe from the same start; same writer 98.9% against 99.1%.
 */
export const KNOWN_LABELS_RECIPE: Readonly<Pick<TrainInkScriptOptions, 'headLearningRate' | 'fineTuneEpochs'>> = Object.freeze({ headLearningRate: 0.0005, fineTuneEpochs: 0 });

/**
 * The base renamed to start from (`baseKnowingLabels`) when it knows every one of `labels` under one prefix of
 * `KNOWN_LABEL_PREFIXES`, else null (a script with any label the base does not know learns a new output layer).
 * @param base    the pretrained model and its metadata
 * @param labels  the script's class labels
 */
export function knownLabelsStart(base: ScriptModel, labels: readonly string[]): ScriptModel | null {
  const classes = new Set(base.metadata.classes);
  for (const prefix of KNOWN_LABEL_PREFIXES) {
    if (labels.length > 0 && labels.every((label) => classes.has(`${prefix}${label}`))) return baseKnowingLabels(base, labels, prefix);
  }
  return null;
}

export { DEFAULT_TEACHING_BASE } from './teachingBase.ts';

/** The defaults of `TrainInkScriptOptions`' numbers. */
export const INK_SCRIPT_DEFAULTS = {
  seed: 1,
  variantsPerSample: 30,
  validationVariantsPerSample: 2,
  headEpochs: 20,
  fineTuneEpochs: 2,
  fineTuneLayers: 'all' as number | 'all',
  batchSize: 32,
  headLearningRate: 0.003,
  fineTuneLearningRate: 0.0005,
};

/** The error of a cancelled run: `code` `CANCELLED`. */
export class TrainingCancelledError extends Error {
  readonly code = 'CANCELLED';
  constructor(message = 'training cancelled') {
    super(message);
    this.name = 'TrainingCancelledError';
  }
}

/** Images of one set: `[count, height * width]` float32 inputs (the profile's output) and their class indices. */
interface ImageSet {
  inputs: Float32Array;
  labels: Int32Array;
  count: number;
}

/** The head phase's batches are this many times `batchSize`. */
const HEAD_BATCH_FACTOR = 2;

/** How often (in batches) the loops give the event loop a turn, so that a worker receives Cancel. */
const YIELD_EVERY = 2;

/**
 * Trains a model for `dataset`'s script (see the module comment for the recipe).
 *
 * @param dataset  the drawn samples (`parseInkDataset`); 2 or more classes, every class with at least one sample, except
 *                 with `startFrom` (personalization), where a class without samples keeps its output unit as it was,
 *                 only the sampled classes' units are trained, and there is no fine-tuning
 * @param base     the pretrained model and its metadata (e.g. the shipped digits model: hwr-net, 28x28); its layers are
 *                 not modified (the new model has its own copies of the weights)
 * @param options  see `TrainInkScriptOptions`
 * @returns the new model (its classes `dataset.classes`, in order) and its metadata (`architecture` `<base>+ink-head`,
 *   `testAccuracy` the held-out variants' top-1 accuracy)
 * @throws HwrError `BAD_DATASET` for fewer than 2 classes or a class without samples; `BAD_MODEL` when the base is not
 *   a chain of layers ending in a Dense layer; `BAD_ARGUMENT` for a bad option; `TrainingCancelledError` (`code`
 *   `CANCELLED`) when `signal` aborts
 */
export async function trainInkScript(dataset: InkDataset, base: ScriptModel, options: TrainInkScriptOptions = {}): Promise<ScriptModel> {
  const started = now();
  const known = options.startFrom === undefined && options.knownLabels !== false ? knownLabelsStart(base, dataset.classes) : null;
  const recipe = known ? { ...KNOWN_LABELS_RECIPE, ...definedOptions(options) } : options;
  const settings = checkOptions(recipe);
  const unsampled = checkDataset(dataset, options.startFrom !== undefined);
  const from = options.startFrom ?? known ?? base;
  // Personalization of a model on some of its classes (a few corrections of digits or hanzi): only the output units of
  // the corrected classes learn; the features and every other unit keep their weights, so the classes the user did
  // not correct are recognized as before (no fine-tuning, which would shift the features under all of them).
  const partial = unsampled.size > 0;
  if (partial) settings.fineTuneEpochs = 0;
  const signal = options.signal;
  const throwIfCancelled = (): void => {
    if (signal?.aborted) throw new TrainingCancelledError();
  };
  throwIfCancelled();

  const render = renderer(from.metadata, dataset, settings.augment);
  const labelOf = new Map(dataset.classes.map((label, index) => [label, index]));
  const inks = dataset.samples.map((sample) => ({ ink: sampleInk(sample), label: labelOf.get(sample.label)! }));
  const classes = dataset.classes.length;

  // Work units of each phase, for `fraction`: rendering a variant costs 1 (about 5 ms on one core: the profile's image
  // path on 128x128 px dominates); measured with the digits base: a feature pass 0.3, a head step 0.025 and a
  // fine-tune step 0.9 per image, the last two growing with the input's pixels.
  const pixels = from.metadata.inputShape[0] * from.metadata.inputShape[1];
  const stepCost = pixels / 784;
  const trainCount = inks.length * settings.variantsPerSample;
  const fineCount = inks.length * settings.fineTuneVariantsPerSample;
  const reuseFirst = settings.fineTuneVariantsPerSample === settings.variantsPerSample;
  const freshEpochs = Math.max(0, settings.fineTuneEpochs - (reuseFirst ? 1 : 0));
  const work = {
    synthesis: inks.length * (settings.variantsPerSample + settings.validationVariantsPerSample) + trainCount * stepCost * 0.3,
    head: settings.headEpochs * trainCount * 0.025,
    fineTune: settings.fineTuneEpochs * fineCount * stepCost * 0.9 + freshEpochs * fineCount,
  };
  const total = work.synthesis + work.head + work.fineTune;
  let usable = false;
  const report = (phase: TrainingProgress['phase'], done: number, epoch: number, epochs: number, loss: number | null, accuracy: number | null): void => {
    options.onProgress?.({ phase, fraction: Math.min(1, done / total), epoch, epochs, loss, accuracy, elapsedMs: now() - started, usable });
  };

  // 1. Synthesis: the training and validation variants, rendered and preprocessed.
  const rng = createRng(settings.seed);
  report('synthesis', 0, 0, 0, null, null);
  const synthesize = async (perSample: number, stream: Rng, onSample?: (fraction: number) => void): Promise<ImageSet> => {
    const set = emptySet(inks.length * perSample, pixels);
    for (let s = 0; s < inks.length; s++) {
      throwIfCancelled();
      for (let v = 0; v < perSample; v++) render(inks[s]!.ink, stream, set, inks[s]!.label);
      // A sample's variants take a fraction of a second: report and give the event loop a turn after each.
      onSample?.((s + 1) / inks.length);
      await yieldToEventLoop();
    }
    return set;
  };
  const train = await synthesize(settings.variantsPerSample, rng, (fraction) => report('synthesis', trainCount * fraction, 0, 0, null, null));
  const validation = await synthesize(settings.validationVariantsPerSample, createRng(settings.seed + 0x9e3779b9));

  // 2. The model: copies of the feature layers, a new output layer.
  const built = buildScriptModel(from, dataset.classes, settings.seed, settings.featureLayer, options.startFrom !== undefined || known !== null);
  const { model, features } = built;
  try {
    const inputShape = from.metadata.inputShape;
    const featureValues = await predictAll(features, train, inputShape, settings.batchSize, throwIfCancelled);
    report('synthesis', work.synthesis, 0, 0, null, null);

    // 3. Head: the output layer alone, on the frozen features.
    const head = model.layers[model.layers.length - 1]!;
    const headInput = tfInput({ shape: [built.featureSize] });
    const headLayer = tfLayers.dense({ units: classes, activation: 'softmax', weights: head.getWeights() });
    const headOnly = tfModel({ inputs: headInput, outputs: headLayer.apply(headInput) as never });
    const headOptimizer = tf.train.adam(settings.headLearningRate);
    headOnly.compile({ optimizer: headOptimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const shuffleRng = createRng(settings.seed + 1);
    for (let epoch = 1; epoch <= settings.headEpochs; epoch++) {
      // Larger batches than fine-tuning: a step on features is cheap, and per-step overhead would dominate.
      const result = await trainEpoch(headOnly, { inputs: featureValues, labels: train.labels, count: train.count }, [built.featureSize], classes, HEAD_BATCH_FACTOR * settings.batchSize, shuffleRng, throwIfCancelled);
      report('head', work.synthesis + (work.head * epoch) / settings.headEpochs, epoch, settings.headEpochs, result.loss, result.accuracy);
    }
    if (partial) {
      const kept = keepUnitsOf(headLayer, head, dataset.classes, unsampled);
      head.setWeights(kept);
      tf.dispose(kept);
    } else {
      head.setWeights(headLayer.getWeights());
    }
    headOnly.dispose();
    headOptimizer.dispose(); // not owned by the model: its dispose leaves it

    const metadata = (epochs: number, accuracy: number | null): ModelMetadata =>
      scriptMetadata(dataset, from.metadata, model, settings, epochs, accuracy, (now() - started) / 1000, options, known !== null);
    usable = true;
    if (options.onUsable) options.onUsable(await modelFiles(model, metadata(settings.headEpochs, await accuracyOf(model, validation, inputShape, settings.batchSize, throwIfCancelled))));
    report('head', work.synthesis + work.head, settings.headEpochs, settings.headEpochs, null, null);

    // 4. Fine-tune: the top layers (or all) at a low learning rate, fresh variants each epoch.
    if (settings.fineTuneEpochs > 0) {
      unfreeze(model, settings.fineTuneLayers);
      const optimizer = tf.train.adam(settings.fineTuneLearningRate);
      model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      let done = work.synthesis + work.head;
      for (let epoch = 1; epoch <= settings.fineTuneEpochs; epoch++) {
        const reuse = epoch === 1 && reuseFirst;
        const fresh = reuse
          ? train
          : await synthesize(settings.fineTuneVariantsPerSample, rng, (fraction) => report('fine-tune', done + fineCount * fraction, epoch, settings.fineTuneEpochs, null, null));
        if (!reuse) done += fineCount;
        const stepWork = fineCount * stepCost * 0.9;
        const result = await trainEpoch(model, fresh, inputShape, classes, settings.batchSize, shuffleRng, throwIfCancelled, (fraction) =>
          report('fine-tune', done + stepWork * fraction, epoch, settings.fineTuneEpochs, null, null),
        );
        done += stepWork;
        report('fine-tune', done, epoch, settings.fineTuneEpochs, result.loss, result.accuracy);
      }
      for (const layer of model.layers) layer.trainable = true;
      optimizer.dispose(); // its moments would only matter to a caller that goes on training, who compiles anew
    }

    const accuracy = await accuracyOf(model, validation, inputShape, settings.batchSize, throwIfCancelled);
    const result = { model, metadata: metadata(settings.headEpochs + settings.fineTuneEpochs, accuracy) };
    report('done', total, 0, 0, null, accuracy);
    return result;
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Gives the event loop a turn (a worker then receives its messages, e.g. Cancel). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

type Settings = Required<Omit<TrainInkScriptOptions, 'featureLayer' | 'augment' | 'startFrom' | 'knownLabels' | 'signal' | 'onProgress' | 'onUsable' | 'version' | 'command' | 'trainedOn'>> & {
  augment: InkAugmentOptions;
  featureLayer: string | undefined;
};

/** The options with their defaults, checked. @throws HwrError `BAD_ARGUMENT` naming the option */
/** `options` without the keys whose value is undefined (so that spreading it keeps the defaults under it). */
function definedOptions(options: TrainInkScriptOptions): TrainInkScriptOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as TrainInkScriptOptions;
}

function checkOptions(options: TrainInkScriptOptions): Settings {
  const integer = (name: keyof typeof INK_SCRIPT_DEFAULTS, min: number, fallback?: number): number => {
    const value = (options as Record<string, unknown>)[name] ?? fallback ?? INK_SCRIPT_DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw hwrError('BAD_ARGUMENT', `trainInkScript: ${name}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const positive = (name: 'headLearningRate' | 'fineTuneLearningRate'): number => {
    const value = options[name] ?? INK_SCRIPT_DEFAULTS[name];
    if (typeof value !== 'number' || !(value > 0 && value < 1)) throw hwrError('BAD_ARGUMENT', `trainInkScript: ${name}: expected a number in (0, 1), got ${JSON.stringify(value)}`);
    return value;
  };
  const seed = options.seed ?? INK_SCRIPT_DEFAULTS.seed;
  if (!Number.isFinite(seed)) throw hwrError('BAD_ARGUMENT', `trainInkScript: seed: expected a finite number, got ${seed}`);
  const layers = options.fineTuneLayers ?? INK_SCRIPT_DEFAULTS.fineTuneLayers;
  if (layers !== 'all' && !(Number.isInteger(layers) && layers >= 1)) {
    throw hwrError('BAD_ARGUMENT', `trainInkScript: fineTuneLayers: expected a positive integer or "all", got ${JSON.stringify(layers)}`);
  }
  const variantsPerSample = integer('variantsPerSample', 1);
  return {
    seed,
    variantsPerSample,
    validationVariantsPerSample: integer('validationVariantsPerSample', 0),
    headEpochs: integer('headEpochs', 1),
    fineTuneEpochs: integer('fineTuneEpochs', 0),
    fineTuneVariantsPerSample: (() => {
      const value = options.fineTuneVariantsPerSample ?? variantsPerSample;
      if (!Number.isInteger(value) || value < 1) throw hwrError('BAD_ARGUMENT', `trainInkScript: fineTuneVariantsPerSample: expected an integer >= 1, got ${JSON.stringify(value)}`);
      return value;
    })(),
    fineTuneLayers: layers,
    batchSize: integer('batchSize', 1),
    headLearningRate: positive('headLearningRate'),
    fineTuneLearningRate: positive('fineTuneLearningRate'),
    augment: options.augment ?? {},
    featureLayer: options.featureLayer,
  };
}

/**
 * @throws HwrError `BAD_DATASET` for fewer than 2 classes, or a class without samples unless `partialAllowed`
 * @param partialAllowed with `startFrom`: classes without samples are allowed (personalization of a model with many
 *   classes: a few corrected ones), as long as there is a sample at all
 * @returns the labels that have no sample
 */
function checkDataset(dataset: InkDataset, partialAllowed: boolean): Set<string> {
  if (dataset.classes.length < 2) {
    throw hwrError('BAD_DATASET', `${dataset.script}: a script needs at least 2 classes to tell apart, the dataset has ${dataset.classes.length}`);
  }
  const counts = new Map(dataset.classes.map((label) => [label, 0]));
  for (const sample of dataset.samples) counts.set(sample.label, (counts.get(sample.label) ?? 0) + 1);
  const empty = dataset.classes.filter((label) => counts.get(label) === 0);
  if (partialAllowed && dataset.samples.length > 0) return new Set(empty);
  if (empty.length > 0) {
    const shown = empty.slice(0, 5).map((l) => JSON.stringify(l)).join(', ');
    throw hwrError('BAD_DATASET', `${dataset.script}: class${empty.length > 1 ? 'es' : ''} ${shown}${empty.length > 5 ? ` and ${empty.length - 5} more` : ''} without samples: draw at least one sample of each class`);
  }
  return new Set();
}

function emptySet(count: number, pixels: number): ImageSet {
  return { inputs: new Float32Array(count * pixels), labels: new Int32Array(count), count: 0 };
}

/**
 * The function that appends one augmented, rendered and preprocessed variant of an ink to a set: `augmentInk`, then
 * `inkImage` at `inkPenWidthFor(metadata)` times the variant's pen-width factor (kept below the renderer's limit),
 * then the model's profile.
 */
function renderer(metadata: ModelMetadata, dataset: InkDataset, augment: InkAugmentOptions): (ink: ReturnType<typeof sampleInk>, rng: Rng, set: ImageSet, label: number) => void {
  const preprocess = preprocessorFor(metadata);
  const penWidth = inkPenWidthFor(metadata);
  const pixels = metadata.inputShape[0] * metadata.inputShape[1];
  return (ink, rng, set, label) => {
    const variant = augmentInk(ink, rng, augment);
    const picture = inkImage(variant, { penWidth: Math.min(0.5, penWidth * variant.penWidthFactor) });
    set.inputs.set(preprocess(picture, `${dataset.script} sample of ${JSON.stringify(dataset.classes[label])}`), set.count * pixels);
    set.labels[set.count] = label;
    set.count++;
  };
}

/** The new model and the part of it that gives the features (sharing its layers). */
interface BuiltModel {
  model: LayersModel;
  features: LayersModel;
  featureSize: number;
}

/** Layer class names whose layers are left out of a script model (identity at inference). */
const SKIPPED_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/**
 * A script model built from `from`: fresh copies (same configuration and weights) of its layers up to the input of its
 * first Dense layer (or through `featureLayer`), Dropout-like layers left out, then a new softmax Dense layer over `classes`. Output units of
 * labels that `from` already has start from its weights; the others are initialized (Glorot uniform, seeded).
 * @throws HwrError `BAD_MODEL` when the model is not a chain of single-input layers ending in a Dense layer
 */
function buildScriptModel(from: ScriptModel, classes: readonly string[], seed: number, featureLayer?: string, continuing = false): BuiltModel {
  const name = from.metadata.name ?? 'base model';
  const source = from.model.layers;
  const last = source[source.length - 1];
  if (!last || last.getClassName() !== 'Dense') throw hwrError('BAD_MODEL', `${name}: the model must end in a Dense layer to learn a new script from, it ends in ${last?.getClassName() ?? 'nothing'}`);
  for (let i = 1; i < source.length; i++) {
    const inbound = source[i]!.inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length !== 1 || inbound[0] !== source[i - 1]) {
      throw hwrError('BAD_MODEL', `${name}: layer ${source[i]!.name} does not take the previous layer's output: only chains of layers can learn a new script`);
    }
  }
  const input = tfInput({ shape: from.metadata.inputShape });
  let x = input;
  const names = new Set<string>();
  const firstDense = source.findIndex((l) => l.getClassName() === 'Dense');
  // A new script reads the base's convolutional features (the input of its first Dense layer); a model that goes on
  // learning (`startFrom`) keeps every layer but its output layer, whose units for known labels are kept too.
  const end = featureLayer !== undefined ? source.findIndex((l) => l.name === featureLayer) + 1 : continuing ? source.length - 1 : firstDense;
  if (end === 0) throw hwrError('BAD_ARGUMENT', `trainInkScript: featureLayer: ${name} has no layer ${JSON.stringify(featureLayer)}`);
  for (const layer of source.slice(0, end)) {
    const className = layer.getClassName();
    if (className === 'InputLayer' || SKIPPED_LAYERS.has(className)) continue;
    const copy = copyLayer(layer, name);
    x = copy.apply(x) as typeof x;
    copy.setWeights(layer.getWeights());
    names.add(layer.name);
  }
  const featureSize = x.shape[x.shape.length - 1]!;
  if (x.shape.length !== 2 || featureSize === null) throw hwrError('BAD_MODEL', `${name}: its features (the input of its first Dense layer, or featureLayer) have shape [${x.shape.join(', ')}], expected [batch, features]`);
  let headName = 'ink_script_head';
  for (let n = 2; names.has(headName); n++) headName = `ink_script_head_${n}`;
  const head = tfLayers.dense({ units: classes.length, activation: 'softmax', name: headName, kernelInitializer: initializers.glorotUniform({ seed: seed >>> 0 }) });
  const output = head.apply(x) as typeof x;
  const model = tfModel({ inputs: input, outputs: output, name: 'ink_script' });
  const features = tfModel({ inputs: input, outputs: x });
  keepKnownUnits(head, last, from.metadata.classes, classes);
  return { model, features, featureSize };
}

/** A new layer with `layer`'s class and configuration (weights not copied). @throws HwrError `BAD_MODEL` for an unknown class */
function copyLayer(layer: ReturnType<LayersModel['getLayer']>, model: string): ReturnType<LayersModel['getLayer']> {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[layer.getClassName()];
  if (!entry) throw hwrError('BAD_MODEL', `${model}: layer ${layer.name} has class ${layer.getClassName()}, which TF.js does not know here`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, layer.getConfig()) as ReturnType<LayersModel['getLayer']>;
}

/**
 * The trained output layer's weights with the units of `frozen` labels put back to `original`'s (personalization on
 * some classes: see `trainInkScript`). Kernels are `[features, units]`, biases `[units]`.
 */
function keepUnitsOf(trained: ReturnType<LayersModel['getLayer']>, original: ReturnType<LayersModel['getLayer']>, classes: readonly string[], frozen: ReadonlySet<string>): tf.Tensor[] {
  const [kernel, bias] = trained.getWeights();
  const [originalKernel, originalBias] = original.getWeights();
  const units = classes.length;
  const rows = kernel!.shape[0]!;
  const k = kernel!.dataSync().slice();
  const b = bias!.dataSync().slice();
  const ok = originalKernel!.dataSync();
  const ob = originalBias!.dataSync();
  classes.forEach((label, unit) => {
    if (!frozen.has(label)) return;
    for (let r = 0; r < rows; r++) k[r * units + unit] = ok[r * units + unit]!;
    b[unit] = ob[unit]!;
  });
  return [tf.tensor(k, kernel!.shape), tf.tensor(b, bias!.shape)];
}

/** Copies the output units (kernel columns and biases) of the labels `head` and `previous` share. */
function keepKnownUnits(head: ReturnType<LayersModel['getLayer']>, previous: ReturnType<LayersModel['getLayer']>, previousClasses: readonly string[], classes: readonly string[]): void {
  const [oldKernel, oldBias] = previous.getWeights();
  const [kernel, bias] = head.getWeights();
  if (!oldKernel || !oldBias || !kernel || !bias || oldKernel.shape[0] !== kernel.shape[0]) return;
  const oldUnits = oldKernel.shape[1]!;
  const units = kernel.shape[1]!;
  const rows = kernel.shape[0]!;
  const k = kernel.dataSync().slice();
  const b = bias.dataSync().slice();
  const ok = oldKernel.dataSync();
  const ob = oldBias.dataSync();
  classes.forEach((label, unit) => {
    const old = previousClasses.indexOf(label);
    if (old < 0 || old >= oldUnits) return;
    for (let r = 0; r < rows; r++) k[r * units + unit] = ok[r * oldUnits + old]!;
    b[unit] = ob[old]!;
  });
  const values = [tf.tensor(k, kernel.shape), tf.tensor(b, bias.shape)];
  head.setWeights(values);
  tf.dispose(values);
}

/** Makes the top `count` weight-bearing layers trainable (all when `all`) and freezes the others. */
function unfreeze(model: LayersModel, count: number | 'all'): void {
  let left = count === 'all' ? Infinity : count;
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i]!;
    const hasWeights = layer.getWeights().length > 0;
    layer.trainable = !hasWeights || left > 0;
    if (hasWeights) left--;
  }
}

/** `model`'s outputs for every image of `set`, `[count * outputSize]` float32, computed in batches. */
async function predictAll(model: LayersModel, set: ImageSet, inputShape: readonly number[], batchSize: number, throwIfCancelled: () => void): Promise<Float32Array> {
  const pixels = inputShape[0]! * inputShape[1]!;
  const size = (model.outputs[0]!.shape[1] as number) ?? 0;
  const out = new Float32Array(set.count * size);
  const step = Math.max(batchSize, 128);
  for (let start = 0; start < set.count; start += step) {
    throwIfCancelled();
    const n = Math.min(step, set.count - start);
    const values = tf.tidy(() => {
      const x = tf.tensor4d(set.inputs.subarray(start * pixels, (start + n) * pixels), [n, inputShape[0]!, inputShape[1]!, 1]);
      return (model.predict(x) as tf.Tensor).dataSync();
    });
    out.set(values, start * size);
    await yieldToEventLoop();
  }
  return out;
}

/** Top-1 accuracy of `model` on `set`; null for an empty set. */
async function accuracyOf(model: LayersModel, set: ImageSet, inputShape: readonly number[], batchSize: number, throwIfCancelled: () => void): Promise<number | null> {
  if (set.count === 0) return null;
  const probabilities = await predictAll(model, set, inputShape, batchSize, throwIfCancelled);
  const classes = probabilities.length / set.count;
  let correct = 0;
  for (let i = 0; i < set.count; i++) {
    if (topKIndices(probabilities.subarray(i * classes, (i + 1) * classes), 1)[0] === set.labels[i]) correct++;
  }
  return correct / set.count;
}

/**
 * One epoch of `model.trainOnBatch` over `set` in a seeded random order; cancellation checked before every batch,
 * the event loop given a turn every `YIELD_EVERY` batches.
 * @returns mean loss (nats) and accuracy over the epoch's batches, weighted by batch size
 */
async function trainEpoch(
  model: LayersModel,
  set: ImageSet,
  inputShape: readonly number[],
  classes: number,
  batchSize: number,
  rng: Rng,
  throwIfCancelled: () => void,
  onBatch?: (fraction: number) => void,
): Promise<{ loss: number; accuracy: number }> {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const order = shuffledIndices(set.count, rng);
  let lossSum = 0;
  let accuracySum = 0;
  let batches = 0;
  for (let start = 0; start < set.count; start += batchSize) {
    throwIfCancelled();
    const n = Math.min(batchSize, set.count - start);
    const xs = new Float32Array(n * size);
    const ys = new Float32Array(n * classes);
    for (let k = 0; k < n; k++) {
      const index = order[start + k]!;
      xs.set(set.inputs.subarray(index * size, (index + 1) * size), k * size);
      ys[k * classes + set.labels[index]!] = 1;
    }
    const x = tf.tensor(xs, [n, ...inputShape]);
    const y = tf.tensor2d(ys, [n, classes]);
    try {
      const [loss, accuracy] = (await model.trainOnBatch(x, y)) as number[];
      lossSum += loss! * n;
      accuracySum += accuracy! * n;
    } finally {
      x.dispose();
      y.dispose();
    }
    batches++;
    if (batches % YIELD_EVERY === 0) {
      onBatch?.((start + n) / set.count);
      await yieldToEventLoop();
    }
  }
  return { loss: lossSum / set.count, accuracy: accuracySum / set.count };
}

/** The script model's metadata. */
function scriptMetadata(
  dataset: InkDataset,
  from: ModelMetadata,
  model: LayersModel,
  settings: Settings,
  epochs: number,
  accuracy: number | null,
  seconds: number,
  options: TrainInkScriptOptions,
  knownStart = false,
): ModelMetadata {
  const writers = new Set(dataset.samples.map((s) => s.writer ?? '')).size;
  // A model that goes on learning its own classes (personalization) keeps what its metadata says about them: the
  // rejection class, the named character set, the calibration (fitted before; only a few output units moved).
  const sameClasses = options.startFrom !== undefined && from.classes.length === dataset.classes.length && from.classes.every((label, i) => label === dataset.classes[i]);
  const kept: Partial<ModelMetadata> = {
    ...(options.startFrom && from.rejectClass !== undefined && dataset.classes.includes(from.rejectClass) ? { rejectClass: from.rejectClass } : {}),
    ...(sameClasses && from.charset !== undefined ? { charset: from.charset } : {}),
    ...(sameClasses && from.calibration !== undefined ? { calibration: from.calibration } : {}),
  };
  const baseArchitecture = from.architecture.replace(/\+ink-head$/, '');
  const validation = settings.validationVariantsPerSample;
  return {
    name: dataset.script,
    architecture: `${baseArchitecture}+ink-head`,
    classes: [...dataset.classes],
    inputShape: [...from.inputShape],
    preprocessing: from.preprocessing,
    inkPenWidth: inkPenWidthFor(from),
    parameters: model.countParams(),
    trainingData:
      `${dataset.script}: ${dataset.samples.length} drawn samples of ${dataset.classes.length} classes by ${writers} writer${writers === 1 ? '' : 's'}, ` +
      `${settings.variantsPerSample} stroke-level augmented variants per sample (augmentInk), features of ${from.name} (${from.architecture})` +
      (knownStart ? `, output units started from ${from.name}'s own units for these labels (it knows them)` : '') +
      (settings.fineTuneEpochs > 0 ? `, fine-tuned on ${settings.fineTuneVariantsPerSample} fresh variants per sample and epoch` : ''),
    epochs,
    testAccuracy: accuracy,
    top3Accuracy: null,
    testData: validation > 0 && accuracy !== null ? `${validation} held-out augmented variants of each training sample (${validation * dataset.samples.length} images; the same writers' samples, not new writers)` : null,
    trainingSeconds: Math.round(seconds),
    trainedOn: options.trainedOn ?? null,
    command: options.command ?? `trainInkScript (seed ${settings.seed}, ${settings.variantsPerSample} variants per sample, ${settings.headEpochs}+${settings.fineTuneEpochs} epochs, from ${from.name})`,
    date: new Date().toISOString(),
    version: options.version ?? 'unknown',
    ...kept,
  };
}

/**
 * A model and its metadata as files in memory (`model.save` through a save handler): what `onUsable` receives, what
 * the browser stores, and the content of a model folder.
 */
export async function modelFiles(model: LayersModel, metadata: ModelMetadata): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      files = {
        modelTopology: artifacts.modelTopology as object,
        weightSpecs: (artifacts.weightSpecs ?? []).map((spec) => ({ name: spec.name, shape: [...spec.shape], dtype: spec.dtype })),
        weightData: data,
        metadata,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
    }),
  );
  return files!;
}

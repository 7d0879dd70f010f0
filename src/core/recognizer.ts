/**
 * The recognition pipeline shared by the browser, the server and the CLI (Transformers.js-style: one call from
 * pixels to an answer): image -> the model's preprocessing profile (`preprocessorFor`, ./preprocessing.ts, chosen by
 * `metadata.preprocessing`) -> `[1, height, width, 1]` float32 (`metadata.inputShape`) -> inference engine ->
 * probabilities -> calibration -> result. The engine (`InferenceEngine`) is what runs the model: TF.js
 * (`tfjsEngine`, the default, in every environment), ONNX Runtime in Node (src/node/onnxEngine.ts) or
 * onnxruntime-web in the browser; calibration and decoding happen here, after it, whatever the engine.
 * Imports nothing Node-only. The caller picks the TF.js backend before loading (see `src/node/backend.ts` and
 * `web/`).
 */
// tfjs-core + tfjs-layers only (not the `@tensorflow/tfjs` union, which drags WebGL into browser bundles).
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { checkedFetch } from './checksums.ts';
import { hwrError } from './errors.ts';
import type { Ink } from './ink.ts';
import { inkImageFor, preprocessorFor } from './preprocessing.ts';
import type { ModelMetadata, PixelBuffer } from './types.ts';

/** One class and its probability. */
export interface ClassProbability {
  label: string;
  probability: number;
}

/** Why a model with a rejection class (`ModelMetadata.rejectClass`) gave no label. */
export const REJECTION_REASON = 'not a digit';

/** What `Recognizer.recognize` answers for one image. */
export interface Recognition {
  /**
   * The most probable class label, e.g. `"7"`; `null` when the model rejects the image (its most probable class
   * is the metadata's `rejectClass`), and then `reason` says why.
   */
  label: string | null;
  /** Present exactly when `label` is null: why there is no label, e.g. `"not a digit"`. */
  reason?: string;
  /** Probability of `label`, or with `label: null` of the rejection, in [0, 1] (calibrated when the metadata has a `calibration`). */
  probability: number;
  /** Probabilities of every class in the order of `metadata.classes` (the rejection class included); they sum to 1. */
  probabilities: number[];
  /** The `k` most probable classes, most probable first (k = `defaultTopK(classes)` unless asked otherwise). */
  topK: ClassProbability[];
  /** The image the model saw: `[height * width]` float32 of `metadata.inputShape`, in [0, 1], row-major, ink = 1. */
  processed: Float32Array;
  /** Wall-clock time of each stage in ms. */
  timings: { preprocessMs: number; inferenceMs: number };
}

/** Options of `recognize` and `recognizeBatch`. */
export interface RecognizeOptions {
  /** Name of the image (file name, field) used in error messages. */
  name?: string;
  /** How many classes `topK` lists; default `defaultTopK(classes)` (3 for up to 20 classes, else 10). */
  topK?: number;
}

/**
 * What runs a model: `[count, height, width, 1]` float32 NHWC in [0, 1] (ink = 1) -> `[count * classes]` float32
 * probabilities, row-major, as the model's softmax gives them (uncalibrated: `createRecognizer` applies the
 * metadata's calibration after the engine). Implementations: `tfjsEngine` (TF.js, any backend), `onnxruntimeEngine`
 * (src/node/onnxEngine.ts, Node) and the page's onnxruntime-web engine.
 */
export interface InferenceEngine {
  /** Which runtime: `'tfjs'`, `'onnxruntime'` or `'onnxruntime-web'`. */
  readonly name: string;
  /**
   * Runs the model on `count` images.
   * @param inputs `[count * height * width]` float32 (one channel), NHWC, in [0, 1]
   * @returns `[count * classes]` float32 probabilities; `count` 0 gives an empty array
   */
  run(inputs: Float32Array, count: number): Promise<Float32Array>;
  /** Frees the model (tensors, native session). The engine must not be used afterwards. */
  dispose(): void;
}

/** An engine that is a TF.js model (`tfjsEngine`), with the model for callers that need it. */
interface TfjsEngine extends InferenceEngine {
  readonly model: LayersModel;
}

/**
 * The TF.js engine: runs `model` (`[batch, h, w, 1]` float32 -> `[batch, classes]` probabilities) with
 * `model.predict` on the current TF.js backend, in one batch.
 * @param inputShape `[height, width]` of one image; default the model's own input shape
 */
export function tfjsEngine(model: LayersModel, inputShape?: readonly [number, number]): InferenceEngine & { readonly model: LayersModel } {
  const [, modelHeight, modelWidth] = model.inputs[0]?.shape ?? [];
  const [height, width] = inputShape ?? [Number(modelHeight), Number(modelWidth)];
  return {
    name: 'tfjs',
    model,
    async run(inputs, count) {
      if (count === 0) return new Float32Array(0);
      const shape: [number, number, number, number] = [count, height, width, 1];
      const output = tf.tidy(() => model.predict(tf.tensor4d(inputs, shape)) as tf.Tensor);
      try {
        return (await output.data()) as Float32Array;
      } finally {
        output.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  } satisfies TfjsEngine;
}

/** True when `value` is an `InferenceEngine` rather than a TF.js LayersModel (which has `predict`, not `run`). */
function isEngine(value: LayersModel | InferenceEngine): value is InferenceEngine {
  return typeof (value as Partial<LayersModel>).predict !== 'function' && typeof (value as Partial<InferenceEngine>).run === 'function';
}

/** A loaded model with its metadata, ready to recognize images. */
export interface Recognizer {
  readonly metadata: ModelMetadata;
  /** The engine that runs the model (`InferenceEngine.name`): `'tfjs'`, `'onnxruntime'` or `'onnxruntime-web'`. */
  readonly engine: string;
  /** The TF.js model, with the TF.js engine only (`undefined` when another engine runs the model). */
  readonly model: LayersModel | undefined;
  /**
   * Recognizes one image of any size.
   * @throws HwrError `NO_INK` for a blank image.
   */
  recognize(image: PixelBuffer, options?: RecognizeOptions): Promise<Recognition>;
  /**
   * Recognizes ink (strokes, y down, any unit): drawn by `inkImageFor` at the model's pen width, then as `recognize`.
   * Validate ink from outside with `parseInk` (./ink.ts) first.
   * @throws HwrError `NO_INK` for ink without points
   */
  recognizeInk(ink: Ink, options?: RecognizeOptions): Promise<Recognition>;
  /**
   * Recognizes many images in one forward pass. A bad image gives an `Error` in its slot; the others are still
   * recognized. `names[i]` names image i in error messages.
   */
  recognizeBatch(images: PixelBuffer[], options?: { names?: string[]; topK?: number }): Promise<Array<Recognition | Error>>;
  /**
   * Classifies already preprocessed inputs: `[n, height, width, 1]` float32 (`metadata.inputShape`) in [0, 1] (ink = 1), e.g. MNIST test images.
   * @returns `[n * classes]` float32 probabilities, row-major, calibrated as `recognize` reports them.
   */
  predictProbabilities(inputs: Float32Array, count: number): Promise<Float32Array>;
  /** Frees the model (its tensors, or the engine's session). */
  dispose(): void;
}

/** Where to load a model from: a URL of a model folder (with `model.json` and `metadata.json`), or a handler + metadata. */
export type ModelSource = string | { model: tf.io.IOHandler; metadata: ModelMetadata };

/** `performance.now()` where available (browsers, Node 16+). */
const now = (): number => globalThis.performance.now();

/** Most candidates `topK` lists: `hwr predict --top-k` is capped here. */
export const MAX_TOP_K = 50;

/**
 * How many candidates `topK` lists by default for a model of `classes` classes: 3 for up to 20 classes (digits),
 * 10 above (a large vocabulary such as Chinese characters).
 */
export function defaultTopK(classes: number): number {
  return classes <= 20 ? 3 : 10;
}

/**
 * Indices of the `k` largest values, largest first (ties keep the lower index first).
 * `values` is one row of probabilities or logits.
 */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  // Partial selection: one pass keeping the best k in order (O(n k) with k <= 50), not a sort of all n classes.
  const keep = Math.max(0, Math.min(k, values.length));
  const top: number[] = [];
  if (keep === 0) return top;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (top.length === keep && !(v > values[top[keep - 1]!]!)) continue;
    let j = top.length;
    // Strictly greater moves up: among equal values the lower index stays first.
    while (j > 0 && v > values[top[j - 1]!]!) j--;
    top.splice(j, 0, i);
    if (top.length > keep) top.pop();
  }
  return top;
}

/**
 * Turns one row of class probabilities into a `Recognition` (without `processed` and `timings`).
 * When the most probable class is `rejectClass`, the answer is a rejection: `label: null`, `reason: "not a digit"`.
 * @throws HwrError `BAD_MODEL` when the row and `classes` differ in length
 */
export function decodeProbabilities(
  probabilities: ArrayLike<number>,
  classes: readonly string[],
  k = defaultTopK(classes.length),
  rejectClass?: string,
): Pick<Recognition, 'label' | 'reason' | 'probability' | 'probabilities' | 'topK'> {
  if (probabilities.length !== classes.length) {
    throw hwrError('BAD_MODEL', `model outputs ${probabilities.length} values but its metadata lists ${classes.length} classes`);
  }
  const list = Array.from(probabilities, Number);
  const top = topKIndices(list, k);
  const best = top[0]!;
  const rejected = rejectClass !== undefined && classes[best] === rejectClass;
  return {
    label: rejected ? null : classes[best]!,
    ...(rejected ? { reason: REJECTION_REASON } : {}),
    probability: list[best]!,
    probabilities: list,
    topK: top.map((i) => ({ label: classes[i]!, probability: list[i]! })),
  };
}

/**
 * Temperature scaling of probabilities (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017):
 * each row becomes `softmax(log p / T + shift)`, which equals `softmax(z / T + shift)` for the logits z behind p
 * (log p and z differ by a per-row constant). Without `shift` the order of the classes in a row never changes.
 * `shift` adds a constant to one class's scaled logit: a change of that class's prior (Saerens, Latinne and
 * Decaestecker, "Adjusting the Outputs of a Classifier to New a Priori Probabilities", Neural Computation 2002),
 * used to make the rejection class rarer than its share of the training data made it.
 *
 * @param probabilities `[n * classes]` float32 rows that sum to 1 (zeros are clamped to 1e-30)
 * @param classes       row length
 * @param temperature   T > 0; 1 (and no shift) returns a copy of the input
 * @param shift         optional `{ index, value }`: `value` (natural log units) is added to class `index`'s scaled logit
 * @returns `[n * classes]` float32, rows summing to 1
 * @throws HwrError `BAD_ARGUMENT` for a non-positive temperature or a length that is not a multiple of `classes`
 */
export function applyTemperature(probabilities: Float32Array, classes: number, temperature: number, shift?: { index: number; value: number }): Float32Array {
  if (!(temperature > 0 && Number.isFinite(temperature))) throw hwrError('BAD_ARGUMENT', `temperature: expected a finite number > 0, got ${temperature}`);
  if (!(classes > 0) || probabilities.length % classes !== 0) {
    throw hwrError('BAD_ARGUMENT', `probabilities: ${probabilities.length} values are not rows of ${classes} classes`);
  }
  const out = new Float32Array(probabilities.length);
  const logits = new Float64Array(classes);
  for (let row = 0; row < probabilities.length; row += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      logits[c] = Math.log(Math.max(1e-30, probabilities[row + c]!)) / temperature + (shift && c === shift.index ? shift.value : 0);
      if (logits[c]! > max) max = logits[c]!;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += logits[c] = Math.exp(logits[c]! - max);
    for (let c = 0; c < classes; c++) out[row + c] = logits[c]! / sum;
  }
  return out;
}

function validateMetadata(metadata: ModelMetadata, where: string): void {
  const [h, w, c] = metadata.inputShape ?? [];
  if (!Array.isArray(metadata.classes) || metadata.classes.length < 2 || !h || !w || c !== 1) {
    throw hwrError('BAD_MODEL', `${where}: metadata must list at least 2 classes and a [height, width, 1] inputShape`);
  }
  if (metadata.rejectClass !== undefined && !metadata.classes.includes(metadata.rejectClass)) {
    throw hwrError('BAD_MODEL', `${where}: metadata rejectClass "${metadata.rejectClass}" is not one of its classes`);
  }
  const temperature = metadata.calibration?.temperature;
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) {
    throw hwrError('BAD_MODEL', `${where}: metadata calibration.temperature must be a finite number > 0, got ${temperature}`);
  }
  const rejectShift = metadata.calibration?.rejectShift;
  if (rejectShift !== undefined && !(typeof rejectShift === 'number' && Number.isFinite(rejectShift))) {
    throw hwrError('BAD_MODEL', `${where}: metadata calibration.rejectShift must be a finite number, got ${rejectShift}`);
  }
}

/** Joins a folder URL and a file name ("models/digits" + "model.json" -> "models/digits/model.json"). */
function fileUrl(folder: string, file: string): string {
  return `${folder.replace(/\/?(model\.json)?$/, '')}/${file}`;
}

/**
 * Wraps an already loaded LayersModel (run by `tfjsEngine`) or an `InferenceEngine`, and its metadata, into a
 * `Recognizer`. The model must take `[batch, h, w, 1]` float32 in [0, 1] and output `[batch, classes]` probabilities.
 * With `metadata.calibration`, every probability the recognizer reports is temperature-scaled (`applyTemperature`);
 * with `metadata.rejectClass`, an image whose most probable class is that class gets `label: null`.
 * The image is prepared by the profile the metadata names in `preprocessing` (see ./preprocessing.ts).
 * @throws HwrError `BAD_MODEL` for metadata without classes or input shape, with a bad rejectClass or temperature, or
 *   with an unknown preprocessing profile
 */
export function createRecognizer(modelOrEngine: LayersModel | InferenceEngine, metadata: ModelMetadata): Recognizer {
  validateMetadata(metadata, metadata.name ?? 'model');
  const engine = isEngine(modelOrEngine) ? modelOrEngine : tfjsEngine(modelOrEngine, [metadata.inputShape[0], metadata.inputShape[1]]);
  const model = isEngine(modelOrEngine) ? (modelOrEngine as Partial<TfjsEngine>).model : modelOrEngine;
  const [height, width] = metadata.inputShape;
  const pixels = height * width;
  const classes = metadata.classes;
  const temperature = metadata.calibration?.temperature ?? 1;
  const rejectShift = metadata.calibration?.rejectShift ?? 0;
  const shift = rejectShift !== 0 && metadata.rejectClass !== undefined ? { index: classes.indexOf(metadata.rejectClass), value: rejectShift } : undefined;
  const preprocess = preprocessorFor(metadata);

  const predictProbabilities = async (inputs: Float32Array, count: number): Promise<Float32Array> => {
    if (count === 0) return new Float32Array(0);
    const raw = await engine.run(inputs, count);
    return temperature === 1 && shift === undefined ? raw : applyTemperature(raw, classes.length, temperature, shift);
  };

  const recognizeBatch: Recognizer['recognizeBatch'] = async (images, options = {}) => {
    const started = now();
    const prepared: Array<Float32Array | Error> = images.map((image, i) => {
      try {
        return preprocess(image, options.names?.[i] ?? `image ${i}`);
      } catch (error) {
        return error as Error;
      }
    });
    const good = prepared.filter((p): p is Float32Array => !(p instanceof Error));
    const batch = new Float32Array(good.length * pixels);
    good.forEach((input, i) => batch.set(input, i * pixels));
    const preprocessMs = now() - started;
    const inferenceStart = now();
    const probabilities = await predictProbabilities(batch, good.length);
    const inferenceMs = now() - inferenceStart;
    let row = 0;
    return prepared.map((input) => {
      if (input instanceof Error) return input;
      const slice = probabilities.subarray(row * classes.length, (row + 1) * classes.length);
      row++;
      return {
        ...decodeProbabilities(slice, classes, options.topK, metadata.rejectClass),
        processed: input,
        timings: { preprocessMs: preprocessMs / images.length, inferenceMs: inferenceMs / good.length },
      };
    });
  };

  const recognize: Recognizer['recognize'] = async (image, options = {}) => {
    const started = now();
    const input = preprocess(image, options.name ?? 'image');
    const preprocessMs = now() - started;
    const inferenceStart = now();
    const probabilities = await predictProbabilities(input, 1);
    const inferenceMs = now() - inferenceStart;
    return { ...decodeProbabilities(probabilities, classes, options.topK, metadata.rejectClass), processed: input, timings: { preprocessMs, inferenceMs } };
  };

  return {
    metadata,
    engine: engine.name,
    model,
    predictProbabilities,
    recognizeBatch,
    recognize,
    async recognizeInk(ink, options = {}) {
      const started = now();
      const image = inkImageFor(ink, metadata);
      const renderMs = now() - started;
      const result = await recognize(image, options);
      // Drawing the ink is part of preprocessing.
      result.timings.preprocessMs += renderMs;
      return result;
    },
    dispose() {
      engine.dispose();
    },
  };
}

/**
 * Loads a model and its metadata into a `Recognizer`.
 * - `source` as a string: URL of a model folder served over HTTP(S) or relative to the page
 *   (`models/digits/`): fetches `model.json`, its weight shards and `metadata.json`, each checked against the
 *   folder's `SHA256SUMS` when it has one and Web Crypto is available (see `checkedFetch` in ./checksums.ts).
 * - `source` as `{ model, metadata }`: any TF.js IOHandler (Node's file handler, `tf.io.fromMemory`, ...).
 * @param fetchFunc the `fetch` a URL source's files go through (the page passes one that caches and reports progress).
 * @throws HwrError `BAD_MODEL` when the model or its metadata cannot be loaded or do not match.
 */
export async function loadRecognizer(source: ModelSource, fetchFunc: typeof fetch = fetch): Promise<Recognizer> {
  let handlerOrUrl: string | tf.io.IOHandler;
  let metadata: ModelMetadata;
  let modelUrl: string | undefined;
  if (typeof source === 'string') {
    // Every file is checked against the folder's SHA256SUMS where it has one and Web Crypto is available.
    const { fetch: fetchFile } = await checkedFetch(source, fetchFunc);
    const metadataUrl = fileUrl(source, 'metadata.json');
    const response = await fetchFile(metadataUrl).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'BAD_MODEL') throw error;
      throw hwrError('BAD_MODEL', `${metadataUrl}: cannot fetch model metadata: ${(error as Error).message}`, error);
    });
    if (!response.ok) throw hwrError('BAD_MODEL', `${metadataUrl}: HTTP ${response.status} fetching model metadata`);
    metadata = (await response.json()) as ModelMetadata;
    modelUrl = fileUrl(source, 'model.json');
    handlerOrUrl = tf.io.http(modelUrl, { fetchFunc: fetchFile });
  } else {
    ({ metadata } = source);
    handlerOrUrl = source.model;
  }
  let model: LayersModel;
  try {
    model = await loadLayersModel(handlerOrUrl);
  } catch (error) {
    if ((error as { code?: string }).code === 'BAD_MODEL') throw error;
    throw hwrError('BAD_MODEL', `${modelUrl ?? metadata.name}: cannot load model: ${(error as Error).message}`, error);
  }
  const shape = model.inputs[0]?.shape ?? [];
  if (shape[1] !== metadata.inputShape[0] || shape[2] !== metadata.inputShape[1]) {
    throw hwrError('BAD_MODEL', `${metadata.name}: model input ${JSON.stringify(shape)} does not match metadata inputShape ${JSON.stringify(metadata.inputShape)}`);
  }
  return createRecognizer(model, metadata);
}

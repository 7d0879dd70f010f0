/**
 * Shared test helpers for the exporters (ONNX, TFLite): small models of every architecture with random weights and
 * random batch-norm statistics (so that folding batch norm is really exercised), and seeded stroke-like input images.
 * Deterministic: the same seed gives the same model and images on every run.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/augment.ts';
import { renderStrokes, type Stroke } from '../../src/data/strokes.ts';
import { getArchitecture } from '../../src/models/index.ts';

/** An architecture and the (small) shape the export tests build it with. */
export interface FixtureArchitecture {
  /** Registry name (`getArchitecture`). */
  name: string;
  /** Input side in px. */
  inputSize: number;
  /** Output classes. */
  classes: number;
}

/** Every architecture of `src/models/`, at 28x28 with 10 classes (hccr-vgg at 64x64 with 50 classes, to stay fast). */
export const FIXTURE_ARCHITECTURES: readonly FixtureArchitecture[] = [
  { name: 'hwr-net', inputSize: 28, classes: 10 },
  { name: 'seed-cnn', inputSize: 28, classes: 10 },
  { name: 'lenet5', inputSize: 28, classes: 10 },
  { name: 'hccr-vgg', inputSize: 64, classes: 50 },
];

/** Deterministic pseudo-random float32 values in [lo, hi) from `seed` (a small LCG). */
export function uniformValues(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/**
 * Creates `architecture` with its seeded initial weights, then gives every BatchNormalization layer random
 * statistics and affine parameters (gamma in [0.5, 1.5), beta in [-0.2, 0.2), moving mean in [-0.3, 0.3), moving
 * variance in [0.3, 2)) and every zero bias small random values (in [-0.1, 0.1)), so that folding and biases matter.
 * @returns a TF.js LayersModel, input `[batch, inputSize, inputSize, 1]`, output `[batch, classes]` softmax
 */
export function randomModel(architecture: FixtureArchitecture, seed = 1): tf.LayersModel {
  const model = getArchitecture(architecture.name).create({ classes: architecture.classes, seed, inputSize: architecture.inputSize });
  let n = seed * 1000;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'BatchNormalization') {
      // getWeights() returns the variables themselves: read their size, never dispose them.
      const size = layer.getWeights()[0]!.size;
      layer.setWeights([
        tf.tensor1d(uniformValues(size, ++n, 0.5, 1.5)),
        tf.tensor1d(uniformValues(size, ++n, -0.2, 0.2)),
        tf.tensor1d(uniformValues(size, ++n, -0.3, 0.3)),
        tf.tensor1d(uniformValues(size, ++n, 0.3, 2)),
      ]);
    } else if ((className === 'Conv2D' || className === 'Dense') && layer.getWeights().length === 2) {
      const [kernel, bias] = layer.getWeights();
      layer.setWeights([kernel!, tf.tensor1d(uniformValues(bias!.size, ++n, -0.1, 0.1))]);
    }
  }
  return model;
}

/**
 * `count` seeded images of random pen strokes (2 to 5 strokes of 2 to 5 points, pen 1.5 to 4 px at 64 px, scaled to
 * `size`), as a model sees handwriting: mostly 0 with ink up to 1.
 * @returns `[count, size, size, 1]` float32 in [0, 1], row-major (NHWC)
 */
export function strokeImages(count: number, size: number, seed = 7): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(count * size * size);
  for (let k = 0; k < count; k++) {
    const strokes: Stroke[] = [];
    const strokeCount = 2 + Math.floor(rng.uniform(0, 4));
    for (let s = 0; s < strokeCount; s++) {
      const points = 2 + Math.floor(rng.uniform(0, 4));
      strokes.push(Array.from({ length: points }, () => [rng.uniform(0, 1), rng.uniform(0, 1)] as const));
    }
    out.set(renderStrokes(strokes, size, (rng.uniform(1.5, 4) * size) / 64), k * size * size);
  }
  return out;
}

/** MNIST-style uint8 images (`[count, rows, cols]`, 255 = ink) as float32 model input in [0, 1]. */
export function bytesToInput(images: Uint8Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = images[i]! / 255;
  return out;
}

/** TF.js `model.predict` on `images` (`[count, h, w, 1]`), returned as `[count, classes]` float32. */
export function predictTfjs(model: tf.LayersModel, images: Float32Array, count: number): Float32Array {
  const [, h, w] = model.inputs[0]!.shape as number[];
  return tf.tidy(() => (model.predict(tf.tensor4d(images, [count, h!, w!, 1])) as tf.Tensor).dataSync() as Float32Array);
}

/** Index of the largest of `values[row * width .. (row + 1) * width)`. */
export function argmaxRow(values: ArrayLike<number>, row: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (values[row * width + j]! > values[row * width + best]!) best = j;
  return best;
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

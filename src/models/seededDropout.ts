import * as tf from '@tensorflow/tfjs';

let hashedMasks = true;

/**
 * Chooses how `SeededDropout` draws its masks in training: `dropoutMask` (default, `true`) or tf.dropout's
 * (seedrandom's Alea through RandomUniform, as before 2026-11-30 session 21; `false`). The two give different masks
 * for the same seed (each reproducible), so a run's losses depend on this switch. For A/B benchmarks and tests.
 */
export function setHashedDropoutMasks(on: boolean): void {
  hashedMasks = on;
}

/** MurmurHash3's 32-bit finalizer (Appleby): every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** What a mask of `rate` and `seed` is drawn from (see `dropoutMask`); the wasm kernel takes the same three numbers. */
export interface DropoutMaskParams {
  /** The hash key of the seed, an unsigned 32-bit integer. */
  key: number;
  /** Element i is kept when fmix32(key + i * 0x9e3779b9) >= threshold, an unsigned 32-bit integer. */
  threshold: number;
  /** The value of a kept element: float32(1 / (1 - rate)); 0 when no hash can reach the threshold. */
  keep: number;
}

/**
 * The key, threshold and kept value of the mask of `rate` and `seed` (`dropoutMask`). The threshold is
 * ceil(rate * 2^32): for an integer hash h, h >= rate * 2^32 exactly when h >= that.
 */
export function dropoutMaskParams(rate: number, seed: number): DropoutMaskParams {
  const whole = Math.trunc(seed);
  const key = fmix32((whole >>> 0) ^ fmix32(Math.floor(whole / 2 ** 32) + 0x9e3779b9));
  const threshold = Math.ceil(rate * 2 ** 32);
  if (threshold >= 2 ** 32) return { key, threshold: 0, keep: 0 };
  return { key, threshold, keep: Math.fround(1 / Math.fround(1 - rate)) };
}

let maskKernel = true;

/**
 * Chooses where `dropoutMaskTensor` makes a mask: the `HwrDropoutMask` kernel where registered (default, `true`) or
 * `dropoutMask`'s array, uploaded (`false`, as before session 22). The values are the same. For A/B benchmarks.
 */
export function setDropoutMaskKernelEnabled(on: boolean): void {
  maskKernel = on;
}

/** Name of the kernel that writes a mask straight into the backend's memory (src/backend/kernels/DropoutMask.ts). */
export const DROPOUT_MASK = 'HwrDropoutMask';

/** Attributes of `HwrDropoutMask`: the mask's shape, and `rate` and `seed` as `dropoutMask` takes them. */
export interface DropoutMaskAttrs {
  shape: number[];
  rate: number;
  seed: number;
}

/**
 * A dropout mask: element i is 0 with probability `rate` and 1 / (1 - rate) otherwise (float32, as tf.dropout's
 * multiplier), drawn as u_i = fmix32(key + i * golden ratio) / 2^32 with `key` a hash of `seed` (a counter-based
 * generator: each element's draw depends only on the seed and its index, so masks are reproducible and masks of
 * nearby seeds are unrelated). Kept when u_i >= rate, the same rule as tf.dropout's floor(u + 1 - rate).
 * The wasm kernel `HwrDropoutMask` (SIMD, src/backend/simd/assembly/dropout.ts) writes the same values.
 * @param size number of elements
 * @param rate drop probability in [0, 1)
 * @param seed any finite number (its integer part is used, including bits above 2^32)
 * @returns float32 [size]
 */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  const { key, threshold, keep } = dropoutMaskParams(rate, seed);
  const mask = new Float32Array(size);
  if (keep === 0) return mask;
  for (let i = 0; i < size; i++) mask[i] = fmix32((key + Math.imul(i, 0x9e3779b9)) | 0) >= threshold ? keep : 0;
  return mask;
}

/**
 * The mask of `dropoutMask` as a float32 tensor of `shape`: made in the backend's memory by the `HwrDropoutMask`
 * kernel where it is registered (wasm, cpu: `setupBackend` installs it), else from `dropoutMask`'s array.
 */
export function dropoutMaskTensor(shape: number[], rate: number, seed: number): tf.Tensor {
  if (maskKernel && tf.getKernel(DROPOUT_MASK, tf.getBackend())) {
    const attrs: DropoutMaskAttrs = { shape, rate, seed };
    return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return tf.tensor(dropoutMask(tf.util.sizeFromShape(shape), rate, seed), shape, 'float32');
}

/**
 * Dropout (Srivastava et al. 2014) whose random mask is reproducible: step `i` of training uses seed `seed + i`.
 * tfjs-layers' own `Dropout` with a `seed` draws the same mask at every step, and without one it seeds from
 * `Math.random`, so `--seed` could not make runs repeatable.
 *
 * It serializes as a plain Keras `Dropout` layer (same class name and config), so saved models load anywhere,
 * the browser included, with no custom layer registered; at inference dropout is the identity either way.
 *
 * Input and output: any shape, float32.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'Dropout';
  private readonly rate: number;
  private readonly seed: number;
  /** Training steps taken so far; set it when resuming so the masks continue the same sequence. */
  step = 0;

  constructor(args: { rate: number; seed: number; name?: string }) {
    super({ name: args.name });
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs.training || this.rate <= 0) return input;
    const seed = this.seed + this.step++;
    if (!hashedMasks) return tf.dropout(input, this.rate, undefined, seed);
    // One Multiply by a hashed mask (forward and gradient; the mask made by the HwrDropoutMask kernel where installed),
    // where tf.dropout runs RandomUniform (seedrandom's Alea, about 1 ms per hwr-net step), Add, Floor, RealDiv and Multiply.
    return tf.tidy(() => tf.mul(input, dropoutMaskTensor(input.shape, this.rate, seed)));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/**
 * Seeded randomness and small random affine distortions for training images.
 *
 * Plain typed arrays, no TF.js, no Node APIs: this runs on every training batch (60,000 images per
 * MNIST epoch) and in the browser alike. Distorting training digits by small rotations, scalings,
 * shears and shifts is the classic MNIST augmentation (P. Y. Simard, D. Steinkraus, J. C. Platt,
 * "Best Practices for Convolutional Neural Networks Applied to Visual Document Analysis", ICDAR 2003;
 * Y. LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998, section III.C).
 */

import { hwrError } from '../core/errors.ts';

/**
 * A seeded pseudo-random number generator. The same seed always yields the same sequence,
 * so training runs with the same seed are identical.
 */
export interface Rng {
  /** Next number, uniform in [0, 1), with 32 bits of randomness. */
  next(): number;
  /** Next number, uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Next integer, uniform in [0, n); `n` a positive integer below 2^32. */
  int(n: number): number;
  /** Internal state (a uint32). `createRng(rng.state)` continues this exact sequence: use it to checkpoint and resume. */
  readonly state: number;
}

/**
 * Creates a seeded generator: Mulberry32 by Tommy Ettinger (public domain,
 * https://gist.github.com/tommyettinger/46a874533244883189143505d203312c). One uint32 of state, period 2^32,
 * passes gjrand's tests; ample for shuffling and augmentation (an MNIST epoch draws about 300,000 numbers).
 *
 * @param seed  any finite number; it is reduced to a uint32 (`seed >>> 0`), so 1 and 2^32 + 1 are the same seed
 * @throws HwrError `BAD_ARGUMENT` when `seed` is not a finite number
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw hwrError('BAD_ARGUMENT', `seed: expected a finite number, got ${seed}`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (n) => Math.floor(next() * n),
    get state() {
      return state;
    },
  };
}

/**
 * A random permutation of `0 .. n-1` (Fisher-Yates shuffle, Knuth TAOCP vol. 2, Algorithm 3.4.2 P),
 * e.g. the order of training examples in an epoch.
 *
 * @param n    number of indices
 * @param rng  generator to draw from
 * @returns `[n]` uint32 permutation
 */
export function shuffledIndices(n: number, rng: Rng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/**
 * One affine distortion, applied about the image centre in this order: scale, shear, rotate, then shift.
 * Coordinates are pixel indices (x right, y down), so the centre of a 28 px image is (13.5, 13.5).
 */
export interface AffineParams {
  /** Rotation in degrees; positive turns the image clockwise on screen (y points down). */
  rotationDeg: number;
  /** Isotropic scale factor; 1 keeps the size, 1.1 enlarges by 10 %. Must be > 0. */
  scale: number;
  /** Horizontal shear factor k (dimensionless): x' = x + k * y about the centre; 0.1 is about 5.7 degrees. */
  shear: number;
  /** Shift right in px. */
  shiftX: number;
  /** Shift down in px. */
  shiftY: number;
}

/** The distortion that changes nothing. */
export const IDENTITY_AFFINE: Readonly<AffineParams> = Object.freeze({ rotationDeg: 0, scale: 1, shear: 0, shiftX: 0, shiftY: 0 });

/** Ranges for `randomAffine`; each parameter is drawn uniformly from its symmetric range. */
export interface RandomAffineOptions {
  /** Rotation drawn from [-max, max] degrees. Default 10. */
  maxRotationDeg?: number;
  /** Scale drawn from [1 - max, 1 + max]; must be in [0, 1). Default 0.1. */
  maxScale?: number;
  /** Shear factor drawn from [-max, max] (see `AffineParams.shear`). Default 0.1. */
  maxShear?: number;
  /** Shifts in x and y drawn independently from [-max, max] px. Default 2. */
  maxShiftPx?: number;
  /** Where to write the result, `[n, size, size]`; must not be `src`. Default: a new array. */
  out?: Float32Array;
}

/**
 * Draws one random distortion.
 *
 * @param rng      generator (five draws, always in the same order, so sequences are reproducible)
 * @param options  ranges, see `RandomAffineOptions`
 * @throws HwrError `BAD_ARGUMENT` when a range is negative or not finite, or `maxScale` is not below 1
 */
export function randomAffineParams(rng: Rng, options: RandomAffineOptions = {}): AffineParams {
  return drawParams(rng, checkRanges(options));
}

/** Draws one distortion from validated ranges. */
function drawParams(rng: Rng, ranges: Required<Omit<RandomAffineOptions, 'out'>>): AffineParams {
  const { maxRotationDeg, maxScale, maxShear, maxShiftPx } = ranges;
  return {
    rotationDeg: rng.uniform(-maxRotationDeg, maxRotationDeg),
    scale: 1 + rng.uniform(-maxScale, maxScale),
    shear: rng.uniform(-maxShear, maxShear),
    shiftX: rng.uniform(-maxShiftPx, maxShiftPx),
    shiftY: rng.uniform(-maxShiftPx, maxShiftPx),
  };
}

/**
 * Applies a fresh random distortion to each image (see `randomAffineParams` for the ranges).
 *
 * @param src      `[n, size, size]` float32, values in [0, 1] (0 = background)
 * @param n        number of images
 * @param size     image side in px (28 for MNIST)
 * @param rng      generator; the same seed gives the same output
 * @param options  ranges (defaults: 10 degrees, 10 % scale, 0.1 shear, 2 px shift) and an optional `out` array
 * @returns `[n, size, size]` float32 in [0, 1]: bilinear sampling, zero outside the source image
 * @throws HwrError `BAD_ARGUMENT` when array lengths do not match `n * size * size` or a range is invalid
 */
export function randomAffine(src: Float32Array, n: number, size: number, rng: Rng, options: RandomAffineOptions = {}): Float32Array {
  const ranges = checkRanges(options);
  const out = checkArrays(src, n, size, options.out);
  for (let i = 0; i < n; i++) warpImage(src, out, i * size * size, size, drawParams(rng, ranges));
  return out;
}

/**
 * Applies given distortions, one per image; deterministic (for tests, previews and debugging).
 *
 * @param src     `[n, size, size]` float32, values in [0, 1]
 * @param n       number of images
 * @param size    image side in px
 * @param params  `[n]` distortions, `params[i]` for image i
 * @param out     optional destination `[n, size, size]`, not `src`
 * @returns `[n, size, size]` float32: bilinear sampling, zero outside the source image;
 *   with `IDENTITY_AFFINE` the output equals the input exactly
 * @throws HwrError `BAD_ARGUMENT` when lengths do not match or a scale is not positive
 */
export function affineTransform(src: Float32Array, n: number, size: number, params: readonly AffineParams[], out?: Float32Array): Float32Array {
  const dst = checkArrays(src, n, size, out);
  if (params.length !== n) throw hwrError('BAD_ARGUMENT', `params: expected ${n} entries (one per image), got ${params.length}`);
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    if (!(p.scale > 0)) throw hwrError('BAD_ARGUMENT', `params[${i}].scale: expected > 0, got ${p.scale}`);
    warpImage(src, dst, i * size * size, size, p);
  }
  return dst;
}

/**
 * Warps one image by inverse mapping: for each output pixel, find where it came from in the source
 * and sample there bilinearly.
 *
 * Forward map about the centre c: p' = R * H * (s * (p - c)) + c + t, with H = [[1, k], [0, 1]].
 * Inverse: p = (1/s) * H^-1 * R^-1 * (p' - c - t) + c, where
 * H^-1 R^-1 = [[cos + k sin, sin - k cos], [-sin, cos]].
 */
function warpImage(src: Float32Array, dst: Float32Array, base: number, size: number, p: AffineParams): void {
  const angle = (p.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const inv = 1 / p.scale;
  // Source x = ax * x + bx * y + cx (and likewise for y), as a function of output pixel (x, y).
  const ax = (cos + p.shear * sin) * inv;
  const bx = (sin - p.shear * cos) * inv;
  const ay = -sin * inv;
  const by = cos * inv;
  const centre = (size - 1) / 2;
  const ox = centre + p.shiftX;
  const oy = centre + p.shiftY;
  const cx = centre - ax * ox - bx * oy;
  const cy = centre - ay * ox - by * oy;
  const last = size - 1;
  let o = base;
  for (let y = 0; y < size; y++) {
    let sx = bx * y + cx;
    let sy = by * y + cy;
    for (let x = 0; x < size; x++, o++, sx += ax, sy += ay) {
      if (sx >= 0 && sy >= 0 && sx < last && sy < last) {
        // Inside, with all four neighbours: the common case, without Math.floor (truncation is floor here) or the
        // border tests. The same operations as below, so the same values.
        const x0 = sx | 0;
        const y0 = sy | 0;
        const fx = sx - x0;
        const fy = sy - y0;
        const i = base + y0 * size + x0;
        const p00 = src[i]!;
        const p10 = src[i + size]!;
        const top = p00 + fx * (src[i + 1]! - p00);
        const bottom = p10 + fx * (src[i + size + 1]! - p10);
        dst[o] = top + fy * (bottom - top);
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || x0 > last || y0 < -1 || y0 > last) {
        dst[o] = 0;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      let p00: number, p01: number, p10: number, p11: number;
      const i = base + y0 * size + x0;
      if (x0 >= 0 && x0 < last && y0 >= 0 && y0 < last) {
        p00 = src[i]!;
        p01 = src[i + 1]!;
        p10 = src[i + size]!;
        p11 = src[i + size + 1]!;
      } else {
        // Border: neighbours outside the image count as background.
        const inX0 = x0 >= 0;
        const inX1 = x0 < last;
        const inY0 = y0 >= 0;
        const inY1 = y0 < last;
        p00 = inX0 && inY0 ? src[i]! : 0;
        p01 = inX1 && inY0 ? src[i + 1]! : 0;
        p10 = inX0 && inY1 ? src[i + size]! : 0;
        p11 = inX1 && inY1 ? src[i + size + 1]! : 0;
      }
      // Lerp form: exact when fx = fy = 0, and never leaves [min, max] of the four neighbours.
      const top = p00 + fx * (p01 - p00);
      const bottom = p10 + fx * (p11 - p10);
      dst[o] = top + fy * (bottom - top);
    }
  }
}

/** Fills in defaults and validates the ranges. */
function checkRanges(options: RandomAffineOptions): Required<Omit<RandomAffineOptions, 'out'>> {
  const ranges = {
    maxRotationDeg: options.maxRotationDeg ?? 10,
    maxScale: options.maxScale ?? 0.1,
    maxShear: options.maxShear ?? 0.1,
    maxShiftPx: options.maxShiftPx ?? 2,
  };
  for (const [name, value] of Object.entries(ranges)) {
    if (!(Number.isFinite(value) && value >= 0)) throw hwrError('BAD_ARGUMENT', `${name}: expected a finite number >= 0, got ${value}`);
  }
  if (ranges.maxScale >= 1) throw hwrError('BAD_ARGUMENT', `maxScale: expected < 1 (scale must stay positive), got ${ranges.maxScale}`);
  return ranges;
}

/** Validates lengths and returns the destination array. */
function checkArrays(src: Float32Array, n: number, size: number, out: Float32Array | undefined): Float32Array {
  if (!(Number.isInteger(n) && n >= 0)) throw hwrError('BAD_ARGUMENT', `n: expected a non-negative integer, got ${n}`);
  if (!(Number.isInteger(size) && size > 0)) throw hwrError('BAD_ARGUMENT', `size: expected a positive integer, got ${size}`);
  const length = n * size * size;
  if (src.length !== length) throw hwrError('BAD_ARGUMENT', `src: expected ${n} x ${size} x ${size} = ${length} values, got ${src.length}`);
  if (out === undefined) return new Float32Array(length);
  if (out.length !== length) throw hwrError('BAD_ARGUMENT', `out: expected ${length} values, got ${out.length}`);
  if (out.buffer === src.buffer && out.byteOffset < src.byteOffset + src.byteLength && src.byteOffset < out.byteOffset + out.byteLength) {
    throw hwrError('BAD_ARGUMENT', 'out: must not overlap src (the warp reads neighbours of pixels already written)');
  }
  return out;
}

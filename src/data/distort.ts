/**
 * Handwriting augmentation beyond the affine (./augment.ts): smooth elastic distortion and stroke thickness, and
 * the composition `hwr train` applies to character images (GNT data).
 *
 * - **Elastic distortion** (Simard, Steinkraus and Platt, "Best Practices for Convolutional Neural Networks Applied
 *   to Visual Document Analysis", ICDAR 2003) moves every pixel by a smooth random displacement field. Simard et
 *   al. smooth a per-pixel uniform field with a Gaussian; here the field is interpolated bilinearly from random
 *   displacements on a coarse grid of control points, the grid distortion of Wigington et al. ("Data Augmentation
 *   for Recognition of Handwritten Words and Lines Using a CNN-LSTM Network", ICDAR 2017): as smooth, and a few
 *   hundred draws instead of a blur per image.
 * - **Stroke thickness**: a grey-level dilation (thicker pen) or a half-strength erosion (thinner pen) with the
 *   4-neighbour cross, so that a model does not learn one pen width (mathematical morphology, Serra 1982).
 *
 * Never a mirror image: a mirrored character is another character or none.
 *
 * Images are `[n, size, size]` float32 in [0, 1] with 0 = background (ink = 1), as the models see them. Plain typed
 * arrays and no Node APIs, like ./augment.ts.
 */

import { hwrError } from '../core/errors.ts';
import { randomAffine, type RandomAffineOptions, type Rng } from './augment.ts';

/** Ranges of `randomElastic`. */
export interface ElasticOptions {
  /** Largest displacement of a control point, px (each axis drawn from [-max, max]). Default 2.5. */
  maxDisplacementPx?: number;
  /** Cells of the control grid per side (control points = (cells + 1)^2); more cells = a wavier field. Default 4. */
  cells?: number;
}

/**
 * Elastic distortion: each image is resampled (bilinearly, zero outside) through its own smooth random displacement
 * field, bilinearly interpolated from `(cells + 1)^2` control points whose displacements are drawn uniformly.
 *
 * @param src    `[n, size, size]` float32 in [0, 1]
 * @param n      images
 * @param size   image side, px
 * @param rng    generator: `2 * (cells + 1)^2` draws per image, in a fixed order
 * @returns      a new `[n, size, size]` float32 array in [0, 1]; with `maxDisplacementPx` 0 it equals `src`
 * @throws HwrError `BAD_ARGUMENT` when `src` is not `n * size * size` long or an option is out of range
 */
export function randomElastic(src: Float32Array, n: number, size: number, rng: Rng, options: ElasticOptions = {}): Float32Array {
  const max = options.maxDisplacementPx ?? 2.5;
  const cells = options.cells ?? 4;
  if (!(Number.isFinite(max) && max >= 0)) throw hwrError('BAD_ARGUMENT', `maxDisplacementPx: expected a finite number >= 0, got ${max}`);
  if (!(Number.isInteger(cells) && cells >= 1 && cells <= size)) throw hwrError('BAD_ARGUMENT', `cells: expected an integer in [1, ${size}], got ${cells}`);
  checkLength(src, n, size);
  const out = new Float32Array(src.length);
  const points = cells + 1;
  const dx = new Float32Array(points * points);
  const dy = new Float32Array(points * points);
  const step = (size - 1) / cells;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < dx.length; p++) {
      dx[p] = rng.uniform(-max, max);
      dy[p] = rng.uniform(-max, max);
    }
    const base = i * size * size;
    for (let y = 0; y < size; y++) {
      const gy = Math.min(cells - 1e-6, y / step);
      const cy = Math.floor(gy);
      const ty = gy - cy;
      for (let x = 0; x < size; x++) {
        const gx = Math.min(cells - 1e-6, x / step);
        const cx = Math.floor(gx);
        const tx = gx - cx;
        const k = cy * points + cx;
        const w00 = (1 - tx) * (1 - ty);
        const w01 = tx * (1 - ty);
        const w10 = (1 - tx) * ty;
        const w11 = tx * ty;
        const sx = x + w00 * dx[k]! + w01 * dx[k + 1]! + w10 * dx[k + points]! + w11 * dx[k + points + 1]!;
        const sy = y + w00 * dy[k]! + w01 * dy[k + 1]! + w10 * dy[k + points]! + w11 * dy[k + points + 1]!;
        out[base + y * size + x] = sampleBilinear(src, base, size, sx, sy);
      }
    }
  }
  return out;
}

/** Options of `randomStrokeWidth`. */
export interface StrokeWidthOptions {
  /** Probability that an image's strokes are thickened. Default 0.25. */
  thickenProbability?: number;
  /** Probability that an image's strokes are thinned (when not thickened). Default 0.15. */
  thinProbability?: number;
}

/**
 * Stroke thickness: per image, with `thickenProbability` a grey-level dilation by the 4-neighbour cross (every
 * stroke about 2 px wider), else with `thinProbability` a half-strength erosion (the mean of the image and its
 * erosion: thin strokes fade rather than vanish), else unchanged.
 *
 * @param src   `[n, size, size]` float32 in [0, 1] (ink = 1); not modified
 * @param rng   generator: one draw per image
 * @returns     a new `[n, size, size]` float32 array in [0, 1]
 * @throws HwrError `BAD_ARGUMENT` when `src` is not `n * size * size` long or a probability is outside [0, 1]
 */
export function randomStrokeWidth(src: Float32Array, n: number, size: number, rng: Rng, options: StrokeWidthOptions = {}): Float32Array {
  const thicken = options.thickenProbability ?? 0.25;
  const thin = options.thinProbability ?? 0.15;
  for (const [name, p] of [['thickenProbability', thicken], ['thinProbability', thin]] as const) {
    if (!(p >= 0 && p <= 1)) throw hwrError('BAD_ARGUMENT', `${name}: expected a probability in [0, 1], got ${p}`);
  }
  checkLength(src, n, size);
  const out = new Float32Array(src);
  for (let i = 0; i < n; i++) {
    const draw = rng.next();
    if (draw < thicken) crossMorphology(src, out, i * size * size, size, 'dilate');
    else if (draw < thicken + thin) crossMorphology(src, out, i * size * size, size, 'thin');
  }
  return out;
}

/** Options of `handwritingAugmentation`: each part's ranges, and how often the elastic part applies. */
export interface HandwritingAugmentationOptions {
  affine?: Omit<RandomAffineOptions, 'out'>;
  elastic?: ElasticOptions;
  /** Share of images that get an elastic distortion. Default 0.5. */
  elasticProbability?: number;
  strokeWidth?: StrokeWidthOptions;
}

/**
 * The augmentation `hwr train` applies to character images (GNT data): a random affine (rotation, scale, shear,
 * shift: `randomAffine`, defaults scaled to the image size), an elastic distortion for `elasticProbability` of the
 * images, then a random stroke thickness. Never mirrored.
 *
 * @param src   `[n, size, size]` float32 in [0, 1] (ink = 1); not modified
 * @param rng   generator; the same state gives the same output
 * @returns     a new `[n, size, size]` float32 array in [0, 1]
 * @throws HwrError `BAD_ARGUMENT` as the parts do
 */
export function handwritingAugmentation(src: Float32Array, n: number, size: number, rng: Rng, options: HandwritingAugmentationOptions = {}): Float32Array {
  // randomAffine's defaults are for 28 px digits (2 px shift); shifts scale with the image.
  const affine = randomAffine(src, n, size, rng, { maxShiftPx: (2 * size) / 28, ...options.affine });
  const p = options.elasticProbability ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw hwrError('BAD_ARGUMENT', `elasticProbability: expected a probability in [0, 1], got ${p}`);
  const pixels = size * size;
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (rng.next() < p) picked.push(i);
  if (picked.length > 0) {
    const subset = new Float32Array(picked.length * pixels);
    picked.forEach((i, j) => subset.set(affine.subarray(i * pixels, (i + 1) * pixels), j * pixels));
    const warped = randomElastic(subset, picked.length, size, rng, { maxDisplacementPx: (2.5 * size) / 64, ...options.elastic });
    picked.forEach((i, j) => affine.set(warped.subarray(j * pixels, (j + 1) * pixels), i * pixels));
  }
  return randomStrokeWidth(affine, n, size, rng, options.strokeWidth);
}

function checkLength(src: Float32Array, n: number, size: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw hwrError('BAD_ARGUMENT', `n: expected a non-negative integer, got ${n}`);
  if (!(Number.isInteger(size) && size > 0)) throw hwrError('BAD_ARGUMENT', `size: expected a positive integer, got ${size}`);
  if (src.length !== n * size * size) throw hwrError('BAD_ARGUMENT', `src: expected ${n} x ${size} x ${size} = ${n * size * size} values, got ${src.length}`);
}

/** Bilinear sample of one image at (x, y), zero outside. */
function sampleBilinear(src: Float32Array, base: number, size: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  if (x0 < -1 || y0 < -1 || x0 >= size || y0 >= size) return 0;
  const fx = x - x0;
  const fy = y - y0;
  const i = base + y0 * size + x0;
  const inX0 = x0 >= 0;
  const inX1 = x0 + 1 < size;
  const inY0 = y0 >= 0;
  const inY1 = y0 + 1 < size;
  const p00 = inX0 && inY0 ? src[i]! : 0;
  const p01 = inX1 && inY0 ? src[i + 1]! : 0;
  const p10 = inX0 && inY1 ? src[i + size]! : 0;
  const p11 = inX1 && inY1 ? src[i + size + 1]! : 0;
  const top = p00 + fx * (p01 - p00);
  const bottom = p10 + fx * (p11 - p10);
  return top + fy * (bottom - top);
}

/** Dilation (max) or half-strength erosion ((x + min) / 2) of one image by the 4-neighbour cross, into `out`. */
function crossMorphology(src: Float32Array, out: Float32Array, base: number, size: number, mode: 'dilate' | 'thin'): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = base + y * size + x;
      const c = src[o]!;
      const l = x > 0 ? src[o - 1]! : 0;
      const r = x < size - 1 ? src[o + 1]! : 0;
      const u = y > 0 ? src[o - size]! : 0;
      const d = y < size - 1 ? src[o + size]! : 0;
      out[o] = mode === 'dilate' ? Math.max(c, l, r, u, d) : (c + Math.min(c, l, r, u, d)) / 2;
    }
  }
}

/**
 * Preprocessing profiles: how a character image is normalized for a model, per script.
 *
 * The CJK profile (`fitInkToBox`) follows the usual normalization of offline Chinese character recognition on
 * CASIA HWDB (Liu, Yin, Wang and Wang, "Online and offline handwritten Chinese character recognition: benchmarking
 * on new databases", Pattern Recognition 46, 2013, section 4): the ink's bounding box is scaled to fit the model's
 * input with its aspect ratio kept and a margin, and centred by its box. Unlike MNIST's digits there is no
 * centre-of-mass shift: a character's ink is not balanced (亻 on the left, 灬 at the bottom), and moving its mass
 * to the centre would push it against an edge.
 *
 * This module imports nothing Node-only.
 */
import { hwrError } from './errors.ts';
import type { GrayImage } from './ink.ts';

/** Reused by `fitInkToBox` for its intermediate rows; grows as needed. */
let scratch = new Float64Array(0);

/** Name of the CJK profile, written into `metadata.json` as `preprocessing` for models trained with it. */
export const CJK_PROFILE = 'cjk-fit-v1';

/** Options of `fitInkToBox`. */
export interface FitInkOptions {
  /** Output side in px (the model's input, e.g. 64), integer >= 4. */
  size: number;
  /** Blank border on every side, in output px, >= 0, less than half of `size`. Default `round(size / 16)` (4 px of 64). */
  margin?: number;
  /**
   * A pixel is ink for the bounding box when its darkness `(255 - gray)` exceeds this, in 0-254. Default 32: CASIA's
   * paper is 255 after its own background removal, and faint scanner noise stays out of the box.
   */
  inkThreshold?: number;
}

/**
 * The bounding box of the ink of a light-background gray image: pixels darker than `255 - threshold`.
 * @returns inclusive px bounds, or null when no pixel is ink
 */
export function inkBoundingBox(image: GrayImage, threshold: number): { left: number; top: number; right: number; bottom: number } | null {
  const { width, height, data } = image;
  let left = width;
  let top = height;
  let right = -1;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (255 - data[row + x]! > threshold) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  return right < 0 ? null : { left, top, right, bottom };
}

/**
 * Area weights of a 1-D resampling: output px `o` covers source interval `[(o - offset) / scale, (o + 1 - offset) / scale)`.
 * @returns for each output px, the first source px and the weights (overlap lengths in source px, times `scale`).
 */
function areaWeights(sourceStart: number, sourceLength: number, scale: number, outputStart: number, outputLength: number): { first: number; weights: Float64Array }[] {
  const result: { first: number; weights: Float64Array }[] = [];
  for (let o = 0; o < outputLength; o++) {
    const from = sourceStart + (o - outputStart) / scale;
    const to = sourceStart + (o + 1 - outputStart) / scale;
    const first = Math.max(sourceStart, Math.floor(from));
    const last = Math.min(sourceStart + sourceLength - 1, Math.ceil(to) - 1);
    const weights = new Float64Array(Math.max(0, last - first + 1));
    for (let s = first; s <= last; s++) weights[s - first] = Math.max(0, Math.min(to, s + 1) - Math.max(from, s)) * scale;
    result.push({ first, weights });
  }
  return result;
}

/**
 * The CJK profile: normalizes one character image (gray, 255 = paper, darker = ink, as CASIA's GNT files store it)
 * into a `size` x `size` model input. The ink's bounding box is scaled, aspect kept, so that its longer side fills
 * `size - 2 * margin` px, and centred by its box (no centre-of-mass shift). Resampling is by area (each output
 * pixel averages the source pixels it covers, with their partial overlaps), which antialiases when shrinking and
 * interpolates by nearest area when enlarging. Uses only IEEE-754 arithmetic: the same bytes in Node and browsers.
 *
 * @param image  `[height, width]` uint8 gray, 255 = paper
 * @returns `[size * size]` uint8, row-major, **0 = background, 255 = ink** (the convention of `Split` and MNIST)
 * @throws HwrError `NO_INK` when no pixel is darker than the threshold; `BAD_ARGUMENT` for a bad size, margin,
 *   threshold, or an image whose data is not `width * height` bytes
 */
export function fitInkToBox(image: GrayImage, options: FitInkOptions): Uint8Array {
  const { size } = options;
  if (!Number.isInteger(size) || size < 4) throw hwrError('BAD_ARGUMENT', `fitInkToBox: size must be an integer >= 4, got ${size}`);
  const margin = options.margin ?? Math.round(size / 16);
  if (!(margin >= 0) || margin * 2 >= size) throw hwrError('BAD_ARGUMENT', `fitInkToBox: margin must be in [0, ${size / 2}), got ${margin}`);
  const threshold = options.inkThreshold ?? 32;
  if (!(threshold >= 0 && threshold < 255)) throw hwrError('BAD_ARGUMENT', `fitInkToBox: inkThreshold must be in [0, 255), got ${threshold}`);
  const { width, height, data } = image;
  if (!(width >= 1 && height >= 1) || data.length !== width * height) {
    throw hwrError('BAD_ARGUMENT', `fitInkToBox: a ${width}x${height} image needs ${width * height} bytes, got ${data.length}`);
  }
  const box = inkBoundingBox(image, threshold);
  if (!box) throw hwrError('NO_INK', `fitInkToBox: the ${width}x${height} image has no ink (no pixel darker than ${255 - threshold})`);
  const boxWidth = box.right - box.left + 1;
  const boxHeight = box.bottom - box.top + 1;
  const scale = (size - 2 * margin) / Math.max(boxWidth, boxHeight);
  const columns = areaWeights(box.left, boxWidth, scale, (size - boxWidth * scale) / 2, size);
  const rows = areaWeights(box.top, boxHeight, scale, (size - boxHeight * scale) / 2, size);
  // Separable: first along x for every source row of the box, then along y. The intermediate rows go into a scratch
  // buffer reused across calls (a training epoch normalizes every sample: no garbage per sample).
  if (scratch.length < boxHeight * size) scratch = new Float64Array(boxHeight * size * 2);
  const horizontal = scratch;
  for (let y = 0; y < boxHeight; y++) {
    const source = (box.top + y) * width;
    for (let x = 0; x < size; x++) {
      const { first, weights } = columns[x]!;
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k]! * (255 - data[source + first + k]!);
      horizontal[y * size + x] = sum;
    }
  }
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const { first, weights } = rows[y]!;
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k]! * horizontal[(first - box.top + k) * size + x]!;
      out[y * size + x] = Math.min(255, Math.round(sum));
    }
  }
  return out;
}

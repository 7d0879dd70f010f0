/**
 * MNIST-style normalization of one digit image: pixels in, a 28x28 float32 model input out.
 *
 * MNIST digits were not made by resizing a whole page to 28x28. From LeCun, Cortes and Burges,
 * "THE MNIST DATABASE of handwritten digits" (http://yann.lecun.com/exdb/mnist/):
 * "The original black and white (bilevel) images from NIST were size normalized to fit in a 20x20 pixel box
 * while preserving their aspect ratio. The resulting images contain grey levels as a result of the
 * anti-aliasing technique used by the normalization algorithm. The images were centered in a 28x28 image
 * by computing the center of mass of the pixels, and translating the image so as to position this point
 * at the center of the 28x28 field."
 *
 * The steps, each a function below, so that a drawn canvas, a photo of pencil on paper and an MNIST
 * test image all end up looking alike:
 *
 *   PixelBuffer -> toGrayscale -> flattenLighting (polarity; uneven light divided out, background.ts)
 *     -> toInk -> removeRulingLines (ruling.ts) -> inkBoundingBox
 *     -> fitWithStrokeWidth (fitToBox, strokes widened or thinned into MNIST's range, strokes.ts) -> centerInField
 *
 * The photo steps (lighting, ruling lines, stroke width) leave clean input alone: an evenly lit canvas, scan or MNIST
 * digit with strokes in MNIST's range of widths comes out exactly as from the plain MNIST steps.
 *
 * Plain typed-array code: runs in the browser and in Node, needs neither TF.js nor any Node module.
 *
 * Coordinates are index coordinates throughout: pixel (x, y) is at (x, y), so the centre of a 28x28
 * field is (14, 14), as in MNIST itself (measured on the MNIST test set: every digit's centre of mass,
 * in index coordinates, lies in [13.5, 14.5] on both axes, i.e. MNIST shifted by whole pixels towards (14, 14)).
 */

import { areaDownsample, divideByBackground, estimateBackground, grayGrid, isEvenBackground } from './background.ts';
import { hwrError } from './errors.ts';
import { removeRulingLines } from './ruling.ts';
import { estimateStrokeWidth, MNIST_STROKE_WIDTH, morphDisc } from './strokes.ts';
import type { PixelBuffer } from './types.ts';

/**
 * Version tag of this preprocessing, stored in a model's metadata (`ModelMetadata.preprocessing`) so that
 * a model is only fed images prepared the way its training data was.
 * Change it whenever the output of `preprocessDigit` changes for the same input.
 * v2 (issue 8): uneven light divided out, ruling lines erased, stroke width brought into MNIST's range; clean
 * input (evenly lit, MNIST-width strokes) gives exactly v1's output.
 */
export const PREPROCESSING_VERSION = 'mnist-com-v2';

/** Which way round the ink is: dark ink on light paper (pen on paper, a default canvas) or light ink on dark (MNIST, chalk). */
export type Polarity = 'dark-on-light' | 'light-on-dark';

/** An axis-aligned rectangle in px: top-left corner (`x`, `y`) and size; covers columns x..x+width-1 and rows y..y+height-1. */
export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A point in px, index coordinates (pixel (0, 0) is at (0, 0)); may be fractional. */
export interface Point {
  x: number;
  y: number;
}

/** A single-channel float image: `data` holds `width * height` values, row-major, top row first. */
export interface GrayImage {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * Paper colour that (partly) transparent pixels are composited over: RGB in 0..255, or `'auto'`.
 * `'auto'` picks white, except for an image whose background is transparent and whose visible pixels
 * are light (white ink on a transparent canvas): there the paper is black, so transparent pixels
 * still become background rather than ink-coloured.
 */
export type Paper = 'auto' | { r: number; g: number; b: number };

/** Options of `preprocessDigit`. */
export interface PreprocessOptions {
  /** Names the input in error messages, e.g. a file name. Default `'image'`. */
  name?: string;
  /** Side of the square output field in px. Default 28 (MNIST). */
  size?: number;
  /** Side of the box the ink's longer side is scaled to, in px. Default 20 (MNIST). Must be <= `size`. */
  box?: number;
  /** Ink threshold as a fraction (0, 1) of the strongest ink: weaker pixels are noise. Default `DEFAULT_INK_THRESHOLD`. */
  threshold?: number;
  /** Paper colour for transparent pixels, see `Paper`. Default `'auto'`. */
  paper?: Paper;
}

/** The model input made from one image, and where the digit was found in the source. */
export interface Preprocessed {
  /** `[height * width]` float32 in [0, 1], row-major, ink = 1, background = 0 (white on black, like MNIST). Feed as NHWC `[1, height, width, 1]`. */
  input: Float32Array;
  /** Field width in px (28 by default). */
  width: number;
  /** Field height in px (28 by default). */
  height: number;
  /** Detected polarity of the source image. */
  polarity: Polarity;
  /** Bounding box of the ink in the source image, in source px. */
  boundingBox: BoundingBox;
  /** Centre of mass of the ink inside `boundingBox`, in source px (index coordinates). */
  centerOfMass: Point;
}

/**
 * Default ink threshold, as a fraction of the strongest ink.
 * Low on purpose: MNIST's bounding boxes include the anti-aliased edge (on the MNIST test set the box of
 * pixels > 0 and of pixels > 64/255 are both exactly 20 px on the longer side), so faint edge pixels count as ink.
 */
export const DEFAULT_INK_THRESHOLD = 0.1;

/** Rec. 601 luma weights for R, G, B (applied to the gamma-encoded sRGB values, as PIL `convert('L')` and OpenCV do). */
const LUMA_601 = [0.299, 0.587, 0.114] as const;

/** Longest side, in px, that `preprocessDigit` works at; larger images are shrunk by a whole factor first. */
export const WORKING_SIDE = 512;

/** Below this contrast between background and strongest ink (in [0, 1] grey levels, ~10/255) an image counts as blank. */
const MIN_CONTRAST = 0.04;

/**
 * Faint pixels (down to this fraction of the threshold) count as ink when they touch ink above the threshold:
 * the anti-aliased rim of a stroke belongs to the digit (MNIST's boxes include it) but faint noise elsewhere does not.
 */
const WEAK_FRACTION = 0.25;

/** A connected blob holding less than this fraction of all ink is a speck (dust, sensor noise, a stray tap on the canvas). */
const SPECK_FRACTION = 0.01;

/** Specks are only ignored while together they hold at most this fraction of all ink; beyond it the ink is just fragmented (a dotted or faint broken stroke) and is all kept. */
const SPECK_BUDGET = 0.05;

/** Less ink than this (in px at full strength) is not a digit. */
const MIN_INK_MASS = 2;

const HISTOGRAM_BINS = 1024;

/**
 * Converts RGBA pixels to grey levels, compositing alpha over the paper colour first.
 *
 * Luma uses Rec. 601 weights, Y' = 0.299 R' + 0.587 G' + 0.114 B', on the gamma-encoded sRGB values
 * (the convention of PIL's `convert('L')`, OpenCV's `RGB2GRAY` and most handwriting datasets; for dark ink on light paper
 * the choice of 601 vs 709 hardly matters). Alpha is not premultiplied: grey = a * Y' + (1 - a) * paper.
 *
 * @param image RGBA pixels, `width * height * 4` bytes.
 * @param paper Colour under transparent pixels; default `'auto'` (see `Paper`).
 * @returns `[height * width]` float32 grey levels in [0, 1], 0 = black, 1 = white.
 * @throws HwrError `BAD_ARGUMENT` when the buffer's size does not match `width * height * 4`.
 */
export function toGrayscale(image: PixelBuffer, paper: Paper = 'auto'): Float32Array {
  checkPixelBuffer(image, 'image');
  const { data } = image;
  const count = image.width * image.height;
  const paperLevel = paper === 'auto' ? autoPaperLevel(image) : luma(paper.r, paper.g, paper.b) / 255;
  const gray = new Float32Array(count);
  const [wr, wg, wb] = LUMA_601; // luma(), inlined by hand: the same products and sums
  for (let i = 0, p = 0; i < count; i++, p += 4) {
    const alpha = data[p + 3]! / 255;
    const level = (wr * data[p]! + wg * data[p + 1]! + wb * data[p + 2]!) / 255;
    gray[i] = alpha * level + (1 - alpha) * paperLevel;
  }
  return gray;
}

/**
 * Decides whether an image is dark ink on light paper or light ink on dark.
 *
 * The background is the majority of the pixels, so the median grey level is the background level;
 * the ink is whichever side of it reaches further (the darkest pixel for pen on paper, the lightest for chalk or MNIST).
 * A blank image counts as `'dark-on-light'`.
 *
 * @param gray `[height * width]` grey levels in [0, 1] (see `toGrayscale`).
 * @returns The polarity.
 */
export function detectPolarity(gray: Float32Array): Polarity {
  if (gray.length === 0) return 'dark-on-light';
  const background = histogramMedian(gray);
  let darkest = 1;
  let lightest = 0;
  for (let i = 0; i < gray.length; i++) {
    const v = gray[i];
    if (v < darkest) darkest = v;
    if (v > lightest) lightest = v;
  }
  return lightest - background > background - darkest ? 'light-on-dark' : 'dark-on-light';
}

/**
 * Turns grey levels into ink strength: 1 = the strongest ink, 0 = background.
 *
 * Orients the levels so ink is high (1 - grey for dark ink), then subtracts the background level (the median)
 * plus twice its noise (the median absolute deviation, scaled to a standard deviation), and rescales so the
 * strongest ink is 1: a faint photo of pencil on grey paper gives full-strength ink and a clean background.
 * An image with almost no contrast (under ~10/255 between background and strongest ink) gives all zeros.
 *
 * @param gray `[height * width]` grey levels in [0, 1].
 * @param polarity From `detectPolarity`.
 * @returns `[height * width]` float32 ink strength in [0, 1].
 */
export function toInk(gray: Float32Array, polarity: Polarity): Float32Array {
  const ink = new Float32Array(gray.length);
  if (gray.length === 0) return ink;
  if (polarity === 'dark-on-light') for (let i = 0; i < gray.length; i++) ink[i] = 1 - gray[i]!;
  else ink.set(gray);
  const background = histogramMedian(ink);
  const noise = 1.4826 * histogramMedian(ink, background);
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i] > strongest) strongest = ink[i];
  const floor = background + 2 * noise;
  if (strongest - background < MIN_CONTRAST || strongest <= floor) return ink.fill(0);
  const scale = 1 / (strongest - floor);
  for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, Math.max(0, (ink[i] - floor) * scale));
  return ink;
}

/**
 * `toInk` for a picture whose paper is known to be clean (a known `PixelBuffer.polarity`, e.g. ink drawn by
 * `inkImage`): the paper is exactly 0, so no background level is estimated (`toInk` takes the median pixel for it, which
 * is ink when ink covers most of the picture); the strongest ink is scaled to 1. Wherever ink covers under half the
 * picture, the result equals `toInk`'s.
 * @returns `[height * width]` float32 ink strength in [0, 1]
 */
export function toInkOnCleanPaper(gray: Float32Array, polarity: Polarity): Float32Array {
  const ink = new Float32Array(gray.length);
  let strongest = 0;
  for (let i = 0; i < gray.length; i++) {
    ink[i] = polarity === 'dark-on-light' ? 1 - gray[i] : gray[i];
    if (ink[i] > strongest) strongest = ink[i];
  }
  if (strongest < MIN_CONTRAST) return ink.fill(0);
  const scale = 1 / strongest;
  for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, Math.max(0, ink[i] * scale));
  return ink;
}

/**
 * Finds the bounding box of the ink, ignoring isolated specks.
 *
 * Pixels stronger than `threshold * (strongest ink)` are ink, and so are fainter pixels (down to a quarter of that)
 * connected to them: hysteresis keeps a stroke's anti-aliased rim, which MNIST's boxes include, without letting
 * faint noise elsewhere in. Ink is grouped into 8-connected blobs; blobs holding under 1% of all ink are specks
 * and are ignored, smallest first, as long as the ignored specks together hold at most 5% of the ink
 * (a dotted or broken stroke is many small blobs and is all kept).
 *
 * @param ink `[height * width]` ink strength in [0, 1] (see `toInk`).
 * @param width Image width in px.
 * @param height Image height in px.
 * @param threshold Fraction (0, 1) of the strongest ink below which a pixel is background; default 0.1.
 * @param name Names the image in error messages; default `'image'`.
 * @returns The box in px.
 * @throws HwrError `NO_INK` ("no ink found in <name>") when the image is blank or holds under 2 px worth of ink.
 * @throws HwrError `BAD_ARGUMENT` when sizes disagree or `threshold` is outside (0, 1).
 */
export function inkBoundingBox(
  ink: Float32Array,
  width: number,
  height: number,
  threshold: number = DEFAULT_INK_THRESHOLD,
  name = 'image',
): BoundingBox {
  checkGrayImage(ink, width, height, name);
  if (!(threshold > 0 && threshold < 1)) {
    throw hwrError('BAD_ARGUMENT', `${name}: ink threshold must be between 0 and 1, got ${threshold}`);
  }
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i] > strongest) strongest = ink[i];
  if (strongest === 0) throw hwrError('NO_INK', `no ink found in ${name}`);

  const blobs = inkComponents(ink, width, height, WEAK_FRACTION * threshold * strongest, threshold * strongest);
  return specklessBox(blobs, width, height, name);
}

/**
 * The box of the blobs left once specks are dropped (`dropSpecks`): `inkBoundingBox`'s last step, shared with the
 * line reader's crop normalizer (`MnistCropNormalizer`), which finds the same blobs another way.
 * @param blobs the image's ink components (`inkComponents`' order)
 * @throws HwrError `NO_INK` when the blobs kept hold under `MIN_INK_MASS`
 */
function specklessBox(blobs: readonly InkComponent[], width: number, height: number, name: string): BoundingBox {
  let totalMass = 0;
  for (const blob of blobs) totalMass += blob.mass;
  const kept = dropSpecks(blobs, totalMass);
  let keptMass = 0;
  for (const blob of kept) keptMass += blob.mass;
  if (keptMass < MIN_INK_MASS) throw hwrError('NO_INK', `no ink found in ${name}`);
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (const blob of kept) {
    if (blob.x0 < x0) x0 = blob.x0;
    if (blob.y0 < y0) y0 = blob.y0;
    if (blob.x1 > x1) x1 = blob.x1;
    if (blob.y1 > y1) y1 = blob.y1;
  }
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Crops the ink to `box` and resizes it so its longer side is `size` px, preserving the aspect ratio
 * (the shorter side becomes `round(shorter * size / longer)`, at least 1 px).
 *
 * Resampling is separable, per axis: area averaging (a box filter: each output pixel is the mean of the
 * source area it covers, fractional pixels weighted by coverage) when shrinking, which anti-aliases
 * like MNIST's normalization; bilinear interpolation (pixel centres aligned) when enlarging; an exact copy at scale 1.
 * Area averaging keeps a thin stroke's mass but spreads it, so a 3 px pen line on a 400 px canvas would come out
 * at a fifth of full strength; the result is therefore rescaled so its maximum equals the crop's maximum,
 * and thin strokes keep full strength.
 *
 * @param ink `[height * width]` ink strength in [0, 1].
 * @param width Source width in px.
 * @param height Source height in px.
 * @param box Region to crop, in source px; must lie inside the image.
 * @param size Length of the longer side after resizing, in px; default 20 (MNIST).
 * @returns The resized crop, float32 in [0, 1].
 * @throws HwrError `BAD_ARGUMENT` when the box is empty or outside the image, or `size` is not a positive integer.
 */
export function fitToBox(ink: Float32Array, width: number, height: number, box: BoundingBox, size = 20): GrayImage {
  checkGrayImage(ink, width, height, 'image');
  checkPositiveInteger(size, 'box size');
  const inside =
    Number.isInteger(box.x) && Number.isInteger(box.y) && Number.isInteger(box.width) && Number.isInteger(box.height) &&
    box.width > 0 && box.height > 0 && box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height;
  if (!inside) {
    throw hwrError('BAD_ARGUMENT', `crop box ${JSON.stringify(box)} is not a non-empty integer box inside the ${width}x${height} image`);
  }
  const longer = Math.max(box.width, box.height);
  const outWidth = Math.max(1, Math.round((box.width * size) / longer));
  const outHeight = Math.max(1, Math.round((box.height * size) / longer));
  const across = cachedResampleWeights(box.width, outWidth);
  const down = cachedResampleWeights(box.height, outHeight);

  // Rows first: shrink each source row of the crop to outWidth, then each column to outHeight.
  const rows = new Float32Array(box.height * outWidth);
  let cropMax = 0;
  for (let y = 0; y < box.height; y++) {
    const rowStart = (box.y + y) * width + box.x;
    for (let x = 0; x < box.width; x++) cropMax = Math.max(cropMax, ink[rowStart + x]);
    for (let i = 0; i < outWidth; i++) {
      let sum = 0;
      for (let k = across.start[i]; k < across.start[i + 1]; k++) sum += across.weight[k] * ink[rowStart + across.index[k]];
      rows[y * outWidth + i] = sum;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  let outMax = 0;
  for (let j = 0; j < outHeight; j++) {
    for (let i = 0; i < outWidth; i++) {
      let sum = 0;
      for (let k = down.start[j]; k < down.start[j + 1]; k++) sum += down.weight[k] * rows[down.index[k] * outWidth + i];
      out[j * outWidth + i] = sum;
      outMax = Math.max(outMax, sum);
    }
  }
  if (outMax > 0 && cropMax > 0) {
    const gain = cropMax / outMax;
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, out[i] * gain);
  }
  return { data: out, width: outWidth, height: outHeight };
}

/**
 * Centre of mass of an image, each pixel weighted by its value.
 *
 * @param ink `[height * width]` non-negative weights (ink strength).
 * @param width Image width in px.
 * @param height Image height in px.
 * @param name Names the image in error messages; default `'image'`.
 * @returns The centre in px, index coordinates: pixel (x, y) sits at (x, y).
 * @throws HwrError `NO_INK` when all weights are zero.
 */
export function centerOfMass(ink: Float32Array, width: number, height: number, name = 'image'): Point {
  checkGrayImage(ink, width, height, name);
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ink[y * width + x];
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  if (!(mass > 0)) throw hwrError('NO_INK', `no ink found in ${name}`);
  return { x: sumX / mass, y: sumY / mass };
}

/**
 * Places an image in a square `size` x `size` field so that its centre of mass lands on the field's centre
 * (`size / 2`, `size / 2`) = (14, 14) for MNIST.
 *
 * The shift is a whole number of pixels (the centre of mass lands within 0.5 px of the centre): MNIST did
 * the same (its digits' centres of mass spread uniformly over [13.5, 14.5]), and a subpixel shift would blur.
 * Pixels shifted outside the field are clipped.
 *
 * @param image The fitted digit (see `fitToBox`), float32.
 * @param size Field side in px; default 28.
 * @returns `{ data: [size * size] float32, width: size, height: size, offset }`, where `offset` is where
 *   the image's pixel (0, 0) went in the field (may be negative).
 * @throws HwrError `NO_INK` when the image is all zeros; `BAD_ARGUMENT` when `size` is not a positive integer.
 */
export function centerInField(image: GrayImage, size = 28): GrayImage & { offset: Point } {
  checkPositiveInteger(size, 'field size');
  const center = centerOfMass(image.data, image.width, image.height);
  const offsetX = Math.round(size / 2 - center.x);
  const offsetY = Math.round(size / 2 - center.y);
  const field = new Float32Array(size * size);
  for (let y = 0; y < image.height; y++) {
    const fy = y + offsetY;
    if (fy < 0 || fy >= size) continue;
    for (let x = 0; x < image.width; x++) {
      const fx = x + offsetX;
      if (fx < 0 || fx >= size) continue;
      field[fy * size + fx] = image.data[y * image.width + x];
    }
  }
  return { data: field, width: size, height: size, offset: { x: offsetX, y: offsetY } };
}

/**
 * Finds the polarity of a grey image and divides out uneven lighting (see `estimateBackground`, `divideByBackground`).
 *
 * The paper's brightness is estimated both ways: as a closing (the paper is light, dark strokes removed) and as an
 * opening (the paper is dark, light strokes removed). When either comes out even, the light is even, the global rule
 * of `detectPolarity` decides, and the image is left unchanged if its own background is even (a canvas, a scan, an
 * MNIST digit: exactly the grey levels as before). When both are uneven (a photo under a shadow, a gradient or a
 * vignette), the global rule is not trusted, since lit paper can be the extreme that fools it: the image is taken as
 * pen on paper, by far the commoner photo. (Tried and dropped: taking light ink when it came out clearly thinner than
 * dark ink; on the synthetic photos that misread more shaded pen-on-paper photos than it saved chalk-on-board ones.)
 *
 * @param gray `[height * width]` float32 grey levels in [0, 1] (see `toGrayscale`).
 * @param width Image width in px.
 * @param height Image height in px.
 * @param known The polarity when the caller knows it (`PixelBuffer.polarity`): only the lighting is then corrected.
 * @returns The polarity and the flattened grey levels (`gray` itself when the light was even).
 */
export function flattenLighting(gray: Float32Array, width: number, height: number, known?: Polarity): { polarity: Polarity; gray: Float32Array } {
  // Computed lazily, in the order the decisions need them: a clean canvas or scan needs one estimate.
  const grid = grayGrid(gray, width, height);
  const globalRule = known ?? detectPolarity(gray);
  if (known === 'light-on-dark') {
    const paper = estimateBackground(gray, width, height, known, grid);
    return { polarity: known, gray: isEvenBackground(paper) ? gray : divideByBackground(gray, paper, known) };
  }
  const paperLight = estimateBackground(gray, width, height, 'dark-on-light', grid);
  if (globalRule === 'dark-on-light') {
    // Either the light is even (the global rule decides), or both estimates are uneven (dark ink is taken).
    return { polarity: globalRule, gray: isEvenBackground(paperLight) ? gray : divideByBackground(gray, paperLight, globalRule) };
  }
  const paperDark = estimateBackground(gray, width, height, 'light-on-dark', grid);
  if (isEvenBackground(paperDark)) return { polarity: globalRule, gray };
  if (isEvenBackground(paperLight)) return { polarity: globalRule, gray: divideByBackground(gray, paperDark, globalRule) };
  // Both uneven: pen on paper under a shadow or a vignette, where lit paper is the extreme that fooled the global rule.
  return { polarity: 'dark-on-light', gray: divideByBackground(gray, paperLight, 'dark-on-light') };
}

/** Render size of the digit for stroke-width changes, as a multiple of the box: fine enough for sub-pixel widths. */
const STROKE_SUPERSAMPLING = 4;

/**
 * `fitToBox`, with the stroke width brought into MNIST's range (`MNIST_STROKE_WIDTH`, [low, high] px in a 20 px box).
 *
 * The width is measured in the source (`estimateStrokeWidth`) and scaled like the box. Inside the range the result is
 * exactly `fitToBox`'s. Outside it (a hairline pen on a large photo; a marker), the crop is fitted at 4 times the
 * size, dilated or eroded by a disc of radius (target - width) / 2 at that scale (`morphDisc`), and fitted again
 * into the box around its new ink: thin strokes end up `thin` px wide, thick ones `high`.
 *
 * @param ink `[height * width]` ink strength in [0, 1].
 * @param width Source width in px.
 * @param height Source height in px.
 * @param box The ink's bounding box in source px.
 * @param size The box side the ink is fitted into, px (20 for MNIST); the range scales with it.
 * @returns The fitted digit, like `fitToBox`.
 */
export function fitWithStrokeWidth(ink: Float32Array, width: number, height: number, box: BoundingBox, size = 20): GrayImage {
  const scale = size / Math.max(box.width, box.height);
  const measured = estimateStrokeWidth(ink, width, height, box).width * scale;
  const low = (MNIST_STROKE_WIDTH.low * size) / 20;
  const high = (MNIST_STROKE_WIDTH.high * size) / 20;
  if (!(measured > 0) || (measured >= low && measured <= high)) return fitToBox(ink, width, height, box, size);
  const target = measured < low ? (MNIST_STROKE_WIDTH.thin * size) / 20 : high;
  const large = fitToBox(ink, width, height, box, size * STROKE_SUPERSAMPLING);
  const radius = ((target - measured) * STROKE_SUPERSAMPLING) / 2;
  const margin = Math.max(0, Math.ceil(radius) + 1);
  const paddedWidth = large.width + 2 * margin;
  const paddedHeight = large.height + 2 * margin;
  const padded = new Float32Array(paddedWidth * paddedHeight);
  for (let y = 0; y < large.height; y++) padded.set(large.data.subarray(y * large.width, (y + 1) * large.width), (y + margin) * paddedWidth + margin);
  const adjusted = morphDisc(padded, paddedWidth, paddedHeight, radius);
  const extent = inkExtent(adjusted, paddedWidth, paddedHeight, DEFAULT_INK_THRESHOLD * WEAK_FRACTION);
  return extent ? fitToBox(adjusted, paddedWidth, paddedHeight, extent, size) : fitToBox(ink, width, height, box, size);
}

/** Largest crop (px) whose blob masses `MnistCropNormalizer` sums exactly in any order (see there); larger ones take the reference path. */
const MAX_EXACT_CROP = 2 ** 22;

/**
 * MNIST normalization of many ink crops, fast: `normalize(ink, width, height, name)` gives exactly (bit for bit) what
 * `centerInField(fitWithStrokeWidth(ink, width, height, inkBoundingBox(ink, width, height, DEFAULT_INK_THRESHOLD, name), box), size).data`
 * gives, i.e. the mnist-com profile's steps after the ink map (`preprocessDigit`), for the line reader's dozens of
 * candidate characters per line (src/core/line/readLine.ts, through `segmentPreprocessorFor`).
 *
 * What makes it faster (notes/PERFORMANCE.md, "Line reader"): the hysteresis blobs of `inkBoundingBox` come from runs
 * of ink along rows joined by union-find (two-pass labelling by runs, as in Rosenfeld and Pfaltz, "Sequential
 * operations in digital picture processing", JACM 13(4), 1966) instead of a flood fill pixel by pixel; the scratch
 * buffers are kept between calls; the stroke width's perimeter is counted without a mask; the resampling weights are
 * cached per (source length, output length) (`cachedResampleWeights`).
 * Why the output is identical: the blobs are the same pixel sets (8-connected runs above the weak level holding a pixel
 * above the strong one), taken in the same order (by their first strong pixel, row-major), and their masses are the
 * same numbers, since a float64 sum of float32 values whose largest is at most 40 times the smallest (all exceed
 * `WEAK_FRACTION * threshold` of the strongest) is exact whatever the order for up to 2^23 of them (crops over 2^22 px
 * take the reference path); stroke width, resampling and centring do `estimateStrokeWidth`'s, `fitToBox`'s and
 * `centerInField`'s arithmetic in their order. Strokes outside MNIST's widths (a fragment that measures thicker than
 * `MNIST_STROKE_WIDTH.high`, a hairline; a few candidates per line) take `fitWithStrokeWidth` itself.
 * test/core/preprocessCrops.test.ts compares the two paths on the candidates of real lines and on crafted crops.
 *
 * One instance per reader: its scratch buffers make it non-reentrant (it has no await, so one thread is safe).
 */
export class MnistCropNormalizer {
  private readonly fitted: Float32Array;
  private readonly low: number;
  private readonly high: number;
  // Scratch, grown on demand: runs of ink (row, first and last column, mass, first strong pixel or -1, union-find parent) ...
  private runRow = new Int32Array(0);
  private runX0 = new Int32Array(0);
  private runX1 = new Int32Array(0);
  private runMass = new Float64Array(0);
  private runStrong = new Int32Array(0);
  private parent = new Int32Array(0);
  // ... the rows resampled across.
  private rows = new Float32Array(0);

  /**
   * @param size side of the square output field, px (28 for MNIST)
   * @param box side of the box the ink's longer side is fitted into, px (20 for MNIST); at most `size`
   * @throws HwrError `BAD_ARGUMENT` when either is not a positive integer or `box` exceeds `size`
   */
  constructor(readonly size: number, readonly box: number) {
    checkPositiveInteger(size, 'field size');
    checkPositiveInteger(box, 'box size');
    if (box > size) throw hwrError('BAD_ARGUMENT', `box (${box} px) must not exceed size (${size} px)`);
    this.fitted = new Float32Array(box * box);
    this.low = (MNIST_STROKE_WIDTH.low * box) / 20;
    this.high = (MNIST_STROKE_WIDTH.high * box) / 20;
  }

  /**
   * Normalizes one crop (see the class comment).
   * @param ink `[height * width]` float32 ink strength in [0, 1]
   * @param name names the crop in errors; default `'image'`
   * @returns `[size * size]` float32 in [0, 1], ink = 1, a new array
   * @throws HwrError `NO_INK` ("no ink found in <name>") for a crop without ink (as `inkBoundingBox`);
   *   `BAD_ARGUMENT` when `ink.length !== width * height`
   */
  normalize(ink: Float32Array, width: number, height: number, name = 'image'): Float32Array {
    checkGrayImage(ink, width, height, name);
    if (ink.length > MAX_EXACT_CROP) {
      const inkBox = inkBoundingBox(ink, width, height, DEFAULT_INK_THRESHOLD, name);
      return centerInField(fitWithStrokeWidth(ink, width, height, inkBox, this.box), this.size).data;
    }
    const { box, strongest: cropStrongest, strongestAt } = this.inkBox(ink, width, height, name);
    // The box's strongest ink is the crop's when the crop's strongest pixel lies in the box (it nearly always does).
    const x = strongestAt % width;
    const y = (strongestAt - x) / width;
    const inBox = x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
    const { measured, strongest } = this.strokeWidth(ink, width, box, inBox ? cropStrongest : undefined);
    if (measured > 0 && (measured < this.low || measured > this.high)) {
      // Strokes brought into MNIST's range: a few crops per line, dominated by the morphology; the reference path.
      return centerInField(fitWithStrokeWidth(ink, width, height, box, this.box), this.size).data;
    }
    const { width: fittedWidth, height: fittedHeight } = this.fit(ink, width, box, strongest);
    return this.center(fittedWidth, fittedHeight);
  }

  /**
   * `inkBoundingBox` with the default threshold: hysteresis blobs by runs, specks dropped (`dropSpecks`); with the
   * crop's strongest ink and where it is (index of its first pixel).
   */
  private inkBox(ink: Float32Array, width: number, height: number, name: string): { box: BoundingBox; strongest: number; strongestAt: number } {
    let strongest = 0;
    let strongestAt = 0;
    for (let i = 0; i < ink.length; i++) {
      if (ink[i]! > strongest) {
        strongest = ink[i]!;
        strongestAt = i;
      }
    }
    if (strongest === 0) throw hwrError('NO_INK', `no ink found in ${name}`);
    const weak = WEAK_FRACTION * DEFAULT_INK_THRESHOLD * strongest;
    const strong = DEFAULT_INK_THRESHOLD * strongest;
    let runs = 0;
    let previousStart = 0; // the previous row's runs are previousStart..rowStart-1
    for (let y = 0; y < height; y++) {
      const rowStart = runs;
      const offset = y * width;
      let x = 0;
      while (x < width) {
        if (!(ink[offset + x]! > weak)) {
          x++;
          continue;
        }
        if (runs === this.runRow.length) this.growRuns();
        const x0 = x;
        let mass = 0;
        let firstStrong = -1;
        for (; x < width && ink[offset + x]! > weak; x++) {
          const v = ink[offset + x]!;
          mass += v;
          if (firstStrong < 0 && v > strong) firstStrong = offset + x;
        }
        const r = runs++;
        this.runRow[r] = y;
        this.runX0[r] = x0;
        this.runX1[r] = x - 1;
        this.runMass[r] = mass;
        this.runStrong[r] = firstStrong;
        this.parent[r] = r;
        // 8-connected to the runs of the row above that reach within one column.
        for (let q = previousStart; q < rowStart; q++) {
          if (this.runX1[q]! < x0 - 1) continue;
          if (this.runX0[q]! > x) break;
          this.union(q, r);
        }
      }
      previousStart = rowStart;
    }
    // Blobs: the sets holding a strong pixel, in the order of their first strong pixel (inkComponents' order).
    const blobOf = new Map<number, InkComponent & { first: number }>();
    for (let r = 0; r < runs; r++) {
      const root = this.find(r);
      let blob = blobOf.get(root);
      if (!blob) {
        blob = { mass: 0, x0: width, y0: height, x1: -1, y1: -1, first: -1 };
        blobOf.set(root, blob);
      }
      blob.mass += this.runMass[r]!;
      if (this.runX0[r]! < blob.x0) blob.x0 = this.runX0[r]!;
      if (this.runX1[r]! > blob.x1) blob.x1 = this.runX1[r]!;
      if (this.runRow[r]! < blob.y0) blob.y0 = this.runRow[r]!;
      if (this.runRow[r]! > blob.y1) blob.y1 = this.runRow[r]!;
      const s = this.runStrong[r]!;
      if (s >= 0 && (blob.first < 0 || s < blob.first)) blob.first = s;
    }
    const blobs = [...blobOf.values()].filter((b) => b.first >= 0).sort((a, b) => a.first - b.first);
    return { box: specklessBox(blobs, width, height, name), strongest, strongestAt };
  }

  /**
   * `estimateStrokeWidth` in `box` (ink at least half the box's strongest: 2 * area / perimeter), scaled into the
   * fitted box as `fitWithStrokeWidth` measures it; with the box's strongest ink. The perimeter's pixel edges are
   * counted as 4 per ink pixel less 2 per pair of ink pixels side by side or one above the other (the same count as
   * `estimateStrokeWidth`'s mask with an empty frame), in one pass without a mask.
   * @param known the box's strongest ink when the caller knows it
   */
  private strokeWidth(ink: Float32Array, width: number, box: BoundingBox, known?: number): { measured: number; strongest: number } {
    const { x: x0, y: y0, width: boxWidth, height: boxHeight } = box;
    let strongest = known ?? 0;
    if (known === undefined) {
      for (let y = y0; y < y0 + boxHeight; y++) {
        for (let i = y * width + x0, end = i + boxWidth; i < end; i++) if (ink[i]! > strongest) strongest = ink[i]!;
      }
    }
    if (strongest === 0) return { measured: 0, strongest };
    const cut = 0.5 * strongest;
    let area = 0;
    let pairs = 0;
    for (let y = y0; y < y0 + boxHeight; y++) {
      const row = y * width + x0;
      const above = y > y0 ? row - width : -1;
      let left = false;
      for (let x = 0; x < boxWidth; x++) {
        const inked = ink[row + x]! >= cut;
        if (inked) {
          area++;
          if (left) pairs++;
          if (above >= 0 && ink[above + x]! >= cut) pairs++;
        }
        left = inked;
      }
    }
    const perimeter = ((4 * area - 2 * pairs) * Math.PI) / 4;
    const scale = this.box / Math.max(boxWidth, boxHeight);
    return { measured: (perimeter > 0 ? (2 * area) / perimeter : 0) * scale, strongest };
  }

  /** `fitToBox` into `this.fitted` (row-major, the returned width): rows then columns resampled, rescaled to the box's strongest ink (fitToBox's crop maximum). */
  private fit(ink: Float32Array, width: number, box: BoundingBox, strongest: number): { width: number; height: number } {
    const longer = Math.max(box.width, box.height);
    const outWidth = Math.max(1, Math.round((box.width * this.box) / longer));
    const outHeight = Math.max(1, Math.round((box.height * this.box) / longer));
    const { start: acrossStart, index: acrossIndex, weight: acrossWeight } = cachedResampleWeights(box.width, outWidth);
    const { start: downStart, index: downIndex, weight: downWeight } = cachedResampleWeights(box.height, outHeight);
    if (this.rows.length < box.height * outWidth) this.rows = new Float32Array(box.height * outWidth);
    const rows = this.rows;
    const fitted = this.fitted;
    for (let y = 0; y < box.height; y++) {
      const rowStart = (box.y + y) * width + box.x;
      const rowOut = y * outWidth;
      for (let i = 0; i < outWidth; i++) {
        let sum = 0;
        for (let k = acrossStart[i]!, end = acrossStart[i + 1]!; k < end; k++) sum += acrossWeight[k]! * ink[rowStart + acrossIndex[k]!]!;
        rows[rowOut + i] = sum;
      }
    }
    let outMax = 0;
    for (let j = 0; j < outHeight; j++) {
      const from = downStart[j]!;
      const to = downStart[j + 1]!;
      for (let i = 0; i < outWidth; i++) {
        let sum = 0;
        for (let k = from; k < to; k++) sum += downWeight[k]! * rows[downIndex[k]! * outWidth + i]!;
        fitted[j * outWidth + i] = sum;
        if (sum > outMax) outMax = sum;
      }
    }
    if (outMax > 0 && strongest > 0) {
      const gain = strongest / outMax;
      for (let i = 0, count = outWidth * outHeight; i < count; i++) fitted[i] = Math.min(1, fitted[i]! * gain);
    }
    return { width: outWidth, height: outHeight };
  }

  /** `centerInField` of the fitted digit: a whole-pixel shift of its centre of mass to (size / 2, size / 2), into a new field. */
  private center(fittedWidth: number, fittedHeight: number): Float32Array {
    const { fitted, size } = this;
    let mass = 0;
    let sumX = 0;
    let sumY = 0;
    for (let y = 0; y < fittedHeight; y++) {
      for (let x = 0; x < fittedWidth; x++) {
        const v = fitted[y * fittedWidth + x]!;
        mass += v;
        sumX += v * x;
        sumY += v * y;
      }
    }
    if (!(mass > 0)) throw hwrError('NO_INK', 'no ink found in image');
    const offsetX = Math.round(size / 2 - sumX / mass);
    const offsetY = Math.round(size / 2 - sumY / mass);
    const field = new Float32Array(size * size);
    for (let y = 0; y < fittedHeight; y++) {
      const fy = y + offsetY;
      if (fy < 0 || fy >= size) continue;
      for (let x = 0; x < fittedWidth; x++) {
        const fx = x + offsetX;
        if (fx >= 0 && fx < size) field[fy * size + fx] = fitted[y * fittedWidth + x]!;
      }
    }
    return field;
  }

  private growRuns(): void {
    const capacity = Math.max(64, 2 * this.runRow.length);
    const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.runRow = grow(this.runRow, (n) => new Int32Array(n));
    this.runX0 = grow(this.runX0, (n) => new Int32Array(n));
    this.runX1 = grow(this.runX1, (n) => new Int32Array(n));
    this.runMass = grow(this.runMass, (n) => new Float64Array(n));
    this.runStrong = grow(this.runStrong, (n) => new Int32Array(n));
    this.parent = grow(this.parent, (n) => new Int32Array(n));
  }

  /** Union-find root of run `r`, halving the path on the way. */
  private find(r: number): number {
    const parent = this.parent;
    while (parent[r] !== r) {
      parent[r] = parent[parent[r]!]!;
      r = parent[r]!;
    }
    return r;
  }

  private union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Normalizes one digit image the way MNIST's digits were made: grey levels, ink = 1 whatever the polarity,
 * ink bounding box scaled to fit a 20x20 box (aspect kept, anti-aliased), centre of mass shifted to (14, 14) of a 28x28 field.
 * Photos of paper are cleaned up on the way: uneven light divided out (`flattenLighting`), the lines of ruled and
 * squared paper erased (`removeRulingLines`), hairline and marker strokes brought to MNIST's widths (`fitWithStrokeWidth`).
 *
 * @param image RGBA pixels (a canvas's `ImageData`, a decoded file).
 * @param options See `PreprocessOptions`.
 * @returns The model input and where the digit was found, see `Preprocessed`.
 * @throws HwrError `NO_INK` ("no ink found in <name>") for a blank image;
 *   `BAD_ARGUMENT` for a malformed buffer or bad options.
 */
export function preprocessDigit(image: PixelBuffer, options: PreprocessOptions = {}): Preprocessed {
  const name = options.name ?? 'image';
  const size = options.size ?? 28;
  const boxSize = options.box ?? 20;
  checkPixelBuffer(image, name);
  checkPositiveInteger(size, 'size');
  checkPositiveInteger(boxSize, 'box');
  if (boxSize > size) throw hwrError('BAD_ARGUMENT', `box (${boxSize} px) must not exceed size (${size} px)`);

  // Photos are worked on at most WORKING_SIDE px across (a whole-factor area average): a digit keeps far more
  // pixels than the 20 px box needs, and every step stays a few ms. Boxes and centres are reported in source px.
  const shrink = Math.ceil(Math.max(image.width, image.height) / WORKING_SIDE);
  const full = toGrayscale(image, options.paper ?? 'auto');
  const working = shrink > 1 ? areaDownsample(full, image.width, image.height, shrink) : { data: full, width: image.width, height: image.height };
  const { width, height, data: gray } = working;
  const { polarity, gray: flat } = flattenLighting(gray, width, height, image.polarity);
  const threshold = options.threshold ?? DEFAULT_INK_THRESHOLD;
  let ink = toInk(flat, polarity);
  // toInk takes the median pixel for the paper; where the polarity is known (ink drawn by `inkImage`) and ink covers
  // most of the picture (a dense scribble), that median is ink and nothing would be left.
  if (image.polarity && !ink.some((v) => v > 0)) ink = toInkOnCleanPaper(flat, polarity);
  const lines = removeRulingLines(ink, width, height, threshold);
  if (lines.horizontal + lines.vertical > 0) rescaleToUnitMax(ink);
  const boundingBox = inkBoundingBox(ink, width, height, threshold, name);
  const fitted = fitWithStrokeWidth(ink, width, height, boundingBox, boxSize);
  const field = centerInField(fitted, size);
  const center = centerOfMassInBox(ink, width, boundingBox);
  const sourceX = boundingBox.x * shrink;
  const sourceY = boundingBox.y * shrink;
  return {
    input: field.data,
    width: size,
    height: size,
    polarity,
    boundingBox: {
      x: sourceX,
      y: sourceY,
      width: Math.min(image.width - sourceX, boundingBox.width * shrink),
      height: Math.min(image.height - sourceY, boundingBox.height * shrink),
    },
    centerOfMass: shrink === 1 ? center : { x: (center.x + 0.5) * shrink - 0.5, y: (center.y + 0.5) * shrink - 0.5 },
  };
}

/**
 * Renders a model input as RGBA pixels, ink white on black like MNIST, to show the image the model saw
 * (the browser's preview, the CLI's `--save-processed`).
 *
 * @param input `[size * size]` values in [0, 1] (values outside are clamped).
 * @param size Side in px; default 28.
 * @returns RGBA pixels, opaque, grey = round(255 * value).
 * @throws HwrError `BAD_ARGUMENT` when `input.length !== size * size`.
 */
export function toImageData(input: Float32Array | ArrayLike<number>, size = 28): PixelBuffer {
  checkPositiveInteger(size, 'size');
  if (input.length !== size * size) {
    throw hwrError('BAD_ARGUMENT', `expected ${size}x${size} = ${size * size} values, got ${input.length}`);
  }
  const data = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < input.length; i++) {
    const level = Math.round(255 * Math.min(1, Math.max(0, input[i])));
    data[4 * i] = level;
    data[4 * i + 1] = level;
    data[4 * i + 2] = level;
    data[4 * i + 3] = 255;
  }
  return { width: size, height: size, data };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Bounding box of the pixels above `fraction` of the strongest (no speck handling); undefined when all are zero. */
function inkExtent(values: Float32Array, width: number, height: number, fraction: number): BoundingBox | undefined {
  let strongest = 0;
  for (let i = 0; i < values.length; i++) strongest = Math.max(strongest, values[i]!);
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!(values[y * width + x]! > fraction * strongest)) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? undefined : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Scales values in place so that the largest is 1 (all zeros stay zeros). */
function rescaleToUnitMax(values: Float32Array): void {
  let largest = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > largest) largest = values[i]!;
  if (largest > 0 && largest !== 1) for (let i = 0; i < values.length; i++) values[i] = values[i]! / largest;
}

function luma(r: number, g: number, b: number): number {
  return LUMA_601[0] * r + LUMA_601[1] * g + LUMA_601[2] * b;
}

/**
 * Paper level for `'auto'`: when transparent pixels are the majority they are the background, and the visible
 * pixels are ink, so the paper must contrast with them; otherwise the visible pixels are mostly paper,
 * and transparent pixels take their side (white or black).
 */
function autoPaperLevel(image: PixelBuffer): number {
  const { data } = image;
  const count = image.width * image.height;
  // An opaque image (a photo, a scan, most canvases) needs no levels: a first pass only looks for transparency.
  let anyTransparent = false;
  for (let p = 3; p < count * 4 && !anyTransparent; p += 4) anyTransparent = data[p] / 255 < 0.5;
  if (!anyTransparent) return 1;
  let transparent = 0;
  let weight = 0;
  let weightedLevel = 0;
  for (let p = 0; p < count * 4; p += 4) {
    const alpha = data[p + 3] / 255;
    if (alpha < 0.5) transparent++;
    weight += alpha;
    weightedLevel += (alpha * luma(data[p], data[p + 1], data[p + 2])) / 255;
  }
  if (transparent === 0 || weight === 0) return 1;
  const visibleLevel = weightedLevel / weight;
  const backgroundIsTransparent = transparent * 2 >= count;
  if (backgroundIsTransparent) return visibleLevel < 0.5 ? 1 : 0;
  return visibleLevel >= 0.5 ? 1 : 0;
}

/**
 * Approximate median of values in [0, 1] (or of |value - center| when `center` is given), in O(n) with a
 * histogram: the mean of the values in the median's bin (exact when they are all equal, e.g. a clean background).
 */
function histogramMedian(values: Float32Array, center?: number): number {
  const counts = new Uint32Array(HISTOGRAM_BINS);
  const sums = new Float64Array(HISTOGRAM_BINS);
  // Two loops rather than a test per value: this runs over every pixel of a line or a photo, twice per `toInk`.
  if (center === undefined) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const bin = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(v * HISTOGRAM_BINS)));
      counts[bin]++;
      sums[bin] += v;
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]! - center);
      const bin = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(v * HISTOGRAM_BINS)));
      counts[bin]++;
      sums[bin] += v;
    }
  }
  const half = values.length / 2;
  let seen = 0;
  for (let bin = 0; bin < HISTOGRAM_BINS; bin++) {
    seen += counts[bin];
    if (seen >= half && counts[bin] > 0) return sums[bin] / counts[bin];
  }
  return 0;
}

/** A connected blob of ink: its ink mass, inclusive box in px and, when asked for, its pixels. */
export interface InkComponent {
  /** Summed ink strength of its pixels. */
  mass: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Its pixels as indices into the ink map (`y * width + x`), in flood-fill order; only with `{ pixels: true }`. */
  pixels?: Int32Array;
}

/**
 * 8-connected blobs by hysteresis (as in Canny's edge linking): each blob grows from a pixel above `strong`
 * through its neighbours above `weak`, so it keeps the faint anti-aliased rim of a stroke, while faint
 * noise that touches no strong pixel forms no blob at all. Flood fill with an explicit stack; O(width * height).
 * Used for the ink bounding box of one character (`inkBoundingBox`) and for the components of a line
 * (src/core/line/imageSegments.ts, which asks for the pixels).
 *
 * @param ink `[height * width]` ink strength in [0, 1]
 * @param weak, strong thresholds in ink strength (`weak` <= `strong`)
 * @param options `pixels: true` also lists each blob's pixels
 * @returns the blobs in the order of their first strong pixel (row-major)
 */
export function inkComponents(ink: Float32Array, width: number, height: number, weak: number, strong: number, options: { pixels?: boolean } = {}): InkComponent[] {
  const visited = new Uint8Array(ink.length);
  const stack = new Int32Array(ink.length);
  const blobs: InkComponent[] = [];
  const pixels: number[] | undefined = options.pixels ? [] : undefined;
  for (let start = 0; start < ink.length; start++) {
    if (visited[start] || !(ink[start] > strong)) continue;
    const blob: InkComponent = { mass: 0, x0: width, y0: height, x1: -1, y1: -1 };
    if (pixels) pixels.length = 0;
    let top = 0;
    stack[top++] = start;
    visited[start] = 1;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      pixels?.push(i);
      blob.mass += ink[i];
      if (x < blob.x0) blob.x0 = x;
      if (x > blob.x1) blob.x1 = x;
      if (y < blob.y0) blob.y0 = y;
      if (y > blob.y1) blob.y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (!visited[j] && ink[j] > weak) {
            visited[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    if (pixels) blob.pixels = Int32Array.from(pixels);
    blobs.push(blob);
  }
  return blobs;
}

/** Drops specks (blobs under SPECK_FRACTION of the ink), smallest first, within a total budget of SPECK_BUDGET of the ink. */
function dropSpecks<Blob extends InkComponent>(blobs: readonly Blob[], totalMass: number): Blob[] {
  const bySize = [...blobs].sort((a, b) => a.mass - b.mass);
  let dropped = 0;
  let firstKept = 0;
  while (
    firstKept < bySize.length - 1 &&
    bySize[firstKept].mass < SPECK_FRACTION * totalMass &&
    dropped + bySize[firstKept].mass <= SPECK_BUDGET * totalMass
  ) {
    dropped += bySize[firstKept].mass;
    firstKept++;
  }
  return bySize.slice(firstKept);
}

/** Resampling weights by `inLength * 65536 + outLength`, shared by every fit (read only); cleared when it grows past `MAX_CACHED_WEIGHTS`. */
const resampleCache = new Map<number, ReturnType<typeof resampleWeights>>();
const MAX_CACHED_WEIGHTS = 4096;

/** `resampleWeights`, cached: the crops of a line, the digits of a page share few lengths (the weights are never written). */
function cachedResampleWeights(inLength: number, outLength: number): ReturnType<typeof resampleWeights> {
  if (outLength >= 65536) return resampleWeights(inLength, outLength);
  const key = inLength * 65536 + outLength;
  let found = resampleCache.get(key);
  if (!found) {
    if (resampleCache.size >= MAX_CACHED_WEIGHTS) resampleCache.clear();
    found = resampleWeights(inLength, outLength);
    resampleCache.set(key, found);
  }
  return found;
}

/**
 * Per-output-pixel source indices and weights for resizing one axis from `inLength` to `outLength` px,
 * as a compressed sparse row list: output i uses entries start[i]..start[i+1]-1.
 * Shrinking: area averaging (box filter). Enlarging or same size: bilinear with pixel centres aligned.
 */
function resampleWeights(inLength: number, outLength: number): { start: Int32Array; index: Int32Array; weight: Float32Array } {
  const start = new Int32Array(outLength + 1);
  const index: number[] = [];
  const weight: number[] = [];
  const scale = inLength / outLength;
  for (let i = 0; i < outLength; i++) {
    start[i] = index.length;
    if (outLength < inLength) {
      const from = i * scale;
      const to = (i + 1) * scale;
      for (let j = Math.floor(from); j < Math.min(inLength, Math.ceil(to)); j++) {
        const overlap = Math.min(to, j + 1) - Math.max(from, j);
        if (overlap > 0) {
          index.push(j);
          weight.push(overlap / scale);
        }
      }
    } else {
      const source = Math.min(inLength - 1, Math.max(0, (i + 0.5) * scale - 0.5));
      const left = Math.floor(source);
      const fraction = source - left;
      index.push(left);
      weight.push(1 - fraction);
      if (fraction > 0) {
        index.push(left + 1);
        weight.push(fraction);
      }
    }
  }
  start[outLength] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/** Centre of mass of the ink inside `box`, in source px; the box centre if the box holds no ink. */
function centerOfMassInBox(ink: Float32Array, width: number, box: BoundingBox): Point {
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const v = ink[y * width + x];
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  if (mass === 0) return { x: box.x + (box.width - 1) / 2, y: box.y + (box.height - 1) / 2 };
  return { x: sumX / mass, y: sumY / mass };
}

function checkPixelBuffer(image: PixelBuffer, name: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw hwrError('BAD_ARGUMENT', `${name}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!data || data.length !== width * height * 4) {
    throw hwrError('BAD_ARGUMENT', `${name}: expected ${width}x${height}x4 = ${width * height * 4} bytes of RGBA, got ${data?.length}`);
  }
}

function checkGrayImage(values: Float32Array, width: number, height: number, name: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || values.length !== width * height) {
    throw hwrError('BAD_ARGUMENT', `${name}: expected ${width}x${height} = ${width * height} values, got ${values.length}`);
  }
}

function checkPositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw hwrError('BAD_ARGUMENT', `${what} must be a positive integer, got ${value}`);
}

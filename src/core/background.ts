/**
 * Local background estimation and removal for photos of paper: uneven light (a gradient, a shadow, a vignette)
 * is divided out, so that one global ink threshold works afterwards.
 *
 * Method: background normalization as in Leptonica's `pixBackgroundNorm` (D. Bloomberg, leptonica.org,
 * "Document image applications" / adaptive background normalization) and in the shading correction of
 * document-image binarization (e.g. Lu, Su and Tan 2010, "Document image binarization using background estimation
 * and stroke edges", IJDAR 13(4)): estimate the paper's brightness at every pixel from a large neighbourhood,
 * then divide by it. Where Leptonica picks the tile's brightest pixels, we take a grey-level morphological closing
 * (max filter, then min filter, of a flat square window; Serra 1982), which removes every dark feature narrower
 * than the window, such as pen strokes, and keeps what varies slowly or in broad steps, such as light:
 * a closing leaves ramps, ridges and straight steps of illumination exactly as they are.
 * The division follows the image formation of a photo (reflectance times illumination): a pen stroke
 * in a shadow keeps its contrast relative to the paper beside it.
 *
 * Division, rather than an adaptive threshold such as Sauvola and Pietikainen's (2000, "Adaptive document image
 * binarization", Pattern Recognition 33(2)), keeps the stroke's anti-aliased grey levels, which MNIST's digits have
 * and the model expects.
 *
 * The estimate is computed on a grid about 64 cells across (the image area-averaged), then upsampled bilinearly:
 * its cost does not grow with the photo beyond one pass over the pixels.
 *
 * Plain typed-array code; runs in the browser and in Node.
 */

import type { Polarity } from './preprocess.ts';

/**
 * Window side of the closing as a fraction of the image's shorter side (at least `MIN_BACKGROUND_WINDOW` px).
 * Pen strokes must be narrower than it: a digit that fills most of the frame has strokes of 10-15% of the frame
 * (MNIST: 2-4 px of 28). A larger window follows the light less closely (on the synthetic photos, 0.3 left a faint
 * ring where a vignette meets the evenly lit border; 0.2 did not).
 */
export const BACKGROUND_WINDOW_FRACTION = 0.2;

/**
 * Smallest window side in px: a small image is a close crop of one digit, whose strokes take a larger share of it
 * (MNIST's 28 px digits have strokes up to 7 px wide).
 */
export const MIN_BACKGROUND_WINDOW = 16;

/** Cells of the estimation grid along the image's shorter side (at most; small images use their own pixels). */
const GRID_CELLS = 64;

/**
 * A background whose brightness varies by less than this (grey levels in [0, 1], max minus min of the estimate)
 * counts as even (`isEvenBackground`): the image is left as it is, so clean scans, canvases and MNIST digits keep
 * their exact grey levels.
 */
export const EVEN_BACKGROUND_TOLERANCE = 0.06;

/** Paper darker than this (grey level of the estimate) is not divided by: the division would only amplify noise. */
const MIN_PAPER_LEVEL = 0.05;

/**
 * The paper's estimated brightness: a coarse grid of grey levels in [0, 1], one per `step` x `step` cell of the
 * image (cell centres at `(i + 0.5) * step - 0.5` px), read between centres by bilinear interpolation.
 */
export interface Background {
  /** `[gridHeight * gridWidth]` float32 grey levels in [0, 1]. */
  grid: Float32Array;
  gridWidth: number;
  gridHeight: number;
  /** Cell side in image px. */
  step: number;
  /** Image width in px. */
  width: number;
  /** Image height in px. */
  height: number;
}

/** A grey image area-averaged over cells about 1/64 of its shorter side: what `estimateBackground` works on. */
export interface GrayGrid {
  data: Float32Array;
  width: number;
  height: number;
  step: number;
}

/**
 * Area-averages a grey image onto the grid `estimateBackground` works on (cells of `max(1, floor(shorter / 64))` px).
 * Compute it once when estimating the background both ways.
 *
 * @param gray `[height * width]` float32 grey levels in [0, 1].
 * @param width Image width in px.
 * @param height Image height in px.
 */
export function grayGrid(gray: Float32Array, width: number, height: number): GrayGrid {
  const step = Math.max(1, Math.floor(Math.min(width, height) / GRID_CELLS));
  return { ...areaDownsample(gray, width, height, step), step };
}

/**
 * Estimates the paper's brightness all over a grey image.
 *
 * For dark ink on light paper this is the closing of the image (dark strokes removed); for light ink on dark
 * (chalk, MNIST) the same on the inverted image, returned inverted back, i.e. an opening (light strokes removed).
 * Two passes: a closing with the full window finds the ink, and a closing with a third of the window, after the ink
 * is replaced by the first estimate, follows the light's bends more closely. An evenly lit page (the first estimate
 * within `EVEN_BACKGROUND_TOLERANCE`) needs no second pass.
 *
 * @param gray `[height * width]` float32 grey levels in [0, 1], 0 = black (see `toGrayscale`).
 * @param width Image width in px.
 * @param height Image height in px.
 * @param polarity Which way round the ink is (see `detectPolarity`).
 * @param grid `grayGrid(gray, width, height)`, when already computed.
 * @returns The background, on a coarse grid (see `Background`, `backgroundImage`).
 */
export function estimateBackground(
  gray: Float32Array,
  width: number,
  height: number,
  polarity: Polarity,
  grid: GrayGrid = grayGrid(gray, width, height),
): Background {
  const paperUp = polarity === 'dark-on-light';
  const { step } = grid;
  const values = paperUp ? grid.data : grid.data.map((v) => 1 - v);
  const window = Math.max(3, Math.round(Math.max(MIN_BACKGROUND_WINDOW, BACKGROUND_WINDOW_FRACTION * Math.min(width, height)) / step));
  const coarse = closing(values, grid.width, grid.height, window);
  if (rangeOf(coarse) < EVEN_BACKGROUND_TOLERANCE) return finish(coarse);
  // Second pass: the large window removes every stroke but overshoots where the light bends, e.g. at the foot of a
  // shadow's edge. Cells clearly darker than the coarse paper (more than half the strongest ink) are ink: replace
  // them by the coarse paper, and close again with a window a third the size, which follows the light closely.
  let strongest = 0;
  for (let i = 0; i < values.length; i++) strongest = Math.max(strongest, coarse[i]! - values[i]!);
  const filled = values.map((v, i) => (coarse[i]! - v > strongest / 2 ? coarse[i]! : v));
  return finish(closing(filled, grid.width, grid.height, Math.max(3, Math.round(window / 3))));

  function finish(closed: Float32Array): Background {
    if (!paperUp) for (let i = 0; i < closed.length; i++) closed[i] = 1 - closed[i]!;
    return { grid: closed, gridWidth: grid.width, gridHeight: grid.height, step, width, height };
  }
}

/** Largest minus smallest value. */
function rangeOf(values: Float32Array): number {
  let lowest = Infinity;
  let highest = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lowest) lowest = v;
    if (v > highest) highest = v;
  }
  return highest - lowest;
}

/**
 * The background at every pixel, interpolated bilinearly from its grid.
 *
 * @returns `[height * width]` float32 grey levels in [0, 1].
 */
export function backgroundImage(background: Background): Float32Array {
  const { grid, gridWidth, gridHeight, step, width, height } = background;
  return upsampleBilinear(grid, gridWidth, gridHeight, step, width, height);
}

/**
 * Whether a background is evenly lit: its brightness varies by less than `EVEN_BACKGROUND_TOLERANCE`
 * (bilinear interpolation stays within the grid's range, so the grid decides).
 */
export function isEvenBackground(background: Background): boolean {
  return rangeOf(background.grid) < EVEN_BACKGROUND_TOLERANCE;
}

/**
 * Removes uneven lighting: divides each pixel by the paper brightness estimated around it (see `estimateBackground`),
 * so that paper becomes 1 (0 for light-on-dark) everywhere and ink keeps its contrast relative to the paper beside it.
 * For light ink on dark, the division applies to the inverted image (1 - grey).
 *
 * @param gray `[height * width]` float32 grey levels in [0, 1].
 * @param background From `estimateBackground` with the same polarity.
 * @param polarity Which way round the ink is.
 * @returns A new `[height * width]` float32 array of flattened grey levels in [0, 1].
 */
export function divideByBackground(gray: Float32Array, background: Background, polarity: Polarity): Float32Array {
  const paper = backgroundImage(background);
  const flat = new Float32Array(gray.length);
  if (polarity === 'dark-on-light') {
    for (let i = 0; i < gray.length; i++) {
      const level = paper[i]!;
      flat[i] = Math.min(1, gray[i]! / (level > MIN_PAPER_LEVEL ? level : MIN_PAPER_LEVEL));
    }
  } else {
    for (let i = 0; i < gray.length; i++) {
      const level = 1 - paper[i]!;
      flat[i] = 1 - Math.min(1, (1 - gray[i]!) / (level > MIN_PAPER_LEVEL ? level : MIN_PAPER_LEVEL));
    }
  }
  return flat;
}

/**
 * Shrinks a single-channel image by a whole factor: each output pixel is the mean of a `step` x `step` cell
 * (the last row and column of cells take what is left, so the output is ceil(width / step) x ceil(height / step)).
 *
 * @param values `[height * width]` float32 values.
 * @param width Image width in px.
 * @param height Image height in px.
 * @param step Cell side in px, a positive integer; 1 returns a copy.
 */
export function areaDownsample(values: Float32Array, width: number, height: number, step: number): { data: Float32Array; width: number; height: number } {
  if (step === 1) return { data: Float32Array.from(values), width, height };
  const outWidth = Math.ceil(width / step);
  const outHeight = Math.ceil(height / step);
  const sums = new Float64Array(outWidth * outHeight);
  const counts = new Uint32Array(outWidth * outHeight);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / step) * outWidth;
    for (let cell = 0; cell < outWidth; cell++) {
      const from = y * width + cell * step;
      const to = y * width + Math.min(width, (cell + 1) * step);
      let sum = 0;
      for (let i = from; i < to; i++) sum += values[i]!;
      sums[row + cell] += sum;
      counts[row + cell] += to - from;
    }
  }
  const data = new Float32Array(outWidth * outHeight);
  for (let i = 0; i < data.length; i++) data[i] = sums[i]! / counts[i]!;
  return { data, width: outWidth, height: outHeight };
}

/**
 * Grey-level closing (dilation, then erosion) by a flat `size` x `size` square, on the image extended by `size` px
 * of its edge values on every side, then cropped: a ramp of light that runs into the border comes out unchanged
 * (cropping the window at the border instead would keep the dilation's brighter values there).
 */
function closing(values: Float32Array, width: number, height: number, size: number): Float32Array {
  const pad = size;
  const paddedWidth = width + 2 * pad;
  const paddedHeight = height + 2 * pad;
  const padded = new Float32Array(paddedWidth * paddedHeight);
  for (let y = 0; y < paddedHeight; y++) {
    const sourceRow = Math.min(height - 1, Math.max(0, y - pad)) * width;
    for (let x = 0; x < paddedWidth; x++) padded[y * paddedWidth + x] = values[sourceRow + Math.min(width - 1, Math.max(0, x - pad))]!;
  }
  const closed = minFilter(maxFilter(padded, paddedWidth, paddedHeight, size), paddedWidth, paddedHeight, size);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) out.set(closed.subarray((y + pad) * paddedWidth + pad, (y + pad) * paddedWidth + pad + width), y * width);
  return out;
}

/** Grey-level dilation by a flat `size` x `size` square (separable: rows, then columns), window centred, clipped at the edges. */
function maxFilter(values: Float32Array, width: number, height: number, size: number): Float32Array {
  return filter2d(values, width, height, size, Math.max);
}

/** Grey-level erosion by a flat `size` x `size` square, like `maxFilter`. */
function minFilter(values: Float32Array, width: number, height: number, size: number): Float32Array {
  return filter2d(values, width, height, size, Math.min);
}

function filter2d(values: Float32Array, width: number, height: number, size: number, pick: typeof Math.max): Float32Array {
  const before = Math.floor((size - 1) / 2);
  const maximum = pick === Math.max;
  const longest = Math.max(width, height) + size;
  const scratch = { line: new Float32Array(longest), prefix: new Float32Array(longest), suffix: new Float32Array(longest) };
  const rows = new Float32Array(values.length);
  for (let y = 0; y < height; y++) runningExtreme(values, y * width, 1, width, before, size, maximum, rows, scratch);
  const out = new Float32Array(values.length);
  for (let x = 0; x < width; x++) runningExtreme(rows, x, width, height, before, size, maximum, out, scratch);
  return out;
}

/**
 * Max (or min) over the window [i - before, i - before + size - 1], clipped to the line, of one row or column
 * (`stride` apart), by the van Herk / Gil-Werman algorithm (van Herk 1992, Pattern Recognition Letters 13(7);
 * Gil and Werman 1993, IEEE PAMI 15(5)): block-wise prefix and suffix extremes, three comparisons per pixel
 * whatever the window. Computed as a max on negated values for the min, so one loop serves both.
 */
function runningExtreme(
  values: Float32Array,
  start: number,
  stride: number,
  length: number,
  before: number,
  size: number,
  maximum: boolean,
  out: Float32Array,
  scratch: { line: Float32Array; prefix: Float32Array; suffix: Float32Array },
): void {
  const { line, prefix, suffix } = scratch;
  const padded = length + size - 1; // `before` values in front and the rest behind, all -Infinity: they never win
  const sign = maximum ? 1 : -1;
  line.fill(-Infinity, 0, padded);
  for (let i = 0; i < length; i++) line[before + i] = sign * values[start + i * stride]!;
  for (let blockStart = 0; blockStart < padded; blockStart += size) {
    const blockEnd = Math.min(padded, blockStart + size);
    let running = line[blockStart]!;
    prefix[blockStart] = running;
    for (let j = blockStart + 1; j < blockEnd; j++) {
      const v = line[j]!;
      if (v > running) running = v;
      prefix[j] = running;
    }
    running = line[blockEnd - 1]!;
    suffix[blockEnd - 1] = running;
    for (let j = blockEnd - 2; j >= blockStart; j--) {
      const v = line[j]!;
      if (v > running) running = v;
      suffix[j] = running;
    }
  }
  // The window of output i covers padded positions i .. i + size - 1.
  for (let i = 0; i < length; i++) {
    const a = suffix[i]!;
    const b = prefix[i + size - 1]!;
    out[start + i * stride] = sign * (a > b ? a : b);
  }
}

/** Bilinear upsampling of a grid of cell means (cell centres at `(i + 0.5) * step - 0.5` px) to `width` x `height`. */
function upsampleBilinear(grid: Float32Array, gridWidth: number, gridHeight: number, step: number, width: number, height: number): Float32Array {
  if (step === 1) return Float32Array.from(grid);
  const out = new Float32Array(width * height);
  const xs = axisWeights(width, gridWidth, step);
  const ys = axisWeights(height, gridHeight, step);
  const column = new Float32Array(gridWidth); // the grid interpolated down to the current output row
  for (let y = 0; y < height; y++) {
    const r0 = ys.low[y]! * gridWidth;
    const r1 = ys.high[y]! * gridWidth;
    const fy = ys.fraction[y]!;
    for (let c = 0; c < gridWidth; c++) column[c] = grid[r0 + c]! + fy * (grid[r1 + c]! - grid[r0 + c]!);
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const left = column[xs.low[x]!]!;
      out[row + x] = left + xs.fraction[x]! * (column[xs.high[x]!]! - left);
    }
  }
  return out;
}

function axisWeights(length: number, cells: number, step: number): { low: Int32Array; high: Int32Array; fraction: Float32Array } {
  const low = new Int32Array(length);
  const high = new Int32Array(length);
  const fraction = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const position = Math.min(cells - 1, Math.max(0, (i + 0.5) / step - 0.5));
    low[i] = Math.floor(position);
    high[i] = Math.min(cells - 1, low[i]! + 1);
    fraction[i] = position - low[i]!;
  }
  return { low, high, fraction };
}

/**
 * Synthetic "not a digit" examples, the rejection class's training data. Without them a digit classifier has no
 * way to say no: softmax spreads all probability over the digits, and a letter A reads as 4 at 99.99%.
 * Training with an explicit background class of negatives is the oldest remedy (LeCun et al., "Gradient-Based
 * Learning Applied to Document Recognition", Proc. IEEE 1998, section VI, trains LeNet's recognizer on
 * non-characters); Hendrycks, Mazeika and Dietterich, "Deep Anomaly Detection with Outlier Exposure", ICLR 2019,
 * show that even simple auxiliary outliers generalize to unseen ones.
 *
 * Kinds (see `NEGATIVE_KINDS`):
 * - capital letters and symbols drawn as strokes (those that look like digits, such as O, I, S, Z, B, G, are left out);
 * - scribbles, hatching and blobs;
 * - pairs of digits side by side, from a given MNIST split (a "42" is not one digit);
 * - partial digits: an MNIST digit with a large part erased (half a 4 is not a 6).
 *
 * Every sample is normalized by the recognizer's own preprocessing, as user input is. Plain typed arrays, no Node APIs.
 */
import { hwrError } from '../core/errors.ts';
import type { Rng } from './augment.ts';
import { arc, drawSample, jitterStrokes, normalizeInk, renderStrokes, type Stroke, type StrokePoint, type Strokes } from './strokes.ts';

/** Capital letters that do not look like digits, as stroke templates in the unit box. */
export const LETTERS: Readonly<Record<string, Strokes>> = {
  A: [[[0, 1], [0.5, 0], [1, 1]], [[0.22, 0.62], [0.78, 0.62]]],
  E: [[[0.9, 0], [0.1, 0], [0.1, 1], [0.9, 1]], [[0.1, 0.5], [0.7, 0.5]]],
  F: [[[0.9, 0], [0.1, 0], [0.1, 1]], [[0.1, 0.5], [0.7, 0.5]]],
  H: [[[0.1, 0], [0.1, 1]], [[0.9, 0], [0.9, 1]], [[0.1, 0.5], [0.9, 0.5]]],
  K: [[[0.15, 0], [0.15, 1]], [[0.9, 0], [0.15, 0.6]], [[0.4, 0.42], [0.9, 1]]],
  M: [[[0, 1], [0.05, 0], [0.5, 0.65], [0.95, 0], [1, 1]]],
  N: [[[0.1, 1], [0.1, 0], [0.9, 1], [0.9, 0]]],
  P: [[[0.15, 1], [0.15, 0]], [[0.15, 0], ...arc(0.5, 0.25, 0.35, 0.25, -90, 90, 10), [0.15, 0.5]]],
  R: [[[0.15, 1], [0.15, 0]], [[0.15, 0], ...arc(0.5, 0.25, 0.35, 0.25, -90, 90, 10), [0.15, 0.5], [0.9, 1]]],
  U: [[[0.1, 0], ...arc(0.5, 0.6, 0.4, 0.4, 180, 0, 12), [0.9, 0]]],
  V: [[[0, 0], [0.5, 1], [1, 0]]],
  W: [[[0, 0], [0.22, 1], [0.5, 0.3], [0.78, 1], [1, 0]]],
  X: [[[0.05, 0], [0.95, 1]], [[0.95, 0], [0.05, 1]]],
  k: [[[0.2, 0], [0.2, 1]], [[0.75, 0.4], [0.2, 0.75], [0.8, 1]]],
  m: [[[0, 1], [0, 0.4]], [[0, 0.55], ...arc(0.25, 0.55, 0.25, 0.2, 180, 360, 6), [0.5, 1]], [[0.5, 0.55], ...arc(0.75, 0.55, 0.25, 0.2, 180, 360, 6), [1, 1]]],
  w: [[[0, 0.3], [0.25, 1], [0.5, 0.5], [0.75, 1], [1, 0.3]]],
};

/** Symbols that are not digits, as stroke templates in the unit box. */
export const SYMBOLS: Readonly<Record<string, Strokes>> = {
  '+': [[[0.5, 0], [0.5, 1]], [[0, 0.5], [1, 0.5]]],
  '=': [[[0, 0.3], [1, 0.3]], [[0, 0.7], [1, 0.7]]],
  '#': [[[0.35, 0], [0.3, 1]], [[0.7, 0], [0.65, 1]], [[0, 0.33], [1, 0.33]], [[0, 0.67], [1, 0.67]]],
  '*': [[[0.5, 0], [0.5, 1]], [[0.07, 0.25], [0.93, 0.75]], [[0.93, 0.25], [0.07, 0.75]]],
  '%': [arc(0.2, 0.2, 0.17, 0.17, 0, 360, 12), [[0.9, 0], [0.1, 1]], arc(0.8, 0.8, 0.17, 0.17, 0, 360, 12)],
  '@': [[...arc(0.5, 0.5, 0.2, 0.22, 0, 360, 14), [0.72, 0.65], ...arc(0.5, 0.5, 0.48, 0.48, 30, 330, 20)]],
  '→': [[[0, 0.5], [1, 0.5]], [[0.65, 0.2], [1, 0.5], [0.65, 0.8]]],
  '△': [[[0.5, 0], [1, 1], [0, 1], [0.5, 0]]],
  '□': [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
  '⊕': [arc(0.5, 0.5, 0.5, 0.5, 0, 360, 20), [[0.5, 0], [0.5, 1]], [[0, 0.5], [1, 0.5]]],
  '☆': [[[0.5, 0], [0.8, 1], [0, 0.38], [1, 0.38], [0.2, 1], [0.5, 0]]],
  '♥': [[[0.5, 1], [0.05, 0.4], ...arc(0.27, 0.27, 0.23, 0.23, 160, 360, 8), ...arc(0.73, 0.27, 0.23, 0.23, 180, 380, 8), [0.5, 1]]],
  '☺': [arc(0.5, 0.5, 0.5, 0.5, 0, 360, 20), [[0.33, 0.35], [0.34, 0.36]], [[0.66, 0.35], [0.67, 0.36]], arc(0.5, 0.55, 0.25, 0.2, 20, 160, 8)],
  '√': [[[0, 0.6], [0.2, 0.5], [0.4, 1], [0.6, 0], [1, 0]]],
  '∞': [[...arc(0.25, 0.5, 0.25, 0.22, 0, 360, 14), ...arc(0.75, 0.5, 0.25, 0.22, 180, -180, 14)]],
};

/** The kinds of negative and their share of a generated set (they sum to 1). */
export const NEGATIVE_KINDS = {
  letter: 0.3,
  symbol: 0.2,
  scribble: 0.15,
  blob: 0.05,
  pair: 0.2,
  partial: 0.1,
} as const;

/** A kind of negative, see `NEGATIVE_KINDS`. */
export type NegativeKind = keyof typeof NEGATIVE_KINDS;

/** MNIST-format digits to build pairs and partial digits from: `[count * 28 * 28]` uint8 (0 = background) and labels. */
export interface DigitSource {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** A random scribble: a smooth random walk with 6 to 20 turns, or back-and-forth hatching. */
function scribble(rng: Rng): Strokes {
  if (rng.next() < 0.35) {
    // Hatching, as when crossing something out.
    const lines = 6 + rng.int(6);
    const points: StrokePoint[] = [];
    for (let i = 0; i < lines; i++) points.push([i % 2 ? 1 : 0, (i + rng.uniform(-0.3, 0.3)) / (lines - 1)]);
    return [points];
  }
  const points: StrokePoint[] = [];
  let x = rng.next();
  let y = rng.next();
  let heading = rng.uniform(0, 2 * Math.PI);
  const turns = 6 + rng.int(15);
  for (let i = 0; i <= turns * 4; i++) {
    heading += rng.uniform(-1.2, 1.2);
    x += 0.12 * Math.cos(heading);
    y += 0.12 * Math.sin(heading);
    // Stay in the box by turning back at its walls.
    if (x < 0 || x > 1) heading = Math.PI - heading;
    if (y < 0 || y > 1) heading = -heading;
    x = Math.min(1, Math.max(0, x));
    y = Math.min(1, Math.max(0, y));
    points.push([x, y]);
  }
  return [points];
}

/** A filled blob (a smudge, a filled shape): an ellipse or a few thick dabs, rendered with a very wide pen. */
function blob(rng: Rng): Float32Array {
  const size = 64;
  const strokes: Stroke[] = [];
  const dabs = 1 + rng.int(3);
  for (let i = 0; i < dabs; i++) strokes.push([[rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)], [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)]]);
  return normalizeInk(renderStrokes(strokes, size, rng.uniform(14, 30)), size, size);
}

/** Two digits from `source` side by side, overlapping by 2 to 10 px of their 28 px fields (touching or nearly). */
function pair(source: DigitSource, rng: Rng): Float32Array {
  const a = rng.int(source.count);
  const b = rng.int(source.count);
  const overlap = 2 + rng.int(9);
  const width = 56 - overlap;
  const dy = rng.int(5) - 2;
  const ink = new Float32Array(width * 32);
  for (const [index, left, top] of [[a, 0, 2], [b, 28 - overlap, 2 + dy]] as const) {
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const o = (y + top) * width + x + left;
        ink[o] = Math.max(ink[o]!, source.images[index * 784 + y * 28 + x]! / 255);
      }
    }
  }
  return normalizeInk(ink, width, 32);
}

/**
 * An MNIST digit with a large part erased: everything on one side of a random cut through its ink (top, bottom,
 * left or right half, give or take). Kept only when 30-70% of the ink is gone and what remains is not a thin
 * stroke (which would be a 1); 1s and 7s are never used (what is left of them is too often still a 1 or a 7). Returns null when the draw does not qualify.
 */
function partial(source: DigitSource, rng: Rng): Float32Array | null {
  const index = rng.int(source.count);
  if (source.labels[index] === 1 || source.labels[index] === 7) return null;
  const ink = new Float32Array(784);
  let total = 0;
  let x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (let i = 0; i < 784; i++) {
    ink[i] = source.images[index * 784 + i]! / 255;
    total += ink[i]!;
    if (ink[i]! > 0.1) {
      x0 = Math.min(x0, i % 28); x1 = Math.max(x1, i % 28);
      y0 = Math.min(y0, Math.floor(i / 28)); y1 = Math.max(y1, Math.floor(i / 28));
    }
  }
  if (x1 < 0) return null;
  const side = rng.int(4);
  const f = rng.uniform(0.4, 0.6);
  const cutX = x0 + f * (x1 - x0);
  const cutY = y0 + f * (y1 - y0);
  let kept = 0;
  let kx0 = 28, kx1 = -1, ky0 = 28, ky1 = -1;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const erase = side === 0 ? y < cutY : side === 1 ? y > cutY : side === 2 ? x < cutX : x > cutX;
      const i = y * 28 + x;
      if (erase) ink[i] = 0;
      kept += ink[i]!;
      if (ink[i]! > 0.1) {
        kx0 = Math.min(kx0, x); kx1 = Math.max(kx1, x);
        ky0 = Math.min(ky0, y); ky1 = Math.max(ky1, y);
      }
    }
  }
  if (kx1 < 0 || kept < 0.3 * total || kept > 0.7 * total) return null;
  const w = kx1 - kx0 + 1;
  const h = ky1 - ky0 + 1;
  if (w < 0.45 * h || h < 0.2 * w) return null; // a lone stroke: too much like a 1 (or a dash)
  try {
    return normalizeInk(ink, 28, 28);
  } catch {
    return null;
  }
}

/** One negative of a given kind. Null when a random draw does not qualify (the caller draws again). */
function negative(kind: NegativeKind, source: DigitSource, rng: Rng): Float32Array | null {
  switch (kind) {
    case 'letter': {
      const names = Object.keys(LETTERS);
      return drawSample(jitterStrokes(LETTERS[names[rng.int(names.length)]!]!, rng), rng);
    }
    case 'symbol': {
      const names = Object.keys(SYMBOLS);
      return drawSample(jitterStrokes(SYMBOLS[names[rng.int(names.length)]!]!, rng), rng);
    }
    case 'scribble':
      return drawSample(scribble(rng), rng);
    case 'blob':
      return blob(rng);
    case 'pair':
      return pair(source, rng);
    case 'partial':
      return partial(source, rng);
  }
}

/**
 * `count` negatives, the kinds in the proportions of `NEGATIVE_KINDS` (in a fixed interleaved order).
 *
 * @param count   number of samples
 * @param source  MNIST-format digits for pairs and partial digits (use the same split the negatives go with:
 *   training digits for training negatives, test digits for a test set of negatives)
 * @param rng     generator; the same seed and source give the same samples
 * @returns `images` `[count * 28 * 28]` float32 in [0, 1] (ink = 1), MNIST-normalized; `kinds` `[count]`
 * @throws HwrError `BAD_ARGUMENT` when `source` is empty but pairs or partials are needed
 */
export function syntheticNegatives(count: number, source: DigitSource, rng: Rng): { images: Float32Array; kinds: NegativeKind[] } {
  if (count > 0 && source.count === 0) throw hwrError('BAD_ARGUMENT', 'syntheticNegatives: source has no digits to build pairs and partial digits from');
  const kinds = Object.keys(NEGATIVE_KINDS) as NegativeKind[];
  const images = new Float32Array(count * 784);
  const drawn: NegativeKind[] = [];
  // Deterministic interleaving by proportion: sample i takes the kind whose quota is furthest behind.
  const made = new Map<NegativeKind, number>(kinds.map((k) => [k, 0]));
  for (let i = 0; i < count; i++) {
    let kind = kinds[0]!;
    let lag = -Infinity;
    for (const k of kinds) {
      const behind = NEGATIVE_KINDS[k] * (i + 1) - made.get(k)!;
      if (behind > lag) {
        lag = behind;
        kind = k;
      }
    }
    let sample: Float32Array | null = null;
    for (let attempt = 0; sample === null; attempt++) {
      try {
        sample = negative(kind, source, rng);
      } catch {
        sample = null; // e.g. a blob or scribble that normalized to nothing; draw again
      }
      if (attempt > 1000) throw hwrError('BAD_ARGUMENT', `syntheticNegatives: could not draw a "${kind}" sample from this source`);
    }
    images.set(sample, i * 784);
    made.set(kind, made.get(kind)! + 1);
    drawn.push(kind);
  }
  return { images, kinds: drawn };
}

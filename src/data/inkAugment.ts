/**
 * Stroke-level augmentation: one drawn sample becomes many plausible variants of the same character, as ink, for
 * teaching a script from a few samples (`trainInkScript` in src/train/inkScript.ts).
 *
 * `augmentInk` normalizes the ink into the 1024-unit box of the synthetic writers, then
 * 1. drops a stroke now and then (only from ink with several strokes, never the last one left) and splits strokes in
 *    two (a pen lift in the middle of a stroke); then warps the proportions (`warp`): a monotone piecewise-linear
 *    remap of y and of x in 3 bands each, so that ascenders, descenders and bowls are longer or shorter relative to
 *    the rest (other writers draw other proportions: on Latin a-z taught from one writer this read other print fonts
 *    3 points better, notes/TEACH-RECIPE.md);
 * 2. writes the result with a fresh synthetic writer (`randomWriterStyle` + `handwrite`, src/data/synth/handwriting.ts):
 *    a whole-ink affine (rotation, slant, aspect) with this module's ranges, per-stroke affines about each stroke's
 *    centre (strokes that do not quite meet), even resampling, low-frequency curvature, point jitter, rounded corners,
 *    and times at the writer's speed (so `t` is rescaled);
 * 3. draws a pen-width factor (the renderer's width times it), returned beside the strokes.
 *
 * Scale is not a knob: ink is rendered fitted to its bounding box (`inkImage`), so only the pen width relative to the
 * ink's size matters, and `penWidthFactor` covers that.
 *
 * Everything is drawn from the given `Rng` in a fixed order: the same ink and generator state give the same variant.
 * Pure computation: no Node imports.
 */
import { hwrError } from '../core/errors.ts';
import { inkBounds, type Ink, type InkPoint, type InkStroke } from '../core/ink.ts';
import type { Rng } from './augment.ts';
import { handwrite, randomWriterStyle } from './synth/handwriting.ts';

/** The knobs of `augmentInk`. Angles in degrees, lengths in units of the 1024-unit box the ink is normalized into. */
export interface InkAugmentOptions {
  /** Whole-ink rotation, uniform in [-r, r] degrees; r in [0, 45]. Default 8. */
  rotationDeg?: number;
  /** Whole-ink slant (horizontal shear, x moves by `slant` times the height above the centre), uniform in [-s, s]; s in [0, 1]. Default 0.25. */
  slant?: number;
  /** Whole-ink aspect change: width scaled by a factor log-uniform in [1/(1+a), 1+a]; a in [0, 1]. Default 0.15. */
  aspect?: number;
  /**
   * Scales the writer's per-stroke noise (stroke shift 8-38 units, rotation 1.5-5.5 degrees, scale 3-9%, curvature 6-28
   * units, jitter 0.5-2 units; see `randomWriterStyle`); 0 turns it off, 1 is the synthetic writers' range, in [0, 3]. Default 1.
   */
  strokeNoise?: number;
  /** Pen-width factor, log-uniform in [1/(1+w), 1+w]; w in [0, 2]. Default 0.35 (0.74x to 1.35x). */
  penWidth?: number;
  /** Probability in [0, 1] that one stroke is left out of ink that has two or more strokes. Default 0.03. */
  dropStrokeProbability?: number;
  /** Probability in [0, 1] that a stroke of 4 or more points is split in two (a pen lift within it). Default 0.05. */
  splitStrokeProbability?: number;
  /**
   * Probability in [0, 1] that a stroke runs into the next without a pen lift (a light connecting line, as in
   * hurried writing). Default 0: the connection is a line the writer never drew, and the stroke count would change.
   */
  connectProbability?: number;
  /** Most points of a variant, >= 16 (each stroke is thinned evenly when the total is above it). Default 2,000. */
  maxPoints?: number;
  /**
   * Proportion warp, in [0, 2]: the ink's height and width are each cut into 3 equal bands whose sizes are scaled by
   * factors log-uniform in [1/(1+w), 1+w] (the total kept), a monotone piecewise-linear remap, so that ascenders,
   * descenders and bowls come out longer or shorter relative to the rest (other letter proportions than the teacher's).
   * 0: off (no random numbers drawn: the variants of earlier versions). Default 1.5, measured on Latin a-z taught from
   * 5 samples of one writer (bench/teach.ts, digits base): other print fonts 75.5% -> 77.6% (0.6: 76.5%, 1: 77.2%,
   * 2: 77.5% with a smaller recipe whose no-warp figure was 74.7%), same writer 99.5% -> 99.3%.
   */
  warp?: number;
}

/** A variant: its strokes (1024-unit box, y down, with `t` in ms and `pressure`) and the pen-width factor to render it at. */
export interface AugmentedInk extends Ink {
  /** Multiply the model's pen width (`inkPenWidthFor`) by this to render the variant, in (0, 3]. */
  penWidthFactor: number;
}

/** The defaults of `InkAugmentOptions`. */
export const INK_AUGMENT_DEFAULTS: Readonly<Required<InkAugmentOptions>> = {
  rotationDeg: 8,
  slant: 0.25,
  aspect: 0.15,
  strokeNoise: 1,
  penWidth: 0.35,
  dropStrokeProbability: 0.03,
  splitStrokeProbability: 0.05,
  connectProbability: 0,
  maxPoints: 2000,
  warp: 1.5,
};

/** Side of the box ink is normalized into: the unit of `handwrite`'s writer styles (Make Me a Hanzi's 1024-unit box). */
const BOX = 1024;
/** Longest side of the normalized ink in box units (a margin as Make Me a Hanzi's characters have). */
const INK_SIZE = 900;
/** `handwrite`'s resampling step along a stroke, in box units (its `STEP`). */
const RESAMPLING_STEP = 14;

const RANGES: { [K in keyof InkAugmentOptions]-?: [number, number] } = {
  rotationDeg: [0, 45],
  slant: [0, 1],
  aspect: [0, 1],
  strokeNoise: [0, 3],
  penWidth: [0, 2],
  dropStrokeProbability: [0, 1],
  splitStrokeProbability: [0, 1],
  connectProbability: [0, 1],
  maxPoints: [16, 1e6],
  warp: [0, 2],
};

/**
 * Checks the knobs and fills in the defaults.
 * @throws HwrError `BAD_ARGUMENT` naming the knob when one is not a number within its range
 */
export function inkAugmentOptions(options: InkAugmentOptions = {}): Required<InkAugmentOptions> {
  const out = { ...INK_AUGMENT_DEFAULTS };
  for (const key of Object.keys(RANGES) as (keyof InkAugmentOptions)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const [min, max] = RANGES[key];
    if (typeof value !== 'number' || !(value >= min && value <= max)) {
      throw hwrError('BAD_ARGUMENT', `augmentInk: ${key}: expected a number in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * One random variant of `ink` (see the module comment for the steps).
 *
 * @param ink      strokes, y down, any unit (a drawn sample: `sampleInk`)
 * @param rng      the generator; the same ink and state give the same variant
 * @param options  the knobs (`InkAugmentOptions`)
 * @returns the variant in the 1024-unit box (stroke count: the input's minus a dropped stroke plus one per split;
 *   at most `maxPoints` points, or 2 per stroke when there are more strokes than half of that; all finite), and its
 *   `penWidthFactor`
 * @throws HwrError `NO_INK` for ink without points; `BAD_ARGUMENT` for a non-finite coordinate or a bad knob
 */
export function augmentInk(ink: Ink, rng: Rng, options: InkAugmentOptions = {}): AugmentedInk {
  const knobs = inkAugmentOptions(options);
  const normalized = normalizeInk(ink, knobs.maxPoints);
  const strokes = warpStrokes(splitStrokes(dropStroke(normalized, rng, knobs.dropStrokeProbability), rng, knobs.splitStrokeProbability), rng, knobs.warp);

  const writer = randomWriterStyle(rng);
  const noise = knobs.strokeNoise;
  const style = {
    ...writer,
    rotationDeg: rng.uniform(-knobs.rotationDeg, knobs.rotationDeg),
    slant: rng.uniform(-knobs.slant, knobs.slant),
    aspect: Math.exp(rng.uniform(-1, 1) * Math.log(1 + knobs.aspect)),
    strokeShift: writer.strokeShift * noise,
    strokeRotationDeg: writer.strokeRotationDeg * noise,
    strokeScale: writer.strokeScale * noise,
    curvature: writer.curvature * noise,
    jitter: writer.jitter * noise,
    endTrim: writer.endTrim * Math.min(1, noise),
    connectProbability: knobs.connectProbability,
  };
  const written = handwrite({ strokes }, style, rng);
  const penWidthFactor = Math.exp(rng.uniform(-1, 1) * Math.log(1 + knobs.penWidth));
  return { strokes: thin(written.strokes, knobs.maxPoints), penWidthFactor };
}

/**
 * The ink scaled and moved so that its longer side is `INK_SIZE` units, centred in the `BOX`; dots stay dots. Ink
 * whose strokes are longer in all than `maxPoints` resampling steps (a scribble) is made smaller instead, so that
 * `handwrite`, which resamples every `RESAMPLING_STEP` units, never makes more than about `maxPoints` points.
 */
function normalizeInk(ink: Ink, maxPoints: number): InkStroke[] {
  const bounds = inkBounds(ink); // NO_INK, BAD_ARGUMENT
  const side = Math.max(bounds.maxX - bounds.minX, bounds.maxY - bounds.minY);
  let length = 0;
  for (const stroke of ink.strokes) for (let i = 1; i < stroke.length; i++) length += Math.hypot(stroke[i]!.x - stroke[i - 1]!.x, stroke[i]!.y - stroke[i - 1]!.y);
  const fit = side > 0 ? INK_SIZE / side : 1;
  const scale = length * fit > maxPoints * RESAMPLING_STEP ? (maxPoints * RESAMPLING_STEP) / length : fit;
  const cx = (bounds.minX + bounds.maxX) / 2;
  const cy = (bounds.minY + bounds.maxY) / 2;
  return ink.strokes
    .filter((stroke) => stroke.length > 0)
    .map((stroke) => stroke.map((p) => ({ x: BOX / 2 + (p.x - cx) * scale, y: BOX / 2 + (p.y - cy) * scale })));
}

/**
 * The strokes with their y and x each remapped piecewise-linearly: the extent cut into 3 equal bands, each band's size
 * scaled by a factor log-uniform in [1/(1+amount), 1+amount], then all rescaled to the original extent (monotone: the
 * order of points is kept). `amount` 0: the strokes as they are, no random numbers drawn.
 */
function warpStrokes(strokes: InkStroke[], rng: Rng, amount: number): InkStroke[] {
  if (!(amount > 0)) return strokes;
  const axis = (values: number[]): ((v: number) => number) => {
    const min = Math.min(...values);
    const extent = Math.max(...values) - min;
    const factors = [0, 1, 2].map(() => Math.exp(rng.uniform(-1, 1) * Math.log(1 + amount)));
    const total = factors.reduce((a, b) => a + b, 0);
    const sizes = factors.map((f) => (f / total) * extent);
    return (v) => {
      if (!(extent > 0)) return v;
      const t = Math.min(2.999999, Math.max(0, ((v - min) / extent) * 3));
      const band = Math.floor(t);
      let start = min;
      for (let b = 0; b < band; b++) start += sizes[b]!;
      return start + (t - band) * sizes[band]!;
    };
  };
  const points = strokes.flat();
  const mapY = axis(points.map((p) => p.y));
  const mapX = axis(points.map((p) => p.x));
  return strokes.map((stroke) => stroke.map((p) => ({ ...p, x: mapX(p.x), y: mapY(p.y) })));
}

/** With probability `probability`, the strokes less one chosen at random; ink of one stroke is kept whole. */
function dropStroke(strokes: InkStroke[], rng: Rng, probability: number): InkStroke[] {
  // Both numbers are drawn whatever the stroke count, so that the rest of the sequence does not depend on it.
  const drop = rng.next() < probability;
  const which = rng.int(Math.max(1, strokes.length));
  if (!drop || strokes.length < 2) return strokes;
  return strokes.filter((_, i) => i !== which);
}

/** Each stroke of 4 or more points, with probability `probability`, broken in two at a random interior point (one segment becomes the gap). */
function splitStrokes(strokes: InkStroke[], rng: Rng, probability: number): InkStroke[] {
  const out: InkStroke[] = [];
  for (const stroke of strokes) {
    const split = rng.next() < probability;
    const at = 2 + rng.int(Math.max(1, stroke.length - 3)); // in [2, length - 2]: both parts keep 2 or more points
    if (split && stroke.length >= 4) out.push(stroke.slice(0, at), stroke.slice(at));
    else out.push(stroke);
  }
  return out;
}

/** The strokes with every stroke thinned by the same even step when there are more than `maxPoints` points (ends kept). */
function thin(strokes: InkStroke[], maxPoints: number): InkStroke[] {
  const total = strokes.reduce((n, s) => n + s.length, 0);
  if (total <= maxPoints) return strokes;
  const keep = maxPoints / total;
  return strokes.map((stroke) => {
    const count = Math.max(Math.min(2, stroke.length), Math.floor(stroke.length * keep));
    if (count >= stroke.length) return stroke;
    const out: InkPoint[] = [];
    for (let i = 0; i < count; i++) out.push(stroke[count > 1 ? Math.round((i * (stroke.length - 1)) / (count - 1)) : 0]!);
    return out;
  });
}

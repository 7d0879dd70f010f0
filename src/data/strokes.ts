/**
 * Synthetic pen strokes for training data: stroke shapes as polylines in a unit box, a seeded "handwriting"
 * jitter, and an antialiased renderer to grey pixels, then through the recognizer's own `preprocessDigit`
 * so that synthetic samples are normalized exactly as user input is at recognition time.
 *
 * Plain typed arrays, no Node APIs and no TF.js. (Issue 9 adds a shared ink type and renderer in `src/core/ink.ts`;
 * when it lands, this renderer can move onto it.)
 */
import { hwrError } from '../core/errors.ts';
import { preprocessDigit } from '../core/preprocess.ts';
import type { PixelBuffer } from '../core/types.ts';
import type { Rng } from './augment.ts';

/** A point of a stroke, in a unit box: x right, y down, both nominally in [0, 1]. */
export type StrokePoint = readonly [number, number];
/** One pen-down stroke: an ordered polyline. */
export type Stroke = readonly StrokePoint[];
/** A drawing: its strokes in order. */
export type Strokes = readonly Stroke[];

/**
 * Points on an elliptic arc: centre (`cx`, `cy`), radii `rx`, `ry` (unit-box units), from `fromDeg` to `toDeg`
 * (0 = right, 90 = down, since y points down), `steps` segments. Angles may run either way and past 360.
 */
export function arc(cx: number, cy: number, rx: number, ry: number, fromDeg: number, toDeg: number, steps = 16): StrokePoint[] {
  const points: StrokePoint[] = [];
  for (let i = 0; i <= steps; i++) {
    const a = ((fromDeg + ((toDeg - fromDeg) * i) / steps) * Math.PI) / 180;
    points.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return points;
}

/** Options of `jitterStrokes`: how much a synthetic writer's hand varies. */
export interface JitterOptions {
  /** Rotation of the whole drawing, drawn from [-max, max] degrees. Default 12. */
  maxRotationDeg?: number;
  /** Horizontal shear (slant) factor drawn from [-max, max]. Default 0.3. */
  maxShear?: number;
  /** Width / height stretch drawn from [1 - max, 1 + max]. Default 0.25. */
  maxStretch?: number;
  /** Independent displacement of each control point, drawn from [-max, max] unit-box units. Default 0.04. */
  maxWobble?: number;
}

/**
 * A randomly distorted copy of a drawing, as one writer's rendition of a shape: slant, rotation, stretch and
 * per-point wobble. Draws from `rng` in a fixed order, so the same seed gives the same drawing.
 */
export function jitterStrokes(strokes: Strokes, rng: Rng, options: JitterOptions = {}): Strokes {
  const rotation = (rng.uniform(-1, 1) * (options.maxRotationDeg ?? 12) * Math.PI) / 180;
  const shear = rng.uniform(-1, 1) * (options.maxShear ?? 0.3);
  const stretch = 1 + rng.uniform(-1, 1) * (options.maxStretch ?? 0.25);
  const wobble = options.maxWobble ?? 0.04;
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  return strokes.map((stroke) =>
    stroke.map(([x0, y0]): StrokePoint => {
      const x = (x0 - 0.5) * stretch + rng.uniform(-wobble, wobble);
      const y = y0 - 0.5 + rng.uniform(-wobble, wobble);
      const xs = x + shear * -y; // positive shear slants the top to the right
      return [0.5 + cos * xs - sin * y, 0.5 + sin * xs + cos * y];
    }),
  );
}

/**
 * Renders strokes as ink on a square canvas: antialiased round-capped lines of width `penWidth` px.
 * The unit box maps to the canvas with a margin of 1/6 of its side on each side.
 *
 * @param strokes  the drawing, unit-box coordinates
 * @param size     canvas side in px
 * @param penWidth stroke width in px (> 0)
 * @returns `[size * size]` float32 ink in [0, 1] (1 = full ink), row-major
 * @throws HwrError `BAD_ARGUMENT` for a non-positive size or pen width
 */
export function renderStrokes(strokes: Strokes, size: number, penWidth: number): Float32Array {
  if (!(Number.isInteger(size) && size > 0)) throw hwrError('BAD_ARGUMENT', `size: expected a positive integer, got ${size}`);
  if (!(penWidth > 0)) throw hwrError('BAD_ARGUMENT', `penWidth: expected a positive number of px, got ${penWidth}`);
  const ink = new Float32Array(size * size);
  const margin = size / 6;
  const scale = size - 2 * margin;
  const radius = penWidth / 2;
  for (const stroke of strokes) {
    const points = stroke.map(([x, y]) => [margin + x * scale, margin + y * scale] as const);
    if (points.length === 1) points.push(points[0]!);
    for (let s = 1; s < points.length; s++) drawSegment(ink, size, points[s - 1]!, points[s]!, radius);
  }
  return ink;
}

/** Max-combines one antialiased capsule (a segment of half-width `radius`) into `ink`. */
function drawSegment(ink: Float32Array, size: number, a: readonly [number, number], b: readonly [number, number], radius: number): void {
  const [ax, ay] = a;
  const [bx, by] = b;
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const reach = radius + 1;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + reach));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      // Distance from the pixel centre to the segment; coverage falls off linearly over one pixel at the edge.
      const t = length2 > 0 ? Math.min(1, Math.max(0, ((x - ax) * dx + (y - ay) * dy) / length2)) : 0;
      const ex = x - (ax + t * dx);
      const ey = y - (ay + t * dy);
      const coverage = Math.min(1, Math.max(0, radius + 0.5 - Math.sqrt(ex * ex + ey * ey)));
      const i = y * size + x;
      if (coverage > ink[i]!) ink[i] = coverage;
    }
  }
}

/**
 * Normalizes a raster of ink the way the recognizer normalizes user input (`preprocessDigit`: bounding box fitted
 * into 20x20, centre of mass at the centre of 28x28), by presenting it as dark ink on white paper.
 *
 * @param ink     `[height * width]` float32 ink in [0, 1]
 * @param width   px
 * @param height  px
 * @returns `[28 * 28]` float32 in [0, 1], ink = 1
 * @throws HwrError `NO_INK` when the raster holds (almost) no ink
 */
export function normalizeInk(ink: Float32Array, width: number, height: number): Float32Array {
  return preprocessDigit(inkToPixels(ink, width, height), { name: 'synthetic sample' }).input;
}

/**
 * Ink as an opaque RGBA image of dark ink on white paper, like a drawing on a canvas or a scan.
 * @param ink `[height * width]` float32 ink in [0, 1]
 * @returns RGBA pixels, grey = 255 * (1 - ink)
 */
export function inkToPixels(ink: Float32Array, width: number, height: number): PixelBuffer {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const grey = 255 - Math.round(255 * ink[i]!);
    data[4 * i] = grey;
    data[4 * i + 1] = grey;
    data[4 * i + 2] = grey;
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}

/** Canvas side for rendering synthetic drawings before normalization, px. */
export const RENDER_SIZE = 64;

/**
 * Renders a drawing with a random pen (2.5 to 7 px on a 64 px canvas, i.e. thin to thick once fitted into 20 px)
 * and normalizes it to a 28x28 model input.
 */
export function drawSample(strokes: Strokes, rng: Rng): Float32Array {
  return normalizeInk(renderStrokes(strokes, RENDER_SIZE, rng.uniform(2.5, 7)), RENDER_SIZE, RENDER_SIZE);
}

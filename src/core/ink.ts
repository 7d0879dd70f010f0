/**
 * Ink: handwriting as pen strokes, and the one renderer that turns ink into the grayscale pixels a model sees.
 *
 * Ink is what a pen, a finger or a mouse leaves: ordered strokes (pen down to pen up), each an ordered list of
 * points. Coordinates are in any unit (canvas px, the 1024-unit box of Make Me a Hanzi, ...) with x to the
 * right and **y pointing down**, as on a screen and in image files. A point may carry its time `t` in ms
 * (as W3C Pointer Events and InkML record it) and the pen `pressure` in [0, 1] (Pointer Events' convention:
 * 0.5 for a device without pressure).
 *
 * The renderer uses only `+ - * /`, `Math.sqrt`, `Math.min/max/floor/ceil/round`: IEEE-754 operations that
 * are correctly rounded, so the same ink gives the same bytes in Node, in every browser and in a worker.
 * No canvas: a canvas's antialiasing differs between browsers and GPU drivers.
 *
 * This module imports nothing Node-only.
 */

import { hwrError } from './errors.ts';

/** One sampled pen position. */
export interface InkPoint {
  /** Horizontal position, growing to the right. Any unit, the same for the whole ink. */
  x: number;
  /** Vertical position, growing **downwards**. Same unit as `x`. */
  y: number;
  /** Time in ms since any fixed origin (e.g. the first pen-down), when known. */
  t?: number;
  /** Pen pressure in [0, 1], when known; 0.5 is a normal stroke (Pointer Events' value for pens without pressure). */
  pressure?: number;
}

/** One stroke: the points from pen down to pen up, in drawing order. A single point is a dot. */
export type InkStroke = InkPoint[];

/** Handwriting as strokes in drawing order. */
export interface Ink {
  strokes: InkStroke[];
}

/** An axis-aligned box in ink units, y down. */
export interface InkBounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** A single-channel 8-bit image, row-major, top row first: `data[y * width + x]`, `width * height` bytes. */
export interface GrayImage {
  width: number;
  height: number;
  /** `[height, width]` uint8. What 0 and 255 mean is said by the function that returns the image. */
  data: Uint8Array;
}

/** Options of `renderInk`. */
export interface RenderInkOptions {
  /** Output width in px, integer >= 1. */
  width: number;
  /** Output height in px, integer >= 1. */
  height: number;
  /**
   * Pen diameter in **output** px (after fitting), > 0. MNIST strokes are about 2 to 3 px wide in 28x28 images;
   * CASIA HWDB samples about 3 to 5 px. Default 2.5.
   */
  strokeWidth?: number;
  /** Blank border kept on every side, in output px, >= 0. The ink's bounding box fits inside the rest. Default 2. */
  margin?: number;
  /**
   * When true, the pen diameter at a point is `strokeWidth * 2 * pressure` (so 0.5 gives `strokeWidth`,
   * a missing pressure counts as 0.5), interpolated along each segment. Default false: constant width.
   */
  usePressure?: boolean;
}

/**
 * The bounding box of all points of `ink` (the pen's centre line; stroke width not included).
 *
 * @throws HwrError `NO_INK` when the ink has no point
 * @throws HwrError `BAD_ARGUMENT` when a coordinate is not a finite number (naming stroke and point)
 */
export function inkBounds(ink: Ink): InkBounds {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  ink.strokes.forEach((stroke, s) => {
    stroke.forEach((point, p) => {
      if (!Number.isFinite(point.x) || !Number.isFinite(point.y)) {
        throw hwrError('BAD_ARGUMENT', `ink: stroke ${s} point ${p} has a non-finite coordinate (${point.x}, ${point.y})`);
      }
      if (point.x < minX) minX = point.x;
      if (point.x > maxX) maxX = point.x;
      if (point.y < minY) minY = point.y;
      if (point.y > maxY) maxY = point.y;
    });
  });
  if (minX === Infinity) throw hwrError('NO_INK', 'ink: no strokes with points');
  return { minX, minY, maxX, maxY };
}

/** The scale and offset that map ink units to output px: `px = ink * scale + offset`. */
export interface InkFit {
  scale: number;
  offsetX: number;
  offsetY: number;
}

/**
 * How `renderInk` places ink: the bounding box is scaled uniformly (aspect kept) to fit inside the output less
 * `margin` px on each side, less half the pen width so that the stroke edges stay inside too, and centred.
 * A box that is a single point (a dot) or a line has scale 1 along its zero extent and is centred.
 */
export function fitInk(bounds: InkBounds, width: number, height: number, margin: number, strokeWidth: number): InkFit {
  const spanX = bounds.maxX - bounds.minX;
  const spanY = bounds.maxY - bounds.minY;
  const availableX = Math.max(0, width - 2 * margin - strokeWidth);
  const availableY = Math.max(0, height - 2 * margin - strokeWidth);
  let scale: number;
  if (spanX > 0 && spanY > 0) scale = Math.min(availableX / spanX, availableY / spanY);
  else if (spanX > 0) scale = availableX / spanX;
  else if (spanY > 0) scale = availableY / spanY;
  else scale = 1;
  return {
    scale,
    offsetX: width / 2 - ((bounds.minX + bounds.maxX) / 2) * scale,
    offsetY: height / 2 - ((bounds.minY + bounds.maxY) / 2) * scale,
  };
}

/**
 * Draws ink as antialiased round-capped pen strokes into a new grayscale image, the bounding box fitted
 * (aspect kept, centred, `margin` px free, see `fitInk`).
 *
 * Each segment is a capsule (a line segment of the pen's radius, round ends; with `usePressure` the radius
 * changes linearly along it). A pixel's coverage is `clamp(radius + 0.5 - distance, 0, 1)`, distance measured
 * from the pixel centre to the segment: the usual distance-field approximation of box-filtered area coverage,
 * exact for a straight edge at any angle. Overlapping segments take the maximum, so joints and crossings do not
 * darken twice, as with one pass of a real pen.
 *
 * @param ink      strokes, y down; coordinates in any unit
 * @param options  output size in px, pen width and margin in output px (see `RenderInkOptions`)
 * @returns `{ width, height, data }`: `data` is `[height, width]` uint8 ink coverage, 0 = paper, 255 = full ink
 *   (MNIST's polarity)
 * @throws HwrError `BAD_ARGUMENT` for a size that is not a positive integer, a non-positive stroke width,
 *   a negative margin, or a non-finite coordinate; `NO_INK` for ink without points
 */
export function renderInk(ink: Ink, options: RenderInkOptions): GrayImage {
  const { width, height } = options;
  const strokeWidth = options.strokeWidth ?? 2.5;
  const margin = options.margin ?? 2;
  if (!Number.isInteger(width) || width < 1) throw hwrError('BAD_ARGUMENT', `renderInk: width: expected a positive integer, got ${width}`);
  if (!Number.isInteger(height) || height < 1) throw hwrError('BAD_ARGUMENT', `renderInk: height: expected a positive integer, got ${height}`);
  if (!(strokeWidth > 0) || !Number.isFinite(strokeWidth)) throw hwrError('BAD_ARGUMENT', `renderInk: strokeWidth: expected a positive number, got ${strokeWidth}`);
  if (!(margin >= 0) || !Number.isFinite(margin)) throw hwrError('BAD_ARGUMENT', `renderInk: margin: expected a number >= 0, got ${margin}`);

  const fit = fitInk(inkBounds(ink), width, height, margin, strokeWidth);
  const coverage = new Float32Array(width * height);
  const radiusOf = (point: InkPoint): number =>
    options.usePressure ? strokeWidth * Math.min(1, Math.max(0, point.pressure ?? 0.5)) : strokeWidth / 2;

  for (const stroke of ink.strokes) {
    if (stroke.length === 0) continue;
    if (stroke.length === 1) {
      const point = stroke[0]!;
      const x = point.x * fit.scale + fit.offsetX;
      const y = point.y * fit.scale + fit.offsetY;
      drawCapsule(coverage, width, height, x, y, radiusOf(point), x, y, radiusOf(point));
      continue;
    }
    for (let i = 1; i < stroke.length; i++) {
      const a = stroke[i - 1]!;
      const b = stroke[i]!;
      drawCapsule(
        coverage,
        width,
        height,
        a.x * fit.scale + fit.offsetX,
        a.y * fit.scale + fit.offsetY,
        radiusOf(a),
        b.x * fit.scale + fit.offsetX,
        b.y * fit.scale + fit.offsetY,
        radiusOf(b),
      );
    }
  }

  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(coverage[i]! * 255);
  return { width, height, data };
}

/**
 * Max-blends the coverage of one capsule from (ax, ay) with radius ra to (bx, by) with radius rb (output px)
 * into `coverage`. Pixel (x, y) has its centre at (x + 0.5, y + 0.5).
 */
function drawCapsule(
  coverage: Float32Array,
  width: number,
  height: number,
  ax: number,
  ay: number,
  ra: number,
  bx: number,
  by: number,
  rb: number,
): void {
  const reach = Math.max(ra, rb) + 1;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by) + reach));
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5 - ay;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax;
      // Parameter of the closest point on the segment, clamped to [0, 1].
      let u = lengthSquared > 0 ? (px * dx + py * dy) / lengthSquared : 0;
      if (u < 0) u = 0;
      else if (u > 1) u = 1;
      const ex = px - u * dx;
      const ey = py - u * dy;
      const distance = Math.sqrt(ex * ex + ey * ey);
      const radius = ra + (rb - ra) * u;
      let c = radius + 0.5 - distance;
      if (c <= 0) continue;
      if (c > 1) c = 1;
      const k = y * width + x;
      if (c > coverage[k]!) coverage[k] = c;
    }
  }
}

/**
 * Ink as JSON, as the API, the page and `hwr-ink-dataset` files exchange it: strokes of `[x, y]` or `[x, y, t]`
 * points (y down, any unit; `t` in ms), and optionally the size of the surface it was written on (in the same unit;
 * informative: the renderer fits the ink's own bounding box).
 */
export interface InkJson {
  strokes: Array<Array<[number, number] | [number, number, number]>>;
  width?: number;
  height?: number;
}

/** Ink with the size of the surface it was written on, when known. */
export interface SizedInk extends Ink {
  width?: number;
  height?: number;
}

/**
 * Bounds on ink that comes from outside (a request, a file, an import), so that a hostile payload cannot make the
 * renderer or the server spend unbounded time: a pen at 240 Hz for 60 s of writing is about 15,000 points.
 */
export const INK_LIMITS = {
  /** Most strokes in one ink. */
  maxStrokes: 1_000,
  /** Most points in one ink, all strokes together. */
  maxPoints: 20_000,
  /** Largest |coordinate| (any unit): beyond it a point is almost certainly a bug, and sums could lose precision. */
  maxCoordinate: 1e7,
} as const;

/** Limits of `parseInk` (`INK_LIMITS` by default). */
export type InkLimits = { readonly maxStrokes: number; readonly maxPoints: number; readonly maxCoordinate: number };

/**
 * Validates ink given as JSON (`InkJson`, e.g. `body.ink` of `/api/predict`) and returns it as `Ink` points.
 * Extra fields are ignored; a point's fourth and later members too.
 *
 * @param value  the parsed JSON value
 * @param name   where it came from, for messages, e.g. `body.ink` or `samples[3]`
 * @returns the ink with `t` on the points that had one, and `width` / `height` when given
 * @throws HwrError `BAD_INK` naming the field and the reason: not an object, `strokes` not an array of arrays,
 *   a point that is not 2 or 3 finite numbers, a coordinate beyond `maxCoordinate`, more strokes or points than the
 *   limits, a bad `width` / `height` (must be finite and > 0); `NO_INK` when no stroke has a point
 */
export function parseInk(value: unknown, name: string, limits: InkLimits = INK_LIMITS): SizedInk {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw hwrError('BAD_INK', `${name}: expected an object { strokes, width?, height? }`);
  const { strokes, width, height } = value as { strokes?: unknown; width?: unknown; height?: unknown };
  const ink: SizedInk = { strokes: parseStrokes(strokes, `${name}.strokes`, limits) };
  for (const [key, size] of [['width', width], ['height', height]] as const) {
    if (size === undefined) continue;
    if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) throw hwrError('BAD_INK', `${name}.${key}: expected a number > 0, got ${describeJson(size)}`);
    ink[key] = size;
  }
  return ink;
}

/**
 * Validates strokes given as JSON (`[[[x, y, t?], ...], ...]`, see `InkJson`): the part of `parseInk` that
 * `hwr-ink-dataset` samples share.
 * @throws HwrError `BAD_INK` or `NO_INK` as `parseInk`
 */
export function parseStrokes(value: unknown, name: string, limits: InkLimits = INK_LIMITS): InkStroke[] {
  if (!Array.isArray(value)) throw hwrError('BAD_INK', `${name}: expected an array of strokes, got ${describeJson(value)}`);
  if (value.length > limits.maxStrokes) throw hwrError('BAD_INK', `${name}: ${value.length} strokes, more than the limit of ${limits.maxStrokes}`);
  let points = 0;
  const strokes: InkStroke[] = value.map((stroke: unknown, s) => {
    if (!Array.isArray(stroke)) throw hwrError('BAD_INK', `${name}[${s}]: expected a stroke (an array of [x, y, t?] points), got ${describeJson(stroke)}`);
    points += stroke.length;
    if (points > limits.maxPoints) throw hwrError('BAD_INK', `${name}: more than the limit of ${limits.maxPoints} points`);
    return stroke.map((point: unknown, p): InkPoint => {
      if (!Array.isArray(point) || point.length < 2) throw hwrError('BAD_INK', `${name}[${s}][${p}]: expected a point [x, y] or [x, y, t], got ${describeJson(point)}`);
      const [x, y, t] = point as unknown[];
      for (const [axis, v] of [['x', x], ['y', y]] as const) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw hwrError('BAD_INK', `${name}[${s}][${p}]: ${axis} must be a finite number, got ${describeJson(v)}`);
        if (Math.abs(v) > limits.maxCoordinate) throw hwrError('BAD_INK', `${name}[${s}][${p}]: ${axis} = ${v} is beyond the limit of ±${limits.maxCoordinate}`);
      }
      if (t === undefined || t === null) return { x: x as number, y: y as number };
      if (typeof t !== 'number' || !Number.isFinite(t)) throw hwrError('BAD_INK', `${name}[${s}][${p}]: t must be a finite number of ms, got ${describeJson(t)}`);
      return { x: x as number, y: y as number, t };
    });
  });
  if (points === 0) throw hwrError('NO_INK', `${name}: no stroke has a point`);
  return strokes;
}

/** The JSON form of ink (`InkJson`): points as `[x, y]` or `[x, y, t]`; pressure is not part of it. */
export function inkToJson(ink: SizedInk): InkJson {
  return {
    strokes: ink.strokes.map((stroke) => stroke.map((p): [number, number] | [number, number, number] => (p.t === undefined ? [p.x, p.y] : [p.x, p.y, p.t]))),
    ...(ink.width === undefined ? {} : { width: ink.width }),
    ...(ink.height === undefined ? {} : { height: ink.height }),
  };
}

/**
 * A short description of a JSON value for error messages, e.g. `number Infinity`, `string "12"`, `an array`. Never
 * recurses into arrays or objects: `JSON.stringify` of a hostile, deeply nested value (a request may nest arrays a
 * million deep) overflows the stack, a RangeError that would turn a bad request into a server fault.
 */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}

/** Options of `inkImage`. */
export interface InkImageOptions {
  /** Side of the square image in px; default 128 (4x and more the model inputs, so the profile's resampling antialiases). */
  size?: number;
  /**
   * Pen diameter as a fraction of the ink's longer side, > 0; default `DEFAULT_INK_PEN_WIDTH`. Ink has no width of its
   * own (a finger and a stylus record the same points), so the width is part of what a model expects: the
   * preprocessing profile gives it (`inkPenWidthFor` in ./preprocessing.ts).
   */
  penWidth?: number;
}

/** Default pen width of `inkImage`, as a fraction of the ink's longer side: MNIST's median stroke (2.55 px of a 20 px box). */
export const DEFAULT_INK_PEN_WIDTH = 0.12;

/**
 * The one way ink becomes a picture for recognition and for training on ink: `renderInk` into a square white image,
 * black round-capped strokes of `penWidth` times the ink's longer side, the bounding box fitted with a margin of
 * 1/16 of the side. The result goes through the model's preprocessing profile like any image (a photo, a file, the
 * page's canvas), so ink and pixels meet the model the same way. Same bytes in Node and in every browser
 * (`renderInk` is exact IEEE-754 arithmetic).
 *
 * @param ink strokes, y down, any unit
 * @returns RGBA `{ width: size, height: size, data, polarity }` (`[size, size, 4]` uint8), black ink on white, alpha 255;
 *   `polarity: 'dark-on-light'` tells preprocessing so (see `PixelBuffer.polarity`), however much of it the ink covers
 * @throws HwrError `NO_INK` for ink without points; `BAD_ARGUMENT` for a bad size or pen width or a non-finite coordinate
 */
export function inkImage(ink: Ink, options: InkImageOptions = {}): { width: number; height: number; data: Uint8ClampedArray; polarity: 'dark-on-light' } {
  const size = options.size ?? 128;
  const penWidth = options.penWidth ?? DEFAULT_INK_PEN_WIDTH;
  if (!(penWidth > 0 && penWidth < 1)) throw hwrError('BAD_ARGUMENT', `inkImage: penWidth: expected a fraction in (0, 1), got ${penWidth}`);
  const margin = Math.round(size / 16);
  // The pen is a fraction of the ink's longer side once fitted: inner = size - 2 margin - pen, pen = f * inner.
  const strokeWidth = Math.max(0.5, (penWidth * (size - 2 * margin)) / (1 + penWidth));
  const coverage = renderInk(ink, { width: size, height: size, strokeWidth, margin });
  const data = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < coverage.data.length; i++) {
    const gray = 255 - coverage.data[i]!;
    data[4 * i] = gray;
    data[4 * i + 1] = gray;
    data[4 * i + 2] = gray;
    data[4 * i + 3] = 255;
  }
  return { width: size, height: size, data, polarity: 'dark-on-light' };
}

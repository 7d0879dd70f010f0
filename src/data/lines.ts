/**
 * Synthetic lines of handwriting composed from single characters, for evaluating and testing line reading
 * (src/core/line/): a row of MNIST digits as an image, a row of written ink characters (plotter-font digits, Make Me a
 * Hanzi characters written by a synthetic writer), with what the reader should find: the text and each character's box.
 *
 * A line varies the way handwriting does: the gaps between characters, a baseline that drifts up and down, character
 * sizes (+-15% by default), and a share of neighbours that touch (their ink really meets, as in hurried writing: the
 * hard case of character segmentation, Casey and Lecolinet, IEEE TPAMI 18(7), 1996, section 1) or overlap (their boxes
 * overlap in x, e.g. a 7's bar over the next digit, while their ink stays apart). Pairs are pushed together along their
 * facing contours (row by row: the right character moves left until its ink meets the left one's), as in the
 * touching-digit synthesis of Ciresan, "Avoiding segmentation in multi-digit numeral string recognition by combining
 * single and two-digit classifiers trained without negative examples", SYNASC 2008.
 *
 * Everything is drawn from the given `Rng` in a fixed order: a seed gives the same line. Pure computation, imports
 * nothing Node-only.
 */

import { hwrError } from '../core/errors.ts';
import type { Ink, InkPoint, InkStroke, SizedInk } from '../core/ink.ts';
import type { LineBox } from '../core/line/types.ts';
import type { PixelBuffer } from '../core/types.ts';
import type { Rng } from './augment.ts';

/** Options shared by `composeImageLine` and `composeInkLine`. Lengths are fractions of the nominal character height. */
export interface ComposeLineOptions {
  /** Share of neighbouring pairs whose ink is made to touch, in [0, 1]; default 0.2. */
  touchingShare?: number;
  /** Share of neighbouring pairs pushed together until their boxes (not their ink) may overlap in x, in [0, 1]; default 0.1. */
  overlappingShare?: number;
  /** Size of each character varies uniformly by this fraction either way; default 0.15 (+-15%). */
  sizeVariation?: number;
  /** Gap between the boxes of ordinary neighbours, `[min, max]` fractions of the character height; default `[0.06, 0.4]`. */
  spacing?: readonly [number, number];
  /** Gap for a space character (`label: ' '`), `[min, max]` fractions of the character height; default `[0.9, 1.4]`. */
  wordSpacing?: readonly [number, number];
  /** The baseline moves by up to this fraction of the height from one character to the next; default 0.05. */
  driftStep?: number;
  /** ... and stays within this fraction of the height of where it started; default 0.15. */
  maxDrift?: number;
}

/** One character for `composeImageLine`: a grayscale raster with ink = 1 (e.g. an MNIST digit scaled to [0, 1]). */
export interface ImageLineCharacter {
  /** The character's text, e.g. `"7"`; `" "` is a word gap (nothing is drawn, no box). */
  label: string;
  /** `[height * width]` float32 ink coverage in [0, 1], row-major, 1 = full ink (ignored for `" "`). */
  image: Float32Array;
  /** px */
  width: number;
  /** px */
  height: number;
}

/** Options of `composeImageLine`. */
export interface ComposeImageLineOptions extends ComposeLineOptions {
  /** Scale of the characters' rasters (1: a 28x28 MNIST digit stays 28 px high); default 1. */
  scale?: number;
  /** Paper around the ink, px on each side; default 4. */
  margin?: number;
  /** Gray of full ink on 255 paper, 0-254; default 0 (black). */
  inkGray?: number;
}

/** A composed image line. */
export interface ImageLine {
  /** RGBA, dark ink on light (255) paper, `polarity: 'dark-on-light'`, the characters side by side with `margin` px around. */
  image: PixelBuffer;
  /** The labels in order (spaces included). */
  text: string;
  /** Per drawn (non-space) character, in order: the box of its ink (coverage > 0) in image px. */
  boxes: LineBox[];
  /** `[boxes.length - 1]`: whether the ink (coverage >= 0.3) of characters i and i+1 touches (8-neighbours or shared pixels). */
  touching: boolean[];
  /** `[boxes.length - 1]`: whether boxes i and i+1 overlap in x while their ink does not touch. */
  overlapping: boolean[];
  /**
   * `[height * width]` int16: per pixel, the drawn character (index into `boxes`) whose coverage is the pixel's ink
   * (the larger where two overlap), or -1 for paper. Ground truth for training on the line reader's candidates.
   */
  owners: Int16Array;
}

/** One character for `composeInkLine`. */
export interface InkLineCharacter {
  /** The character's text; `" "` is a word gap (no strokes, no box). */
  label: string;
  /** Its strokes in writing order (y down, any unit); points may carry `t` (ms) and `pressure`. */
  ink: Ink;
}

/** Options of `composeInkLine`. */
export interface ComposeInkLineOptions extends ComposeLineOptions {
  /** Nominal character height in output ink units; default 100. */
  height?: number;
  /**
   * Side of the box the characters were designed in, in their units (1024 for Make Me a Hanzi and the plotter fonts'
   * `GLYPH_UNITS`): each character is scaled by `height / emSize` and keeps its place in the box (so a `-` stays at
   * mid-height and a `.` on the baseline). Absent: each character's own ink box is scaled so its longer side is
   * `height`, standing on the baseline.
   */
  emSize?: number;
  /** Pen width in output units: ink whose traces come within it touches; default `0.06 * height`. */
  penWidth?: number;
  /** Paper around the ink on each side (the ink's `width`/`height` include it), in output units; default `0.2 * height`. */
  margin?: number;
}

/** A composed ink line. */
export interface InkLine {
  /** Strokes in writing order, character by character; every point has `t` (ms, increasing along the line); `width`/`height` include the margin. */
  ink: SizedInk;
  /** The labels in order (spaces included). */
  text: string;
  /** Per drawn (non-space) character: the box of its points, in ink units. */
  boxes: LineBox[];
  /** Per drawn character: its strokes are `ink.strokes[start .. end - 1]`. */
  strokeRanges: Array<{ start: number; end: number }>;
  /** `[boxes.length - 1]`: whether the traces of characters i and i+1 come within `penWidth` of each other. */
  touching: boolean[];
  /** `[boxes.length - 1]`: whether boxes i and i+1 overlap in x while the traces do not touch. */
  overlapping: boolean[];
}

/** How a pair of neighbours is placed. */
type PairKind = 'gap' | 'touch' | 'overlap';

const DEFAULTS = {
  touchingShare: 0.2,
  overlappingShare: 0.1,
  sizeVariation: 0.15,
  spacing: [0.06, 0.4] as const,
  wordSpacing: [0.9, 1.4] as const,
  driftStep: 0.05,
  maxDrift: 0.15,
};

/** Ink coverage from which a pixel counts as ink for touching. */
const INK_THRESHOLD = 0.3;

/** The shared options with defaults, checked. @throws HwrError `BAD_ARGUMENT` naming the option */
function lineOptions(options: ComposeLineOptions): Required<ComposeLineOptions> {
  const merged = { ...DEFAULTS, ...options };
  const share = (name: string, value: number): void => {
    if (!(value >= 0 && value <= 1)) throw hwrError('BAD_ARGUMENT', `${name}: expected a share in [0, 1], got ${value}`);
  };
  share('touchingShare', merged.touchingShare);
  share('overlappingShare', merged.overlappingShare);
  if (merged.touchingShare + merged.overlappingShare > 1) {
    throw hwrError('BAD_ARGUMENT', `touchingShare + overlappingShare: expected at most 1, got ${merged.touchingShare + merged.overlappingShare}`);
  }
  if (!(merged.sizeVariation >= 0 && merged.sizeVariation < 1)) throw hwrError('BAD_ARGUMENT', `sizeVariation: expected [0, 1), got ${merged.sizeVariation}`);
  for (const name of ['spacing', 'wordSpacing'] as const) {
    const [min, max] = merged[name];
    if (!(min <= max && Number.isFinite(min) && Number.isFinite(max))) throw hwrError('BAD_ARGUMENT', `${name}: expected [min, max] with min <= max, got [${min}, ${max}]`);
  }
  if (!(merged.driftStep >= 0 && merged.maxDrift >= 0)) throw hwrError('BAD_ARGUMENT', `driftStep, maxDrift: expected >= 0, got ${merged.driftStep}, ${merged.maxDrift}`);
  return merged;
}

/** Draws how each pair of drawn neighbours is placed (one draw per pair, in order). */
function pairKind(rng: Rng, options: Required<ComposeLineOptions>): PairKind {
  const u = rng.next();
  if (u < options.touchingShare) return 'touch';
  if (u < options.touchingShare + options.overlappingShare) return 'overlap';
  return 'gap';
}

/** A random walk of the baseline: the next offset from the start, in units of the height. */
function nextDrift(drift: number, rng: Rng, options: Required<ComposeLineOptions>): number {
  return Math.max(-options.maxDrift, Math.min(options.maxDrift, drift + rng.uniform(-options.driftStep, options.driftStep)));
}

// ---------------------------------------------------------------------------------------------------------------
// Images

/** A character's raster cut to its ink columns and scaled, with its place on the line. */
interface PlacedGlyph {
  /** `[height * width]` float32 coverage. */
  data: Float32Array;
  width: number;
  height: number;
  /** Top-left corner on the line, integer px (any origin until the canvas is laid out). */
  x: number;
  y: number;
  /** Per row: first and last column with coverage >= INK_THRESHOLD, or -1 when the row has none. */
  left: Int32Array;
  right: Int32Array;
}

/**
 * Composes a line image from character rasters: each is cut to its ink columns (its rows are kept, so a digit keeps
 * its height in the 28x28 frame and a `-` its mid-height place), scaled by `scale * (1 +- sizeVariation)` (bilinear),
 * set with its frame's bottom on a drifting baseline, and placed after its left neighbour with a random gap, or pushed
 * against it until their ink meets (overlapping by 0 to 2 px: `touchingShare`), or until their ink is 3 px to 12% of the
 * height apart (row by row) (`overlappingShare`). Touching ink is merged by taking the larger coverage.
 *
 * @param chars    the characters in reading order (at least one that is not a space)
 * @param rng      the generator (advances)
 * @param options  see `ComposeImageLineOptions`
 * @returns the line image (RGBA, dark on light), its text, each drawn character's ink box in image px, and which
 *   neighbours touch or overlap (as they came out, not as drawn: a pair whose shapes share no row cannot touch)
 * @throws HwrError `BAD_ARGUMENT` for a bad option, a raster whose size does not match, a character without ink, or
 *   a line without characters
 */
export function composeImageLine(chars: readonly ImageLineCharacter[], rng: Rng, options: ComposeImageLineOptions = {}): ImageLine {
  const shared = lineOptions(options);
  const scale = options.scale ?? 1;
  const margin = options.margin ?? 4;
  const inkGray = options.inkGray ?? 0;
  if (!(scale > 0 && scale <= 64)) throw hwrError('BAD_ARGUMENT', `scale: expected a number in (0, 64], got ${scale}`);
  if (!(Number.isInteger(margin) && margin >= 0)) throw hwrError('BAD_ARGUMENT', `margin: expected an integer >= 0, got ${margin}`);
  if (!(inkGray >= 0 && inkGray < 255)) throw hwrError('BAD_ARGUMENT', `inkGray: expected 0 to 254, got ${inkGray}`);

  const drawn = chars.filter((c) => c.label !== ' ');
  if (drawn.length === 0) throw hwrError('BAD_ARGUMENT', 'composeImageLine: no characters to draw (only spaces or none)');
  const nominal = Math.max(...drawn.map((c) => c.height)) * scale;

  const glyphs: PlacedGlyph[] = [];
  let drift = 0;
  let pendingSpace = false;
  for (const [index, char] of chars.entries()) {
    if (char.label === ' ') {
      pendingSpace = true;
      continue;
    }
    const size = scale * (1 + rng.uniform(-shared.sizeVariation, shared.sizeVariation));
    const glyph = scaledGlyph(char, size, index);
    drift = glyphs.length === 0 ? 0 : nextDrift(drift, rng, shared);
    glyph.y = Math.round(nominal * (1 + drift) - glyph.height);
    const previous = glyphs[glyphs.length - 1];
    if (previous) {
      const kind = pendingSpace ? 'gap' : pairKind(rng, shared);
      const range = pendingSpace ? shared.wordSpacing : shared.spacing;
      const gap = rng.uniform(range[0], range[1]) * nominal;
      // The last few glyphs, not only the previous one: a 1 tucked under a 7's bar leaves the bar's end to its right.
      const recent = glyphs.slice(-3);
      glyph.x = Math.max(...recent.map((g) => g.x + g.width)) + Math.round(gap);
      if (kind !== 'gap') {
        const target = kind === 'touch' ? 1 - rng.int(3) : Math.round(rng.uniform(3, Math.max(3, 0.12 * nominal)));
        const approaches = recent.map((g) => closestApproach(g, glyph)).filter((d): d is number => d !== null);
        const closest = approaches.length > 0 ? Math.min(...approaches) : null;
        // Never further left than half the left neighbour: the reading order must stay plain.
        if (closest !== null) glyph.x = Math.max(previous.x + Math.ceil(previous.width / 2), glyph.x + target - closest);
      }
    }
    pendingSpace = false;
    glyphs.push(glyph);
  }
  return drawImageLine(chars.map((c) => c.label).join(''), glyphs, margin, inkGray);
}

/** Cuts a raster to its ink columns and scales it by `size` (bilinear, coverage outside the raster = 0). */
function scaledGlyph(char: ImageLineCharacter, size: number, index: number): PlacedGlyph {
  const { image, width, height } = char;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && image.length === width * height)) {
    throw hwrError('BAD_ARGUMENT', `chars[${index}] (${JSON.stringify(char.label)}): expected width * height = image.length, got ${width} x ${height} and ${image.length}`);
  }
  let first = width;
  let last = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (image[y * width + x]! > 0) (first = Math.min(first, x)), (last = Math.max(last, x));
    }
  }
  if (last < 0) throw hwrError('BAD_ARGUMENT', `chars[${index}] (${JSON.stringify(char.label)}): the raster has no ink`);
  const cutWidth = last - first + 1;
  const outWidth = Math.max(1, Math.round(cutWidth * size));
  const outHeight = Math.max(1, Math.round(height * size));
  const fx = cutWidth / outWidth;
  const fy = height / outHeight;
  const at = (x: number, y: number): number => (x >= 0 && x < cutWidth && y >= 0 && y < height ? image[y * width + first + x]! : 0);
  const data = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const sy = (y + 0.5) * fy - 0.5;
    const y0 = Math.floor(sy);
    const wy = sy - y0;
    for (let x = 0; x < outWidth; x++) {
      const sx = (x + 0.5) * fx - 0.5;
      const x0 = Math.floor(sx);
      const wx = sx - x0;
      const top = at(x0, y0) * (1 - wx) + at(x0 + 1, y0) * wx;
      const bottom = at(x0, y0 + 1) * (1 - wx) + at(x0 + 1, y0 + 1) * wx;
      data[y * outWidth + x] = Math.min(1, Math.max(0, top * (1 - wy) + bottom * wy));
    }
  }
  const left = new Int32Array(outHeight).fill(-1);
  const right = new Int32Array(outHeight).fill(-1);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      if (data[y * outWidth + x]! >= INK_THRESHOLD) {
        if (left[y] === -1) left[y] = x;
        right[y] = x;
      }
    }
  }
  return { data, width: outWidth, height: outHeight, x: 0, y: 0, left, right };
}

/**
 * The smallest horizontal distance, over the right glyph's rows of ink, from the left glyph's last ink pixel in that
 * row or the rows above and below it to the right glyph's first (1 = 8-neighbours, 0 = the same column), at the right
 * glyph's current place; null when they share no row of ink.
 */
function closestApproach(leftGlyph: PlacedGlyph, rightGlyph: PlacedGlyph): number | null {
  let closest: number | null = null;
  for (let r = 0; r < rightGlyph.height; r++) {
    const l = rightGlyph.left[r]!;
    if (l < 0) continue;
    // The left glyph's rows above and below count too: pixels touch diagonally.
    let rr = -1;
    for (let other = rightGlyph.y + r - leftGlyph.y - 1; other <= rightGlyph.y + r - leftGlyph.y + 1; other++) {
      if (other >= 0 && other < leftGlyph.height) rr = Math.max(rr, leftGlyph.right[other]!);
    }
    if (rr < 0) continue;
    const distance = rightGlyph.x + l - (leftGlyph.x + rr);
    if (closest === null || distance < closest) closest = distance;
  }
  return closest;
}

/** Whether two glyphs' ink pixels (>= INK_THRESHOLD) coincide or are 8-neighbours. */
function glyphsTouch(a: PlacedGlyph, b: PlacedGlyph): boolean {
  const inkOf = (g: PlacedGlyph, x: number, y: number): boolean => {
    const gx = x - g.x;
    const gy = y - g.y;
    return gx >= 0 && gx < g.width && gy >= 0 && gy < g.height && g.data[gy * g.width + gx]! >= INK_THRESHOLD;
  };
  for (let y = 0; y < b.height; y++) {
    for (let x = 0; x < b.width; x++) {
      if (b.data[y * b.width + x]! < INK_THRESHOLD) continue;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (inkOf(a, b.x + x + dx, b.y + y + dy)) return true;
    }
  }
  return false;
}

/** Lays the placed glyphs out on paper with `margin` px around, merges their coverage by max, and measures boxes. */
function drawImageLine(text: string, glyphs: PlacedGlyph[], margin: number, inkGray: number): ImageLine {
  const minX = Math.min(...glyphs.map((g) => g.x));
  const minY = Math.min(...glyphs.map((g) => g.y));
  const maxX = Math.max(...glyphs.map((g) => g.x + g.width));
  const maxY = Math.max(...glyphs.map((g) => g.y + g.height));
  const width = maxX - minX + 2 * margin;
  const height = maxY - minY + 2 * margin;
  const coverage = new Float32Array(width * height);
  const owners = new Int16Array(width * height).fill(-1);
  const boxes: LineBox[] = [];
  for (const [index, g] of glyphs.entries()) {
    g.x += margin - minX;
    g.y += margin - minY;
    let top = g.height;
    let bottom = -1;
    for (let y = 0; y < g.height; y++) {
      for (let x = 0; x < g.width; x++) {
        const value = g.data[y * g.width + x]!;
        if (value <= 0) continue;
        (top = Math.min(top, y)), (bottom = Math.max(bottom, y));
        const i = (g.y + y) * width + g.x + x;
        if (value > coverage[i]!) (coverage[i] = value), (owners[i] = index);
      }
    }
    boxes.push({ x: g.x, y: g.y + top, width: g.width, height: bottom - top + 1 });
  }
  const data = new Uint8ClampedArray(width * height * 4);
  const depth = 255 - inkGray;
  for (let i = 0; i < width * height; i++) {
    const gray = 255 - Math.round(coverage[i]! * depth);
    data[4 * i] = gray;
    data[4 * i + 1] = gray;
    data[4 * i + 2] = gray;
    data[4 * i + 3] = 255;
  }
  const touching: boolean[] = [];
  const overlapping: boolean[] = [];
  for (let i = 0; i + 1 < glyphs.length; i++) {
    const touches = glyphsTouch(glyphs[i]!, glyphs[i + 1]!);
    touching.push(touches);
    overlapping.push(!touches && boxes[i + 1]!.x < boxes[i]!.x + boxes[i]!.width);
  }
  return { image: { width, height, data, polarity: 'dark-on-light' }, text, boxes, touching, overlapping, owners };
}

// ---------------------------------------------------------------------------------------------------------------
// Ink

/** A character's ink scaled and placed on the line, with its resampled trace for distance tests. */
interface PlacedInk {
  strokes: InkStroke[];
  /** Points every `step` units along the strokes (placed coordinates), for profiles and distances. */
  trace: Array<{ x: number; y: number }>;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/**
 * Composes a line of ink from characters' ink: each is scaled to `height * (1 +- sizeVariation)` (see `emSize`), set
 * on a drifting baseline and placed after its left neighbour with a random gap, or pushed against it until their traces
 * meet or cross by up to half a pen width (`touchingShare`), or until they are 1.5 to 3 pen widths apart
 * (`overlappingShare`). Times: each character keeps its own points' `t` (or gets them from its path length at 4
 * heights per second, 80 ms per pen lift), characters follow each other after a 120-350 ms pause.
 *
 * @param chars    the characters in writing order (at least one that is not a space; every other has points)
 * @param rng      the generator (advances)
 * @param options  see `ComposeInkLineOptions`
 * @returns the line's ink (output units, y down, `margin` around), text, boxes and stroke ranges per drawn character,
 *   and which neighbours touch or overlap (as they came out)
 * @throws HwrError `BAD_ARGUMENT` for a bad option, a character without points, or a line without characters
 */
export function composeInkLine(chars: readonly InkLineCharacter[], rng: Rng, options: ComposeInkLineOptions = {}): InkLine {
  const shared = lineOptions(options);
  const height = options.height ?? 100;
  const penWidth = options.penWidth ?? 0.06 * height;
  const margin = options.margin ?? 0.2 * height;
  if (!(height > 0 && Number.isFinite(height))) throw hwrError('BAD_ARGUMENT', `height: expected a positive number, got ${height}`);
  if (options.emSize !== undefined && !(options.emSize > 0)) throw hwrError('BAD_ARGUMENT', `emSize: expected a positive number, got ${options.emSize}`);
  if (!(penWidth > 0)) throw hwrError('BAD_ARGUMENT', `penWidth: expected a positive number, got ${penWidth}`);
  if (!(margin >= 0)) throw hwrError('BAD_ARGUMENT', `margin: expected >= 0, got ${margin}`);
  if (!chars.some((c) => c.label !== ' ')) throw hwrError('BAD_ARGUMENT', 'composeInkLine: no characters to draw (only spaces or none)');

  const placed: PlacedInk[] = [];
  let drift = 0;
  let pendingSpace = false;
  for (const [index, char] of chars.entries()) {
    if (char.label === ' ') {
      pendingSpace = true;
      continue;
    }
    const size = height * (1 + rng.uniform(-shared.sizeVariation, shared.sizeVariation));
    drift = placed.length === 0 ? 0 : nextDrift(drift, rng, shared);
    const ink = scaledInk(char, size, options.emSize, height * (1 + drift), index, height / 40);
    const previous = placed[placed.length - 1];
    let dx = -ink.minX;
    if (previous) {
      const kind = pendingSpace ? 'gap' : pairKind(rng, shared);
      const range = pendingSpace ? shared.wordSpacing : shared.spacing;
      const recent = placed.slice(-3);
      dx = Math.max(...recent.map((p) => p.maxX)) + rng.uniform(range[0], range[1]) * height - ink.minX;
      if (kind !== 'gap') {
        const target = kind === 'touch' ? rng.uniform(-0.5, 0.3) * penWidth : rng.uniform(1.5, 3) * penWidth;
        const approaches = recent.map((p) => closestInkApproach(p, ink, dx, Math.min(penWidth, height / 25))).filter((d): d is number => d !== null);
        const closest = approaches.length > 0 ? Math.min(...approaches) : null;
        if (closest !== null) dx = Math.max(previous.minX + (previous.maxX - previous.minX) / 2 - ink.minX, dx + target - closest);
      }
    }
    shiftInk(ink, dx, 0);
    pendingSpace = false;
    placed.push(ink);
  }
  return assembleInkLine(chars.map((c) => c.label).join(''), placed, penWidth, margin, height, rng);
}

/** Scales and places one character's ink (bottom of its em box or ink box at `baseline`), with its trace. */
function scaledInk(char: InkLineCharacter, size: number, emSize: number | undefined, baseline: number, index: number, step: number): PlacedInk {
  const points = char.ink.strokes.flat();
  if (points.length === 0) throw hwrError('BAD_ARGUMENT', `chars[${index}] (${JSON.stringify(char.label)}): the ink has no points`);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of points) (minX = Math.min(minX, p.x)), (maxX = Math.max(maxX, p.x)), (minY = Math.min(minY, p.y)), (maxY = Math.max(maxY, p.y));
  // Em box: y from 0 to emSize; own box: the longer side of the ink.
  const k = emSize !== undefined ? size / emSize : size / Math.max(maxX - minX, maxY - minY, 1e-9);
  const bottom = emSize !== undefined ? emSize : maxY;
  const strokes = char.ink.strokes
    .filter((s) => s.length > 0)
    .map((stroke) => stroke.map((p): InkPoint => ({ ...p, x: (p.x - minX) * k, y: baseline - (bottom - p.y) * k })));
  const placedPoints = strokes.flat();
  const trace = strokes.flatMap((stroke) => resample(stroke, step));
  return {
    strokes,
    trace,
    minX: Math.min(...placedPoints.map((p) => p.x)),
    maxX: Math.max(...placedPoints.map((p) => p.x)),
    minY: Math.min(...placedPoints.map((p) => p.y)),
    maxY: Math.max(...placedPoints.map((p) => p.y)),
  };
}

/** Points every `step` along a stroke (its vertices included), for distance tests. */
function resample(stroke: InkStroke, step: number): Array<{ x: number; y: number }> {
  const out = [{ x: stroke[0]!.x, y: stroke[0]!.y }];
  for (let i = 1; i < stroke.length; i++) {
    const a = stroke[i - 1]!;
    const b = stroke[i]!;
    const n = Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / step);
    for (let j = 1; j <= n; j++) out.push({ x: a.x + ((b.x - a.x) * j) / n, y: a.y + ((b.y - a.y) * j) / n });
  }
  return out;
}

/** Moves a placed character by (dx, dy). */
function shiftInk(ink: PlacedInk, dx: number, dy: number): void {
  for (const stroke of ink.strokes) for (const p of stroke) (p.x += dx), (p.y += dy);
  for (const p of ink.trace) (p.x += dx), (p.y += dy);
  ink.minX += dx;
  ink.maxX += dx;
  ink.minY += dy;
  ink.maxY += dy;
}

/**
 * The smallest horizontal distance, over bands of height `band` that both traces cross (a band and its neighbours),
 * from the left character's rightmost point to the right one's leftmost, were the right one shifted by `dx`; null when
 * they share no band.
 */
function closestInkApproach(leftInk: PlacedInk, rightInk: PlacedInk, dx: number, band: number): number | null {
  const rightmost = new Map<number, number>();
  for (const p of leftInk.trace) {
    const b = Math.floor(p.y / band);
    rightmost.set(b, Math.max(rightmost.get(b) ?? -Infinity, p.x));
  }
  let closest: number | null = null;
  for (const p of rightInk.trace) {
    // The bands above and below count too: a slanted bar crosses bands between two trace points.
    const b = Math.floor(p.y / band);
    const r = Math.max(rightmost.get(b - 1) ?? -Infinity, rightmost.get(b) ?? -Infinity, rightmost.get(b + 1) ?? -Infinity);
    if (r === -Infinity) continue;
    const distance = p.x + dx - r;
    if (closest === null || distance < closest) closest = distance;
  }
  return closest;
}

/** Whether two placed characters' traces come within `penWidth` of each other. */
function inkTouches(a: PlacedInk, b: PlacedInk, penWidth: number): boolean {
  if (b.minX > a.maxX + penWidth || a.minX > b.maxX + penWidth || b.minY > a.maxY + penWidth || a.minY > b.maxY + penWidth) return false;
  const near = a.trace.filter((p) => p.x >= b.minX - penWidth && p.y >= b.minY - penWidth && p.y <= b.maxY + penWidth);
  const limit = penWidth * penWidth;
  for (const p of b.trace) {
    if (p.x > a.maxX + penWidth) continue;
    for (const q of near) if ((p.x - q.x) ** 2 + (p.y - q.y) ** 2 <= limit) return true;
  }
  return false;
}

/** Shifts the placed characters into the margin, gives every point a time, and measures boxes and pairs. */
function assembleInkLine(text: string, placed: PlacedInk[], penWidth: number, margin: number, height: number, rng: Rng): InkLine {
  const minX = Math.min(...placed.map((p) => p.minX));
  const minY = Math.min(...placed.map((p) => p.minY));
  const maxX = Math.max(...placed.map((p) => p.maxX));
  const maxY = Math.max(...placed.map((p) => p.maxY));
  const strokes: InkStroke[] = [];
  const boxes: LineBox[] = [];
  const strokeRanges: Array<{ start: number; end: number }> = [];
  const speed = (4 * height) / 1000; // units per ms when the ink has no times
  let clock = 0;
  for (const ink of placed) {
    shiftInk(ink, margin - minX, margin - minY);
    boxes.push({ x: ink.minX, y: ink.minY, width: ink.maxX - ink.minX, height: ink.maxY - ink.minY });
    const start = strokes.length;
    const hasTimes = ink.strokes.every((s) => s.every((p) => typeof p.t === 'number' && Number.isFinite(p.t)));
    const t0 = hasTimes ? Math.min(...ink.strokes.map((s) => s[0]!.t!)) : 0;
    let local = 0;
    let last = -Infinity;
    for (const [s, stroke] of ink.strokes.entries()) {
      if (!hasTimes && s > 0) local += 80;
      const timed = stroke.map((p, i): InkPoint => {
        if (hasTimes) local = p.t! - t0;
        else if (i > 0) local += Math.hypot(p.x - stroke[i - 1]!.x, p.y - stroke[i - 1]!.y) / speed;
        // Times never go backwards, even if a character's own times do.
        last = Math.max(last, clock + local);
        return { ...p, t: Math.round(last * 1000) / 1000 };
      });
      strokes.push(timed);
    }
    clock = last + rng.uniform(120, 350);
    strokeRanges.push({ start, end: strokes.length });
  }
  const touching: boolean[] = [];
  const overlapping: boolean[] = [];
  for (let i = 0; i + 1 < placed.length; i++) {
    const touches = inkTouches(placed[i]!, placed[i + 1]!, penWidth);
    touching.push(touches);
    overlapping.push(!touches && boxes[i + 1]!.x < boxes[i]!.x + boxes[i]!.width);
  }
  const ink: SizedInk = { strokes, width: maxX - minX + 2 * margin, height: maxY - minY + 2 * margin };
  return { ink, text, boxes, strokeRanges, touching, overlapping };
}

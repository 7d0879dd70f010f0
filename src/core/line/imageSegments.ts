/**
 * Over-segmentation of a line image into primitives (Casey and Lecolinet 1996, section 4: "dissection" into pieces
 * that are characters or parts of characters, then recognition-based merging by the search, ./search.ts):
 *
 *   RGBA -> grey (`toGrayscale`) -> shrunk by a whole factor when the line is tall (characters keep >= ~64 px;
 *   a wide line keeps all its columns' resolution) -> polarity and uneven light (`flattenLighting`) -> ink (`toInk`)
 *   -> ruling lines erased (`removeRulingLines`) -> 8-connected components by hysteresis -> specks dropped
 *   -> components that overlap strongly in x joined into groups (a broken stroke, an i's dot, a stacked part)
 *   -> groups wider than a character split at candidate cuts: columns where the vertical projection is low and the
 *   upper and lower contours dip towards each other (valleys of the contours, as in Fujisawa, Nakano and Kurino 1992,
 *   "Segmentation methods for character recognition", section III) -> primitives.
 *
 * Components side by side (Chinese radicals, a 5's flag, touching characters once cut) stay separate primitives:
 * the search decides whether to join them. Imports nothing Node-only.
 */
import { areaDownsample } from '../background.ts';
import { hwrError } from '../errors.ts';
import { flattenLighting, toGrayscale, toInk, toInkOnCleanPaper } from '../preprocess.ts';
import type { InkCrop } from '../preprocessing.ts';
import { removeRulingLines } from '../ruling.ts';
import { estimateStrokeWidth } from '../strokes.ts';
import type { PixelBuffer } from '../types.ts';
import { groupByOverlap, lineGeometry, type LineLayout, type LinePrimitive } from './layout.ts';
import type { LineBox } from './types.ts';

/** Lines are shrunk (by a whole factor) until their height is at most this many px: characters keep ~64-128 px. */
const WORKING_HEIGHT = 160;
/** Hysteresis thresholds of the components, as fractions of the strongest ink (strong seeds, weak rim). */
const STRONG_INK = 0.3;
const WEAK_INK = 0.1;
/** Components overlapping in x by at least this fraction of the narrower one's width form one group. */
const GROUP_OVERLAP = 0.7;
/** Groups wider than this many character heights are split at candidate cuts. */
const SPLIT_WIDTH = 0.75;
/** A piece made by a cut is at least this many character heights wide. */
const MIN_PIECE = 0.18;

/** An image line's layout, with the working scale. */
export interface ImageLayout extends LineLayout {
  /** Source px per working px (a whole number >= 1). */
  shrink: number;
  /** The working ink map: `[height * width]` float32 in [0, 1]. */
  ink: Float32Array;
  width: number;
  height: number;
}

/** A primitive of an image: columns `from..to-1` of the groups' components. */
interface ImagePrimitive extends LinePrimitive {
  components: number[];
  from: number;
  to: number;
}

/**
 * Segments a line image into primitives (see the module comment).
 * @param image RGBA pixels of the line, any size (a photo, a scan, a canvas)
 * @param name names the image in errors
 * @throws HwrError `NO_INK` for a blank image; `BAD_ARGUMENT` for a malformed buffer
 */
export function segmentImageLine(image: PixelBuffer, name: string): ImageLayout {
  const full = toGrayscale(image);
  const shrink = Math.max(1, Math.floor(image.height / WORKING_HEIGHT));
  const working = shrink > 1 ? areaDownsample(full, image.width, image.height, shrink) : { data: full, width: image.width, height: image.height };
  const { width, height } = working;
  const { polarity, gray } = flattenLighting(working.data, width, height, image.polarity);
  let ink = toInk(gray, polarity);
  if (image.polarity && !ink.some((v) => v > 0)) ink = toInkOnCleanPaper(gray, polarity);
  removeRulingLines(ink, width, height, WEAK_INK);
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i]! > strongest) strongest = ink[i]!;
  if (!(strongest > 0)) throw hwrError('NO_INK', `no ink found in ${name}`);

  const { components } = labelComponents(ink, width, height, WEAK_INK * strongest, STRONG_INK * strongest);
  const pen = Math.max(1, estimateStrokeWidth(ink, width, height).width);
  // A speck holds less ink than half a dot of the pen; a full stop is about one dot and stays.
  const kept = components.filter((c) => c.mass >= 0.5 * pen * pen);
  if (kept.length === 0) throw hwrError('NO_INK', `no ink found in ${name}`);

  const groupOf = groupByOverlap(kept, GROUP_OVERLAP, 1);
  const groups: { components: number[]; x0: number; x1: number; y0: number; y1: number }[] = [];
  kept.forEach((c, i) => {
    const g = (groups[groupOf[i]!] ??= { components: [], x0: c.x0, x1: c.x1, y0: c.y0, y1: c.y1 });
    g.components.push(c.id);
    g.x0 = Math.min(g.x0, c.x0);
    g.x1 = Math.max(g.x1, c.x1);
    g.y0 = Math.min(g.y0, c.y0);
    g.y1 = Math.max(g.y1, c.y1);
  });
  groups.sort((a, b) => a.x0 + a.x1 - (b.x0 + b.x1));
  const geometry = lineGeometry(groups.map((g) => ({ y0: g.y0, y1: g.y1 + 1 })), 2 * pen);

  const primitives: ImagePrimitive[] = [];
  for (const group of groups) {
    const cuts = group.x1 - group.x0 + 1 > SPLIT_WIDTH * geometry.charHeight ? cutColumns(ink, width, group, components, geometry.charHeight) : [];
    const bounds = [group.x0, ...cuts, group.x1 + 1];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const piece = pieceBox(ink, width, group.components, components, bounds[k]!, bounds[k + 1]!);
      if (piece) primitives.push({ ...piece, components: group.components, from: bounds[k]!, to: bounds[k + 1]!, cutAfter: k + 2 < bounds.length });
    }
  }

  const crop = (first: number, last: number): InkCrop => {
    const parts = primitives.slice(first, last + 1);
    const x0 = Math.min(...parts.map((p) => p.x0));
    const x1 = Math.max(...parts.map((p) => p.x1));
    const y0 = Math.min(...parts.map((p) => p.y0));
    const y1 = Math.max(...parts.map((p) => p.y1));
    const w = x1 - x0 + 1;
    const data = new Float32Array(w * (y1 - y0 + 1));
    for (const p of parts) {
      for (const id of p.components) {
        const c = components[id]!;
        for (let k = 0; k < c.pixels.length; k++) {
          const i = c.pixels[k]!;
          const x = i % width;
          if (x < p.from || x >= p.to) continue;
          const y = (i - x) / width;
          data[(y - y0) * w + (x - x0)] = ink[i]!;
        }
      }
    }
    return { data, width: w, height: y1 - y0 + 1 };
  };
  const inputBox = (first: number, last: number): LineBox => {
    const parts = primitives.slice(first, last + 1);
    const x = Math.min(...parts.map((p) => p.x0)) * shrink;
    const y = Math.min(...parts.map((p) => p.y0)) * shrink;
    return {
      x,
      y,
      width: Math.min(image.width, (Math.max(...parts.map((p) => p.x1)) + 1) * shrink) - x,
      height: Math.min(image.height, (Math.max(...parts.map((p) => p.y1)) + 1) * shrink) - y,
    };
  };
  return { primitives, ...geometry, crop, inputBox, strokesOf: () => undefined, shrink, ink, width, height };
}

/** A connected component: its pixels (indices into the ink map), box (inclusive px) and ink mass. */
interface Component {
  id: number;
  pixels: Int32Array;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  mass: number;
}

/**
 * 8-connected components by hysteresis (as `findBlobs` in ../preprocess.ts): grown from pixels above `strong`
 * through neighbours above `weak`. Flood fill with an explicit stack, O(width * height).
 * @returns `labels` (`[height * width]` int32, component id + 1, 0 = paper) and the components
 */
export function labelComponents(ink: Float32Array, width: number, height: number, weak: number, strong: number): { labels: Int32Array; components: Component[] } {
  const labels = new Int32Array(ink.length);
  const stack = new Int32Array(ink.length);
  const components: Component[] = [];
  for (let start = 0; start < ink.length; start++) {
    if (labels[start] || !(ink[start]! > strong)) continue;
    const id = components.length;
    const pixels: number[] = [];
    let x0 = width;
    let x1 = -1;
    let y0 = height;
    let y1 = -1;
    let mass = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = id + 1;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      pixels.push(i);
      mass += ink[i]!;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (!labels[j] && ink[j]! > weak) {
            labels[j] = id + 1;
            stack[top++] = j;
          }
        }
      }
    }
    components.push({ id, pixels: Int32Array.from(pixels), x0, x1, y0, y1, mass });
  }
  return { labels, components };
}

/**
 * Candidate cut columns of a wide group: each column scores its ink (vertical projection, in pen widths relative to
 * the character height) minus how deep the upper and lower contours dip there; the lowest-scoring columns are taken
 * greedily, at least `MIN_PIECE` character heights from each other and from the group's ends, about one per 0.3
 * character heights of width. More cuts than characters is the point: the search joins the pieces back.
 * @returns cut columns ascending: a cut at c puts columns < c left of it
 */
function cutColumns(
  ink: Float32Array,
  width: number,
  group: { components: number[]; x0: number; x1: number; y0: number; y1: number },
  components: readonly Component[],
  charHeight: number,
): number[] {
  const w = group.x1 - group.x0 + 1;
  const h = group.y1 - group.y0 + 1;
  const projection = new Float64Array(w);
  const top = new Float64Array(w).fill(group.y1 + 1);
  const bottom = new Float64Array(w).fill(group.y0 - 1);
  for (const id of group.components) {
    const pixels = components[id]!.pixels;
    for (let k = 0; k < pixels.length; k++) {
      const i = pixels[k]!;
      const x = i % width;
      const y = (i - x) / width;
      const c = x - group.x0;
      projection[c] += ink[i]!;
      if (y < top[c]!) top[c] = y;
      if (y > bottom[c]!) bottom[c] = y;
    }
  }
  const score = new Float64Array(w);
  for (let c = 0; c < w; c++) {
    if (projection[c] === 0) {
      score[c] = -2; // an empty column inside a group: the best cut there is
      continue;
    }
    const upper = (top[c]! - group.y0) / h;
    const lower = (group.y1 - bottom[c]!) / h;
    score[c] = projection[c]! / h - 0.5 * upper - 0.5 * lower;
  }
  // A column is a valley when no column within a quarter character height scores lower.
  const minPiece = Math.max(2, Math.round(MIN_PIECE * charHeight));
  const order = Array.from({ length: w }, (_, c) => c)
    .filter((c) => c >= minPiece && c <= w - minPiece)
    .sort((a, b) => score[a]! - score[b]!);
  const wanted = Math.max(1, Math.round(w / (0.3 * charHeight)));
  const cuts: number[] = [];
  for (const c of order) {
    if (cuts.length >= wanted) break;
    if (cuts.some((d) => Math.abs(d - c) < minPiece)) continue;
    cuts.push(c);
  }
  return cuts.sort((a, b) => a - b).map((c) => c + group.x0);
}

/** The ink box of the group's pixels in columns `from..to-1`; null when they hold no ink. */
function pieceBox(
  ink: Float32Array,
  width: number,
  ids: readonly number[],
  components: readonly Component[],
  from: number,
  to: number,
): { x0: number; x1: number; y0: number; y1: number } | null {
  let x0 = Infinity;
  let x1 = -1;
  let y0 = Infinity;
  let y1 = -1;
  for (const id of ids) {
    const pixels = components[id]!.pixels;
    for (let k = 0; k < pixels.length; k++) {
      const i = pixels[k]!;
      const x = i % width;
      if (x < from || x >= to || !(ink[i]! > 0)) continue;
      const y = (i - x) / width;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x0, x1, y0, y1 };
}

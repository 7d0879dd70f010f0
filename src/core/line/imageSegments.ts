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
import { flattenLighting, inkComponents, toGrayscale, toInk, toInkOnCleanPaper } from '../preprocess.ts';
import type { InkCrop } from '../preprocessing.ts';
import { removeRulingLines } from '../ruling.ts';
import { estimateStrokeWidth } from '../strokes.ts';
import type { PixelBuffer } from '../types.ts';
import { groupByOverlap, lineGeometry, type LineLayout, type LinePrimitive } from './layout.ts';
import type { LineBox } from './types.ts';

/** Lines are shrunk (by a whole factor) until their height is at most this many px: characters keep ~64-128 px. */
const WORKING_HEIGHT = 160;
/** Height in px at which `flattenLine` first looks at the light. */
const PROBE_HEIGHT = 48;
/** Hysteresis thresholds of the components, as fractions of the strongest ink (strong seeds, weak rim). */
const STRONG_INK = 0.3;
const WEAK_INK = 0.1;
/** Components overlapping in x by at least this fraction of the narrower one's width form one group ... */
const GROUP_OVERLAP = 0.7;
/** ... when the shorter is under this fraction of the taller's height (a dot, a bar, a broken-off piece) ... */
const TALL_PART = 0.6;
/** ... or when the overlap is at least this fraction. */
const FULL_OVERLAP = 0.9;
/** Tuning of the cuts (fractions of the line's character height); measured choices in notes/LINE-READING.md. */
export const CUT_TUNING = {
  /** Groups wider than this are split at candidate cuts. */
  SPLIT_WIDTH: 0.5,
  /** A piece made by a cut is at least this wide. */
  MIN_PIECE: 0.18,
  /** About one cut per this much width of a group. */
  CUT_SPACING: 0.2,
  /** A cut path stays within this distance of its column. */
  WINDOW: 0.15,
  /**
   * ... in scripts of square characters (hanzi), whose touching neighbours interlock more than digits do (a path must
   * find its way round a radical). Measured in notes/LINE-READING.md ("Chinese lines").
   */
  SQUARE_WINDOW: 0.25,
  /** A cut path's cost: per unit of ink crossed, per sideways step, per column of distance from its column (each row). */
  INK_COST: 10,
  STEP_COST: 0.3,
  STRAY_COST: 0.2,
  SQUARE_STRAY_COST: 0.1,
  /** Leans of the cut paths' windows tried, columns per row (y down: negative leans like italic writing, top right). */
  SLOPES: [0] as number[],
  /** Added to a leaning path's cost: it must beat the upright one by this much. */
  SLOPE_COST: 0,
};

/** An image line's layout, with the working scale. */
export interface ImageLayout extends LineLayout {
  /** Source px per working px (a whole number >= 1). */
  shrink: number;
  /** The working ink map: `[height * width]` float32 in [0, 1]. */
  ink: Float32Array;
  width: number;
  height: number;
}

/** A primitive of an image: its pixels (indices into the working ink map). */
export interface ImagePrimitive extends LinePrimitive {
  pixels: Int32Array;
}

/** Options of `segmentImageLine`. */
export interface ImageSegmentOptions {
  /** Characters of many strokes in a square (hanzi: the `cjk-fit-v1` profile): cut paths use `CUT_TUNING.SQUARE_*`. */
  square?: boolean;
}

/**
 * Segments a line image into primitives (see the module comment).
 * @param image RGBA pixels of the line, any size (a photo, a scan, a canvas)
 * @param name names the image in errors
 * @throws HwrError `NO_INK` for a blank image; `BAD_ARGUMENT` for a malformed buffer
 */
export function segmentImageLine(image: PixelBuffer, name: string, options: ImageSegmentOptions = {}): ImageLayout {
  const full = toGrayscale(image);
  const shrink = Math.max(1, Math.floor(image.height / WORKING_HEIGHT));
  const working = shrink > 1 ? areaDownsample(full, image.width, image.height, shrink) : { data: full, width: image.width, height: image.height };
  const { width, height } = working;
  const { polarity, gray } = flattenLine(working.data, width, height, image.polarity);
  let ink = toInk(gray, polarity);
  if (image.polarity && !ink.some((v) => v > 0)) ink = toInkOnCleanPaper(gray, polarity);
  removeRulingLines(ink, width, height, WEAK_INK);
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i]! > strongest) strongest = ink[i]!;
  if (!(strongest > 0)) throw hwrError('NO_INK', `no ink found in ${name}`);

  // 8-connected components by hysteresis, with their pixels (the same flood fill as a single character's ink box).
  const components = inkComponents(ink, width, height, WEAK_INK * strongest, STRONG_INK * strongest, { pixels: true });
  const pen = Math.max(1, estimateStrokeWidth(ink, width, height).width);
  // A speck holds less ink than half a dot of the pen; a full stop is about one dot and stays.
  const kept = components.filter((c) => c.mass >= 0.5 * pen * pen);
  if (kept.length === 0) throw hwrError('NO_INK', `no ink found in ${name}`);

  // Two tall components side by side (a slanted 1 reaching under its neighbour) stay apart unless one lies almost
  // wholly over the other: the search joins them if they are one character.
  const groupOf = groupByOverlap(kept, GROUP_OVERLAP, 1, (a, b, overlap) => {
    const [short, tall] = a.y1 - a.y0 < b.y1 - b.y0 ? [a, b] : [b, a];
    return overlap >= FULL_OVERLAP || short.y1 - short.y0 < TALL_PART * (tall.y1 - tall.y0);
  });
  const groups: { pixels: Int32Array[]; x0: number; x1: number; y0: number; y1: number }[] = [];
  kept.forEach((c, i) => {
    const g = (groups[groupOf[i]!] ??= { pixels: [], x0: c.x0, x1: c.x1, y0: c.y0, y1: c.y1 });
    g.pixels.push(c.pixels!);
    g.x0 = Math.min(g.x0, c.x0);
    g.x1 = Math.max(g.x1, c.x1);
    g.y0 = Math.min(g.y0, c.y0);
    g.y1 = Math.max(g.y1, c.y1);
  });
  groups.sort((a, b) => a.x0 + a.x1 - (b.x0 + b.x1));
  const geometry = lineGeometry(groups.map((g) => ({ x0: g.x0, x1: g.x1 + 1, y0: g.y0, y1: g.y1 + 1 })), 2 * pen);

  const primitives: ImagePrimitive[] = [];
  for (const group of groups) {
    const pixels = group.pixels.length === 1 ? group.pixels[0]! : concatPixels(group.pixels);
    const wide = group.x1 - group.x0 + 1 > CUT_TUNING.SPLIT_WIDTH * geometry.charHeight;
    const cuts = wide ? cutPaths(ink, width, group, pixels, geometry.charHeight, options.square ?? false) : [];
    const pieces = splitPixels(pixels, width, group.y0, cuts.map((c) => c.path));
    pieces.forEach((piece, k) => {
      if (massOf(ink, piece) < 0.5 * pen * pen) return; // a sliver between two cuts
      const cutStrokes = k < cuts.length ? cuts[k]!.ink / pen : undefined;
      primitives.push({ ...pixelBox(piece, width), pixels: piece, cutAfter: k < cuts.length, ...(cutStrokes === undefined ? {} : { cutStrokes }) });
    });
  }
  // A cut that left nothing on one side is no cut.
  for (let k = 0; k + 1 < primitives.length; k++) if (primitives[k]!.cutAfter && primitives[k + 1]!.x0 > primitives[k]!.x1 + 1) primitives[k]!.cutAfter = false;

  // Dozens of crops per line (every candidate): the primitives' boxes bound them, and each pixel is written once.
  const crop = (first: number, last: number): InkCrop => {
    const { x0, x1, y0, y1 } = unionBox(primitives, first, last);
    const w = x1 - x0 + 1;
    const data = new Float32Array(w * (y1 - y0 + 1));
    const shift = y0 * w + x0; // pixel i = y * width + x goes to (y - y0) * w + (x - x0)
    for (let k = first; k <= last; k++) {
      const pixels = primitives[k]!.pixels;
      for (let j = 0; j < pixels.length; j++) {
        const i = pixels[j]!;
        const x = i % width;
        data[((i - x) / width) * w + x - shift] = ink[i]!;
      }
    }
    return { data, width: w, height: y1 - y0 + 1 };
  };
  const inputBox = (first: number, last: number): LineBox => {
    const box = unionBox(primitives, first, last);
    const x = box.x0 * shrink;
    const y = box.y0 * shrink;
    return {
      x,
      y,
      width: Math.min(image.width, (box.x1 + 1) * shrink) - x,
      height: Math.min(image.height, (box.y1 + 1) * shrink) - y,
    };
  };
  return { primitives, ...geometry, crop, inputBox, strokesOf: () => undefined, shrink, ink, width, height };
}

/**
 * `flattenLighting` for a line: decided first on a copy shrunk to about `PROBE_HEIGHT` px high (the closing that
 * estimates the paper costs most of the segmentation on a clean line); only when the light is uneven there is the
 * full-size line flattened. The polarity is the probe's (the majority rule and the paper estimates agree across sizes).
 */
function flattenLine(gray: Float32Array, width: number, height: number, known: PixelBuffer['polarity']): { polarity: 'dark-on-light' | 'light-on-dark'; gray: Float32Array } {
  const step = Math.floor(height / PROBE_HEIGHT);
  if (step < 2) return flattenLighting(gray, width, height, known);
  const probe = areaDownsample(gray, width, height, step);
  const decided = flattenLighting(probe.data, probe.width, probe.height, known);
  if (decided.gray === probe.data) return { polarity: decided.polarity, gray };
  return flattenLighting(gray, width, height, decided.polarity);
}

/** The inclusive box of primitives `first..last` (working px). */
function unionBox(primitives: readonly LinePrimitive[], first: number, last: number): { x0: number; x1: number; y0: number; y1: number } {
  const p = primitives[first]!;
  let { x0, x1, y0, y1 } = p;
  for (let k = first + 1; k <= last; k++) {
    const q = primitives[k]!;
    if (q.x0 < x0) x0 = q.x0;
    if (q.x1 > x1) x1 = q.x1;
    if (q.y0 < y0) y0 = q.y0;
    if (q.y1 > y1) y1 = q.y1;
  }
  return { x0, x1, y0, y1 };
}

/** Summed ink of a pixel list. */
function massOf(ink: Float32Array, pixels: Int32Array): number {
  let mass = 0;
  for (let k = 0; k < pixels.length; k++) mass += ink[pixels[k]!]!;
  return mass;
}

/** The pixel lists joined. */
function concatPixels(lists: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const list of lists) {
    out.set(list, at);
    at += list.length;
  }
  return out;
}

/** The inclusive box of a non-empty pixel list. */
function pixelBox(pixels: Int32Array, width: number): { x0: number; x1: number; y0: number; y1: number } {
  let x0 = Infinity;
  let x1 = -1;
  let y0 = Infinity;
  let y1 = -1;
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    const x = i % width;
    const y = (i - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x0, x1, y0, y1 };
}

/**
 * Splits a group's pixels by cut paths (each `path[y - top]` is the first column right of the cut in row y; paths
 * ascending and not crossing): piece k holds the pixels between path k-1 and path k.
 */
function splitPixels(pixels: Int32Array, width: number, top: number, paths: readonly Int32Array[]): Int32Array[] {
  if (paths.length === 0) return [pixels];
  const pieces: number[][] = Array.from({ length: paths.length + 1 }, () => []);
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    const x = i % width;
    const row = (i - x) / width - top;
    let piece = 0;
    while (piece < paths.length && x >= paths[piece]![row]!) piece++;
    pieces[piece]!.push(i);
  }
  return pieces.map((p) => Int32Array.from(p));
}

/**
 * Candidate cuts of a wide group, as paths from its top row to its bottom row (one column per row, moving at most one
 * column from row to row): for every column c, the cheapest such path within a window of `CUT_TUNING.WINDOW`
 * character heights around c (`SQUARE_WINDOW`, and `SQUARE_STRAY_COST` for `STRAY_COST`, when `square`), its cost
 * being the ink it crosses plus a little for each sideways step and for straying from c (dynamic programming, as the shortest-path segmentation of touching characters: Wang and Jean,
 * "Segmentation of merged characters by neural networks and shortest-path", Pattern Recognition 27(5), 1994). A path
 * can slip between characters whose boxes overlap and cross only where their ink touches. The cheapest columns are
 * taken greedily, at least `CUT_TUNING.MIN_PIECE` character heights from each other and from the group's ends,
 * about one per `CUT_TUNING.CUT_SPACING` character heights of width. More cuts than characters is the point: the
 * search joins the pieces back.
 * @returns the paths, left to right, made not to cross, with the ink each crosses (summed strength along it, px)
 */
function cutPaths(
  ink: Float32Array,
  width: number,
  group: { x0: number; x1: number; y0: number; y1: number },
  pixels: Int32Array,
  charHeight: number,
  square: boolean,
): { path: Int32Array; ink: number }[] {
  const cutWindow = square ? CUT_TUNING.SQUARE_WINDOW : CUT_TUNING.WINDOW;
  const strayCost = square ? CUT_TUNING.SQUARE_STRAY_COST : CUT_TUNING.STRAY_COST;
  const w = group.x1 - group.x0 + 1;
  const h = group.y1 - group.y0 + 1;
  // The group's own ink only (a neighbour's ink inside the box is not crossed).
  const local = new Float32Array(w * h);
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    const x = i % width;
    local[((i - x) / width - group.y0) * w + (x - group.x0)] = ink[i]!;
  }
  const minPiece = Math.max(2, Math.round(CUT_TUNING.MIN_PIECE * charHeight));
  const reach = Math.max(1, Math.round(cutWindow * charHeight));
  const span = 2 * reach + 1;
  const cost = new Float64Array(span);
  const next = new Float64Array(span);
  const back = new Int8Array(h * span);
  const found: { column: number; cost: number; path: Int32Array; ink: number }[] = [];
  const centre = new Int32Array(h);
  const slopes = CUT_TUNING.SLOPES;
  for (let c = minPiece; c <= w - minPiece; c++) {
    let best: { cost: number; path: Int32Array } | undefined;
    for (const slope of slopes) {
      // The window follows a line through column c at mid-height, leaning by `slope` columns per row.
      for (let y = 0; y < h; y++) centre[y] = c + Math.round(slope * (y - (h - 1) / 2));
      for (let j = 0; j < span; j++) {
        const x = centre[0]! - reach + j;
        cost[j] = x < 0 || x >= w ? Infinity : local[x]! * CUT_TUNING.INK_COST + strayCost * Math.abs(j - reach);
      }
      for (let y = 1; y < h; y++) {
        const shift = centre[y]! - centre[y - 1]!;
        for (let j = 0; j < span; j++) {
          const x = centre[y]! - reach + j;
          next[j] = Infinity;
          if (x < 0 || x >= w) continue;
          let bestCost = Infinity;
          let move = 0;
          for (let dx = -1; dx <= 1; dx++) {
            const k = x + dx - (centre[y - 1]! - reach);
            if (k < 0 || k >= span) continue;
            // Stepping sideways costs, unless the window itself steps that way here.
            const total = cost[k]! + (dx === -shift ? 0 : Math.abs(dx) * CUT_TUNING.STEP_COST);
            if (total < bestCost) {
              bestCost = total;
              move = dx;
            }
          }
          back[y * span + j] = move;
          next[j] = bestCost + local[y * w + x]! * CUT_TUNING.INK_COST + strayCost * Math.abs(j - reach);
        }
        cost.set(next);
      }
      let end = reach;
      for (let j = 0; j < span; j++) if (cost[j]! < cost[end]!) end = j;
      const total = cost[end]! + (slope === 0 ? 0 : CUT_TUNING.SLOPE_COST);
      if (best && !(total < best.cost)) continue;
      const path = new Int32Array(h);
      for (let y = h - 1, x = centre[h - 1]! - reach + end; y >= 0; y--) {
        path[y] = group.x0 + x;
        if (y > 0) x += back[y * span + (x - (centre[y]! - reach))]!;
      }
      best = { cost: total, path };
    }
    if (!best) continue;
    const path = best.path;
    const pathCost = best.cost;
    // Where the path runs, on average: a path that slipped round the group's end cuts nothing off.
    let mean = 0;
    for (let y = 0; y < h; y++) mean += path[y]! - group.x0;
    mean /= h;
    if (mean >= minPiece && mean <= w - minPiece) {
      let crossed = 0;
      for (let y = 0; y < h; y++) crossed += local[y * w + path[y]! - group.x0]!;
      found.push({ column: mean, cost: pathCost, path, ink: crossed });
    }
  }
  found.sort((a, b) => a.cost - b.cost);
  const wanted = Math.max(1, Math.round(w / (CUT_TUNING.CUT_SPACING * charHeight)));
  const chosen: typeof found = [];
  for (const candidate of found) {
    if (chosen.length >= wanted) break;
    if (chosen.some((d) => Math.abs(d.column - candidate.column) < minPiece)) continue;
    chosen.push(candidate);
  }
  chosen.sort((a, b) => a.column - b.column);
  for (let k = 1; k < chosen.length; k++) {
    const left = chosen[k - 1]!.path;
    const path = chosen[k]!.path;
    for (let y = 0; y < h; y++) if (path[y]! < left[y]!) path[y] = left[y]!;
  }
  return chosen.map((c) => ({ path: c.path, ink: c.ink }));
}

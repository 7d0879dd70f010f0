/**
 * What segmentation hands to the rest of the line reader, for images (./imageSegments.ts) and ink
 * (./inkSegments.ts) alike: the line over-segmented into primitives, left to right, and the line's geometry (character
 * height, top line and baseline), all in the segmentation's working units (working px of the image, or ink units).
 * A candidate character is a run of consecutive primitives `first..last`; the layout cuts it out as an ink crop
 * for the model and gives its box in the input's coordinates.
 *
 * Imports nothing Node-only.
 */
import type { InkCrop } from '../preprocessing.ts';
import type { LineBox } from './types.ts';

/** One primitive: a piece of the line that belongs to a single character (a connected component, part of one cut at a valley, a stroke group). */
export interface LinePrimitive {
  /** Ink box in working units: columns/x from `x0` to `x1`, rows/y from `y0` to `y1` (images: inclusive px; ink: extreme points). */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** True when the boundary after this primitive is a cut through touching ink (not a gap between separate pieces). */
  cutAfter: boolean;
  /** With `cutAfter`: how much ink the cut crosses, in strokes (ink along the cut / the pen's width; about 1 where two characters touch). */
  cutStrokes?: number;
  /** Ink: indices of the ink's strokes in this primitive. */
  strokes?: number[];
}

/** A line over-segmented into primitives, with its geometry; see the module comment. */
export interface LineLayout {
  /** Left to right (by their boxes' centres, then by cut order). */
  primitives: LinePrimitive[];
  /** Estimated height of a full-size character (working units, > 0). */
  charHeight: number;
  /** Typical width of a character on this line (working units, > 0): the median width of the primitive groups before cuts. */
  charWidth: number;
  /** Estimated top of full-size characters and the baseline (working units, y down). */
  topLine: number;
  baseline: number;
  /**
   * The candidate made of primitives `first..last` (inclusive) as ink strength, for `segmentPreprocessorFor`.
   * @returns the crop (any size; the ink need not fill it exactly)
   */
  crop(first: number, last: number): InkCrop;
  /** The candidate's box in the input's coordinates (image px or ink units). */
  inputBox(first: number, last: number): LineBox;
  /** Ink input: the stroke indices of the candidate, ascending; images: undefined. */
  strokesOf(first: number, last: number): number[] | undefined;
}

/** The `q`-quantile (0..1) of `values` (nearest rank on a sorted copy); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/**
 * The line's geometry from boxes of its character-like groups: the character height is the 75th percentile of their
 * heights (robust to small punctuation and to a few tall outliers), the top line and baseline the medians of the tops
 * and bottoms of the groups at least 60% that tall, the character width the median width of those tall groups no wider
 * than 1.2 heights (touching characters left out), at least a quarter of the height.
 * @param boxes `{ x0, x1, y0, y1 }` in working units (y down); `minHeight` floors the height (a line of dashes)
 */
export function lineGeometry(
  boxes: readonly { x0: number; x1: number; y0: number; y1: number }[],
  minHeight: number,
): { charHeight: number; charWidth: number; topLine: number; baseline: number } {
  const heights = boxes.map((b) => b.y1 - b.y0);
  const charHeight = Math.max(minHeight, quantile(heights, 0.75));
  const tall = boxes.filter((b) => b.y1 - b.y0 >= 0.6 * charHeight);
  const chosen = tall.length > 0 ? tall : boxes;
  const widths = chosen.map((b) => b.x1 - b.x0).filter((w) => w <= 1.2 * charHeight);
  const charWidth = Math.max(0.25 * charHeight, widths.length > 0 ? quantile(widths, 0.5) : charHeight);
  return { charHeight, charWidth, topLine: quantile(chosen.map((b) => b.y0), 0.5), baseline: quantile(chosen.map((b) => b.y1), 0.5) };
}

/**
 * Groups items whose x ranges overlap strongly: i and j join when their overlap is at least `fraction` of the
 * narrower one's width (plus `slack` for zero-width ink strokes) and `joinable(a, b, overlap fraction)` agrees,
 * transitively (union-find).
 * @returns group index of each item
 */
export function groupByOverlap<Box extends { x0: number; x1: number }>(
  boxes: readonly Box[],
  fraction: number,
  slack = 0,
  joinable: (a: Box, b: Box, overlap: number) => boolean = () => true,
): number[] {
  const parent = boxes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const order = boxes.map((_, i) => i).sort((a, b) => boxes[a]!.x0 - boxes[b]!.x0);
  for (let a = 0; a < order.length; a++) {
    const i = order[a]!;
    const bi = boxes[i]!;
    for (let b = a + 1; b < order.length; b++) {
      const j = order[b]!;
      const bj = boxes[j]!;
      if (bj.x0 > bi.x1) break;
      const overlap = Math.min(bi.x1, bj.x1) - Math.max(bi.x0, bj.x0) + slack;
      const narrower = Math.min(bi.x1 - bi.x0, bj.x1 - bj.x0) + slack;
      if (overlap >= fraction * narrower && joinable(bi, bj, overlap / narrower)) parent[find(i)] = find(j);
    }
  }
  const ids = new Map<number, number>();
  return boxes.map((_, i) => {
    const root = find(i);
    if (!ids.has(root)) ids.set(root, ids.size);
    return ids.get(root)!;
  });
}

/**
 * Punctuation read from a segment's shape, for characters a pattern needs that the model has no class for
 * (`- / . , :`): a short flat dash at mid-height, a small dot on the baseline, a comma reaching below it, a long
 * diagonal rising to the right, two small dots stacked. Each test is a soft box on the segment's size and place
 * relative to the line (its character height, top line and baseline) and, for `/` and `:`, on its ink (the sign of
 * the x-y correlation; two separate runs of inked rows). The score is a likelihood-like number in (0, 1]: 1 inside
 * every range, falling off as exp(-(distance / softness)^2) outside.
 *
 * Imports nothing Node-only.
 */
import type { InkCrop } from '../preprocessing.ts';

/** The punctuation marks read from shape. */
export const SHAPE_PUNCTUATION = ['-', '/', '.', ',', ':'] as const;

/** A segment's measures relative to the line, in character heights (h = the line's character height). */
export interface SegmentShape {
  /** Width and height / h. */
  width: number;
  height: number;
  /** Centre's height above the baseline / h (0 on the baseline, 0.5 at mid-height). */
  center: number;
  /** Bottom's height above the baseline / h (negative: below it). */
  bottom: number;
  /** Correlation of the ink's x and upward y, in [-1, 1] (a `/` is near +1, a `\` near -1). */
  rising: number;
  /** Separate runs of inked rows (a `:` has 2). */
  rowRuns: number;
}

/**
 * A segment's shape (`SegmentShape`) from its box in working units (y down), the line's geometry and its ink crop.
 */
export function segmentShape(
  box: { x0: number; x1: number; y0: number; y1: number },
  line: { charHeight: number; baseline: number },
  crop: InkCrop,
): SegmentShape {
  const h = line.charHeight;
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      const v = crop.data[y * crop.width + x]!;
      mass += v;
      sx += v * x;
      sy += v * y;
    }
  }
  let rising = 0;
  let rowRuns = 0;
  if (mass > 0) {
    const mx = sx / mass;
    const my = sy / mass;
    let cxx = 0;
    let cyy = 0;
    let cxy = 0;
    let inRun = false;
    for (let y = 0; y < crop.height; y++) {
      let row = 0;
      for (let x = 0; x < crop.width; x++) {
        const v = crop.data[y * crop.width + x]!;
        row += v;
        cxx += v * (x - mx) ** 2;
        cyy += v * (y - my) ** 2;
        cxy += v * (x - mx) * (my - y);
      }
      const inked = row > 0.05 * (mass / crop.height);
      if (inked && !inRun) rowRuns++;
      inRun = inked;
    }
    rising = cxx > 0 && cyy > 0 ? cxy / Math.sqrt(cxx * cyy) : 0;
  }
  return {
    width: (box.x1 - box.x0) / h,
    height: (box.y1 - box.y0) / h,
    center: (line.baseline - (box.y0 + box.y1) / 2) / h,
    bottom: (line.baseline - box.y1) / h,
    rising,
    rowRuns,
  };
}

/** log of a soft range test: 0 inside [low, high], -((distance / softness)^2) outside. */
function within(value: number, low: number, high: number, softness: number): number {
  const distance = value < low ? low - value : value > high ? value - high : 0;
  return -((distance / softness) ** 2);
}

/**
 * Log score (<= 0) that a segment of this shape is the punctuation `mark` (one of `SHAPE_PUNCTUATION`).
 * The ranges are those of handwriting: a dash 0.2-1.0 h long, under a quarter h thick, near mid-height; dots under
 * 0.3 h; a slash at least 0.6 h tall, rising. @returns -Infinity for a mark it does not know
 */
export function punctuationScore(mark: string, s: SegmentShape): number {
  switch (mark) {
    case '-':
      return within(s.width, 0.2, 1.0, 0.1) + within(s.height, 0, 0.25, 0.05) + within(s.height / Math.max(s.width, 1e-6), 0, 0.5, 0.1) + within(s.center, 0.25, 0.75, 0.08);
    case '.':
      return within(s.width, 0, 0.3, 0.05) + within(s.height, 0, 0.3, 0.05) + within(s.bottom, -0.1, 0.15, 0.05);
    case ',':
      return within(s.width, 0, 0.3, 0.05) + within(s.height, 0.1, 0.45, 0.05) + within(s.bottom, -0.35, 0.1, 0.05) + within(s.center, -0.2, 0.25, 0.05);
    case ':':
      return within(s.width, 0, 0.3, 0.05) + within(s.height, 0.25, 0.85, 0.08) + within(s.rowRuns, 2, 2, 0.3) + within(s.bottom, -0.1, 0.2, 0.05);
    case '/':
      return within(s.height, 0.6, 1.4, 0.1) + within(s.width, 0.2, 1.0, 0.1) + within(s.rising, 0.5, 1, 0.15);
    default:
      return -Infinity;
  }
}

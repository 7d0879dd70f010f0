/**
 * Over-segmentation of a line written as ink (strokes in writing order, y down, any unit) into primitives: stroke
 * groups. Digits and Latin letters (characters of few strokes): in writing order, each stroke joins the latest group
 * it overlaps strongly in x (the two strokes of a 4, a t's bar), not transitively, so that a narrow stroke inside two
 * neighbours' boxes does not glue them. Scripts of many-stroke square characters (hanzi), written one character at a
 * time: blocks of consecutive strokes (`blocksInWritingOrder`), a new block where the pen moves on to the right, so
 * that touching or overlapping characters never share a primitive; the primitives are then in writing order, and a
 * character is a run of consecutive blocks (its radicals): the search (./search.ts) joins them when the model reads
 * them better together. Strokes are not split: a stroke running through two characters (joined-up writing) stays in
 * one primitive, a limit said in notes/LINE-READING.md.
 *
 * Candidates are drawn as `inkImage` draws ink for a model (`renderInk`, pen width a fraction of the candidate's
 * longer side, margin 1/16), at a smaller size (`renderSize`) since the profile shrinks it to the model's input anyway.
 *
 * Imports nothing Node-only.
 */
import { inkBounds, renderInk, type Ink } from '../ink.ts';
import { hwrError } from '../errors.ts';
import type { InkCrop } from '../preprocessing.ts';
import { groupByOverlap, lineGeometry, type LineLayout, type LinePrimitive } from './layout.ts';
import type { LineBox } from './types.ts';

/** Tuning of the stroke groups; measured choices in notes/LINE-READING.md. */
export const INK_GROUP_TUNING = {
  /** A stroke joins the latest group it overlaps in x by this fraction of the narrower (characters of few strokes: digits, Latin). */
  GROUP_OVERLAP: 0.7,
  /** Scripts of many-stroke square characters (hanzi), whose strokes overlap loosely: strokes join transitively at this overlap, consecutive ones at the next. */
  SQUARE_GROUP_OVERLAP: 0.5,
  SQUARE_CONSECUTIVE_OVERLAP: 0.25,
  /** Square scripts: primitives are blocks of consecutive strokes (`blocksInWritingOrder`) instead of x-overlap groups. */
  SQUARE_WRITING_ORDER: true,
  /** ... a stroke starting this many character heights right of its block's left edge starts a new block. */
  BLOCK_STEP: 0.4,
  /** ... and so does a stroke starting right of the block's right edge plus -`BLOCK_REACH` heights (after a block that is a right-hand part, 人 of 认). */
  BLOCK_REACH: -0.05,
};

/**
 * Groups strokes in writing order, not transitively: each stroke joins the most recent group whose box it overlaps by
 * `GROUP_OVERLAP` of the narrower, else starts a group. A narrow stroke (a 4's stem) inside two neighbours' boxes then
 * joins its own character and does not glue the next one to it, as a transitive grouping would.
 * @returns group index of each stroke
 */
function groupInWritingOrder(boxes: readonly { x0: number; x1: number }[], slack: number): number[] {
  const groups: { x0: number; x1: number }[] = [];
  return boxes.map((b) => {
    for (let g = groups.length - 1; g >= 0; g--) {
      const box = groups[g]!;
      const overlap = Math.min(box.x1, b.x1) - Math.max(box.x0, b.x0) + slack;
      if (overlap >= INK_GROUP_TUNING.GROUP_OVERLAP * (Math.min(box.x1 - box.x0, b.x1 - b.x0) + slack)) {
        box.x0 = Math.min(box.x0, b.x0);
        box.x1 = Math.max(box.x1, b.x1);
        return g;
      }
    }
    groups.push({ x0: b.x0, x1: b.x1 });
    return groups.length - 1;
  });
}

/** Square scripts, x-overlap grouping: strokes overlapping by `SQUARE_GROUP_OVERLAP` join transitively, consecutive ones at `SQUARE_CONSECUTIVE_OVERLAP`. */
function overlapGroupsSquare(boxes: readonly StrokeBox[], slack: number): number[] {
  const groupOf = groupByOverlap(boxes, INK_GROUP_TUNING.SQUARE_GROUP_OVERLAP, slack);
  for (let s = 1; s < boxes.length; s++) {
    const a = boxes[s - 1]!;
    const b = boxes[s]!;
    const overlap = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) + slack;
    const narrower = Math.min(a.x1 - a.x0, b.x1 - b.x0) + slack;
    if (overlap >= INK_GROUP_TUNING.SQUARE_CONSECUTIVE_OVERLAP * narrower && groupOf[s] !== groupOf[s - 1]) {
      const from = groupOf[s]!;
      const to = groupOf[s - 1]!;
      for (let k = 0; k < groupOf.length; k++) if (groupOf[k] === from) groupOf[k] = to;
    }
  }
  return groupOf;
}

/**
 * Square scripts (hanzi), written one character at a time: blocks of consecutive strokes. A stroke whose box centre
 * lies right of the current block's starts a new block when it starts beyond the block's left edge by `BLOCK_STEP`
 * character heights, or beyond its right edge (less `BLOCK_REACH` heights): the next character, or the right part of
 * this one (the search joins those); a stroke going back left (a 辶 under its character, a dot of 心) stays in the
 * block. The blocks are in writing order, which for a line written left to right
 * is their order along the line; touching or overlapping characters fall into separate blocks, since strokes are
 * never shared (the standard approach of online CJK string recognition: Wang, Yin and Liu, "Handwritten Chinese text
 * recognition by integrating multiple contexts", IEEE TPAMI 34(8), 2012, section 3).
 * @param h the line's character height (ink units)
 * @returns block index of each stroke, non-decreasing
 */
function blocksInWritingOrder(boxes: readonly StrokeBox[], h: number): number[] {
  let block = 0;
  let x0 = Infinity;
  let x1 = -Infinity;
  return boxes.map((b) => {
    const t = INK_GROUP_TUNING;
    if (x0 !== Infinity && b.x0 + b.x1 > x0 + x1 && (b.x0 > x0 + t.BLOCK_STEP * h || b.x0 > x1 - t.BLOCK_REACH * h)) {
      block++;
      x0 = Infinity;
      x1 = -Infinity;
    }
    x0 = Math.min(x0, b.x0);
    x1 = Math.max(x1, b.x1);
    return block;
  });
}

/** The primitives of a grouping: one per group, in order of first stroke, with its box and stroke indices. */
function collect(boxes: readonly StrokeBox[], strokes: ReadonlyArray<{ index: number }>, groupOf: readonly number[]): Array<LinePrimitive & { strokes: number[] }> {
  const groups = new Map<number, LinePrimitive & { strokes: number[] }>();
  boxes.forEach((b, s) => {
    const g = groups.get(groupOf[s]!);
    if (!g) groups.set(groupOf[s]!, { ...b, cutAfter: false, strokes: [strokes[s]!.index] });
    else {
      g.x0 = Math.min(g.x0, b.x0);
      g.x1 = Math.max(g.x1, b.x1);
      g.y0 = Math.min(g.y0, b.y0);
      g.y1 = Math.max(g.y1, b.y1);
      g.strokes.push(strokes[s]!.index);
    }
  });
  return [...groups.values()];
}

/** A stroke's ink box (ink units, y down). */
interface StrokeBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Options of `segmentInkLine`. */
export interface InkSegmentOptions {
  /** Pen width as a fraction of a candidate's longer side (`inkPenWidthFor(metadata)`). */
  penWidth: number;
  /** Side of the square each candidate is drawn into, px (e.g. twice the model input). */
  renderSize: number;
  /** Characters of many strokes in a square (hanzi: the `cjk-fit-v1` profile): strokes are grouped more loosely. */
  square?: boolean;
}

/**
 * Segments a line of ink into stroke groups (see the module comment).
 * @throws HwrError `NO_INK` when no stroke has a point; `BAD_ARGUMENT` for a non-finite coordinate
 */
export function segmentInkLine(ink: Ink, options: InkSegmentOptions, name: string): LineLayout {
  const strokes = ink.strokes.map((stroke, index) => ({ stroke, index })).filter((s) => s.stroke.length > 0);
  if (strokes.length === 0) throw hwrError('NO_INK', `no ink found in ${name}: no stroke has a point`);
  const all = inkBounds(ink);
  const boxes = strokes.map(({ stroke }) => {
    const b = inkBounds({ strokes: [stroke] });
    return { x0: b.minX, x1: b.maxX, y0: b.minY, y1: b.maxY };
  });
  const slack = 0.02 * Math.max(all.maxY - all.minY, 1e-9);
  const minHeight = 0.05 * Math.max(all.maxY - all.minY, all.maxX - all.minX, 1e-9);
  let primitives: Array<LinePrimitive & { strokes: number[] }>;
  let geometry: ReturnType<typeof lineGeometry>;
  if (options.square && INK_GROUP_TUNING.SQUARE_WRITING_ORDER) {
    // First pass (x-overlap groups) for the character height, then blocks of consecutive strokes.
    const first = collect(boxes, strokes, overlapGroupsSquare(boxes, slack));
    const h = lineGeometry(first, minHeight).charHeight;
    primitives = collect(boxes, strokes, blocksInWritingOrder(boxes, h));
    geometry = lineGeometry(primitives, minHeight);
  } else {
    const groupOf = options.square ? overlapGroupsSquare(boxes, slack) : groupInWritingOrder(boxes, slack);
    primitives = collect(boxes, strokes, groupOf).sort((a, b) => a.x0 + a.x1 - (b.x0 + b.x1));
    geometry = lineGeometry(primitives, minHeight);
  }

  const strokesOf = (first: number, last: number): number[] =>
    primitives
      .slice(first, last + 1)
      .flatMap((p) => p.strokes)
      .sort((a, b) => a - b);
  const crop = (first: number, last: number): InkCrop => {
    const size = options.renderSize;
    const margin = Math.round(size / 16);
    const strokeWidth = Math.max(0.5, (options.penWidth * (size - 2 * margin)) / (1 + options.penWidth));
    const picture = renderInk({ strokes: strokesOf(first, last).map((s) => ink.strokes[s]!) }, { width: size, height: size, strokeWidth, margin });
    return { data: Float32Array.from(picture.data, (v) => v / 255), width: size, height: size };
  };
  const inputBox = (first: number, last: number): LineBox => {
    const parts = primitives.slice(first, last + 1);
    const x = Math.min(...parts.map((p) => p.x0));
    const y = Math.min(...parts.map((p) => p.y0));
    return { x, y, width: Math.max(...parts.map((p) => p.x1)) - x, height: Math.max(...parts.map((p) => p.y1)) - y };
  };
  return { primitives, ...geometry, crop, inputBox, strokesOf };
}

/**
 * Over-segmentation of lines (src/core/line/imageSegments.ts, inkSegments.ts) on constructed lines with known cuts:
 * separate characters, touching ones (a cut where they meet), boxes that overlap while the ink does not, a dot above
 * a stem, and ink stroke groups (a two-stroke 4, a narrow 1 reaching into its neighbour's box, a hanzi's strokes).
 */
import { describe, expect, it } from 'vitest';
import type { Ink } from '../../src/core/ink.ts';
import { segmentImageLine } from '../../src/core/line/imageSegments.ts';
import { segmentInkLine } from '../../src/core/line/inkSegments.ts';
import { renderStrokes, inkToPixels, type Strokes } from '../../src/data/strokes.ts';

const HEIGHT = 64;

/** A line image: each drawing (unit box) rendered 64 px high and placed with its left edge at `x` px. */
function lineImage(parts: Array<{ strokes: Strokes; x: number }>, width: number) {
  const ink = new Float32Array(width * HEIGHT);
  for (const { strokes, x } of parts) {
    const glyph = renderStrokes(strokes, HEIGHT, 5);
    for (let y = 0; y < HEIGHT; y++) {
      for (let gx = 0; gx < HEIGHT; gx++) {
        const tx = x + gx;
        if (tx >= 0 && tx < width) ink[y * width + tx] = Math.max(ink[y * width + tx]!, glyph[y * HEIGHT + gx]!);
      }
    }
  }
  return inkToPixels(ink, width, HEIGHT);
}

/** An ellipse (a 0) in the unit box, from x = left to x = right. */
const ring = (left: number, right: number): Strokes => [
  Array.from({ length: 33 }, (_, i) => {
    const a = (i / 32) * 2 * Math.PI;
    return [(left + right) / 2 + ((right - left) / 2) * Math.cos(a), 0.5 + 0.38 * Math.sin(a)] as const;
  }),
];
const stem: Strokes = [[[0.5, 0.15], [0.5, 0.88]]];

describe('segmentImageLine', () => {
  it('never joins separate characters in a primitive, and puts no cut between them', () => {
    const image = lineImage(
      [
        { strokes: ring(0.25, 0.75), x: 0 },
        { strokes: stem, x: 50 },
        { strokes: ring(0.25, 0.75), x: 100 },
      ],
      180,
    );
    const layout = segmentImageLine(image, 'line');
    // Character k's ink lies in x [50k + 16, 50k + 48]: each primitive within one character.
    const owner = (p: { x0: number; x1: number }) => Math.floor(p.x0 / 50);
    for (const p of layout.primitives) expect(owner({ x0: p.x1, x1: p.x1 })).toBe(owner(p));
    expect(new Set(layout.primitives.map(owner))).toEqual(new Set([0, 1, 2]));
    layout.primitives.forEach((p, k) => {
      const next = layout.primitives[k + 1];
      if (next && owner(next) !== owner(p)) expect(p.cutAfter).toBe(false);
    });
    // The stem is one primitive of its own, its box in image px.
    const stemIndex = layout.primitives.findIndex((p) => owner(p) === 1);
    expect(layout.inputBox(stemIndex, stemIndex)).toMatchObject({ x: expect.closeTo(80, -1), width: expect.closeTo(5, -1) });
    expect(layout.charHeight).toBeGreaterThan(30);
  });

  it('cuts two touching rings where they meet, through one stroke', () => {
    // Ring 1's ink spans x 19..45, ring 2 (placed 26 px further) 45..71: they meet at x = 45.
    const image = lineImage(
      [
        { strokes: ring(0.25, 0.75), x: 0 },
        { strokes: ring(0.25, 0.75), x: 26 },
      ],
      110,
    );
    const layout = segmentImageLine(image, 'line');
    const meet = layout.primitives.findIndex((p, k) => p.cutAfter && Math.abs((p.x1 + layout.primitives[k + 1]!.x0) / 2 - 45) <= 2);
    expect(meet).toBeGreaterThanOrEqual(0);
    expect(layout.primitives[meet]!.cutStrokes).toBeLessThan(1.2);
    // Each ring is then a run of consecutive primitives.
    const left = layout.inputBox(0, meet);
    const right = layout.inputBox(meet + 1, layout.primitives.length - 1);
    expect(left.x + left.width).toBeLessThanOrEqual(47);
    expect(right.x).toBeGreaterThanOrEqual(44);
  });

  it('keeps characters whose boxes overlap but whose ink does not as separate primitives', () => {
    // A 7-like shape whose bar reaches over the next character's left part.
    const seven: Strokes = [[[0.2, 0.15], [0.95, 0.15], [0.45, 0.88]]];
    const image = lineImage(
      [
        { strokes: seven, x: 0 },
        { strokes: [[[0.3, 0.4], [0.3, 0.88]]], x: 40 },
      ],
      120,
    );
    const layout = segmentImageLine(image, 'line');
    expect(layout.primitives.length).toBeGreaterThanOrEqual(2);
    const last = layout.primitives[layout.primitives.length - 1]!;
    expect(last.x0).toBeGreaterThan(55);
  });

  it('joins a dot above a stem into one primitive (they overlap in x)', () => {
    const image = lineImage([{ strokes: [[[0.5, 0.35], [0.5, 0.88]], [[0.5, 0.12], [0.5, 0.14]]], x: 0 }], 64);
    const layout = segmentImageLine(image, 'line');
    expect(layout.primitives).toHaveLength(1);
  });

  it('throws NO_INK for a blank line', () => {
    expect(() => segmentImageLine(lineImage([], 100), 'blank.png')).toThrow(expect.objectContaining({ code: 'NO_INK', message: expect.stringContaining('blank.png') }));
  });
});

/** Ink from polylines in units of 100 per character height. */
const inkOf = (...strokes: Array<Array<[number, number]>>): Ink => ({ strokes: strokes.map((s) => s.map(([x, y]) => ({ x, y }))) });

describe('segmentInkLine', () => {
  const options = { penWidth: 0.12, renderSize: 56 };

  it('groups the two strokes of a 4 and keeps the next character apart', () => {
    const ink = inkOf(
      [[40, 0], [0, 70], [60, 70]], // 4: the slanted stroke and the bar
      [[45, 20], [45, 100]], //        4: the stem
      [[100, 10], [150, 10], [110, 100]], // 7
    );
    const layout = segmentInkLine(ink, options, 'ink');
    expect(layout.primitives.map((p) => p.strokes)).toEqual([[0, 1], [2]]);
    expect(layout.strokesOf(0, 1)).toEqual([0, 1, 2]);
    expect(layout.inputBox(0, 0)).toEqual({ x: 0, y: 0, width: 60, height: 100 });
  });

  it('keeps a narrow 1 apart even when it reaches into its neighbour box', () => {
    // A 0 from x 0 to 60, then a slanted 1 from x 55 to 70: their boxes share 5 of the 1's 15 units.
    const ink = inkOf([[0, 0], [60, 0], [60, 100], [0, 100], [0, 0]], [[70, 0], [55, 100]]);
    expect(segmentInkLine(ink, options, 'ink').primitives).toHaveLength(2);
  });

  it('groups the strokes of a square character loosely (a hanzi written stroke by stroke)', () => {
    // 口 then 十 side by side: 口's three strokes overlap each other, 十's two overlap each other.
    const ink = inkOf(
      [[0, 20], [0, 80]],
      [[0, 20], [40, 20], [40, 80]],
      [[0, 80], [40, 80]],
      [[55, 50], [100, 50]],
      [[78, 5], [78, 100]],
    );
    const layout = segmentInkLine(ink, { ...options, square: true }, 'ink');
    expect(layout.primitives.map((p) => p.strokes)).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
  });

  it('segments touching square characters in writing order (a hanzi line written one character at a time)', () => {
    // 十 (x 0-100), then 口 whose left stroke touches the end of 十's bar (x 85), with a stroke going back left under
    // both (as 辶 does), then 一 apart. Grouped by x overlap, 十 and 口 would share a group; in writing order they don't.
    const ink = inkOf(
      [[0, 50], [100, 50]], //                      十: bar
      [[50, 0], [50, 100]], //                      十: stem
      [[85, 10], [85, 90]], //                      口: left
      [[85, 10], [175, 10], [175, 90]], //          口: top and right
      [[85, 90], [175, 90]], //                     口: bottom
      [[70, 100], [180, 100]], //                   a stroke going back left, under 口
      [[200, 50], [290, 50]], //                    一
    );
    const layout = segmentInkLine(ink, { ...options, square: true }, 'ink');
    expect(layout.primitives.map((p) => p.strokes)).toEqual([[0, 1], [2, 3, 4, 5], [6]]);
    expect(layout.strokesOf(1, 2)).toEqual([2, 3, 4, 5, 6]);
  });

  it('draws a candidate as a picture of its strokes', () => {
    const layout = segmentInkLine(inkOf([[0, 0], [0, 100]], [[50, 0], [90, 100]]), options, 'ink');
    const crop = layout.crop(1, 1);
    expect(crop.width).toBe(56);
    expect(Math.max(...crop.data)).toBe(1);
  });

  it('throws NO_INK for ink without points', () => {
    expect(() => segmentInkLine({ strokes: [[], []] }, options, 'pad')).toThrow(expect.objectContaining({ code: 'NO_INK' }));
  });
});

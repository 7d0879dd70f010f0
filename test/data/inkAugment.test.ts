/**
 * Stroke-level augmentation (`augmentInk`): the same ink and seed give the same variant; the stroke count changes only
 * by the drop and split rules; points stay finite and bounded in number; bad knobs and empty ink are errors.
 */
import { describe, expect, it } from 'vitest';
import type { Ink } from '../../src/core/ink.ts';
import { createRng } from '../../src/data/augment.ts';
import { augmentInk, INK_AUGMENT_DEFAULTS } from '../../src/data/inkAugment.ts';

/** A capital B as three strokes (a stem and two bowls), in small units, as a pad might record it. */
const B: Ink = {
  strokes: [
    [{ x: 4, y: 1 }, { x: 4, y: 22 }],
    [{ x: 4, y: 1 }, { x: 13, y: 1 }, { x: 16, y: 2 }, { x: 18, y: 5 }, { x: 18, y: 7 }, { x: 16, y: 10 }, { x: 13, y: 11 }],
    [{ x: 4, y: 11 }, { x: 13, y: 11 }, { x: 16, y: 12 }, { x: 18, y: 15 }, { x: 18, y: 18 }, { x: 16, y: 21 }, { x: 13, y: 22 }, { x: 4, y: 22 }],
  ],
};
const I: Ink = { strokes: [[{ x: 0, y: 0, t: 0 }, { x: 0, y: 50, t: 100 }, { x: 1, y: 100, t: 200 }, { x: 0, y: 150, t: 300 }]] };

function allFinite(ink: Ink): boolean {
  return ink.strokes.every((s) => s.length > 0 && s.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isFinite(p.t ?? 0)));
}

describe('augmentInk', () => {
  it('is deterministic: the same ink and seed give the same variant, another seed another one', () => {
    const a = augmentInk(B, createRng(42));
    const b = augmentInk(B, createRng(42));
    const c = augmentInk(B, createRng(43));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // A sequence too: the generator's state after one variant determines the next.
    const rng1 = createRng(5);
    const rng2 = createRng(5);
    expect([augmentInk(B, rng1), augmentInk(I, rng1)]).toEqual([augmentInk(B, rng2), augmentInk(I, rng2)]);
  });

  it('keeps the stroke count without drops and splits, loses one with drops, gains one per split stroke', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(augmentInk(B, createRng(seed), { dropStrokeProbability: 0, splitStrokeProbability: 0 }).strokes).toHaveLength(3);
      expect(augmentInk(B, createRng(seed), { dropStrokeProbability: 1, splitStrokeProbability: 0 }).strokes).toHaveLength(2);
      // Strokes of 4 or more points split: the two bowls (7 and 8 points), not the stem (2 points).
      expect(augmentInk(B, createRng(seed), { dropStrokeProbability: 0, splitStrokeProbability: 1 }).strokes).toHaveLength(5);
      // The only stroke is never dropped.
      expect(augmentInk(I, createRng(seed), { dropStrokeProbability: 1, splitStrokeProbability: 0 }).strokes).toHaveLength(1);
    }
  });

  it('with the defaults, over many seeds: stroke counts within the rules, finite points, pen width within its range', () => {
    const low = 1 / (1 + INK_AUGMENT_DEFAULTS.penWidth);
    const high = 1 + INK_AUGMENT_DEFAULTS.penWidth;
    const counts = new Set<number>();
    for (let seed = 0; seed < 300; seed++) {
      const variant = augmentInk(B, createRng(seed));
      counts.add(variant.strokes.length);
      expect(variant.strokes.length).toBeGreaterThanOrEqual(2);
      expect(variant.strokes.length).toBeLessThanOrEqual(5);
      expect(allFinite(variant)).toBe(true);
      expect(variant.penWidthFactor).toBeGreaterThanOrEqual(low);
      expect(variant.penWidthFactor).toBeLessThanOrEqual(high);
    }
    expect(counts.has(3)).toBe(true); // most variants keep their strokes
  });

  it('bounds the points of a long scribble and keeps its variants finite', () => {
    const scribble: Ink = { strokes: [Array.from({ length: 4000 }, (_, i) => ({ x: (i % 2) * 1000 + Math.sin(i) * 30, y: i * 0.5 }))] };
    for (let seed = 0; seed < 3; seed++) {
      const variant = augmentInk(scribble, createRng(seed), { maxPoints: 500 });
      expect(variant.strokes.flat().length).toBeLessThanOrEqual(500);
      expect(allFinite(variant)).toBe(true);
    }
    const dot: Ink = { strokes: [[{ x: 3, y: 3 }]] };
    expect(allFinite(augmentInk(dot, createRng(1)))).toBe(true);
  });

  it('warps proportions (warp): where a stroke starts within the ink height varies more with it, and its range is checked', () => {
    // An "h": a tall stem and an arch that starts halfway down; the arch's start, as a fraction of the ink's height.
    const h: Ink = { strokes: [[{ x: 0, y: 0 }, { x: 0, y: 100 }], [{ x: 0, y: 50 }, { x: 20, y: 45 }, { x: 30, y: 60 }, { x: 30, y: 100 }]] };
    const spread = (warp: number): number => {
      const fractions = Array.from({ length: 60 }, (_, seed) => {
        const variant = augmentInk(h, createRng(seed), { warp, rotationDeg: 0, slant: 0, dropStrokeProbability: 0, splitStrokeProbability: 0 });
        expect(variant.strokes).toHaveLength(2);
        expect(allFinite(variant)).toBe(true);
        const ys = variant.strokes.flat().map((p) => p.y);
        return (variant.strokes[1]![0]!.y - Math.min(...ys)) / (Math.max(...ys) - Math.min(...ys));
      });
      const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
      return Math.sqrt(fractions.reduce((a, f) => a + (f - mean) ** 2, 0) / fractions.length);
    };
    expect(spread(2)).toBeGreaterThan(1.5 * spread(0));
    expect(() => augmentInk(B, createRng(1), { warp: 3 })).toThrow(/warp/);
    expect(() => augmentInk(B, createRng(1), { warp: -0.1 })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('rejects empty ink (NO_INK) and knobs out of range (BAD_ARGUMENT naming the knob)', () => {
    expect(() => augmentInk({ strokes: [] }, createRng(1))).toThrow(expect.objectContaining({ code: 'NO_INK' }));
    expect(() => augmentInk(B, createRng(1), { rotationDeg: 90 })).toThrow(/rotationDeg/);
    expect(() => augmentInk(B, createRng(1), { splitStrokeProbability: Number.NaN })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});

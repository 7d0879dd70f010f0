import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/augment.ts';
import { handwritingAugmentation, randomElastic, randomStrokeWidth } from '../../src/data/distort.ts';
import { isHwrError } from '../../src/core/errors.ts';

const SIZE = 32;

/** An "L": a vertical bar on the left and a horizontal bar at the bottom, 2 px wide, ink = 1. */
function letterL(): Float32Array {
  const image = new Float32Array(SIZE * SIZE);
  for (let y = 6; y < 26; y++) for (let x = 8; x < 10; x++) image[y * SIZE + x] = 1;
  for (let y = 24; y < 26; y++) for (let x = 8; x < 24; x++) image[y * SIZE + x] = 1;
  return image;
}

const sum = (values: Float32Array) => values.reduce((a, b) => a + b, 0);

/** Centre of mass in x. */
function centreX(image: Float32Array): number {
  let m = 0;
  let mx = 0;
  image.forEach((v, i) => { m += v; mx += v * (i % SIZE); });
  return mx / m;
}

describe('randomElastic', () => {
  it('is the identity with no displacement, and repeats for the same seed', () => {
    const src = letterL();
    expect(randomElastic(src, 1, SIZE, createRng(1), { maxDisplacementPx: 0 })).toEqual(src);
    const a = randomElastic(src, 1, SIZE, createRng(7));
    const b = randomElastic(src, 1, SIZE, createRng(7));
    expect(a).toEqual(b);
    expect(a).not.toEqual(src);
  });

  it('moves ink by at most the displacement: values stay in [0, 1], the ink mass is kept roughly, nothing is mirrored', () => {
    const src = letterL();
    for (let seed = 1; seed <= 20; seed++) {
      const out = randomElastic(src, 1, SIZE, createRng(seed), { maxDisplacementPx: 2 });
      for (const v of out) expect(v >= 0 && v <= 1).toBe(true);
      expect(Math.abs(sum(out) - sum(src)) / sum(src)).toBeLessThan(0.35);
      // The L's mass is right of its bar; a mirror would put it left (centre x about 12.5 becomes about 18.5).
      expect(Math.abs(centreX(out) - centreX(src))).toBeLessThan(2);
    }
  });

  it('refuses wrong lengths and ranges, naming the input', () => {
    const codeOf = (f: () => unknown) => { try { f(); } catch (e) { return isHwrError(e) ? `${e.code}: ${e.message}` : String(e); } return 'no error'; };
    expect(codeOf(() => randomElastic(new Float32Array(10), 1, SIZE, createRng(1)))).toMatch(/BAD_ARGUMENT: src/);
    expect(codeOf(() => randomElastic(letterL(), 1, SIZE, createRng(1), { cells: 0 }))).toMatch(/BAD_ARGUMENT: cells/);
    expect(codeOf(() => randomElastic(letterL(), 1, SIZE, createRng(1), { maxDisplacementPx: -1 }))).toMatch(/BAD_ARGUMENT: maxDisplacementPx/);
  });
});

describe('randomStrokeWidth', () => {
  it('thickens with a dilation, thins by half an erosion, and leaves the input alone', () => {
    const src = letterL();
    const copy = new Float32Array(src);
    const thick = randomStrokeWidth(src, 1, SIZE, createRng(1), { thickenProbability: 1 });
    const thin = randomStrokeWidth(src, 1, SIZE, createRng(1), { thickenProbability: 0, thinProbability: 1 });
    const same = randomStrokeWidth(src, 1, SIZE, createRng(1), { thickenProbability: 0, thinProbability: 0 });
    expect(src).toEqual(copy);
    expect(same).toEqual(src);
    expect(sum(thick)).toBeGreaterThan(sum(src) * 1.5);
    expect(sum(thin)).toBeLessThan(sum(src));
    expect(sum(thin)).toBeGreaterThan(sum(src) * 0.4); // a 2 px stroke fades, it does not vanish
    for (let i = 0; i < src.length; i++) expect(thick[i]!).toBeGreaterThanOrEqual(src[i]!);
  });
});

describe('handwritingAugmentation', () => {
  it('is deterministic for a seed, keeps the batch shape and values in [0, 1], and distorts each image differently', () => {
    const one = letterL();
    const batch = new Float32Array(4 * SIZE * SIZE);
    for (let i = 0; i < 4; i++) batch.set(one, i * SIZE * SIZE);
    const a = handwritingAugmentation(batch, 4, SIZE, createRng(3));
    const b = handwritingAugmentation(batch, 4, SIZE, createRng(3));
    expect(a).toEqual(b);
    expect(a.length).toBe(batch.length);
    for (const v of a) expect(v >= 0 && v <= 1).toBe(true);
    const images = [0, 1, 2, 3].map((i) => a.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE).join());
    expect(new Set(images).size).toBe(4);
  });
});

import { describe, expect, it } from 'vitest';
import { affineTransform, createRng, IDENTITY_AFFINE, randomAffine, randomAffineParams, shuffledIndices } from '../../src/data/augment.ts';
import { loadMnist } from '../../src/data/mnist.ts';

const SIZE = 28;

/** A 28x28 image, zero except `value` at (x, y). */
function dot(x: number, y: number, value = 1): Float32Array {
  const image = new Float32Array(SIZE * SIZE);
  image[y * SIZE + x] = value;
  return image;
}

function sum(values: Float32Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** The first `n` MNIST training images as float32 in [0, 1]. */
async function mnistFloats(n: number): Promise<Float32Array> {
  const { train } = await loadMnist({ limit: n });
  return Float32Array.from(train.images, (v) => v / 255);
}

describe('createRng', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('matches the reference Mulberry32 output', () => {
    // Reference: the gist's mulberry32(0)() computed by hand-checked JS; 0x6d2b79f5 is the first state.
    const rng = createRng(0);
    let t = 0x6d2b79f5;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    expect(rng.next()).toBe(((t ^ (t >>> 14)) >>> 0) / 4294967296);
  });

  it('stays in range and resumes from its state', () => {
    const rng = createRng(7);
    for (let i = 0; i < 1000; i++) {
      const v = rng.next();
      expect(v >= 0 && v < 1).toBe(true);
      const k = rng.int(10);
      expect(Number.isInteger(k) && k >= 0 && k < 10).toBe(true);
    }
    const resumed = createRng(rng.state);
    expect(resumed.next()).toBe(rng.next());
    expect(() => createRng(Number.NaN)).toThrow(/seed/);
  });

  it('shuffles into a permutation, reproducibly', () => {
    const order = shuffledIndices(100, createRng(1));
    expect(Array.from(order).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(order).toEqual(shuffledIndices(100, createRng(1)));
    expect(order).not.toEqual(shuffledIndices(100, createRng(2)));
  });
});

describe('affineTransform', () => {
  it('leaves images unchanged with identity parameters', async () => {
    const src = await mnistFloats(3);
    expect(affineTransform(src, 3, SIZE, [IDENTITY_AFFINE, IDENTITY_AFFINE, IDENTITY_AFFINE])).toEqual(src);
    const zeroRanges = { maxRotationDeg: 0, maxScale: 0, maxShear: 0, maxShiftPx: 0 };
    expect(randomAffine(src, 3, SIZE, createRng(5), zeroRanges)).toEqual(src);
  });

  it('moves a single bright pixel by one px for a shift of +1', () => {
    const right = affineTransform(dot(5, 9), 1, SIZE, [{ ...IDENTITY_AFFINE, shiftX: 1 }]);
    expect(right).toEqual(dot(6, 9));
    const down = affineTransform(dot(5, 9), 1, SIZE, [{ ...IDENTITY_AFFINE, shiftY: 1 }]);
    expect(down).toEqual(dot(5, 10));
    // Off the edge: gone, nothing wraps around.
    expect(sum(affineTransform(dot(27, 3), 1, SIZE, [{ ...IDENTITY_AFFINE, shiftX: 1 }]))).toBe(0);
  });

  it('splits a half-pixel shift between two neighbours (bilinear)', () => {
    const out = affineTransform(dot(5, 9), 1, SIZE, [{ ...IDENTITY_AFFINE, shiftX: 0.5 }]);
    expect(out[9 * SIZE + 5]).toBeCloseTo(0.5, 6);
    expect(out[9 * SIZE + 6]).toBeCloseTo(0.5, 6);
    expect(sum(out)).toBeCloseTo(1, 6);
  });

  it('rotates 90 degrees about the centre', () => {
    // Size 27 has its centre on pixel (13, 13). Clockwise on screen: 7 px right of centre moves 7 px below it.
    const src = new Float32Array(27 * 27);
    src[13 * 27 + 20] = 1;
    const out = affineTransform(src, 1, 27, [{ ...IDENTITY_AFFINE, rotationDeg: 90 }]);
    expect(out[20 * 27 + 13]).toBeCloseTo(1, 6);
    expect(sum(out)).toBeCloseTo(1, 6);
  });

  it('rejects mismatched lengths and overlapping output', () => {
    const src = new Float32Array(SIZE * SIZE);
    expect(() => affineTransform(src, 2, SIZE, [IDENTITY_AFFINE, IDENTITY_AFFINE])).toThrow(/src: expected 2 x 28 x 28/);
    expect(() => affineTransform(src, 1, SIZE, [])).toThrow(/params: expected 1/);
    expect(() => randomAffine(src, 1, SIZE, createRng(1), { out: src })).toThrow(/overlap/);
    expect(() => randomAffine(src, 1, SIZE, createRng(1), { maxScale: 1 })).toThrow(/maxScale/);
    expect(() => randomAffine(src, 1, SIZE, createRng(1), { maxShiftPx: -1 })).toThrow(/maxShiftPx/);
  });
});

describe('randomAffine', () => {
  it('gives the same output for the same seed, and different output for another seed', async () => {
    const src = await mnistFloats(8);
    const a = randomAffine(src, 8, SIZE, createRng(123));
    expect(randomAffine(src, 8, SIZE, createRng(123))).toEqual(a);
    expect(randomAffine(src, 8, SIZE, createRng(124))).not.toEqual(a);
    expect(a).not.toEqual(src);
  });

  it('keeps values in [0, 1] and roughly preserves ink mass', async () => {
    const n = 50;
    const src = await mnistFloats(n);
    const out = randomAffine(src, n, SIZE, createRng(9), { out: new Float32Array(src.length) });
    let min = Infinity;
    let max = -Infinity;
    for (const v of out) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    for (let i = 0; i < n; i++) {
      const image = i * SIZE * SIZE;
      const before = sum(src.subarray(image, image + SIZE * SIZE));
      const after = sum(out.subarray(image, image + SIZE * SIZE));
      // Scale up to +-10 % changes area by up to ~21 %; shear and rotation preserve it; blur loses a little.
      expect(after / before).toBeGreaterThan(0.7);
      expect(after / before).toBeLessThan(1.3);
    }
  });

  it('draws parameters within the requested ranges', () => {
    const rng = createRng(3);
    for (let i = 0; i < 200; i++) {
      const p = randomAffineParams(rng, { maxRotationDeg: 15, maxScale: 0.2, maxShear: 0.3, maxShiftPx: 3 });
      expect(Math.abs(p.rotationDeg)).toBeLessThanOrEqual(15);
      expect(Math.abs(p.scale - 1)).toBeLessThanOrEqual(0.2);
      expect(Math.abs(p.shear)).toBeLessThanOrEqual(0.3);
      expect(Math.abs(p.shiftX)).toBeLessThanOrEqual(3);
      expect(Math.abs(p.shiftY)).toBeLessThanOrEqual(3);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/augment.ts';
import { DIGIT_STYLES, styledDigits } from '../../src/data/digitStyles.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { NEGATIVE_KINDS, syntheticNegatives } from '../../src/data/negatives.ts';
import { renderStrokes } from '../../src/data/strokes.ts';

/** Centre of mass of a 28x28 image. */
function centre(image: Float32Array): [number, number] {
  let m = 0, x = 0, y = 0;
  image.forEach((v, i) => { m += v; x += v * (i % 28); y += v * Math.floor(i / 28); });
  return [x / m, y / m];
}

describe('renderStrokes', () => {
  it('draws an antialiased line of the pen width and nothing else', () => {
    const ink = renderStrokes([[[0, 0.5], [1, 0.5]]], 60, 4);
    const row = 30; // y = 0.5 maps to 10 + 0.5 * 40 = 30
    expect(ink[row * 60 + 30]).toBe(1);
    expect(ink[(row + 3) * 60 + 30]).toBe(0);
    expect(ink[5 * 60 + 5]).toBe(0);
    expect(() => renderStrokes([], 10, 0)).toThrow(/penWidth/);
  });
});

describe('syntheticNegatives', async () => {
  const { train } = await loadMnist({ limit: 300 });

  it('makes MNIST-normalized images of every kind, in proportion, the same for the same seed', () => {
    const a = syntheticNegatives(60, train, createRng(3));
    const b = syntheticNegatives(60, train, createRng(3));
    expect(a.images).toEqual(b.images);
    expect(a.images.length).toBe(60 * 784);
    for (const kind of Object.keys(NEGATIVE_KINDS) as Array<keyof typeof NEGATIVE_KINDS>) {
      expect(a.kinds.filter((k) => k === kind).length).toBeCloseTo(60 * NEGATIVE_KINDS[kind], -0.5);
    }
    for (let i = 0; i < 60; i++) {
      const image = a.images.subarray(i * 784, (i + 1) * 784);
      expect(Math.max(...image)).toBeGreaterThan(0.5);
      expect(Math.min(...image)).toBeGreaterThanOrEqual(0);
      const [x, y] = centre(image);
      expect(Math.abs(x - 14)).toBeLessThan(1.5);
      expect(Math.abs(y - 14)).toBeLessThan(1.5);
    }
  });

  it('refuses an empty digit source', () => {
    expect(() => syntheticNegatives(3, { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 }, createRng(1))).toThrow(/source has no digits/);
  });
});

describe('styledDigits', () => {
  it('cycles through the styles with their digit labels', () => {
    const { images, labels } = styledDigits(8, createRng(5));
    expect(Array.from(labels)).toEqual([...DIGIT_STYLES, ...DIGIT_STYLES].map((s) => s.label));
    expect(images.length).toBe(8 * 784);
    expect(DIGIT_STYLES.map((s) => s.name)).toEqual(['continental 1', 'crossed 7', 'open 4', 'hooked 9']);
  });
});

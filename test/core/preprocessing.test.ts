/**
 * The registry of preprocessing profiles (src/core/preprocessing.ts): the metadata's `preprocessing` name picks how an
 * image becomes a model input, at the metadata's input size; an unknown name is a BAD_MODEL error.
 */
import { describe, expect, it } from 'vitest';
import { preprocessDigit } from '../../src/core/preprocess.ts';
import { preprocessorFor, preprocessingProfiles, samePreprocessing } from '../../src/core/preprocessing.ts';
import { fitInkToBox } from '../../src/core/profiles.ts';
import type { PixelBuffer } from '../../src/core/types.ts';

/** A white RGBA image with black rectangles `[left, top, right, bottom]` (inclusive), and its 8-bit gray. */
function page(width: number, height: number, ...boxes: [number, number, number, number][]): { rgba: PixelBuffer; gray: Uint8Array } {
  const gray = new Uint8Array(width * height).fill(255);
  for (const [l, t, r, b] of boxes) for (let y = t; y <= b; y++) for (let x = l; x <= r; x++) gray[y * width + x] = (x * 7 + y * 3) % 90;
  const data = new Uint8ClampedArray(width * height * 4);
  gray.forEach((g, i) => data.set([g, g, g, 255], i * 4));
  return { rgba: { width, height, data }, gray };
}

describe('preprocessorFor', () => {
  it('knows the MNIST profiles (v1 and v2) and the CJK one', () => {
    expect(preprocessingProfiles()).toEqual(['mnist-com-v1', 'mnist-com-v2', 'cjk-fit-v1']);
  });

  it('mnist-com-v1 and -v2 are preprocessDigit at the model input size (20/28 of it for the ink box)', () => {
    const { rgba } = page(60, 80, [20, 10, 30, 70], [10, 60, 45, 66]);
    for (const preprocessing of ['mnist-com-v1', 'mnist-com-v2']) {
      expect(preprocessorFor({ name: 'digits', preprocessing, inputShape: [28, 28, 1] })(rgba, 'x')).toEqual(preprocessDigit(rgba).input);
      const big = preprocessorFor({ name: 'digits', preprocessing, inputShape: [56, 56, 1] })(rgba, 'x');
      expect(big).toEqual(preprocessDigit(rgba, { size: 56, box: 40 }).input);
      expect(big.length).toBe(56 * 56);
    }
  });

  it('cjk-fit-v1 is fitInkToBox of the gray image at the model input size, divided by 255 (as GNT training does)', () => {
    const { rgba, gray } = page(70, 50, [5, 5, 60, 12], [30, 5, 36, 45]);
    const input = preprocessorFor({ name: 'hanzi', preprocessing: 'cjk-fit-v1', inputShape: [64, 64, 1] })(rgba, 'x');
    const expected = Float32Array.from(fitInkToBox({ width: 70, height: 50, data: gray }, { size: 64 }), (v) => v / 255);
    expect(input).toEqual(expected);
  });

  it('cjk-fit-v1 names the image of a blank page in its NO_INK error', () => {
    const preprocess = preprocessorFor({ name: 'hanzi', preprocessing: 'cjk-fit-v1', inputShape: [32, 32, 1] });
    expect(() => preprocess(page(20, 20).rgba, 'blank.png')).toThrow(expect.objectContaining({ code: 'NO_INK', message: 'no ink found in blank.png' }));
  });

  it('an unknown profile, or a non-square input, is a BAD_MODEL error naming the model and the profile', () => {
    expect(() => preprocessorFor({ name: 'my-model', preprocessing: 'latin-v9', inputShape: [28, 28, 1] }))
      .toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/^my-model: unknown preprocessing profile "latin-v9"/) }));
    expect(() => preprocessorFor({ name: 'my-model', preprocessing: 'cjk-fit-v1', inputShape: [64, 32, 1] }))
      .toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/^my-model: the cjk-fit-v1 profile needs a square input/) }));
  });
});

describe('samePreprocessing', () => {
  const model = (preprocessing: string, side: number) => ({ preprocessing, inputShape: [side, side, 1] as [number, number, number] });

  it('holds for the same profile at the same size, and for mnist-com-v1 and -v2 (one function)', () => {
    expect(samePreprocessing(model('mnist-com-v1', 28), model('mnist-com-v2', 28))).toBe(true);
    expect(samePreprocessing(model('cjk-fit-v1', 64), model('cjk-fit-v1', 64))).toBe(true);
  });

  it('fails for other sizes, other profiles and unknown profiles', () => {
    expect(samePreprocessing(model('mnist-com-v2', 28), model('mnist-com-v2', 32))).toBe(false);
    expect(samePreprocessing(model('mnist-com-v2', 64), model('cjk-fit-v1', 64))).toBe(false);
    expect(samePreprocessing(model('latin-v9', 28), model('latin-v9', 28))).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { fitInkToBox, inkBoundingBox } from '../../src/core/profiles.ts';
import type { GrayImage } from '../../src/core/ink.ts';

/** A white (255) image with black rectangles `[left, top, right, bottom]` (inclusive). */
function page(width: number, height: number, ...boxes: [number, number, number, number][]): GrayImage {
  const data = new Uint8Array(width * height).fill(255);
  for (const [l, t, r, b] of boxes) for (let y = t; y <= b; y++) for (let x = l; x <= r; x++) data[y * width + x] = 0;
  return { width, height, data };
}

/** Inclusive bounds of the pixels > 127 of a `size` x `size` output (ink = 255). */
function bounds(out: Uint8Array, size: number): [number, number, number, number] {
  const box = inkBoundingBox({ width: size, height: size, data: out.map((v) => 255 - v) }, 127)!;
  return [box.left, box.top, box.right, box.bottom];
}

describe('fitInkToBox (CJK profile)', () => {
  it('scales the ink box to fill size - 2 * margin along its longer side, aspect kept, centred by the box', () => {
    // A 40x20 ink box anywhere on a large page: 2:1, so 56x28 in a 64 px input with a 4 px margin.
    const out = fitInkToBox(page(200, 100, [30, 50, 69, 69]), { size: 64 });
    expect(out.length).toBe(64 * 64);
    expect(bounds(out, 64)).toEqual([4, 18, 59, 45]);
    expect(out[32 * 64 + 32]).toBe(255);
    expect(out[0]).toBe(0);
  });

  it('does not move the centre of mass to the centre (unlike MNIST): a left-heavy character stays left-heavy', () => {
    // 亻-like: a heavy block on the left and a thin bar on the right, as one ink box.
    const out = fitInkToBox(page(50, 50, [0, 0, 19, 49], [48, 0, 49, 49]), { size: 32, margin: 2 });
    expect(bounds(out, 32)).toEqual([2, 2, 29, 29]);
    let mass = 0;
    let moment = 0;
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      mass += out[y * 32 + x]!;
      moment += x * out[y * 32 + x]!;
    }
    expect(moment / mass).toBeLessThan(12);
  });

  it('averages by area when shrinking: a 2x2 checkerboard cell becomes mid gray', () => {
    const data = new Uint8Array(64 * 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) data[y * 64 + x] = (x + y) % 2 ? 255 : 0;
    const out = fitInkToBox({ width: 64, height: 64, data }, { size: 32, margin: 0 });
    expect(Math.abs(out[10 * 32 + 10]! - 128)).toBeLessThanOrEqual(1);
  });

  it('refuses a blank image (NO_INK) and bad options (BAD_ARGUMENT), naming the reason', () => {
    expect(() => fitInkToBox(page(10, 10), { size: 64 })).toThrow(expect.objectContaining({ code: 'NO_INK' }));
    expect(() => fitInkToBox(page(10, 10, [1, 1, 2, 2]), { size: 64, margin: 32 })).toThrow(/margin/);
    expect(() => fitInkToBox({ width: 3, height: 3, data: new Uint8Array(8) }, { size: 64 })).toThrow(/needs 9 bytes/);
  });
});

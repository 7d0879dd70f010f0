/**
 * The shipped digit model says "not a digit" (label null) for what is not one digit, and reads the digit styles
 * MNIST lacks. Every input goes through the recognizer as user input does (an RGBA image, then `preprocessDigit`).
 * Issue 8, defects 12 (styles) and 13 (the old model read a letter A as 4 at 99.99%, "42" as 8, half a 4 as 6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { createRng } from '../../src/data/augment.ts';
import { DIGIT_STYLES } from '../../src/data/digitStyles.ts';
import { loadMnist, type Split } from '../../src/data/mnist.ts';
import { LETTERS } from '../../src/data/negatives.ts';
import { inkToPixels, jitterStrokes, renderStrokes, type Strokes } from '../../src/data/strokes.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';

let recognizer: Recognizer;
let test: Split;

beforeAll(async () => {
  recognizer = await loadRecognizer('digits');
  ({ test } = await loadMnist({ limit: 200 }));
});
afterAll(() => recognizer?.dispose());

/** A drawing as a 96x96 canvas of dark ink on white, pen `penWidth` px. */
const drawing = (strokes: Strokes, penWidth = 6) => inkToPixels(renderStrokes(strokes, 96, penWidth), 96, 96);

/** MNIST test digit `index` as ink in [0, 1]. */
const digitInk = (index: number) => Float32Array.from(test.images.subarray(index * 784, (index + 1) * 784), (v) => v / 255);

/** The first MNIST test digit with this label. */
const firstOf = (label: number) => Array.from(test.labels).indexOf(label);

/** Two MNIST test digits side by side (touching), as one image. */
function pairImage(left: number, right: number) {
  const width = 50;
  const ink = new Float32Array(width * 28);
  for (const [index, dx] of [[left, 0], [right, 22]] as const) {
    const src = digitInk(index);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) ink[y * width + x + dx] = Math.max(ink[y * width + x + dx]!, src[y * 28 + x]!);
  }
  return inkToPixels(ink, width, 28);
}

/** An MNIST test digit with the part on one side of its middle erased. */
function halfImage(index: number, keep: 'top' | 'bottom' | 'left' | 'right') {
  const ink = digitInk(index);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const erase = keep === 'top' ? y >= 14 : keep === 'bottom' ? y < 14 : keep === 'left' ? x >= 14 : x < 14;
      if (erase) ink[y * 28 + x] = 0;
    }
  }
  return inkToPixels(ink, 28, 28);
}

describe('shipped model: not a digit', () => {
  it('is a model with a rejection class, calibrated', () => {
    const { metadata } = recognizer;
    expect(metadata.rejectClass).toBeDefined();
    expect(metadata.classes).toContain(metadata.rejectClass);
    expect(metadata.calibration?.temperature).toBeGreaterThan(0);
  });

  it('rejects a capital A, drawn cleanly and by several hands, with a reason', async () => {
    const clean = await recognizer.recognize(drawing(LETTERS.A!));
    expect(clean.label).toBeNull();
    expect(clean.reason).toBe('not a digit');
    const rng = createRng(11);
    let rejected = 0;
    for (let i = 0; i < 10; i++) if ((await recognizer.recognize(drawing(jitterStrokes(LETTERS.A!, rng), 4 + i))).label === null) rejected++;
    // Measured: 8 of these 10 rejected; the other two are read as 4 at about 50% (the old model: 4 at 99.99%).
    expect(rejected).toBeGreaterThanOrEqual(8);
  });

  it('rejects "42": a 4 and a 2 side by side', async () => {
    const result = await recognizer.recognize(pairImage(firstOf(4), firstOf(2)));
    expect(result.label).toBeNull();
  });

  it('rejects half a 4, or at least is no longer sure of a digit', async () => {
    const four = firstOf(4);
    for (const keep of ['top', 'bottom'] as const) expect((await recognizer.recognize(halfImage(four, keep))).label, keep).toBeNull();
    // The left half is still read as 6, but at 51% (the old model: 6 at 92.8%); its right half is a fair 1.
    const left = await recognizer.recognize(halfImage(four, 'left'));
    expect(left.label === null || left.probability < 0.6).toBe(true);
  });

  it('rejects scribbles', async () => {
    const scribble: Strokes = [[[0.1, 0.2], [0.9, 0.1], [0.2, 0.5], [0.8, 0.4], [0.1, 0.9], [0.9, 0.8], [0.3, 0.1], [0.6, 1]]];
    const hatching: Strokes = [[[0, 0], [1, 0.15], [0, 0.3], [1, 0.45], [0, 0.6], [1, 0.75], [0, 0.9], [1, 1]]];
    for (const strokes of [scribble, hatching]) expect((await recognizer.recognize(drawing(strokes))).label).toBeNull();
  });

  it('still reads the first 200 MNIST test digits, as drawings on white paper, with at most 1 rejected', async () => {
    let rejected = 0;
    for (let i = 0; i < test.count; i++) {
      if ((await recognizer.recognize(inkToPixels(digitInk(i), 28, 28))).label === null) rejected++;
    }
    expect(rejected).toBeLessThanOrEqual(1);
  });
});

describe('shipped model: handwriting styles MNIST lacks', () => {
  it('reads a continental 1 with a long upstroke and no foot as 1 (the old model: 7 at 75-98%)', async () => {
    const flagged: Strokes[] = [
      [[[0.05, 0.55], [0.6, 0], [0.6, 1]]],
      [[[0.1, 0.45], [0.65, 0], [0.62, 1]]],
      [[[0, 0.6], [0.55, 0], [0.5, 1]]],
    ];
    for (const strokes of flagged) {
      for (const pen of [3, 5, 8]) expect((await recognizer.recognize(drawing(strokes, pen))).label, `pen ${pen}`).toBe('1');
    }
  });

  for (const style of DIGIT_STYLES) {
    it(`reads the ${style.name} as ${style.label}`, async () => {
      const rng = createRng(2024);
      let correct = 0;
      const n = 12;
      for (let i = 0; i < n; i++) {
        const strokes = jitterStrokes(style.template(rng), rng, { maxRotationDeg: 6, maxShear: 0.2, maxStretch: 0.15, maxWobble: 0.02 });
        const result = await recognizer.recognize(drawing(strokes, 4 + (i % 4) * 2));
        if (result.label === String(style.label)) correct++;
      }
      expect(correct).toBeGreaterThanOrEqual(n - 1);
    });
  }
});

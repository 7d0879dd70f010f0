/**
 * `MnistCropNormalizer` (src/core/preprocess.ts), the line reader's fast MNIST normalization of candidate crops, gives
 * bit for bit what the reference steps give (`inkBoundingBox`, `fitWithStrokeWidth`, `centerInField`): on every
 * candidate of real digit lines (MNIST test digits composed by src/data/lines.ts, touching and overlapping pairs
 * included) and on crafted crops (specks of equal mass, faint noise, hairlines, blank and nearly blank crops); and the
 * line reader gives a pair model the same inputs whether it shares the character model's normalized inputs or not;
 * a cjk-fit-v1 input averaged over 2 x 2 blocks is the half-size normalization but for rounding (a verifier's input).
 */
import { describe, expect, it } from 'vitest';
import { segmentImageLine } from '../../src/core/line/imageSegments.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { centerInField, DEFAULT_INK_THRESHOLD, fitWithStrokeWidth, inkBoundingBox, MnistCropNormalizer } from '../../src/core/preprocess.ts';
import { downsampleFactor, downsampleInput, segmentPreprocessorFor, type InkCrop } from '../../src/core/preprocessing.ts';
import { CJK_PROFILE } from '../../src/core/profiles.ts';
import { estimateStrokeWidth, MNIST_STROKE_WIDTH } from '../../src/core/strokes.ts';
import { createRng } from '../../src/data/augment.ts';
import { digitLine } from '../fixtures/lines.ts';

/** The reference path: `segmentPreprocessorFor`'s mnist-com steps before the fast normalizer. */
function reference(crop: InkCrop, size = 28, box = 20): Float32Array | string {
  try {
    const inkBox = inkBoundingBox(crop.data, crop.width, crop.height, DEFAULT_INK_THRESHOLD, 'crop');
    return centerInField(fitWithStrokeWidth(crop.data, crop.width, crop.height, inkBox, box), size).data;
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}

function fast(normalizer: MnistCropNormalizer, crop: InkCrop): Float32Array | string {
  try {
    return normalizer.normalize(crop.data, crop.width, crop.height, 'crop');
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}

/** Crops whose fast output differs from the reference at all (a value or the error), by their index. */
function differences(crops: readonly InkCrop[], size = 28, box = 20): number[] {
  const normalizer = new MnistCropNormalizer(size, box);
  const differ: number[] = [];
  crops.forEach((crop, k) => {
    const a = reference(crop, size, box);
    const b = fast(normalizer, crop);
    if (typeof a === 'string' || typeof b === 'string' ? a !== b : a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) differ.push(k);
  });
  return differ;
}

/** Every run of 1 to 6 primitives of a line (the reader's candidates and more), cut out as the reader cuts them. */
function runCrops(image: Parameters<typeof segmentImageLine>[0]): InkCrop[] {
  const layout = segmentImageLine(image, 'line');
  const crops: InkCrop[] = [];
  for (let first = 0; first < layout.primitives.length; first++) {
    for (let last = first; last < Math.min(layout.primitives.length, first + 6); last++) crops.push(layout.crop(first, last));
  }
  return crops;
}

/** Whether `fitWithStrokeWidth` changes the crop's stroke width (the morphology branch). */
function outsideMnistWidths(crop: InkCrop, box = 20): boolean {
  const inkBox = inkBoundingBox(crop.data, crop.width, crop.height);
  const width = (estimateStrokeWidth(crop.data, crop.width, crop.height, inkBox).width * box) / Math.max(inkBox.width, inkBox.height);
  return width > 0 && (width < MNIST_STROKE_WIDTH.low || width > MNIST_STROKE_WIDTH.high);
}

describe('MnistCropNormalizer', () => {
  it('gives the reference input, bit for bit, for every candidate of digit lines', async () => {
    const crops: InkCrop[] = [];
    for (const [text, seed, options] of [
      ['5443351436', 1, {}],
      ['3882418057', 2, { touchingShare: 0.5, overlappingShare: 0.2 }],
      ['7341371678', 3, { scale: 1 }],
      ['9060124728', 4, { scale: 3, touchingShare: 0.4 }],
      ['26936', 5, { overlappingShare: 0.5 }],
    ] as const) {
      crops.push(...runCrops((await digitLine(text, seed, options)).image));
    }
    expect(crops.length).toBeGreaterThan(400);
    expect(crops.filter((crop) => outsideMnistWidths(crop)).length).toBeGreaterThan(0); // both branches are compared
    expect(differences(crops)).toEqual([]);
    expect(differences(crops.slice(0, 120), 64, 46)).toEqual([]); // another model input size
  });

  it('gives the reference input for specks, equal-mass specks, faint noise, hairlines and random ink', () => {
    const rng = createRng(7);
    const crops: InkCrop[] = [];
    const blank = (width: number, height: number): InkCrop => ({ data: new Float32Array(width * height), width, height });
    const bar = (crop: InkCrop, x: number, y: number, w: number, h: number, value = 1): InkCrop => {
      for (let yy = y; yy < y + h; yy++) crop.data.fill(value, yy * crop.width + x, yy * crop.width + x + w);
      return crop;
    };
    // A stroke with two specks of exactly equal mass, one dropped by the budget only: the order of the blobs decides.
    const specks = bar(blank(60, 50), 20, 5, 6, 40);
    for (let k = 0; k < 7; k++) {
      specks.data[(2 + 6 * k) * 60 + 2] = 1;
      specks.data[(2 + 6 * k) * 60 + 55] = 1;
    }
    crops.push(specks);
    // A dropped speck stronger than the digit: the box's strongest ink is not the crop's.
    const bright = bar(blank(50, 50), 10, 5, 5, 40, 0.6);
    bright.data[48 * 50 + 48] = 1;
    crops.push(bright);
    // Single pixels touching a stroke only at a corner (8-connected): part of the digit, not specks.
    for (const [x, y] of [[26, 4], [19, 4], [26, 45], [19, 45]] as const) {
      const corner = bar(blank(60, 50), 20, 5, 6, 40);
      corner.data[y * 60 + x] = 1;
      crops.push(corner);
    }
    // Faint noise (under the strong level, above the weak one) touching and away from a stroke.
    const noisy = bar(blank(40, 40), 10, 8, 4, 25);
    for (let i = 0; i < noisy.data.length; i++) if (noisy.data[i] === 0 && rng.next() < 0.2) noisy.data[i] = 0.03 + 0.06 * rng.next();
    crops.push(noisy);
    // Hairlines (widened) and blobs (thinned), wide and tall.
    crops.push(bar(blank(120, 90), 5, 40, 110, 1, 0.8), bar(blank(30, 90), 14, 2, 1, 86), bar(blank(12, 12), 1, 1, 10, 10));
    // Random ink at several densities and sizes, one pixel wide up to wide crops.
    for (const [width, height, density] of [[1, 30, 0.5], [30, 1, 0.5], [25, 25, 0.05], [37, 29, 0.3], [64, 48, 0.6], [90, 45, 0.15]] as const) {
      const crop = blank(width, height);
      for (let i = 0; i < crop.data.length; i++) if (rng.next() < density) crop.data[i] = rng.next();
      crops.push(crop);
    }
    // No ink, one stray pixel, too little ink: NO_INK with the same message.
    crops.push(blank(10, 10), bar(blank(10, 10), 4, 4, 1, 1), bar(blank(10, 10), 4, 4, 1, 1, 0.5));
    expect(differences(crops)).toEqual([]);
    expect(fast(new MnistCropNormalizer(28, 20), blank(10, 10))).toBe('NO_INK: no ink found in crop');
  });

  it('rejects a bad size or box, and ink of the wrong length', () => {
    expect(() => new MnistCropNormalizer(28, 29)).toThrow(/box/);
    expect(() => new MnistCropNormalizer(0, 0)).toThrow(/size/);
    expect(() => new MnistCropNormalizer(28, 20).normalize(new Float32Array(5), 2, 2)).toThrow(/2x2/);
  });
});

/** A stand-in model: uniform probabilities, and the inputs it was given. */
function recordingModel(preprocessing: string, side: number, classes: string[]): Recognizer & { seen: Float32Array[] } {
  const seen: Float32Array[] = [];
  const model = {
    metadata: { name: `${preprocessing}-${side}`, preprocessing, inputShape: [side, side, 1], classes },
    engine: 'stub',
    seen,
    predictProbabilities: async (inputs: Float32Array, count: number) => {
      seen.push(inputs.slice());
      return new Float32Array(count * classes.length).fill(1 / classes.length);
    },
  };
  return model as unknown as Recognizer & { seen: Float32Array[] };
}

describe('the line reader with a pair model', () => {
  it("gives the pair model the same inputs when they are the character model's (same profile and size) as when they are made afresh", async () => {
    const digitClasses = [...'0123456789'];
    const pairClasses = digitClasses.flatMap((a) => digitClasses.map((b) => a + b));
    for (const [text, seed] of [['3882418057', 2], ['80512', 11]] as const) {
      const { image } = await digitLine(text, seed, { touchingShare: 0.5 });
      const inputsOfPairs = async (characterSide: number): Promise<Float32Array> => {
        const pairs = recordingModel('mnist-com-v2', 28, pairClasses);
        await readLine(recordingModel('mnist-com-v1', characterSide, digitClasses), { image }, { pairs });
        expect(pairs.seen).toHaveLength(1);
        return pairs.seen[0]!;
      };
      const shared = await inputsOfPairs(28);
      expect(shared.length).toBeGreaterThan(0);
      expect(shared).toEqual(await inputsOfPairs(32));
    }
  });
});

describe('a verifier input averaged from the character input (cjk-fit-v1, downsampleFactor)', () => {
  const cjk = (side: number) => ({ name: `cjk-${side}`, preprocessing: CJK_PROFILE, inputShape: [side, side, 1] as [number, number, number] });

  it('is offered only for the cjk profile at a whole fraction of the size with the margin scaled alike', () => {
    expect(downsampleFactor(cjk(64), cjk(32))).toBe(2);
    expect(downsampleFactor(cjk(64), cjk(16))).toBe(4);
    expect(downsampleFactor(cjk(64), cjk(64))).toBeNull(); // the same input: shared as it is
    expect(downsampleFactor(cjk(64), cjk(48))).toBeNull();
    expect(downsampleFactor(cjk(32), cjk(64))).toBeNull();
    expect(downsampleFactor(cjk(56), cjk(28))).toBe(2); // margins 4 and 2
    expect(downsampleFactor(cjk(40), cjk(20))).toBeNull(); // margins 3 and 1: the ink box would not scale alike
    expect(downsampleFactor({ ...cjk(56), preprocessing: 'mnist-com-v2' }, { ...cjk(28), preprocessing: 'mnist-com-v2' })).toBeNull();
  });

  it('gives what the 32 px normalization gives, but for rounding, on crafted crops', () => {
    const big = segmentPreprocessorFor(cjk(64));
    const small = segmentPreprocessorFor(cjk(32));
    const rng = createRng(11);
    for (let n = 0; n < 40; n++) {
      const width = 8 + rng.int(90);
      const height = 8 + rng.int(90);
      const data = new Float32Array(width * height);
      for (let s = 0; s < 6; s++) {
        // A few strokes: random straight bars of random ink.
        const horizontal = rng.int(2) === 0;
        const at = rng.int(horizontal ? height : width);
        const ink = 0.4 + 0.6 * rng.uniform(0, 1);
        for (let t = rng.int(horizontal ? width : height); t < (horizontal ? width : height); t++) data[horizontal ? at * width + t : t * width + at] = ink;
      }
      const averaged = new Float32Array(32 * 32);
      downsampleInput(big({ data, width, height }), 64, 2, averaged);
      const direct = small({ data, width, height });
      for (let i = 0; i < averaged.length; i++) expect(Math.abs(averaged[i]! - direct[i]!)).toBeLessThan(0.004);
    }
  });
});

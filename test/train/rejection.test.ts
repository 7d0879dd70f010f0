import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.ts';
import { train } from '../../src/train/train.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { calibrateAndMeasure, heldOutNegatives, NEGATIVE_FRACTION, STYLE_FRACTION, withSyntheticData } from '../../src/train/rejection.ts';

describe('withSyntheticData', async () => {
  const { train, test } = await loadMnist({ limit: 200 });

  it('appends negatives with the rejection label and styled digits with digit labels, deterministically', () => {
    const a = withSyntheticData(train, 10, 5);
    const b = withSyntheticData(train, 10, 5);
    const negatives = Math.round(200 * NEGATIVE_FRACTION);
    const styles = Math.round(200 * STYLE_FRACTION);
    expect(a.split.count).toBe(200 + negatives + styles);
    expect(a.split.images.subarray(0, 200 * 784)).toEqual(train.images);
    expect(Array.from(a.split.labels.subarray(200, 200 + negatives)).every((l) => l === 10)).toBe(true);
    expect(Array.from(a.split.labels.subarray(200 + negatives)).every((l) => [1, 4, 7, 9].includes(l))).toBe(true);
    expect(a.split.images).toEqual(b.split.images);
    expect(a.description).toBe(`${negatives} synthetic non-digits, ${styles} synthetic digits in styles MNIST lacks`);
  });

  it('measures rejection rates and fits a temperature from a model\'s probabilities', async () => {
    const negatives = heldOutNegatives(test, 2, 40, 1);
    // A fake 3-class model: "rejects" (class 2) exactly the images with more than 160 px of ink, over-confidently.
    const inkOf = (inputs: Float32Array, i: number) => inputs.subarray(i * 784, (i + 1) * 784).reduce((a, b) => a + b, 0);
    const predict = async (inputs: Float32Array, count: number) => {
      const out = new Float32Array(count * 3);
      for (let i = 0; i < count; i++) out.set(inkOf(inputs, i) > 160 ? [0.0005, 0.0005, 0.999] : [0.999, 0.0005, 0.0005], i * 3);
      return out;
    };
    const validation = { ...negatives, labels: negatives.labels.map((_, i) => (i % 2 ? 2 : 0)) };
    const { calibration, rejection } = await calibrateAndMeasure(predict, validation, { ...test, labels: new Uint8Array(test.count) }, negatives, 3, 2);
    expect(rejection.falseRejectionRate).toBeGreaterThanOrEqual(0);
    expect(rejection.falseRejectionRate).toBeLessThanOrEqual(1);
    expect(rejection.negativeRejectionRate).toBeGreaterThanOrEqual(0);
    // Half-wrong over-confident answers: the fitted temperature softens them and lowers the ECE.
    expect(calibration.temperature).toBeGreaterThan(1);
    expect(calibration.validationEce.after).toBeLessThan(calibration.validationEce.before);
    expect(calibration.bins).toBe(15);
  });
});

describe('train() with a rejection class', () => {
  const tempDir = useTempDirs('reject');

  it('adds the class "none", then writes the calibration and rejection figures into metadata.json', async () => {
    const outDir = await tempDir();
    const result = await train({ model: 'lenet5', epochs: 1, batchSize: 50, seed: 2, limit: 300, threads: 1, reject: true, outDir, print: () => {}, progressBar: false });
    const { metadata } = result;
    expect(metadata.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none']);
    expect(metadata.rejectClass).toBe('none');
    expect(metadata.calibration).toMatchObject({ method: 'temperature scaling', bins: 15, maxFalseRejection: 0.0005 });
    expect(metadata.calibration!.temperature).toBeGreaterThan(0);
    expect(metadata.calibration!.rejectShift).toBeLessThanOrEqual(0);
    expect(metadata.rejection!.negatives).toMatch(/^2000 synthetic non-digits/);
    expect(metadata.trainingData).toMatch(/for training 32 synthetic non-digits, 8 synthetic digits in styles MNIST lacks/);
    expect(metadata.command).toMatch(/ --reject\b/);
  });
});

import { describe, expect, it } from 'vitest';
import { applyTemperature } from '../../src/core/recognizer.ts';
import { createRng } from '../../src/data/augment.ts';
import { expectedCalibrationError, fitTemperature, negativeLogLikelihood } from '../../src/train/calibration.ts';

describe('expectedCalibrationError', () => {
  it('is the bin-weighted gap between accuracy and confidence (15 bins)', () => {
    // Two rows at confidence 0.9 (one right, one wrong) and two at 0.6 (both right):
    // bin of 0.9: |0.5 - 0.9| * 2/4 = 0.2; bin of 0.6: |1 - 0.6| * 2/4 = 0.2.
    const p = new Float32Array([0.9, 0.1, 0.9, 0.1, 0.6, 0.4, 0.4, 0.6]);
    expect(expectedCalibrationError(p, [0, 1, 0, 1], 2)).toBeCloseTo(0.4, 6);
  });

  it('is 0 for a perfectly calibrated classifier and rejects mismatched lengths', () => {
    expect(expectedCalibrationError(new Float32Array([1, 0, 0, 1]), [0, 1], 2)).toBe(0);
    expect(() => expectedCalibrationError(new Float32Array(5), [0, 1], 2)).toThrow(/probabilities: expected 2 x 2/);
  });
});

describe('temperature scaling', () => {
  it('keeps the ranking, is the identity at T = 1 and sums rows to 1', () => {
    const p = new Float32Array([0.7, 0.2, 0.1, 0.05, 0.05, 0.9]);
    expect(Array.from(applyTemperature(p, 3, 1))).toEqual(Array.from(p).map((v) => expect.closeTo(v, 6)));
    const soft = applyTemperature(p, 3, 2.5);
    expect(soft[0]! > soft[1]! && soft[1]! > soft[2]!).toBe(true);
    expect(soft[0]! + soft[1]! + soft[2]!).toBeCloseTo(1, 6);
    expect(soft[0]!).toBeLessThan(0.7);
    expect(() => applyTemperature(p, 3, 0)).toThrow(/temperature/);
  });

  it('recovers the temperature that made over-confident probabilities, and lowers NLL and ECE', () => {
    // Calibrated logits z (labels drawn from softmax(z)), reported as softmax(3 z): over-confident by T = 3.
    const rng = createRng(7);
    const n = 4000;
    const classes = 4;
    const reported = new Float32Array(n * classes);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: classes }, () => rng.uniform(-2, 2));
      const calibrated = z.map(Math.exp);
      const sum = calibrated.reduce((a, b) => a + b, 0);
      let u = rng.next() * sum;
      labels[i] = classes - 1;
      for (let c = 0; c < classes; c++) if ((u -= calibrated[c]!) < 0) { labels[i] = c; break; }
      const sharp = z.map((v) => Math.exp(3 * v));
      const s = sharp.reduce((a, b) => a + b, 0);
      sharp.forEach((v, c) => (reported[i * classes + c] = v / s));
    }
    const t = fitTemperature(reported, labels, classes);
    expect(t).toBeGreaterThan(2.6);
    expect(t).toBeLessThan(3.4);
    const scaled = applyTemperature(reported, classes, t);
    expect(negativeLogLikelihood(scaled, labels, classes)).toBeLessThan(negativeLogLikelihood(reported, labels, classes));
    expect(expectedCalibrationError(scaled, labels, classes)).toBeLessThan(expectedCalibrationError(reported, labels, classes) / 2);
  });
});

/**
 * The recognizer's rejection and calibration, from metadata alone: `rejectClass` turns a win of that class into
 * `label: null` with a reason, `calibration.temperature` scales every probability it reports.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecognizer, decodeProbabilities, REJECTION_REASON } from '../../src/core/recognizer.ts';
import type { ModelMetadata } from '../../src/core/types.ts';

const CLASSES = ['0', '1', 'none'];

const metadata = (extra: Partial<ModelMetadata> = {}): ModelMetadata => ({
  name: 'tiny', architecture: 'test', classes: CLASSES, inputShape: [28, 28, 1], preprocessing: 'mnist-com-v1', parameters: 0,
  trainingData: '', epochs: 0, testAccuracy: null, top3Accuracy: null, testData: null, trainingSeconds: null, trainedOn: null,
  command: '', date: '', version: '0.1.0', ...extra,
});

/** A model that ignores its input and always outputs probabilities proportional to exp([0, 1, 3]). */
function constantModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0 }) }),
    ],
  });
  const [kernel] = model.layers[1]!.getWeights();
  model.layers[1]!.setWeights([kernel!, tf.tensor1d([0, 1, 3])]);
  return model;
}

/** A 28x28 white image with a black bar: some ink. */
const image = () => {
  const data = new Uint8ClampedArray(28 * 28 * 4).fill(255);
  for (let y = 6; y < 22; y++) for (let x = 12; x < 16; x++) data.fill(0, (y * 28 + x) * 4, (y * 28 + x) * 4 + 3);
  return { width: 28, height: 28, data };
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => tf.disposeVariables());

describe('decodeProbabilities with a rejection class', () => {
  it('answers label null and a reason when the rejection class wins', () => {
    const rejected = decodeProbabilities([0.1, 0.2, 0.7], CLASSES, 3, 'none');
    expect(rejected).toMatchObject({ label: null, reason: REJECTION_REASON, probability: 0.7 });
    expect(rejected.topK.map((t) => t.label)).toEqual(['none', '1', '0']);
  });

  it('answers the digit, without a reason, otherwise, and ignores the class without rejectClass', () => {
    const digit = decodeProbabilities([0.1, 0.6, 0.3], CLASSES, 3, 'none');
    expect(digit.label).toBe('1');
    expect(digit).not.toHaveProperty('reason');
    expect(decodeProbabilities([0.1, 0.2, 0.7], CLASSES).label).toBe('none');
  });
});

describe('createRecognizer with rejection and calibration metadata', () => {
  it('rejects through recognize() and reports temperature-scaled probabilities', async () => {
    const raw = createRecognizer(constantModel(), metadata({ rejectClass: 'none' }));
    const calibrated = createRecognizer(constantModel(), metadata({
      rejectClass: 'none',
      calibration: { method: 'temperature scaling', temperature: 2, fittedOn: 'test', bins: 15, validationEce: { before: 0, after: 0 }, testEce: { before: 0, after: 0 } },
    }));
    const a = await raw.recognize(image());
    const b = await calibrated.recognize(image());
    expect(a.label).toBeNull();
    expect(a.reason).toBe('not a digit');
    const e = [0, 1, 3].map(Math.exp);
    expect(a.probability).toBeCloseTo(e[2]! / (e[0]! + e[1]! + e[2]!), 5);
    const h = [0, 0.5, 1.5].map(Math.exp); // softmax(z / 2)
    expect(b.probability).toBeCloseTo(h[2]! / (h[0]! + h[1]! + h[2]!), 5);
    expect(b.label).toBeNull();
    raw.dispose();
    calibrated.dispose();
  });

  it('refuses a rejectClass that is not a class, and a bad temperature', () => {
    expect(() => createRecognizer(constantModel(), metadata({ rejectClass: 'nothing' }))).toThrow(/rejectClass "nothing" is not one of its classes/);
    const bad = metadata({ calibration: { method: 'temperature scaling', temperature: -1, fittedOn: '', bins: 15, validationEce: { before: 0, after: 0 }, testEce: { before: 0, after: 0 } } });
    expect(() => createRecognizer(constantModel(), bad)).toThrow(/temperature must be a finite number > 0/);
  });
});

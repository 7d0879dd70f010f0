/**
 * The model shipped in models/digits: loads with no training or download, reaches the promised accuracy on the
 * full 10,000-image MNIST test set, and its metadata tells the truth.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.ts';
import { loadModel } from '../../src/node/modelFiles.ts';
import { loadRecognizer, resolveModelDir } from '../../src/node/recognizer.ts';
import { ARCHITECTURES } from '../../src/models/index.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import { evaluateClassifier } from '../../src/train/evaluate.ts';

describe('shipped digit model (models/digits)', () => {
  it('reaches at least 99.6% on the full MNIST test set, rejected digits counted as errors, as its metadata says', async () => {
    const recognizer = await loadRecognizer();
    const { test } = await loadMnist();
    expect(test.count).toBe(10_000);
    const evaluation = await evaluateClassifier(recognizer.predictProbabilities, test, recognizer.metadata.classes);
    expect(evaluation.accuracy).toBeGreaterThanOrEqual(0.996);
    expect(evaluation.accuracy).toBeCloseTo(recognizer.metadata.testAccuracy!, 4);
    expect(evaluation.top3Accuracy).toBeCloseTo(recognizer.metadata.top3Accuracy!, 4);
    recognizer.dispose();
  });

  it('has complete metadata and stays small', async () => {
    const dir = resolveModelDir('digits');
    const recognizer = await loadRecognizer('digits');
    const { metadata } = recognizer;
    expect(metadata.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none']);
    expect(metadata.rejectClass).toBe('none');
    // Calibrated on the validation split: the expected calibration error goes down, on validation and test data.
    const calibration = metadata.calibration!;
    expect(calibration.temperature).toBeGreaterThan(0);
    expect(calibration.bins).toBe(15);
    expect(calibration.validationEce.after).toBeLessThan(calibration.validationEce.before);
    expect(calibration.testEce.after).toBeLessThan(calibration.testEce.before);
    expect(metadata.rejection!.falseRejectionRate).toBeLessThanOrEqual(0.001);
    expect(metadata.rejection!.negativeRejectionRate).toBeGreaterThan(0.85);
    expect(metadata.inputShape).toEqual([28, 28, 1]);
    expect(ARCHITECTURES.map((a) => a.name)).toContain(metadata.architecture);
    // The parameters of the TF.js model itself (the recognizer may run the ONNX form, which has no LayersModel).
    await setupBackend();
    expect(metadata.parameters).toBe((await loadModel(dir)).countParams());
    expect(metadata.command).toMatch(/^npx hwr train /);
    expect(metadata.testData).toMatch(/10000 images/);
    const bytes = (await stat(join(dir, 'weights.bin'))).size + (await stat(join(dir, 'model.json'))).size;
    expect(bytes).toBeLessThan(600 * 1024);
    recognizer.dispose();
  });
});

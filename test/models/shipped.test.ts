/**
 * The model shipped in models/digits: loads with no training or download, reaches the promised accuracy on the
 * full 10,000-image MNIST test set, and its metadata tells the truth.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.ts';
import { loadRecognizer, resolveModelDir } from '../../src/node/recognizer.ts';
import { ARCHITECTURES } from '../../src/models/index.ts';
import { evaluateClassifier } from '../../src/train/evaluate.ts';

describe('shipped digit model (models/digits)', () => {
  it('reaches at least 99.5% on the full MNIST test set, as its metadata says', async () => {
    const recognizer = await loadRecognizer();
    const { test } = await loadMnist();
    expect(test.count).toBe(10_000);
    const evaluation = await evaluateClassifier(recognizer.predictProbabilities, test, recognizer.metadata.classes);
    expect(evaluation.accuracy).toBeGreaterThanOrEqual(0.995);
    expect(evaluation.accuracy).toBeCloseTo(recognizer.metadata.testAccuracy!, 4);
    expect(evaluation.top3Accuracy).toBeCloseTo(recognizer.metadata.top3Accuracy!, 4);
    recognizer.dispose();
  });

  it('has complete metadata and stays small', async () => {
    const dir = resolveModelDir('digits');
    const recognizer = await loadRecognizer('digits');
    const { metadata } = recognizer;
    expect(metadata.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(metadata.inputShape).toEqual([28, 28, 1]);
    expect(ARCHITECTURES.map((a) => a.name)).toContain(metadata.architecture);
    expect(metadata.parameters).toBe(recognizer.model.countParams());
    expect(metadata.command).toMatch(/^npx hwr train /);
    expect(metadata.testData).toMatch(/10000 images/);
    const bytes = (await stat(join(dir, 'weights.bin'))).size + (await stat(join(dir, 'model.json'))).size;
    expect(bytes).toBeLessThan(600 * 1024);
    recognizer.dispose();
  });
});

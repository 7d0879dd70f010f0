/**
 * The recognizer's inference engine: `createRecognizer` takes a TF.js LayersModel (run by `tfjsEngine`) or any
 * `InferenceEngine`, and applies calibration and decoding after the engine either way.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecognizer, tfjsEngine, type InferenceEngine } from '../../src/core/recognizer.ts';
import type { ModelMetadata } from '../../src/core/types.ts';

const CLASSES = ['0', '1', 'none'];

const metadata = (extra: Partial<ModelMetadata> = {}): ModelMetadata => ({
  name: 'tiny', architecture: 'test', classes: CLASSES, inputShape: [28, 28, 1], preprocessing: 'mnist-com-v1', parameters: 0,
  trainingData: '', epochs: 0, testAccuracy: null, top3Accuracy: null, testData: null, trainingSeconds: null, trainedOn: null,
  command: '', date: '', version: '0.1.0', ...extra,
});

/** Probabilities proportional to exp([0, 1, 3]) for every image. */
const ROW = (() => {
  const e = [0, 1, 3].map(Math.exp);
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
})();

/** A model that ignores its input and always outputs `ROW`. */
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

/** An engine that answers `ROW` for every image and counts its calls. */
function constantEngine(): InferenceEngine & { calls: number[]; disposed: boolean } {
  return {
    name: 'constant',
    calls: [],
    disposed: false,
    async run(inputs, count) {
      this.calls.push(count);
      expect(inputs.length).toBe(count * 28 * 28);
      return Float32Array.from({ length: count * 3 }, (_, i) => ROW[i % 3]!);
    },
    dispose() {
      this.disposed = true;
    },
  };
}

const image = () => {
  const data = new Uint8ClampedArray(28 * 28 * 4).fill(255);
  for (let y = 6; y < 22; y++) for (let x = 12; x < 16; x++) data.fill(0, (y * 28 + x) * 4, (y * 28 + x) * 4 + 3);
  return { width: 28, height: 28, data };
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => tf.disposeVariables());

describe('InferenceEngine', () => {
  it('tfjsEngine runs the model in one batch and keeps it', async () => {
    const model = constantModel();
    const engine = tfjsEngine(model);
    expect(engine.name).toBe('tfjs');
    expect(engine.model).toBe(model);
    const out = await engine.run(new Float32Array(2 * 28 * 28), 2);
    expect(Array.from(out)).toEqual([...ROW, ...ROW].map((v) => expect.closeTo(v, 6)));
    expect((await engine.run(new Float32Array(0), 0)).length).toBe(0);
    engine.dispose();
  });

  it('a LayersModel gives the tfjs engine and exposes the model; an engine gives no model', async () => {
    const model = constantModel();
    const viaModel = createRecognizer(model, metadata());
    expect(viaModel.engine).toBe('tfjs');
    expect(viaModel.model).toBe(model);
    const engine = constantEngine();
    const viaEngine = createRecognizer(engine, metadata());
    expect(viaEngine.engine).toBe('constant');
    expect(viaEngine.model).toBeUndefined();
    viaEngine.dispose();
    expect(engine.disposed).toBe(true);
    viaModel.dispose();
  });

  it('calibration, rejection and topK apply after any engine, the same as with TF.js', async () => {
    const meta = metadata({ rejectClass: 'none', calibration: { temperature: 2, bins: 15 } as ModelMetadata['calibration'] });
    const viaModel = createRecognizer(constantModel(), meta);
    const engine = constantEngine();
    const viaEngine = createRecognizer(engine, meta);
    const [a, b] = [await viaModel.recognize(image(), { topK: 2 }), await viaEngine.recognize(image(), { topK: 2 })];
    expect(b.label).toBeNull();
    expect(b.topK.map((t) => t.label)).toEqual(['none', '1']);
    expect(b.probabilities.map((p, i) => Math.abs(p - a.probabilities[i]!)).every((d) => d < 1e-6)).toBe(true);
    // Temperature 2 flattens the row: the winner's probability drops below the raw one.
    expect(b.probability).toBeLessThan(ROW[2]!);
    const batch = await viaEngine.recognizeBatch([image(), { width: 0, height: 0, data: new Uint8ClampedArray(0) }, image()]);
    expect(engine.calls).toEqual([1, 2]);
    expect(batch[1]).toBeInstanceOf(Error);
    viaModel.dispose();
    viaEngine.dispose();
  });
});

/**
 * The teach-a-script recipe (`trainInkScript`) on a tiny dataset (3 classes x 3 samples of test/fixtures/ink/tiny.json,
 * a few variants, 1-2 epochs per phase) from the shipped digits model, on the wasm backend with hwr's training kernels:
 * it learns (its own samples recognized well above chance), reports its phases in order, calls `onUsable` once with
 * the model as files, stops with `CANCELLED` when its signal aborts, grows a class with `startFrom`, and refuses
 * datasets it cannot learn from.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { inkImageFor, preprocessorFor } from '../../src/core/preprocessing.ts';
import { readInkDataset, sampleInk, type InkDataset } from '../../src/data/inkDataset.ts';
import { loadModel, readMetadata } from '../../src/node/modelFiles.ts';
import { trainInkScript, type ModelFiles, type ScriptModel, type TrainingProgress, type TrainInkScriptOptions } from '../../src/train/inkScript.ts';

const TINY = readInkDataset(readFileSync(new URL('../fixtures/ink/tiny.json', import.meta.url), 'utf8'), 'tiny.json');
const QUICK: TrainInkScriptOptions = { variantsPerSample: 6, validationVariantsPerSample: 1, headEpochs: 3, fineTuneEpochs: 1, seed: 3 };

/** The first `perClass` samples of each of `classes`. */
function subset(classes: string[], perClass: number): InkDataset {
  const samples = classes.flatMap((label) => TINY.samples.filter((s) => s.label === label).slice(0, perClass));
  return { ...TINY, classes, samples };
}

/** Top-1 accuracy of a script model on a dataset's samples, through the recognizer's ink path. */
function accuracyOn(result: ScriptModel, dataset: InkDataset): number {
  const preprocess = preprocessorFor(result.metadata);
  const [h, w] = result.metadata.inputShape;
  const x = new Float32Array(dataset.samples.length * h * w);
  dataset.samples.forEach((s, i) => x.set(preprocess(inkImageFor(sampleInk(s), result.metadata), `sample ${i}`), i * h * w));
  const predicted = tf.tidy(() => (result.model.predict(tf.tensor4d(x, [dataset.samples.length, h, w, 1])) as tf.Tensor).argMax(1).dataSync());
  return dataset.samples.filter((s, i) => result.metadata.classes[predicted[i]!] === s.label).length / dataset.samples.length;
}

let base: ScriptModel;
beforeAll(async () => {
  await setupBackend();
  base = { model: await loadModel('models/digits'), metadata: await readMetadata('models/digits') };
});

describe('trainInkScript', () => {
  it('learns 3 classes from 3 samples each; phases in order; onUsable once, before fine-tuning; metadata of a script model', async () => {
    const dataset = subset(['l', 'o', 'x'], 3);
    const progress: TrainingProgress[] = [];
    const usable: { files: ModelFiles; after: number }[] = [];
    const baseWeights = base.model.getWeights()[0]!.dataSync().slice();
    const result = await trainInkScript(dataset, base, { ...QUICK, onProgress: (p) => progress.push(p), onUsable: (files) => usable.push({ files, after: progress.length }) });

    expect(accuracyOn(result, dataset)).toBeGreaterThan(2 / 3); // chance is 1/3
    expect(result.metadata).toMatchObject({ name: 'tiny', classes: ['l', 'o', 'x'], architecture: 'hwr-net+ink-head', inputShape: [28, 28, 1], preprocessing: base.metadata.preprocessing, epochs: 4 });
    expect(result.metadata.inkPenWidth).toBeCloseTo(0.12);
    expect(result.metadata.parameters).toBe(result.model.countParams());
    expect(result.metadata.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(result.model.outputs[0]!.shape).toEqual([null, 3]);
    // The base model is not changed.
    expect(base.model.getWeights()[0]!.dataSync()).toEqual(baseWeights);

    const phases = progress.map((p) => p.phase).filter((phase, i, all) => phase !== all[i - 1]);
    expect(phases).toEqual(['synthesis', 'head', 'fine-tune', 'done']);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.fraction).toBeGreaterThanOrEqual(progress[i - 1]!.fraction);
    expect(progress.at(-1)!.fraction).toBe(1);
    expect(progress.filter((p) => p.phase === 'head' && p.loss !== null)).toHaveLength(QUICK.headEpochs!);

    expect(usable).toHaveLength(1);
    const [{ files, after }] = usable;
    expect(progress.slice(0, after).some((p) => p.phase === 'fine-tune')).toBe(false);
    expect(progress.slice(after).every((p) => p.usable)).toBe(true);
    expect(files.metadata.classes).toEqual(['l', 'o', 'x']);
    expect(files.weightData.byteLength).toBe(files.weightSpecs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0));
  });

  it('rejects with code CANCELLED when its signal aborts during training, and at once when it is already aborted', async () => {
    const dataset = subset(['l', 'o'], 2);
    const controller = new AbortController();
    const run = trainInkScript(dataset, base, { ...QUICK, signal: controller.signal, onProgress: (p) => p.phase === 'head' && controller.abort() });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(trainInkScript(dataset, base, { ...QUICK, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('leaves no tensors behind once its model is disposed', async () => {
    const before = tf.memory().numTensors;
    const result = await trainInkScript(subset(['l', 'o'], 2), base, { ...QUICK, headEpochs: 1 });
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('startFrom: continues from a script model and adds a class', async () => {
    const first = await trainInkScript(subset(['l', 'o'], 3), base, { ...QUICK, fineTuneEpochs: 0 });
    expect(first.metadata.classes).toEqual(['l', 'o']);
    const grown = subset(['l', 'o', 'x'], 3);
    const second = await trainInkScript(grown, base, { ...QUICK, fineTuneEpochs: 0, startFrom: first });
    expect(second.metadata.classes).toEqual(['l', 'o', 'x']);
    expect(second.metadata.architecture).toBe('hwr-net+ink-head');
    expect(second.model.outputs[0]!.shape).toEqual([null, 3]);
    expect(accuracyOn(second, grown)).toBeGreaterThan(2 / 3);
  });

  it('startFrom with corrections of some classes (personalization of the digits model): only their output units learn', async () => {
    // Three drawn "l" samples corrected to "1" and "o" to "0": the digits model's other nine units must not move.
    const corrections: InkDataset = {
      ...TINY,
      script: 'digits',
      classes: base.metadata.classes,
      samples: [
        ...TINY.samples.filter((s) => s.label === 'l').slice(0, 3).map((s) => ({ ...s, label: '1' })),
        ...TINY.samples.filter((s) => s.label === 'o').slice(0, 3).map((s) => ({ ...s, label: '0' })),
      ],
    };
    const improved = await trainInkScript(corrections, base, { ...QUICK, startFrom: base });
    expect(improved.metadata.classes).toEqual(base.metadata.classes);
    expect(improved.metadata.epochs).toBe(QUICK.headEpochs); // no fine-tuning: the features stay
    expect(improved.metadata.rejectClass).toBe(base.metadata.rejectClass);
    expect(improved.metadata.calibration).toEqual(base.metadata.calibration);
    const [kernel, bias] = improved.model.layers[improved.model.layers.length - 1]!.getWeights().map((w) => w.arraySync() as number[] | number[][]);
    const [baseKernel, baseBias] = base.model.layers[base.model.layers.length - 1]!.getWeights().map((w) => w.arraySync() as number[] | number[][]);
    const column = (k: unknown, unit: number): number[] => (k as number[][]).map((row) => row[unit]!);
    base.metadata.classes.forEach((label, unit) => {
      const same = column(kernel, unit).every((v, r) => v === column(baseKernel, unit)[r]) && (bias as number[])[unit] === (baseBias as number[])[unit];
      expect(same, label).toBe(label !== '0' && label !== '1');
    });
    expect(accuracyOn(improved, corrections)).toBeGreaterThanOrEqual(accuracyOn(base, corrections));
    improved.model.dispose();
  });

  it('refuses a dataset with fewer than 2 classes or a class without samples (BAD_DATASET), and bad options (BAD_ARGUMENT)', async () => {
    await expect(trainInkScript(subset(['l'], 3), base, QUICK)).rejects.toMatchObject({ code: 'BAD_DATASET', message: expect.stringMatching(/at least 2 classes/) });
    const missing = { ...subset(['l', 'o'], 3), classes: ['l', 'o', 'x'] };
    await expect(trainInkScript(missing, base, QUICK)).rejects.toMatchObject({ code: 'BAD_DATASET', message: expect.stringMatching(/"x" without samples/) });
    await expect(trainInkScript(subset(['l', 'o'], 1), base, { ...QUICK, headEpochs: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/headEpochs/) });
  });
});

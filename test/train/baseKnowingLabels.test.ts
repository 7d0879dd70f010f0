/**
 * `baseKnowingLabels`: a base that knows a script's labels (the Latin glyph base's `latin/<letter>` classes) as the
 * model a script continues from: its known labels' output units start from the base's, on its penultimate features.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { inkImageFor, preprocessorFor } from '../../src/core/preprocessing.ts';
import { sampleInk } from '../../src/data/inkDataset.ts';
import { plotterWriter, writerDataset } from '../../src/data/plotterFonts.ts';
import { loadModel, readMetadata } from '../../src/node/modelFiles.ts';
import { loadPlotterFont } from '../../src/node/plotterFonts.ts';
import { baseKnowingLabels, KNOWN_LABELS_RECIPE, knownLabelsStart, trainInkScript, type ScriptModel } from '../../src/train/inkScript.ts';

let base: ScriptModel;

beforeAll(async () => {
  await setupBackend();
  base = { model: await loadModel('models/glyphs-latin'), metadata: await readMetadata('models/glyphs-latin') };
});

describe('baseKnowingLabels', () => {
  it('renames the known classes, and is null for a script the base does not know', () => {
    const known = baseKnowingLabels(base, ['a', 'b', 'sym-x'], 'latin/')!;
    expect(known.model).toBe(base.model);
    expect(known.metadata.classes).toHaveLength(base.metadata.classes.length);
    expect(known.metadata.classes).toContain('a');
    expect(known.metadata.classes).toContain('b');
    expect(known.metadata.classes).not.toContain('latin/a');
    expect(known.metadata.classes).toContain('latin/c'); // not a label of the script: kept
    expect(base.metadata.classes).toContain('latin/a'); // the base's metadata is not modified
    expect(baseKnowingLabels(base, ['sym-a', 'sym-b'], 'latin/')).toBeNull();
  });

  it('starts the script model from the base: before learning, its probabilities are the base\'s over the known classes', async () => {
    const labels = ['a', 'g', 's'];
    const dataset = writerDataset([plotterWriter(loadPlotterFont('futural'), 1)], labels, { script: 'abc', samplesPerClass: 1, seed: 1 });
    const startFrom = baseKnowingLabels(base, labels, 'latin/')!;
    // One head step at a negligible learning rate, no fine-tuning: the output units are the base's.
    const script = await trainInkScript(dataset, base, { startFrom, variantsPerSample: 1, validationVariantsPerSample: 0, headEpochs: 1, fineTuneEpochs: 0, headLearningRate: 1e-12, seed: 1 });
    expect(script.metadata.classes).toEqual(labels);
    const preprocess = preprocessorFor(base.metadata);
    const inputs = dataset.samples.map((sample, i) => preprocess(inkImageFor(sampleInk(sample), base.metadata), `sample ${i}`));
    const x = tf.tensor4d(Float32Array.from(inputs.flatMap((v) => Array.from(v))), [inputs.length, 28, 28, 1]);
    const ours = (script.model.predict(x) as tf.Tensor).arraySync() as number[][];
    const theirs = (base.model.predict(x) as tf.Tensor).arraySync() as number[][];
    x.dispose();
    const columns = labels.map((label) => base.metadata.classes.indexOf(`latin/${label}`));
    theirs.forEach((row, i) => {
      const sum = columns.reduce((s, c) => s + row[c]!, 0);
      columns.forEach((c, k) => expect(ours[i]![k]).toBeCloseTo(row[c]! / sum, 4));
      // And the base reads these Latin letters of a plotter font it never saw.
      expect(ours[i]!.indexOf(Math.max(...ours[i]!))).toBe(i);
    });
  });

  it('knownLabelsStart: only where the base knows every label', () => {
    expect(knownLabelsStart(base, ['a', 'b', 'z'])!.metadata.classes).toContain('z');
    expect(knownLabelsStart(base, ['a', 'b', 'sym-x'])).toBeNull(); // one label it does not know: a new output layer
    expect(knownLabelsStart(base, ['sym-a', 'sym-b'])).toBeNull();
    expect(knownLabelsStart(base, [])).toBeNull();
  });

  it('trainInkScript starts from the base by itself where it knows every label (knownLabels), unless told not to', async () => {
    const labels = ['a', 'g', 's'];
    const dataset = writerDataset([plotterWriter(loadPlotterFont('futural'), 1)], labels, { script: 'abc', samplesPerClass: 1, seed: 1 });
    const quick = { variantsPerSample: 1, validationVariantsPerSample: 0, headEpochs: 1, seed: 1 };
    const auto = await trainInkScript(dataset, base, { ...quick, headLearningRate: 1e-12 });
    const explicit = await trainInkScript(dataset, base, { ...quick, headLearningRate: 1e-12, fineTuneEpochs: 0, startFrom: baseKnowingLabels(base, labels, 'latin/')! });
    const fresh = await trainInkScript(dataset, base, { ...quick, knownLabels: false, fineTuneEpochs: 0 });
    // The automatic start is the explicit one with KNOWN_LABELS_RECIPE's fine-tune epochs (none): the same weights.
    expect(KNOWN_LABELS_RECIPE.fineTuneEpochs).toBe(0);
    expect(auto.metadata.epochs).toBe(1);
    expect(auto.metadata.trainingData).toContain('own units');
    const weights = (m: ScriptModel): number[] => m.model.getWeights().flatMap((w) => Array.from(w.dataSync()));
    expect(weights(auto)).toEqual(weights(explicit));
    // Without it: the base's convolutional features and a new output layer (fewer layers, other weights).
    expect(fresh.model.layers.length).toBeLessThan(auto.model.layers.length);
    expect(fresh.metadata.trainingData).not.toContain('own units');
    for (const m of [auto, explicit, fresh]) m.model.dispose();
  });
});

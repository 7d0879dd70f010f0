import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLenet5 } from '../../src/models/lenet5.ts';
import { createSeedCnn } from '../../src/models/seedCnn.ts';
import { saveModel } from '../../src/node/modelFiles.ts';
import { initializeFrom } from '../../src/train/initialize.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('init');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('initializeFrom (hwr train --init)', () => {
  it('copies matching weights and grows the output layer, keeping fresh units for the new class', async () => {
    const dir = await tempDir();
    const trained = createLenet5({ classes: 10, seed: 1 });
    await saveModel(trained, dir);
    const grown = createLenet5({ classes: 11, seed: 2 });
    const freshBias = grown.getWeights().at(-1)!.dataSync().slice();
    const freshKernel = grown.getWeights().at(-2)!.arraySync() as number[][];
    expect(await initializeFrom(grown, dir)).toEqual({ copied: trained.getWeights().length - 2, grown: 2 });
    const before = trained.getWeights();
    const after = grown.getWeights();
    expect(after[0]!.dataSync()).toEqual(before[0]!.dataSync());
    const kernel = after.at(-2)!.arraySync() as number[][];
    const oldKernel = before.at(-2)!.arraySync() as number[][];
    expect(kernel.map((row) => row.slice(0, 10))).toEqual(oldKernel);
    expect(kernel.map((row) => row[10])).toEqual(freshKernel.map((row) => row[10]));
    expect(Array.from(after.at(-1)!.dataSync())).toEqual([...before.at(-1)!.dataSync(), freshBias[10]!]);
    trained.dispose();
    grown.dispose();
  });

  it('refuses another architecture in one line naming the folder', async () => {
    const dir = await tempDir();
    const trained = createLenet5({ classes: 10, seed: 1 });
    await saveModel(trained, dir);
    const other = createSeedCnn({ classes: 10, seed: 1 });
    await expect(initializeFrom(other, dir)).rejects.toThrow(new RegExp(`--init ${dir}: `));
    trained.dispose();
    other.dispose();
  });
});

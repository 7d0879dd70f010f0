import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { train } from '../../src/train/train.ts';

const quiet = () => {};
const tempDir = useTempDirs('train');

describe('train', () => {
  it('learns MNIST digits from a small subset, well above chance (10%)', async () => {
    const outDir = await tempDir();
    const result = await train({ model: 'seed-cnn', epochs: 2, batchSize: 32, learningRate: 0.002, seed: 3, outDir, limit: 2000, print: quiet, progressBar: false });
    expect(result.test!.count).toBe(2000);
    expect(result.test!.accuracy).toBeGreaterThan(0.7);
    const metadata = JSON.parse(await readFile(join(outDir, 'metadata.json'), 'utf8'));
    expect(metadata).toMatchObject({ architecture: 'seed-cnn', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], inputShape: [28, 28, 1], parameters: 101578 });
    expect(metadata.testAccuracy).toBeCloseTo(result.test!.accuracy, 6);
    const history = JSON.parse(await readFile(join(outDir, 'history.json'), 'utf8'));
    expect(history).toHaveLength(2);
    const png = await readFile(join(outDir, 'curves.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('gives the same weights for the same seed, and resuming continues the same run', async () => {
    // Without the rejection class (its synthetic data and calibration triple the time): batch norm and seeded
    // dropout are what a resume must continue exactly.
    const options = { model: 'hwr-net', batchSize: 50, learningRate: 0.002, seed: 7, limit: 300, reject: false, print: quiet, progressBar: false };
    const straight = await tempDir();
    await train({ ...options, epochs: 2, outDir: straight });
    const again = await tempDir();
    await train({ ...options, epochs: 2, outDir: again });
    const resumed = await tempDir();
    await train({ ...options, epochs: 1, outDir: resumed });
    await train({ ...options, epochs: 2, outDir: resumed, resume: true });
    const weights = (dir: string) => readFile(join(dir, 'checkpoints/epoch-0002/weights.bin'));
    const reference = await weights(straight);
    expect((await weights(again)).equals(reference)).toBe(true);
    expect((await weights(resumed)).equals(reference)).toBe(true);
    const state = JSON.parse(await readFile(join(resumed, 'checkpoints/epoch-0002/state.json'), 'utf8'));
    expect(state.epochsDone).toBe(2);
    expect(state.history).toHaveLength(2);
  }, 600_000);

  it('refuses --resume without a checkpoint and unknown models, naming them', async () => {
    const outDir = await tempDir();
    await expect(train({ model: 'seed-cnn', epochs: 1, batchSize: 32, learningRate: 0.001, seed: 1, outDir, limit: 100, resume: true, print: quiet })).rejects.toThrow(/--resume: no checkpoint/);
    await expect(train({ model: 'resnet', epochs: 1, batchSize: 32, learningRate: 0.001, seed: 1, outDir, print: quiet })).rejects.toThrow(/unknown model "resnet"/);
  });

  it('refuses kernel threads together with data-parallel threads, naming both flags', async () => {
    const outDir = await tempDir();
    await expect(train({ model: 'seed-cnn', epochs: 1, batchSize: 32, learningRate: 0.001, seed: 1, outDir, limit: 100, threads: 2, kernelThreads: 2, print: quiet }))
      .rejects.toThrow(/--kernel-threads 2 with --threads 2/);
  });
});

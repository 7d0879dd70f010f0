import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { getArchitecture } from '../../src/models/index.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { DataParallelTrainer, replicaOf, shardGradients, shardSizes } from '../../src/train/parallel.ts';
import { train } from '../../src/train/train.ts';

const quiet = () => {};
const tempDir = useTempDirs('parallel');

function compiled(name: string, seed: number): tf.LayersModel {
  const model = getArchitecture(name).create({ classes: 10, seed });
  model.compile({ optimizer: tf.train.adam(0.002), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** A random batch: `[n, 28, 28, 1]` images in [0, 1] and one-hot labels. */
function randomBatch(n: number, seed: number): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => [tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', seed), tf.oneHot(tf.randomUniform([n], 0, 10, 'int32', seed + 1), 10).toFloat()]);
}

beforeAll(async () => {
  await setupBackend();
});

describe('shardSizes', () => {
  it('splits a batch into contiguous shards differing by at most one image', () => {
    expect(shardSizes(64, 2)).toEqual([32, 32]);
    expect(shardSizes(65, 2)).toEqual([33, 32]);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
    expect(shardSizes(1, 2)).toEqual([1, 0]);
  });
});

describe('DataParallelTrainer', () => {
  it('averages shard gradients into the gradient of the whole batch (seed-cnn, 2 threads, odd batch)', async () => {
    const single = compiled('seed-cnn', 11);
    const parallel = compiled('seed-cnn', 11);
    const [xs, ys] = randomBatch(37, 5);
    const replica = replicaOf(single);
    const expected = new Float32Array(replica.offsets.at(-1)!);
    const [loss, accuracy] = shardGradients(replica, xs, ys, expected);
    const trainer = await DataParallelTrainer.attach(parallel, { threads: 2, architecture: 'seed-cnn', modelOptions: { classes: 10, seed: 11 } });
    try {
      const { gradient, values } = trainer.computeGradients(xs, ys);
      expect(gradient.length).toBe(101_578);
      let squaredError = 0;
      let squaredNorm = 0;
      for (let i = 0; i < gradient.length; i++) {
        squaredError += (gradient[i]! - expected[i]!) ** 2;
        squaredNorm += expected[i]! ** 2;
      }
      expect(squaredNorm).toBeGreaterThan(0);
      expect(Math.sqrt(squaredError / squaredNorm)).toBeLessThan(1e-4);
      // Every variable separately, so a small layer cannot hide behind a large one.
      replica.variables.forEach((_, v) => {
        const a = gradient.subarray(replica.offsets[v]!, replica.offsets[v + 1]!);
        const b = expected.subarray(replica.offsets[v]!, replica.offsets[v + 1]!);
        const scale = b.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const worst = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
        expect(worst).toBeLessThanOrEqual(1e-4 * scale + 1e-9);
      });
      expect(values[0]).toBeCloseTo(loss!, 5);
      expect(values[1]).toBeCloseTo(accuracy!, 6);
    } finally {
      await trainer.dispose();
      tf.dispose([xs, ys]);
      single.dispose();
      parallel.dispose();
    }
  });

  for (const sync of ['gradients', 'weights'] as const) {
    it(`keeps the replicas bit-identical over training steps ('${sync}' sync, hwr-net with batch norm and dropout)`, async () => {
      const model = compiled('hwr-net', 2);
      const trainer = await DataParallelTrainer.attach(model, { threads: 2, architecture: 'hwr-net', modelOptions: { classes: 10, seed: 2 }, sync });
      const [xs, ys] = randomBatch(16, 9);
      try {
        await model.trainOnBatch(xs, ys); // creates the optimizer's state
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
        expect(tf.memory().numTensors).toBe(before);
        const main = trainer.mainWeights();
        const replica = await trainer.replicaWeights(1);
        expect(Buffer.from(replica.buffer).equals(Buffer.from(main.buffer))).toBe(true);
      } finally {
        await trainer.dispose();
        tf.dispose([xs, ys]);
        model.dispose();
      }
    });
  }

  it('fails the next step at once, naming the worker, when a worker has stopped', async () => {
    const model = compiled('seed-cnn', 3);
    const trainer = await DataParallelTrainer.attach(model, { threads: 2, architecture: 'seed-cnn', modelOptions: { classes: 10, seed: 3 } });
    const [xs, ys] = randomBatch(8, 4);
    try {
      await model.trainOnBatch(xs, ys);
      // As if the worker had died between two steps (its exit event reaches the main thread's event loop).
      await (trainer as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0]!.terminate();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const start = Date.now();
      await expect(model.trainOnBatch(xs, ys)).rejects.toThrow(/worker 1 has stopped \(exited with code 1\).*--resume/);
      expect(Date.now() - start).toBeLessThan(60_000); // not the 300 s answer timeout
      await expect(model.trainOnBatch(xs, ys)).rejects.toThrow(/worker 1 has stopped/);
    } finally {
      await trainer.dispose();
      tf.dispose([xs, ys]);
      model.dispose();
    }
  });

  it('refuses fewer than 2 threads and uncompiled models', async () => {
    const model = getArchitecture('seed-cnn').create({ classes: 10, seed: 1 });
    await expect(DataParallelTrainer.attach(model, { threads: 1, architecture: 'seed-cnn', modelOptions: { classes: 10, seed: 1 } })).rejects.toThrow(/2 or more threads/);
    await expect(DataParallelTrainer.attach(model, { threads: 2, architecture: 'seed-cnn', modelOptions: { classes: 10, seed: 1 } })).rejects.toThrow(/compile the model first/);
    model.dispose();
  });
});

describe('train with threads: 2', () => {
  it('learns MNIST digits from a small subset, well above chance (10%)', async () => {
    const outDir = await tempDir();
    const result = await train({ model: 'seed-cnn', epochs: 2, batchSize: 32, learningRate: 0.002, seed: 3, outDir, limit: 2000, threads: 2, print: quiet, progressBar: false });
    expect(result.test!.accuracy).toBeGreaterThan(0.7);
    expect(result.metadata.command).toMatch(/--threads 2/);
  });

  it('gives the same weights for the same seed and thread count, also across --resume (hwr-net)', async () => {
    // Without the rejection class (its synthetic data and calibration triple the time); batch norm and dropout stay.
    const options = { model: 'hwr-net', batchSize: 50, learningRate: 0.002, seed: 7, limit: 300, threads: 2, reject: false, print: quiet, progressBar: false };
    const straight = await tempDir();
    await train({ ...options, epochs: 2, outDir: straight });
    const resumed = await tempDir();
    await train({ ...options, epochs: 1, outDir: resumed });
    await train({ ...options, epochs: 2, outDir: resumed, resume: true });
    const weights = (dir: string) => readFile(join(dir, 'checkpoints/epoch-0002/weights.bin'));
    expect((await weights(resumed)).equals(await weights(straight))).toBe(true);
  });

  it('refuses a thread count that is not a positive integer', async () => {
    const outDir = await tempDir();
    await expect(train({ model: 'seed-cnn', epochs: 1, batchSize: 32, learningRate: 0.001, seed: 1, outDir, limit: 100, threads: 0, print: quiet })).rejects.toThrow(/--threads: expected a positive integer/);
  });
});

/**
 * What the benchmark's TypeScript sides share (bench/bench.ts for digits, bench/hanzi-bench.ts for Chinese
 * characters): training models kept per architecture and thread count, timed `trainOnBatch` steps, and timed calls.
 */
import * as tf from '@tensorflow/tfjs';
import { getArchitecture, type ArchitectureOptions } from '../src/models/index.ts';
import { DataParallelTrainer } from '../src/train/parallel.ts';

/**
 * Training models (compiled with Adam 0.001, with a `DataParallelTrainer` above 1 thread), created once per key.
 * Each model is warmed up on first use as bench/torch_bench.py warms PyTorch (`warm`): untimed steps until 300 steps
 * or `warmSeconds`, whichever comes first, and at least 5, so that the JIT, the heap and the workers have settled
 * before the first timed round on both sides.
 */
export class BenchTrainers {
  private readonly trainers = new Map<string, { model: tf.LayersModel; parallel: DataParallelTrainer | null }>();
  private readonly warmed = new WeakSet<tf.LayersModel>();

  /** @param warmSeconds the first-use warm-up's time limit in s (torch_bench.py's `warmSeconds`, default 5). */
  constructor(private readonly warmSeconds = 5) {}

  /** The model for `architecture` at `threads`, created and compiled on first use. */
  async get(architecture: string, modelOptions: ArchitectureOptions, threads: number): Promise<tf.LayersModel> {
    const key = `${architecture}@${threads}@${modelOptions.classes}x${modelOptions.inputSize ?? ''}`;
    let entry = this.trainers.get(key);
    if (!entry) {
      const model = getArchitecture(architecture).create(modelOptions);
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const parallel = threads > 1 ? await DataParallelTrainer.attach(model, { threads, architecture, modelOptions }) : null;
      entry = { model, parallel };
      this.trainers.set(key, entry);
    }
    return entry.model;
  }

  /**
   * Training images/s: on a model's first use the warm-up above, then `warmup` untimed steps, then `steps` timed
   * `trainOnBatch` steps on one batch.
   * @param xs `[batch, h, w, 1]` float32; ys `[batch, classes]` one-hot float32
   * @param afterStep called after each timed step (e.g. to sample memory)
   */
  async imagesPerSecond(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor, steps: number, warmup: number, afterStep?: () => void): Promise<number> {
    if (!this.warmed.has(model)) {
      this.warmed.add(model);
      const start = performance.now();
      for (let calls = 0; calls < 5 || (calls < 300 && performance.now() - start < this.warmSeconds * 1000); calls++) await model.trainOnBatch(xs, ys);
    }
    for (let i = 0; i < warmup; i++) await model.trainOnBatch(xs, ys);
    const start = performance.now();
    for (let i = 0; i < steps; i++) {
      await model.trainOnBatch(xs, ys);
      afterStep?.();
    }
    return (xs.shape[0]! * steps * 1000) / (performance.now() - start);
  }

  async dispose(): Promise<void> {
    for (const { model, parallel } of this.trainers.values()) {
      await parallel?.dispose();
      model.dispose();
    }
    this.trainers.clear();
  }
}

/** Milliseconds of each of `calls` calls of `fn`, after `warmup` untimed calls. */
export async function timeCalls(fn: (i: number) => Promise<unknown>, calls: number, warmup: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const start = performance.now();
    await fn(i);
    if (i >= warmup) times.push(performance.now() - start);
  }
  return times;
}

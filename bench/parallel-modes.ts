/**
 * Training throughput with 1 thread against 2 threads in both `ReplicaSync` modes of the data-parallel trainer
 * (src/train/parallel.ts), in one run with alternating order, so that the machine's noise hits all three alike.
 *
 *   npx tsx bench/parallel-modes.ts [--model seed-cnn|hwr-net|hccr-vgg] [--classes 10] [--rounds 7] [--steps N] [--batch 64] [--warm 200]
 *
 * The input shape is the architecture's own (hccr-vgg: 64x64); --classes sets the output layer (hccr-vgg's shipped
 * model has 3,755); --steps the timed steps per round (default 30 for seed-cnn, 20 otherwise).
 *
 * Random data, batch 64 (`--batch`: each of 2 threads takes half; a step has a fixed cost of about 3 ms per replica
 * whatever its batch, so larger batches gain more from the second core), Adam, `model.trainOnBatch` (the step `fitDataset` takes). Prints, per configuration,
 * the median images/s over rounds, its ratio to 1 thread, and every round's figure. The figures behind the
 * defaults (2 threads, `'weights'`) are in notes/PERFORMANCE.md.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from '../src/models/index.ts';
import { setupBackend } from '../src/backend/backend.ts';
import { DataParallelTrainer, type ReplicaSync } from '../src/train/parallel.ts';

const { values } = parseArgs({
  options: { model: { type: 'string', default: 'seed-cnn' }, rounds: { type: 'string', default: '7' }, classes: { type: 'string', default: '10' }, steps: { type: 'string' }, batch: { type: 'string', default: '64' }, warm: { type: 'string', default: '200' } },
});
const name = values.model!;
const rounds = Number(values.rounds);
const classes = Number(values.classes);
const batch = Number(values.batch);
const steps = values.steps ? Number(values.steps) : name === 'seed-cnn' ? 30 : 20;

await setupBackend();
const compiled = (): tf.LayersModel => {
  const model = getArchitecture(name).create({ classes, seed: 5 });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
};
const probe = getArchitecture(name).create({ classes, seed: 5 });
const inputShape = probe.inputs[0]!.shape.slice(1) as number[];
probe.dispose();
const [xs, ys] = tf.tidy(() => [tf.randomUniform([batch, ...inputShape], 0, 1, 'float32', 1), tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32', 2), classes).toFloat()]);
const configurations: Array<{ label: string; model: tf.LayersModel; trainer: DataParallelTrainer | null; rates: number[] }> = [
  { label: '1 thread', model: compiled(), trainer: null, rates: [] },
];
for (const sync of ['gradients', 'weights'] as ReplicaSync[]) {
  const model = compiled();
  const trainer = await DataParallelTrainer.attach(model, { threads: 2, architecture: name, modelOptions: { classes, seed: 5 }, sync });
  configurations.push({ label: `2 threads, '${sync}'`, model, trainer, rates: [] });
}
// Untimed steps first, as BenchTrainers warms (bench/tsTrainers.ts): a trainer's step keeps getting faster over its
// first hundred or so steps (the JIT on both threads).
for (const c of configurations) for (let i = 0; i < Number(values.warm); i++) await c.model.trainOnBatch(xs!, ys!);
for (let round = 0; round < rounds; round++) {
  for (const c of round % 2 ? [...configurations].reverse() : configurations) {
    for (let i = 0; i < 3; i++) await c.model.trainOnBatch(xs!, ys!);
    const start = performance.now();
    for (let i = 0; i < steps; i++) await c.model.trainOnBatch(xs!, ys!);
    c.rates.push((batch * steps * 1000) / (performance.now() - start));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(configurations[0]!.rates);
for (const c of configurations) {
  console.log(`${name} batch ${batch} ${c.label}: median ${median(c.rates).toFixed(0)} img/s (x${(median(c.rates) / base).toFixed(2)}); rounds ${c.rates.map((r) => r.toFixed(0)).join(' ')}`);
  await c.trainer?.dispose();
  c.model.dispose();
}
tf.dispose([xs!, ys!]);

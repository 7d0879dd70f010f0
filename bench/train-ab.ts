/**
 * Interleaved A/B of one training path: the same model trains on one batch with the path on and off in alternating
 * rounds in one process, so the machine's drift (up to 1.5x over minutes on a shared VM) hits both alike. The
 * measurements behind notes/PERFORMANCE.md's "A against B ms per step (n of n rounds)" figures.
 *
 *   npx tsx bench/train-ab.ts --switch conv1-relu-pool[,conv-pool-crop,...] [--model seed-cnn] [--rounds 8] [--steps 15]
 *                             [--batch 64] [--classes 10]
 *
 * --switch names paths of bench/trainingSwitches.ts, or `stock:KERNEL` for a training kernel against the stock wasm
 * one (`useTrainingKernel`); several, comma-separated, switch together. Each round runs one untimed step and then
 * `--steps` timed ones per configuration, the order alternating between rounds. Prints the median of the rounds'
 * median step times for each configuration and in how many rounds "on" was faster.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../src/backend/backend.ts';
import { useTrainingKernel } from '../src/backend/kernels/index.ts';
import { getArchitecture } from '../src/models/index.ts';
import { TRAINING_SWITCHES } from './trainingSwitches.ts';

const { values: flags } = parseArgs({
  options: {
    switch: { type: 'string' },
    model: { type: 'string', default: 'seed-cnn' },
    rounds: { type: 'string', default: '8' },
    steps: { type: 'string', default: '15' },
    batch: { type: 'string', default: '64' },
    classes: { type: 'string', default: '10' },
  },
});
if (!flags.switch) throw new Error(`--switch: name one or more of ${Object.keys(TRAINING_SWITCHES).join(', ')}, or stock:KERNEL`);
const setters = flags.switch.split(',').map((name) => {
  if (name.startsWith('stock:')) return (on: boolean) => useTrainingKernel(name.slice(6), on);
  const set = TRAINING_SWITCHES[name];
  if (!set) throw new Error(`--switch: unknown '${name}' (known: ${Object.keys(TRAINING_SWITCHES).join(', ')}, stock:KERNEL)`);
  return set;
});
const turn = (on: boolean) => setters.forEach((set) => set(on));
const [rounds, steps, batch, classes] = [flags.rounds, flags.steps, flags.batch, flags.classes].map(Number) as [number, number, number, number];

await setupBackend({ backend: 'wasm' });
const model = getArchitecture(flags.model).create({ classes, seed: 1 });
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
const [, h, w, c] = model.inputs[0]!.shape as number[];
const x = tf.randomUniform([batch, h!, w!, c!]);
const y = tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32'), classes).toFloat();
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;

// Warm-up in both configurations (the JIT, XNNPACK operators, the heap).
for (let i = 0; i < 6; i++) {
  turn(i % 2 === 0);
  await model.trainOnBatch(x, y);
}
const times = { on: [] as number[], off: [] as number[] };
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
    turn(mode === 'on');
    await model.trainOnBatch(x, y);
    const t: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      await model.trainOnBatch(x, y);
      t.push(performance.now() - t0);
    }
    times[mode].push(median(t));
  }
}
turn(true);
const wins = times.on.filter((v, i) => v < times.off[i]!).length;
const show = (a: number[]) => `${median(a).toFixed(2)} ms [${a.map((v) => v.toFixed(1)).join(' ')}]`;
console.log(`${flags.model} batch ${batch}, ${flags.switch}: on ${show(times.on)}; off ${show(times.off)}; on faster in ${wins} of ${rounds} rounds`);

/**
 * Training speed of candidate architectures for Chinese characters (3,755 classes, 64x64 input), to choose the one
 * whose training fits the 90-minute budget (notes/HANZI.md), and the speed of the GNT input pipeline.
 *
 *   npx tsx bench/hccr-candidates.ts [--rounds 3] [--steps 8] [--pipeline-samples 2000] [--two-threads]
 *
 * Models: random data, batch 64, Adam, `model.trainOnBatch` (the step `fitDataset` takes), one training thread,
 * rounds in alternating order so the machine's noise hits all alike; prints parameters, multiply-adds per image
 * (convolutions and dense layers) and the median images/s. `--two-threads` adds the registered `hccr-vgg` trained
 * with 2 threads (`DataParallelTrainer`, as `hwr train --threads 2`). Pipeline: `hwr synth`-style synthetic GNT files are
 * written to a temporary folder and read back through `HwdbStream` (GNT reading, `fitInkToBox` to 64x64, shuffle
 * buffer, batching), samples/s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { gb2312Level1 } from '../src/data/charset.ts';
import { writeGntFile } from '../src/data/gnt.ts';
import { HwdbStream, indexHwdbFolder } from '../src/data/hwdb.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { syntheticWriter, writeCharacters } from '../src/data/synth/synthesize.ts';
import { createHccrVgg, HCCR_VGG, type HccrVggConfig } from '../src/models/hccrVgg.ts';
import { createHwrNet } from '../src/models/hwrNet.ts';
import { setupBackend } from '../src/backend/backend.ts';
import { DataParallelTrainer } from '../src/train/parallel.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '8' },
    'pipeline-samples': { type: 'string', default: '2000' },
    'two-threads': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const classes = 3755;
const size = 64;
const batch = 64;

const candidates: Array<{ label: string; config: HccrVggConfig }> = [
  { label: 'A: stem 5x5/2 32, stages 64-128-256 x1 (hccr-vgg)', config: HCCR_VGG },
  {
    label: 'B: stem 5x5/2 32, stages 64 x1, 128 x2, 256 x2',
    config: { stemStride: 2, stemFilters: 32, stages: [{ filters: 64, convolutions: 1 }, { filters: 128, convolutions: 2 }, { filters: 256, convolutions: 2 }], dropout: 0.3 },
  },
  {
    label: 'C: stem 5x5/2 48, stages 96 x2, 192 x2, 384 x1',
    config: { stemStride: 2, stemFilters: 48, stages: [{ filters: 96, convolutions: 2 }, { filters: 192, convolutions: 2 }, { filters: 384, convolutions: 1 }], dropout: 0.3 },
  },
];

/** Multiply-adds of one forward pass: convolutions (output px x kernel x in x out) and dense layers. */
function multiplyAdds(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const config = layer.getConfig() as { kernelSize?: number[]; filters?: number; units?: number };
    const out = layer.outputShape as number[];
    const inShape = layer.inputSpec?.[0]?.shape ?? (layer.input as tf.SymbolicTensor).shape;
    if (layer.getClassName() === 'Conv2D') total += out[1]! * out[2]! * config.kernelSize![0]! * config.kernelSize![1]! * inShape[3]! * config.filters!;
    if (layer.getClassName() === 'Dense') total += inShape[inShape.length - 1]! * config.units!;
  }
  return total;
}

await setupBackend();
const [xs, ys] = tf.tidy(() => [tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1), tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32', 2), classes).toFloat()]);
// The reference: hwr-net on MNIST-sized data, whose speed on an idle core is known (README, Speed: 1,340 img/s).
const [refXs, refYs] = tf.tidy(() => [tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 3), tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 4), 10).toFloat()]);
const runs = candidates.map((c) => {
  const model = createHccrVgg({ classes, seed: 1, inputSize: size }, c.config);
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return { ...c, model, rates: [] as number[], reference: false };
});
const reference = createHwrNet({ classes: 10, seed: 1 });
reference.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
runs.push({ label: 'reference: hwr-net, 28x28, 10 classes', config: HCCR_VGG, model: reference, rates: [], reference: true });
let trainer: DataParallelTrainer | null = null;
if (values['two-threads']) {
  const model = createHccrVgg({ classes, seed: 1, inputSize: size });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  trainer = await DataParallelTrainer.attach(model, { threads: 2, architecture: 'hccr-vgg', modelOptions: { classes, seed: 1, inputSize: size } });
  runs.push({ label: 'A (hccr-vgg) with 2 threads', config: HCCR_VGG, model, rates: [], reference: false });
}
for (let round = 0; round < rounds; round++) {
  for (const run of round % 2 ? [...runs].reverse() : runs) {
    const [x, y] = run.reference ? [refXs!, refYs!] : [xs!, ys!];
    for (let i = 0; i < 2; i++) await run.model.trainOnBatch(x, y);
    const start = performance.now();
    for (let i = 0; i < steps; i++) await run.model.trainOnBatch(x, y);
    run.rates.push((batch * steps * 1000) / (performance.now() - start));
  }
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const run of runs) {
  const rate = median(run.rates);
  const hwdb11 = 897_758; // HWDB1.1's training samples (writers 1001-1240), Liu et al. 2011
  console.log(
    `${run.label}: ${run.model.countParams().toLocaleString('en')} parameters, ${(multiplyAdds(run.model) / 1e6).toFixed(1)} M multiply-adds/image; ` +
      `median ${rate.toFixed(0)} img/s (rounds ${run.rates.map((r) => r.toFixed(0)).join(' ')}); ` +
      `one HWDB1.1 epoch ${(hwdb11 / rate / 60).toFixed(0)} min, images in 90 min ${Math.round(rate * 5400).toLocaleString('en')}`,
  );
  run.model.dispose();
}
await trainer?.dispose();
tf.dispose([xs!, ys!, refXs!, refYs!]);

// The input pipeline on its own.
const samples = Number(values['pipeline-samples']);
const dir = await mkdtemp(join(tmpdir(), 'hccr-bench-'));
try {
  const chars = gb2312Level1().slice(0, 200);
  const references = new Map(await Promise.all(chars.map(async (c) => [c, await loadHanziInk(c)] as const)));
  for (let w = 1; w * chars.length < samples + chars.length; w++) {
    const writer = syntheticWriter(1, w);
    await writeGntFile(join(dir, `${writer.name}.gnt`), writeCharacters(chars, references, writer));
  }
  const index = await indexHwdbFolder(dir);
  const stream = new HwdbStream({ index, classes: index.characters, size, split: 'train', seed: 1, limit: samples });
  const stream2 = new HwdbStream({ index, classes: index.characters, size, split: 'test', seed: 1 });
  const start = performance.now();
  let read = 0;
  for await (const b of stream.batches(0, batch)) read += b.count;
  for await (const b of stream2.batches(0, batch)) read += b.count;
  const seconds = (performance.now() - start) / 1000;
  console.log(`pipeline: ${read} samples (GNT read, fitInkToBox to ${size}x${size}, shuffle buffer, batches) in ${seconds.toFixed(2)} s: ${(read / seconds).toFixed(0)} samples/s`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

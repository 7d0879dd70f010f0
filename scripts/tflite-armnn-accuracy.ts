/**
 * The shipped digits model exported to TFLite (float32 and int8) and run by ArmNN's TFLite parser (CpuRef, through
 * scripts/armnn_run.py) on the MNIST test set, against TF.js: the figures of notes/EXPORT.md, "TFLite and ArmNN".
 *
 * Usage: npx tsx scripts/tflite-mnist-armnn.ts [--count 10000] [--calibration 1000] [--model digits]
 *   --count        MNIST test images (the first N)
 *   --calibration  MNIST training images (the first N) whose activation ranges calibrate int8
 *
 * Prints one line per model: top-1 accuracy (a "none" answer counts as wrong), images whose top-1 differs from
 * TF.js's, the largest probability difference, the file size, and ArmNN's run time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../src/data/mnist.ts';
import { activationRanges, lowerModel } from '../src/export/lower.ts';
import { toTflite } from '../src/export/tflite.ts';
import { loadModel, readMetadata } from '../src/node/modelFiles.ts';
import { resolveModelDir } from '../src/node/recognizer.ts';
import { setupBackend } from '../src/train/backend.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, calibration: { type: 'string', default: '1000' }, model: { type: 'string', default: 'digits' } } });
const count = Number(values.count);
const calibration = Number(values.calibration);

await setupBackend();
const dir = resolveModelDir(values.model);
const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
const classes = metadata.classes.length;
const mnist = await loadMnist({ limit: Math.max(count, calibration) });
const toInput = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 255);
const images = toInput(mnist.test.images.subarray(0, count * 28 * 28));
const labels = mnist.test.labels.subarray(0, count);

const argmax = (p: Float32Array, row: number) => {
  let best = 0;
  for (let j = 1; j < classes; j++) if (p[row * classes + j]! > p[row * classes + best]!) best = j;
  return best;
};
const accuracy = (p: Float32Array) => labels.reduce((right, label, i) => right + (argmax(p, i) === label ? 1 : 0), 0) / count;

const started = performance.now();
const reference = new Float32Array(count * classes);
for (let start = 0; start < count; start += 500) {
  const n = Math.min(500, count - start);
  const out = tf.tidy(() => (model.predict(tf.tensor4d(images.subarray(start * 784, (start + n) * 784), [n, 28, 28, 1])) as tf.Tensor).dataSync());
  reference.set(out, start * classes);
}
console.log(`TF.js (wasm) float32: accuracy ${(accuracy(reference) * 100).toFixed(2)}% on ${count} MNIST test images (${((performance.now() - started) / 1000).toFixed(1)} s)`);

const graph = lowerModel(model);
const ranges = await activationRanges(model, graph, toInput(mnist.train.images.subarray(0, calibration * 784)), calibration);
const work = mkdtempSync(join(tmpdir(), 'hwr-tflite-mnist-'));
try {
  writeFileSync(join(work, 'input.bin'), images);
  for (const quantize of ['float32', 'int8'] as const) {
    const bytes = toTflite(graph, { quantize, ranges });
    const file = join(work, `${values.model}-${quantize}.tflite`);
    writeFileSync(file, bytes);
    const t0 = performance.now();
    const run = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'armnn_run.py'), file, join(work, 'input.bin'), String(count), join(work, 'out.bin')], { encoding: 'utf8' });
    const log = run.stderr.trim();
    if (run.status !== 0) throw new Error(`armnn_run.py ${quantize}: ${log}`);
    const seconds = (performance.now() - t0) / 1000;
    const raw = readFileSync(join(work, 'out.bin'));
    const out = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    let differ = 0;
    let maxDiff = 0;
    for (let i = 0; i < count; i++) if (argmax(out, i) !== argmax(reference, i)) differ++;
    for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i]! - reference[i]!));
    console.log(
      `ArmNN ${quantize}${quantize === 'int8' ? ` (calibrated on ${calibration} training images)` : ''}: accuracy ${(accuracy(out) * 100).toFixed(2)}%, ` +
        `top-1 differs from TF.js on ${differ} of ${count}, max |p - p_tfjs| ${maxDiff.toExponential(2)}, ${(bytes.length / 1024).toFixed(0)} KiB, ` +
        `${seconds.toFixed(1)} s (${((seconds * 1000) / count).toFixed(1)} ms/image) [${log}]`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

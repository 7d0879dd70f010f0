/**
 * A shipped model exported to TFLite (float32 and int8) and run by ArmNN's TFLite parser (CpuRef, through
 * scripts/armnn_run.py), against TF.js: the figures of notes/EXPORT.md, "TFLite and ArmNN".
 *
 * Usage: npx tsx scripts/tflite-armnn-accuracy.ts [--model digits|hanzi] [--count N] [--calibration N]
 *   digits: the first --count MNIST test images (default 10000); int8 calibrated on the first --calibration
 *     MNIST training images (default 1000).
 *   hanzi: --count synthetic handwritten characters (default 300) of GB 2312 level 1, drawn by 20 synthetic
 *     writers of seed 7 (the shipped model was trained on writers of seed 1; `hwr synth`'s renderer, then the
 *     model's cjk-fit-v1 profile); calibration on --calibration (default 300) more of writers of seed 8.
 *
 * Prints one line per model: top-1 accuracy (for digits a "none" answer counts as wrong), images whose top-1
 * differs from TF.js's, the largest probability difference, the file size, and ArmNN's run time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { fitInkToBox } from '../src/core/profiles.ts';
import { createRng } from '../src/data/augment.ts';
import { gb2312Level1 } from '../src/data/charset.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { handwrite } from '../src/data/synth/handwriting.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { renderCharacter, syntheticWriter } from '../src/data/synth/synthesize.ts';
import { activationRanges, lowerModel } from '../src/export/lower.ts';
import { toTflite } from '../src/export/tflite.ts';
import { loadModel, readMetadata } from '../src/node/modelFiles.ts';
import { resolveModelDir } from '../src/node/recognizer.ts';
import { setupBackend } from '../src/train/backend.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, calibration: { type: 'string' }, model: { type: 'string', default: 'digits' } } });
const hanzi = values.model === 'hanzi';
const count = Number(values.count ?? (hanzi ? 300 : 10000));
const calibration = Number(values.calibration ?? (hanzi ? 300 : 1000));

await setupBackend();
const dir = resolveModelDir(values.model);
const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
const classes = metadata.classes.length;
const [size] = metadata.inputShape;
const pixels = size * size;

/** `n` synthetic handwritten characters of writers `seed`/1..20 as model input, and their class indices. */
async function synthetic(n: number, seed: number): Promise<{ images: Float32Array; labels: Uint8Array | Uint16Array }> {
  const chars = gb2312Level1();
  const rng = createRng(seed * 7919);
  const images = new Float32Array(n * pixels);
  const labels = new Uint16Array(n);
  const writers = Array.from({ length: 20 }, (_, i) => syntheticWriter(seed, i + 1));
  for (let k = 0; k < n; k++) {
    const char = chars[rng.int(chars.length)]!;
    const writer = writers[k % writers.length]!;
    const sample = renderCharacter(char, handwrite(await loadHanziInk(char), writer.style, writer.rng), writer.style, writer.rng);
    const fitted = fitInkToBox({ width: sample.width, height: sample.height, data: sample.pixels }, { size });
    for (let i = 0; i < pixels; i++) images[k * pixels + i] = fitted[i]! / 255;
    labels[k] = metadata.classes.indexOf(char);
  }
  return { images, labels };
}

let images: Float32Array;
let labels: Uint8Array | Uint16Array;
let calibrationImages: Float32Array;
if (hanzi) {
  ({ images, labels } = await synthetic(count, 7));
  calibrationImages = (await synthetic(calibration, 8)).images;
} else {
  const mnist = await loadMnist({ limit: Math.max(count, calibration) });
  const toInput = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 255);
  images = toInput(mnist.test.images.subarray(0, count * pixels));
  labels = mnist.test.labels.subarray(0, count);
  calibrationImages = toInput(mnist.train.images.subarray(0, calibration * pixels));
}
const testData = hanzi ? 'synthetic hanzi of unseen writers' : 'MNIST test images';

const argmax = (p: Float32Array, row: number) => {
  let best = 0;
  for (let j = 1; j < classes; j++) if (p[row * classes + j]! > p[row * classes + best]!) best = j;
  return best;
};
const accuracy = (p: Float32Array) => {
  let right = 0;
  for (let i = 0; i < count; i++) if (argmax(p, i) === labels[i]) right++;
  return right / count;
};

const started = performance.now();
const reference = new Float32Array(count * classes);
for (let start = 0; start < count; start += 500) {
  const n = Math.min(500, count - start);
  const out = tf.tidy(() => (model.predict(tf.tensor4d(images.subarray(start * pixels, (start + n) * pixels), [n, size, size, 1])) as tf.Tensor).dataSync());
  reference.set(out, start * classes);
}
console.log(`TF.js (wasm) float32: accuracy ${(accuracy(reference) * 100).toFixed(2)}% on ${count} ${testData} (${((performance.now() - started) / 1000).toFixed(1)} s)`);

const graph = lowerModel(model);
const ranges = await activationRanges(model, graph, calibrationImages, calibration);
const work = mkdtempSync(join(tmpdir(), 'hwr-tflite-accuracy-'));
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
      `ArmNN ${quantize}${quantize === 'int8' ? ` (calibrated on ${calibration} ${hanzi ? 'synthetic' : 'training'} images)` : ''}: accuracy ${(accuracy(out) * 100).toFixed(2)}%, ` +
        `top-1 differs from TF.js on ${differ} of ${count}, max |p - p_tfjs| ${maxDiff.toExponential(2)}, ${(bytes.length / 1024).toFixed(0)} KiB, ` +
        `${seconds.toFixed(1)} s (${((seconds * 1000) / count).toFixed(1)} ms/image) [${log}]`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

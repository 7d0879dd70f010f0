/**
 * Accuracy of the shipped model on synthetic photos of paper (test/fixtures/photos.ts) and on the MNIST test set
 * passed through `preprocessDigit`, and the preprocessing time per photo.
 *
 *   npx tsx bench/preprocess-photos.ts [--count 200] [--preprocess path/to/preprocess.ts] [--mnist]
 *
 * `--preprocess` takes another copy of src/core/preprocess.ts (e.g. the previous version, from `git show`) to
 * measure before and after on the same photos.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { loadRecognizer } from '../src/node/recognizer.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { mnistTestDigits } from '../test/fixtures/images.ts';
import { NAMED_PHOTOS, photoSet, renderPhoto } from '../test/fixtures/photos.ts';
import type { PixelBuffer } from '../src/core/types.ts';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '200' }, preprocess: { type: 'string' }, mnist: { type: 'boolean', default: false }, seed: { type: 'string', default: '1' } },
});
const module = (await import(values.preprocess ? resolve(values.preprocess) : '../src/core/preprocess.ts')) as typeof import('../src/core/preprocess.ts');
const recognizer = await loadRecognizer();
const classes = recognizer.metadata.classes;

async function read(image: PixelBuffer, name: string): Promise<{ label: string | null; probability: number; ms: number }> {
  const started = performance.now();
  let input: Float32Array;
  try {
    input = module.preprocessDigit(image, { name }).input;
  } catch (error) {
    return { label: `error ${(error as { code?: string }).code}`, probability: 0, ms: performance.now() - started };
  }
  const ms = performance.now() - started;
  const probabilities = await recognizer.predictProbabilities(input, 1);
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  return { label: classes[best] ?? null, probability: probabilities[best]!, ms };
}

const mnist = await mnistTestDigits(300);
const sets = { named: NAMED_PHOTOS, varied: photoSet(Number(values.count), mnist, Number(values.seed)) };
const times: number[] = [];
for (const [setName, photos] of Object.entries(sets)) {
  let correct = 0;
  const wrong: string[] = [];
  for (const photo of photos) {
    const result = await read(await renderPhoto(photo.spec), photo.name);
    times.push(result.ms);
    if (result.label === String(photo.label)) correct++;
    else wrong.push(`${photo.name} -> ${result.label} ${(100 * result.probability).toFixed(2)}%`);
    if (setName === 'named') console.log(`  ${photo.name.padEnd(24)} -> ${result.label} ${(100 * result.probability).toFixed(2)}%`);
  }
  console.log(`${setName}: ${correct}/${photos.length} correct (${((100 * correct) / photos.length).toFixed(1)}%)`);
  if (setName !== 'named') for (const line of wrong) console.log(`  wrong: ${line}`);
}
times.sort((a, b) => a - b);
console.log(`preprocessing per photo (160-240 px): median ${times[times.length >> 1]!.toFixed(2)} ms, max ${times[times.length - 1]!.toFixed(2)} ms`);

if (values.mnist) {
  const { test } = await loadMnist();
  let correct = 0;
  const rgba = new Uint8ClampedArray(784 * 4);
  for (let k = 0; k < test.count; k++) {
    for (let i = 0; i < 784; i++) {
      const v = test.images[k * 784 + i]!;
      rgba[4 * i] = v;
      rgba[4 * i + 1] = v;
      rgba[4 * i + 2] = v;
      rgba[4 * i + 3] = 255;
    }
    const result = await read({ width: 28, height: 28, data: rgba }, `MNIST test #${k}`);
    if (result.label === classes[test.labels[k]!]) correct++;
  }
  console.log(`MNIST test through preprocessDigit: ${correct}/${test.count} (${((100 * correct) / test.count).toFixed(2)}%)`);
}
recognizer.dispose();

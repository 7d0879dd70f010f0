/**
 * The shared preprocessing on synthetic photos of paper (test/fixtures/photos.ts) and on MNIST: how often the shipped
 * model reads them right, and how long `preprocessDigit` takes.
 *
 *   npx tsx bench/preprocess-photos.ts [--count 200] [--seed 2] [--mnist] [--before path/to/old/preprocess.ts]
 *
 * `--before` takes another copy of src/core/preprocess.ts (e.g. the previous version, from `git show`, put beside
 * copies of errors.ts and types.ts) and measures it on the same images, timings interleaved image by image.
 * `--mnist` also runs the 10,000 MNIST test images through `preprocessDigit` and the model.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { loadRecognizer } from '../src/node/recognizer.ts';
import { loadMnist } from '../src/data/mnist.ts';
import * as current from '../src/core/preprocess.ts';
import { mnistTestDigits } from '../test/fixtures/images.ts';
import { NAMED_PHOTOS, photoSet, renderPhoto, renderPhotoPixels, type Photo } from '../test/fixtures/photos.ts';
import type { PixelBuffer } from '../src/core/types.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    seed: { type: 'string', default: '2' },
    before: { type: 'string' },
    mnist: { type: 'boolean', default: false },
  },
});
type Preprocess = (image: PixelBuffer, options?: { name?: string }) => { input: Float32Array };
const versions: Array<{ name: string; preprocess: Preprocess }> = [{ name: 'now', preprocess: current.preprocessDigit }];
if (values.before) {
  const old = (await import(resolve(values.before))) as { preprocessDigit: Preprocess };
  versions.unshift({ name: 'before', preprocess: old.preprocessDigit });
}
const recognizer = await loadRecognizer();
const classes = recognizer.metadata.classes;

/** The model's label for an image through one version of the preprocessing, or the error code. */
async function read(preprocess: Preprocess, image: PixelBuffer, name: string): Promise<string> {
  let input: Float32Array;
  try {
    input = preprocess(image, { name }).input;
  } catch (error) {
    return `error ${(error as { code?: string }).code}`;
  }
  const probabilities = await recognizer.predictProbabilities(input, 1);
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  return classes[best]!;
}

async function accuracy(title: string, photos: readonly Photo[], listWrong: boolean): Promise<void> {
  const images = await Promise.all(photos.map((photo) => renderPhoto(photo.spec)));
  const line: string[] = [];
  for (const { name, preprocess } of versions) {
    let correct = 0;
    const wrong: string[] = [];
    for (let k = 0; k < photos.length; k++) {
      const label = await read(preprocess, images[k]!, photos[k]!.name);
      if (label === String(photos[k]!.label)) correct++;
      else wrong.push(`${photos[k]!.name} read as ${label}`);
    }
    line.push(`${name} ${correct}/${photos.length} (${((100 * correct) / photos.length).toFixed(1)}%)`);
    if (listWrong && name === 'now') for (const w of wrong) console.log(`  now wrong: ${w}`);
    if (listWrong && name === 'before' && title.startsWith('named')) for (const w of wrong) console.log(`  before wrong: ${w}`);
  }
  console.log(`${title}: ${line.join(', ')}`);
}

await accuracy(`named photos (${NAMED_PHOTOS.length})`, NAMED_PHOTOS, true);
const mnistDigits = await mnistTestDigits(300);
await accuracy(`varied photos (${values.count}, seed ${values.seed})`, photoSet(Number(values.count), mnistDigits, Number(values.seed)), true);

// Timing: a 280x280 canvas (the pad's size) clean, and as a photo (gradient, ruled paper, JPEG), interleaved by version.
const timed = {
  'clean 280x280 canvas': renderPhotoPixels({ label: 2, size: 280, pen: 9, noise: 0, seed: 1 }),
  '280x280 photo (gradient, ruled)': await renderPhoto({ label: 8, size: 280, lighting: 'gradient', paper: 'ruled', jpegQuality: 60, seed: 2 }),
  '1000x1000 photo (shadow, squared)': await renderPhoto({ label: 5, size: 1000, pen: 12, lighting: 'shadow', paper: 'squared', seed: 3 }),
};
// Wall time is the median of 30 calls; CPU time (this process's user + system time, which other jobs on a busy
// machine inflate less) is the mean over the same calls.
for (const [title, image] of Object.entries(timed)) {
  const times = new Map<string, number[]>(versions.map((v) => [v.name, []]));
  const cpu = new Map<string, number>(versions.map((v) => [v.name, 0]));
  for (let round = 0; round < 30; round++) {
    for (const { name, preprocess } of versions) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      preprocess(image);
      const used = process.cpuUsage(cpuStarted);
      times.get(name)!.push(performance.now() - started);
      cpu.set(name, cpu.get(name)! + (used.user + used.system) / 1000);
    }
  }
  const median = (list: number[]): string => [...list].sort((a, b) => a - b)[list.length >> 1]!.toFixed(2);
  const figures = versions.map((v) => `${v.name} ${median(times.get(v.name)!)} ms wall, ${(cpu.get(v.name)! / 30).toFixed(2)} ms CPU`);
  console.log(`preprocessDigit, ${title}: ${figures.join('; ')}`);
}

if (values.mnist) {
  const { test } = await loadMnist();
  const rgba = new Uint8ClampedArray(784 * 4);
  const correct = new Map<string, number>(versions.map((v) => [v.name, 0]));
  let identical = 0;
  for (let k = 0; k < test.count; k++) {
    for (let i = 0; i < 784; i++) rgba.fill(test.images[k * 784 + i]!, 4 * i, 4 * i + 3).fill(255, 4 * i + 3, 4 * i + 4);
    const image = { width: 28, height: 28, data: rgba };
    const inputs: Float32Array[] = [];
    for (const { name, preprocess } of versions) {
      const label = await read(preprocess, image, `MNIST test #${k}`);
      if (label === classes[test.labels[k]!]) correct.set(name, correct.get(name)! + 1);
      if (versions.length > 1) inputs.push(preprocess(image).input);
    }
    if (inputs.length === 2 && inputs[0]!.every((v, i) => v === inputs[1]![i])) identical++;
  }
  const figures = versions.map((v) => `${v.name} ${correct.get(v.name)}/${test.count} (${((100 * correct.get(v.name)!) / test.count).toFixed(2)}%)`);
  console.log(`MNIST test through preprocessDigit: ${figures.join(', ')}${versions.length > 1 ? `; identical 28x28 inputs: ${identical}/${test.count}` : ''}`);
}
recognizer.dispose();

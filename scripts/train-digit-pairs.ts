/**
 * Trains the digit-pair model (issue 12, touching digits; shipped until it became the starting point of
 * `models/digit-segments`, scripts/train-digit-segments.ts, which the reader uses instead): hwr-net (28x28, the digits model's
 * `mnist-com` profile) with 101 classes, `"00"`..`"99"` and `"none"`, on pairs of MNIST **train** digits composed by
 * the line composer (src/data/lines.ts `composeImageLine`: most pairs pushed together until their ink touches, some
 * with overlapping boxes, some merely close; size and baseline vary), each normalized exactly as the line reader
 * normalizes a candidate (`segmentPreprocessorFor(digits metadata)`: the pair's ink box fitted into 20 px by its longer
 * side, centre of mass centred). `"none"`: a single digit or three touching digits (what a two-character-wide
 * candidate is when it is not a pair). The line reader classifies candidates about two characters wide with it and
 * lets the search read them as two characters (src/core/line/readLine.ts, `ReadLineOptions.pairs`).
 *
 * The approach: Ciresan, "Avoiding segmentation in multi-digit numeral string recognition by combining single and
 * two-digit classifiers trained without negative examples", SYNASC 2008 (pairs synthesized from single digits).
 * MNIST test digits are never used: training pairs come from train digits 0..49,999, the test pairs (metadata
 * `testAccuracy`) from train digits 50,000..59,999. Training starts from the digits model's weights (`--init`: all but
 * the output layer) and runs `train` (src/train/train.ts) on an IDX dataset written to `<out>-data/`.
 *
 *   npx tsx scripts/train-digit-pairs.ts --out runs/h6/digit-pairs     (then train-digit-segments.ts starts from it)
 *   options: --pairs 48000 --test 2000 --epochs 2 --seed 1 --learning-rate 0.001 --none 0.12 --threads 1
 *            --init models/digits (the starting weights: all but the output layer from the digits model; a pair
 *            model's folder: all of them, to go on training it)
 *
 * Writes the model folder (float16 weights, metadata.json with `pairsFor: "digits"` and this command, SHA256SUMS).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRng, type Rng } from '../src/data/augment.ts';
import { composeImageLine } from '../src/data/lines.ts';
import { mnistTrainDigits, parseLineModelFlags, trainLineModel, writeIdxSplit, writeLineModelMetadata } from './lineModelTraining.ts';

const flags = parseLineModelFlags(
  { out: 'runs/h6/digit-pairs', test: '2000', epochs: '2', seed: '1', 'learning-rate': '0.001', threads: '1', init: 'models/digits' },
  { pairs: { type: 'string', default: '48000' }, none: { type: 'string', default: '0.12' } },
);
const count = Number(flags.pairs);
const testCount = Number(flags.test);
const seed = Number(flags.seed);
const noneShare = Number(flags.none);
const out = resolve(flags.out);
const dataDir = `${out}-data`;

/** The class names: "00".."99", then "none". */
const CLASSES = [...Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')), 'none'];
const NONE = 100;

const { prepare, digit } = await mnistTrainDigits();

/** One sample: digits drawn from `[lo, hi)` of MNIST train, composed and normalized; returns its 28x28 uint8 and label. */
function sample(rng: Rng, lo: number, hi: number): { pixels: Uint8Array; label: number } {
  const pick = () => digit(lo + rng.int(hi - lo));
  const none = rng.next() < noneShare;
  const n = none ? (rng.next() < 0.5 ? 1 : 3) : 2;
  const chars = Array.from({ length: n }, pick);
  const kind = rng.next();
  // Touching (most), overlapping boxes, or just close.
  const line = composeImageLine(chars, rng, {
    scale: 1 + rng.next(),
    touchingShare: kind < 0.65 ? 1 : 0,
    overlappingShare: kind >= 0.65 && kind < 0.85 ? 1 : 0,
    spacing: [0.0, 0.25],
    sizeVariation: 0.15,
  });
  const { width, height, data } = line.image;
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = 1 - data[4 * i]! / 255;
  const input = prepare({ data: ink, width, height });
  const pixels = new Uint8Array(784);
  for (let i = 0; i < 784; i++) pixels[i] = Math.round(255 * Math.min(1, Math.max(0, input[i]!)));
  return { pixels, label: none ? NONE : Number(chars[0]!.label) * 10 + Number(chars[1]!.label) };
}


async function writeSplit(name: 'train' | 't10k', n: number, rng: Rng, lo: number, hi: number): Promise<void> {
  const pixels = new Uint8Array(n * 784);
  const labelBytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = sample(rng, lo, hi);
    pixels.set(s.pixels, i * 784);
    labelBytes[i] = s.label;
  }
  await writeIdxSplit(dataDir, name, pixels, labelBytes, 28);
}

await mkdir(dataDir, { recursive: true });
const started = Date.now();
await writeSplit('train', count, createRng(seed), 0, 50000);
await writeSplit('t10k', testCount, createRng(seed + 1000), 50000, 60000);
await writeFile(join(dataDir, 'classes.txt'), `${CLASSES.join('\n')}\n`);
console.log(`composed ${count} training and ${testCount} test samples in ${((Date.now() - started) / 1000).toFixed(1)} s into ${dataDir}`);

const result = await trainLineModel(flags, out, dataDir);

// The reader's loader finds the pair model of a character model by `pairsFor`; the command reproduces the data too.
const command = `npx tsx scripts/train-digit-pairs.ts --out ${flags.out} --pairs ${count} --test ${testCount} --epochs ${flags.epochs} --seed ${seed} --learning-rate ${flags['learning-rate']} --none ${noneShare} --threads ${flags.threads}${flags.init === 'models/digits' ? '' : ` --init ${flags.init}`}`;
await writeLineModelMetadata(result, out, dataDir, flags, {
  name: 'digit-pairs',
  pairsFor: 'digits',
  trainingData: `${count} composed samples from MNIST train digits 0-49,999 (${(100 * (1 - noneShare)).toFixed(0)}% pairs: 65% touching, 20% overlapping boxes, 15% close; ${(100 * noneShare).toFixed(0)}% "none": single digits and touching triples), normalized as the line reader normalizes candidates (mnist-com)`,
  testData: `${testCount} composed samples from MNIST train digits 50,000-59,999 (held out)`,
  command,
});

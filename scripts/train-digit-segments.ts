/**
 * Trains the digit segment model (issue 12, lines of digits): hwr-net (28x28, the digits model's `mnist-com` profile)
 * on the candidates the line reader itself cuts out of composed lines, labelled by what ink they hold. Classes:
 * `"00"`..`"99"` (a candidate holding two whole touching digits), `"none"` (a fragment, a digit with part of its
 * neighbour, three digits: not a character and not a pair), then `"0"`..`"9"` (one whole digit). The reader
 * (src/core/line/readLine.ts, `ReadLineOptions.pairs`) reads pair candidates with it as with a pair model, and also
 * weighs every character candidate by it: a model that has seen the reader's own fragments knows when a piece is not
 * a digit, which the digits model (trained on whole, centred digits) cannot.
 *
 * Data: lines of 3 to 12 MNIST **train** digits (0..49,999; the test split of this script: 50,000..59,999; MNIST test
 * digits are never used) composed by `composeImageLine` (src/data/lines.ts) at scales 1.4 to 2.8, with 15-50%
 * touching and 5-20% overlapping neighbours, segmented by `segmentImageLine` (src/core/line/imageSegments.ts); the
 * candidates are those `readLine` lists (`listCandidates` up to `PAIR_TUNING.MAX_WIDTH` heights), each normalized by
 * `segmentPreprocessorFor(digits metadata)` exactly as the reader does. A candidate's label comes from the line's
 * pixel owners (`ImageLine.owners`, shares by src/data/candidateLabels.ts): the share of each digit's ink it holds; a digit is whole at >= `WHOLE` and
 * touched at over `TOUCHED` of its ink; one whole digit and none touched: that digit; two neighbouring whole digits:
 * the pair; anything else: none. None samples are subsampled to `--none` of the set.
 * The approach: recognition-based segmentation with a classifier trained on the segmenter's own output, including
 * its garbage (a "none" class: e.g. Gader et al., "Neural and fuzzy methods in handwriting recognition", IEEE
 * Computer 30(2), 1997; Ciresan 2008 for the pair classes).
 *
 * It starts from the pair model of scripts/train-digit-pairs.ts (its pair and none units kept, the ten digit units
 * new), so the shipped `models/digit-segments` is reproduced by the two steps:
 *
 *   npx tsx scripts/train-digit-pairs.ts --out runs/h6/digit-pairs --pairs 80000 --test 2000 --epochs 3
 *   npx tsx scripts/train-digit-segments.ts --out runs/s19/digit-segments
 *   npx tsx scripts/train-digit-segments.ts --out runs/s19/digit-segments-b --samples 160000 --epochs 2 --seed 2 \
 *     --learning-rate 0.0005 --init runs/s19/digit-segments             (then copy the folder to models/digit-segments)
 *   options: --samples 120000 --test 4000 --epochs 3 --seed 1 --learning-rate 0.001 --none 0.3 --threads 1
 *            --init runs/h6/digit-pairs (a model folder of hwr-net: weights of the same shape copied, the output
 *            layer grown) --data-only (write the IDX data and stop)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { segmentImageLine, type ImagePrimitive } from '../src/core/line/imageSegments.ts';
import { PAIR_TUNING } from '../src/core/line/pairs.ts';
import { listCandidates } from '../src/core/line/readLine.ts';
import { createRng, type Rng } from '../src/data/augment.ts';
import { characterInk, inkShares } from '../src/data/candidateLabels.ts';
import { composeImageLine } from '../src/data/lines.ts';
import { mnistTrainDigits, parseLineModelFlags, trainLineModel, writeIdxSplit, writeLineModelMetadata } from './lineModelTraining.ts';

const flags = parseLineModelFlags(
  { out: 'runs/s19/digit-segments', test: '4000', epochs: '3', seed: '1', 'learning-rate': '0.001', threads: '1', init: 'runs/h6/digit-pairs' },
  { samples: { type: 'string', default: '120000' }, none: { type: 'string', default: '0.3' }, 'data-only': { type: 'boolean', default: false } },
);
const count = Number(flags.samples);
const testCount = Number(flags.test);
const seed = Number(flags.seed);
const noneShare = Number(flags.none);
const out = resolve(flags.out);
const dataDir = `${out}-data`;

/** Share of a digit's ink from which a candidate holds it whole, and above which it touches it. */
const WHOLE = 0.9;
const TOUCHED = 0.1;

/** The class names: "00".."99", "none", "0".."9" (pairs and none first, so that --init from digit-pairs keeps them). */
const CLASSES = [...Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')), 'none', ...Array.from({ length: 10 }, (_, i) => String(i))];
const NONE = 100;

const { prepare, digit } = await mnistTrainDigits();

interface Sample {
  pixels: Uint8Array;
  label: number;
}

/** All labelled candidates of one composed line of digits from MNIST train `[lo, hi)`. */
function lineSamples(rng: Rng, lo: number, hi: number): Sample[] {
  const n = 3 + rng.int(10);
  const chars = Array.from({ length: n }, () => digit(lo + rng.int(hi - lo)));
  const touching = rng.uniform(0.15, 0.5);
  const line = composeImageLine(chars, rng, {
    scale: rng.uniform(1.4, 2.8),
    margin: 4 + rng.int(16),
    touchingShare: touching,
    overlappingShare: rng.uniform(0.05, Math.min(0.2, 1 - touching)),
  });
  const layout = segmentImageLine(line.image, 'line');
  if (layout.shrink !== 1) return [];
  const { ink, owners } = { ink: layout.ink, owners: line.owners };
  const totals = characterInk(ink, owners, chars.length);
  const primitives = layout.primitives as ImagePrimitive[];
  const samples: Sample[] = [];
  for (const c of listCandidates(layout, PAIR_TUNING.MAX_WIDTH)) {
    const shares = inkShares(ink, owners, totals, primitives.slice(c.first, c.last + 1).map((p) => p.pixels));
    const whole: number[] = [];
    let touched = false;
    shares.forEach((share, i) => {
      if (share >= WHOLE) whole.push(i);
      else if (share > TOUCHED) touched = true;
    });
    let label = NONE;
    if (!touched && whole.length === 1) label = 101 + Number(chars[whole[0]!]!.label);
    else if (!touched && whole.length === 2 && whole[1] === whole[0]! + 1) label = Number(chars[whole[0]!]!.label) * 10 + Number(chars[whole[1]!]!.label);
    let input: Float32Array;
    try {
      input = prepare(layout.crop(c.first, c.last));
    } catch {
      continue; // no ink for the profile: the reader never classifies it
    }
    const pixels = new Uint8Array(784);
    for (let i = 0; i < 784; i++) pixels[i] = Math.round(255 * Math.min(1, Math.max(0, input[i]!)));
    samples.push({ pixels, label });
  }
  return samples;
}


const tally = { single: 0, pair: 0, none: 0, noneSeen: 0 };
async function writeSplit(name: 'train' | 't10k', n: number, rng: Rng, lo: number, hi: number): Promise<void> {
  const pixels = new Uint8Array(n * 784);
  const labelBytes = new Uint8Array(n);
  let filled = 0;
  let nones = 0;
  while (filled < n) {
    for (const s of lineSamples(rng, lo, hi)) {
      if (filled >= n) break;
      if (s.label === NONE) {
        tally.noneSeen++;
        // Keep none at about `noneShare` of what is written.
        if (nones >= noneShare * (filled + 1)) continue;
        nones++;
        tally.none++;
      } else if (s.label > NONE) tally.single++;
      else tally.pair++;
      pixels.set(s.pixels, filled * 784);
      labelBytes[filled++] = s.label;
    }
  }
  await writeIdxSplit(dataDir, name, pixels, labelBytes, 28);
}

await mkdir(dataDir, { recursive: true });
const started = Date.now();
await writeSplit('train', count, createRng(seed), 0, 50000);
await writeSplit('t10k', testCount, createRng(seed + 1000), 50000, 60000);
await writeFile(join(dataDir, 'classes.txt'), `${CLASSES.join('\n')}\n`);
console.log(`wrote ${count} training and ${testCount} test candidates in ${((Date.now() - started) / 1000).toFixed(1)} s into ${dataDir}: ${JSON.stringify(tally)}`);
if (flags['data-only']) process.exit(0);

const result = await trainLineModel(flags, out, dataDir);

const pairsStep = 'npx tsx scripts/train-digit-pairs.ts --out runs/h6/digit-pairs --pairs 80000 --test 2000 --epochs 3 --seed 1 --learning-rate 0.001 --none 0.12 --threads 1';
const command = `${flags.init === 'runs/h6/digit-pairs' ? `${pairsStep} && ` : ''}npx tsx scripts/train-digit-segments.ts --out ${flags.out} --samples ${count} --test ${testCount} --epochs ${flags.epochs} --seed ${seed} --learning-rate ${flags['learning-rate']} --none ${noneShare} --threads ${flags.threads}${flags.init === 'runs/h6/digit-pairs' ? '' : ` --init ${flags.init}`}`;
await writeLineModelMetadata(result, out, dataDir, flags, {
  name: 'digit-segments',
  pairsFor: 'digits',
  trainingData: `${count} candidates cut by the line reader from lines of MNIST train digits 0-49,999 (composeImageLine, scale 1.4-2.8, 15-50% touching, 5-20% overlapping), labelled by their ink (one whole digit, two whole neighbours, or none: ${(100 * noneShare).toFixed(0)}%), normalized as the reader does (mnist-com)`,
  testData: `${testCount} candidates from lines of MNIST train digits 50,000-59,999 (held out)`,
  command,
});

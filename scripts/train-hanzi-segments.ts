/**
 * Trains the hanzi segment verifier (issue 12, Chinese image lines): hwr-net on the candidates the line reader itself
 * cuts out of composed lines of hanzi, labelled by what ink they hold: `whole` (all the ink of exactly one character,
 * at most specks of another), `part` (a strict part of one character: a radical, a piece a cut left), `several` (ink
 * of two or more characters). The hanzi model (3,755 classes, no rejection class) gives a confident label to any
 * piece (石 of 碳 read alone, 戈察 read as 擦); the reader (src/core/line/readLine.ts, `ReadLineOptions.pairs`) blends
 * the verifier's log p(whole) into every character option (`PAIR_TUNING.VERIFIER_WEIGHT`). As the digit segment model
 * (scripts/train-digit-segments.ts): recognition-based segmentation with a classifier trained on the segmenter's own
 * output (Gader et al., IEEE Computer 30(2), 1997).
 *
 * Data: lines composed exactly as bench/lines.ts composes its Chinese image lines (2-8 GB2312 level-1 characters,
 * `handwrite` of the Make Me a Hanzi references, `renderLineCell`, `composeImageLine` with margin 12 and its default
 * 20% touching, 10% overlapping neighbours), but by the hanzi model's **training** writers, `syntheticWriter(1, i)`
 * (writers 1-199 for training, 200-250 for this script's test split; the bench's held-out writers of seed 2 are never
 * used); segmented by `segmentImageLine` (square script), every candidate `listCandidates(layout,
 * SQUARE_MAX_CANDIDATE_WIDTH)` lists, labelled by `verifierLabel` (src/data/candidateLabels.ts) from the composer's
 * pixel owners, normalized by the `cjk-fit-v1` profile as the reader normalizes it for the hanzi model but at
 * `--size` px. Each class fills a third of the set (whole candidates are the scarcest; the others are subsampled).
 *
 *   npx tsx scripts/train-hanzi-segments.ts --out runs/s20/hanzi-segments      (then copy to models/hanzi-segments)
 *   options: --samples 60000 --test 3000 --epochs 3 --seed 1 --learning-rate 0.001 --size 32 --threads 1
 *            --init <model folder> (start from its weights: more epochs on new candidates with another --seed)
 *            --data-only (write the IDX data and stop)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Ink } from '../src/core/ink.ts';
import { segmentImageLine, type ImagePrimitive } from '../src/core/line/imageSegments.ts';
import { LINE_READER_TUNING, listCandidates } from '../src/core/line/readLine.ts';
import { segmentPreprocessorFor } from '../src/core/preprocessing.ts';
import { CJK_PROFILE } from '../src/core/profiles.ts';
import { createRng, type Rng } from '../src/data/augment.ts';
import { characterInk, inkShares, VERIFIER_CLASSES, verifierLabel } from '../src/data/candidateLabels.ts';
import { gb2312Level1 } from '../src/data/charset.ts';
import { composeImageLine } from '../src/data/lines.ts';
import { handwrite } from '../src/data/synth/handwriting.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { renderLineCell, syntheticWriter } from '../src/data/synth/synthesize.ts';
import { parseLineModelFlags, trainLineModel, writeIdxSplit, writeLineModelMetadata } from './lineModelTraining.ts';

const flags = parseLineModelFlags(
  { out: 'runs/s20/hanzi-segments', test: '3000', epochs: '3', seed: '1', 'learning-rate': '0.001', threads: '1', init: '' },
  { samples: { type: 'string', default: '60000' }, size: { type: 'string', default: '32' }, 'data-only': { type: 'boolean', default: false } },
);
const count = Number(flags.samples);
const testCount = Number(flags.test);
const seed = Number(flags.seed);
const size = Number(flags.size);
const out = resolve(flags.out);
const dataDir = `${out}-data`;

/** The hanzi model's training writers (seed 1): this script's training lines, and its test lines. */
const WRITER_SEED = 1;
const TRAIN_WRITERS: [number, number] = [1, 199];
const TEST_WRITERS: [number, number] = [200, 250];

const prepare = segmentPreprocessorFor({ name: 'hanzi-segments', preprocessing: CJK_PROFILE, inputShape: [size, size, 1] });
const charset = gb2312Level1();
const references = new Map<string, Ink>();
const reference = async (char: string): Promise<Ink> => {
  let ink = references.get(char);
  if (!ink) references.set(char, (ink = await loadHanziInk(char)));
  return ink;
};

interface Sample {
  pixels: Uint8Array;
  label: number;
}

/** All labelled candidates of one composed line by a writer in `writers`. */
async function lineSamples(rng: Rng, writers: [number, number]): Promise<Sample[]> {
  const length = 2 + rng.int(7);
  const text = Array.from({ length }, () => charset[rng.int(charset.length)]!);
  const { style } = syntheticWriter(WRITER_SEED, writers[0] + rng.int(writers[1] - writers[0] + 1));
  const inks = [];
  for (const label of text) inks.push({ label, ink: handwrite(await reference(label), style, rng) });
  const cells = inks.map(({ label, ink }) => renderLineCell(label, ink, style, rng));
  const line = composeImageLine(cells, rng, { margin: 12 });
  const layout = segmentImageLine(line.image, 'line', { square: true });
  if (layout.shrink !== 1) return []; // the owners index the unshrunk image
  const totals = characterInk(layout.ink, line.owners, cells.length);
  const primitives = layout.primitives as ImagePrimitive[];
  const samples: Sample[] = [];
  for (const c of listCandidates(layout, LINE_READER_TUNING.SQUARE_MAX_CANDIDATE_WIDTH)) {
    const label = verifierLabel(inkShares(layout.ink, line.owners, totals, primitives.slice(c.first, c.last + 1).map((p) => p.pixels)));
    if (label === null) continue;
    let input: Float32Array;
    try {
      input = prepare(layout.crop(c.first, c.last));
    } catch {
      continue; // no ink for the profile: the reader never classifies it
    }
    const pixels = new Uint8Array(size * size);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(255 * Math.min(1, Math.max(0, input[i]!)));
    samples.push({ pixels, label });
  }
  return samples;
}

const tally = { lines: 0, seen: [0, 0, 0] };
/** Writes `n` candidates, a third of each class (taken in the order the lines give them). */
async function writeSplit(name: 'train' | 't10k', n: number, rng: Rng, writers: [number, number]): Promise<void> {
  const pixels = new Uint8Array(n * size * size);
  const labelBytes = new Uint8Array(n);
  const quota = VERIFIER_CLASSES.map((_, k) => Math.floor(n / 3) + (k < n % 3 ? 1 : 0));
  const written = [0, 0, 0];
  let filled = 0;
  while (filled < n) {
    tally.lines++;
    for (const s of await lineSamples(rng, writers)) {
      tally.seen[s.label]!++;
      if (written[s.label]! >= quota[s.label]!) continue;
      written[s.label]!++;
      pixels.set(s.pixels, filled * size * size);
      labelBytes[filled++] = s.label;
    }
  }
  await writeIdxSplit(dataDir, name, pixels, labelBytes, size);
}

await mkdir(dataDir, { recursive: true });
const started = Date.now();
await writeSplit('train', count, createRng(seed), TRAIN_WRITERS);
await writeSplit('t10k', testCount, createRng(seed + 1000), TEST_WRITERS);
await writeFile(join(dataDir, 'classes.txt'), `${VERIFIER_CLASSES.join('\n')}\n`);
console.log(`wrote ${count} training and ${testCount} test candidates in ${((Date.now() - started) / 1000).toFixed(1)} s into ${dataDir}: ${JSON.stringify(tally)}`);
if (flags['data-only']) process.exit(0);

const result = await trainLineModel(flags, out, dataDir);

const command = `npx tsx scripts/train-hanzi-segments.ts --out ${flags.out} --samples ${count} --test ${testCount} --epochs ${flags.epochs} --seed ${seed} --learning-rate ${flags['learning-rate']} --size ${size} --threads ${flags.threads}${flags.init ? ` --init ${flags.init}` : ''}`;
await writeLineModelMetadata(result, out, dataDir, flags, {
  name: 'hanzi-segments',
  pairsFor: 'hanzi',
  preprocessing: CJK_PROFILE,
  trainingData: `${count} candidates cut by the line reader from composed lines of 2-8 GB2312 level-1 characters by synthetic writers ${TRAIN_WRITERS.join('-')} of seed ${WRITER_SEED} (the hanzi model's training writers; composed as bench/lines.ts composes its Chinese image lines), labelled by their ink (whole / part / several, a third each), normalized by cjk-fit-v1 at ${size} px`,
  testData: `${testCount} candidates from lines by synthetic writers ${TEST_WRITERS.join('-')} of seed ${WRITER_SEED}`,
  command,
});

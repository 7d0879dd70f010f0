import { resolve } from 'node:path';
import { CJK_PROFILE } from '../core/profiles.ts';
import { corruptCount, HwdbStream, hwdbFolderOf, indexHwdbFolder } from '../data/hwdb.ts';
import { writeFileAtomic } from '../node/files.ts';
import { evaluateStream, formatConfusionCells, mostConfusedPairs, type ConfusedPair, type StreamEvaluation } from '../train/evaluate.ts';
import { loadIdxDataset, classNamesFor, mnistDir } from '../data/mnist.ts';
import { loadRecognizer, type EngineChoice } from '../node/recognizer.ts';
import { evaluateClassifier, type Evaluation } from '../train/evaluate.ts';
import { hwrError } from '../core/errors.ts';
import { expectedCalibrationError } from '../train/calibration.ts';
import { concatSplits, HELD_OUT_NEGATIVES, heldOutNegatives, predictSplit } from '../train/rejection.ts';
import type { Recognizer } from '../core/recognizer.ts';
import type { Split } from '../data/mnist.ts';

/** Flags of `hwr evaluate`. */
export interface EvaluateFlags {
  model: string;
  data?: string;
  limit?: number;
  json?: boolean;
  /** With `hwdb:DIR`: where the full confusion goes (tab-separated cells). Default `confusion.tsv`. */
  confusion?: string;
  /** With `hwdb:DIR`: skip corrupt GNT samples with a warning each, instead of failing at the first. */
  skipCorrupt?: boolean;
  /** What runs the model (`--engine`); default `auto`. */
  engine?: EngineChoice;
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** Formats an evaluation as the text report of `hwr evaluate`. */
export function formatEvaluation(evaluation: Evaluation, title: string): string {
  const { classes, confusionMatrix } = evaluation;
  const lines = [
    title,
    `accuracy        ${percent(evaluation.accuracy)}  (${evaluation.count - evaluation.errors.length}/${evaluation.count})`,
    `top-3 accuracy  ${percent(evaluation.top3Accuracy)}`,
    '',
    'class  precision  recall   count',
    ...evaluation.perClass.map((c) => `${c.label.padStart(5)}  ${percent(c.precision).padStart(9)}  ${percent(c.recall).padStart(7)}  ${String(c.count).padStart(6)}`),
    '',
    'confusion matrix (rows: actual, columns: predicted)',
    `      ${classes.map((c) => c.padStart(5)).join('')}`,
    ...confusionMatrix.map((row, i) => `${classes[i]!.padStart(5)} ${row.map((v) => String(v).padStart(5)).join('')}`),
  ];
  return lines.join('\n');
}

/** Rejection figures of `hwr evaluate` for a model with a rejection class, fractions in [0, 1]. */
export interface RejectionReport {
  /** Test images whose most probable class is the rejection class (each is also an error in `accuracy`). */
  falseRejectionRate: number;
  /** Held-out synthetic non-digits (built from the test digits, see src/train/rejection.ts) that were rejected. */
  negativeRejectionRate: number;
  negatives: string;
  /** Expected calibration error (15 bins) of the reported probabilities on the test images plus those negatives. */
  ece: number;
}

/**
 * Measures how a model with `metadata.rejectClass` rejects: on the test split and on held-out synthetic negatives.
 * @returns null for a model without a rejection class
 */
export async function measureRejection(recognizer: Recognizer, test: Split): Promise<RejectionReport | null> {
  const { classes, rejectClass } = recognizer.metadata;
  if (rejectClass === undefined) return null;
  const reject = classes.indexOf(rejectClass);
  const negatives = heldOutNegatives(test, reject);
  const both = concatSplits(test, negatives);
  const probabilities = await predictSplit(recognizer.predictProbabilities, both, classes.length);
  let rejectedTest = 0;
  let rejectedNegatives = 0;
  for (let i = 0; i < both.count; i++) {
    const row = probabilities.subarray(i * classes.length, (i + 1) * classes.length);
    let best = 0;
    for (let c = 1; c < classes.length; c++) if (row[c]! > row[best]!) best = c;
    if (best === reject) {
      if (i < test.count) rejectedTest++;
      else rejectedNegatives++;
    }
  }
  return {
    falseRejectionRate: test.count ? rejectedTest / test.count : 0,
    negativeRejectionRate: negatives.count ? rejectedNegatives / negatives.count : 0,
    negatives: `${negatives.count} synthetic non-digits built from these test digits, seed ${HELD_OUT_NEGATIVES.seed}`,
    ece: expectedCalibrationError(probabilities, both.labels, classes.length),
  };
}

/** Text lines of a rejection report. */
export function formatRejection(report: RejectionReport, testCount: number): string {
  return [
    `rejected        ${percent(report.falseRejectionRate)} of the ${testCount} test images ("not a digit"; counted as errors above)`,
    `                ${percent(report.negativeRejectionRate)} of ${report.negatives}`,
    `calibration     ECE ${percent(report.ece)} (15 bins) on the test images plus those non-digits`,
  ].join('\n');
}

/** Formats a large-vocabulary evaluation: top-k accuracies, then the most confused pairs, one per line. */
export function formatStreamEvaluation(evaluation: StreamEvaluation, pairs: ConfusedPair[], title: string, confusionFile: string): string {
  const lines = [title, ...evaluation.topK.map(({ k, accuracy }) => `${`top-${k} accuracy`.padEnd(16)}${percent(accuracy)}`)];
  lines.push('', `${pairs.length} most confused pairs (a taken for b, b taken for a; both ways together)`);
  for (const pair of pairs) lines.push(`  ${pair.a} ${pair.b}  ${String(pair.total).padStart(5)}  (${pair.a}->${pair.b} ${pair.aAsB}, ${pair.b}->${pair.a} ${pair.bAsA})`);
  lines.push('', `full confusion (${evaluation.cells.length} non-zero cells): ${confusionFile}`);
  return lines.join('\n');
}

/**
 * `hwr evaluate --data hwdb:DIR`: the model on the test writers of a folder of GNT files (`splitOfWriter`), streamed
 * and normalized to the model's input by the CJK profile: top-1, top-5 and top-10 accuracy, the 20 most confused
 * pairs, and the whole (sparse) confusion written to `flags.confusion`. Corrupt samples of the test writers are an
 * error found by the index scan before any image is recognized, or with `flags.skipCorrupt` a warning each on
 * stderr and a count at the end.
 * @throws HwrError `BAD_ARGUMENT` for a non-square model input or a folder without test writers; `CORRUPT_GNT`
 */
async function evaluateGnt(recognizer: Recognizer, flags: EvaluateFlags, dir: string): Promise<void> {
  const warn = (line: string) => process.stderr.write(`hwr: ${line}\n`);
  const skipCorrupt = flags.skipCorrupt ?? false;
  const index = await indexHwdbFolder(dir, { skipCorrupt, onWarning: warn, split: 'test' });
  const { classes, inputShape } = recognizer.metadata;
  if (inputShape[0] !== inputShape[1]) throw hwrError('BAD_ARGUMENT', `model ${flags.model}: input ${inputShape[0]}x${inputShape[1]} is not square`);
  const stream = new HwdbStream({ index, classes, size: inputShape[0], split: 'test', seed: 0, limit: flags.limit ?? null, skipCorrupt, onWarning: warn });
  if (stream.count === 0) throw hwrError('BAD_ARGUMENT', `${dir}: no test writers (see splitOfWriter in src/data/gnt.ts)`);
  const evaluation = await evaluateStream(recognizer.predictProbabilities, stream.batches(null, 256), classes, { ks: [1, 5, 10] });
  const pairs = mostConfusedPairs(evaluation, 20);
  const confusionFile = resolve(flags.confusion ?? 'confusion.tsv');
  await writeFileAtomic(confusionFile, formatConfusionCells(evaluation));
  // Corrupt samples are counted by the index scan, which saw every test file (the stream stops at --limit).
  const corrupt = index.corrupt;
  const unusable = stream.skipped - stream.corrupt;
  const skipped = corrupt + unusable > 0 ? ` (${corrupt + unusable} samples skipped: ${corrupt} corrupt, ${unusable} blank or of a character the model does not know)` : '';
  if (corrupt > 0) warn(`${dir}: ${corruptCount(corrupt)} of the test writers skipped (--skip-corrupt)`);
  if (flags.json) {
    const { cells: _cells, ...rest } = evaluation;
    process.stdout.write(`${JSON.stringify({ model: recognizer.metadata.name, data: `hwdb:${dir}`, ...rest, skipped: corrupt + unusable, corrupt, confusedPairs: pairs, confusionFile })}\n`);
  } else {
    process.stdout.write(`${formatStreamEvaluation(evaluation, pairs, `${recognizer.metadata.name} on the test writers of ${dir} (${evaluation.count} images)${skipped}`, confusionFile)}\n`);
  }
}

/** `hwr evaluate`: metrics of a model on the test split of an IDX dataset (MNIST by default), or of GNT files (`hwdb:DIR`). */
export async function evaluateCommand(flags: EvaluateFlags): Promise<void> {
  const recognizer = await loadRecognizer(flags.model, undefined, { engine: flags.engine ?? 'auto' });
  const gnt = hwdbFolderOf(flags.data);
  if (gnt !== null) {
    try {
      await evaluateGnt(recognizer, flags, resolve(gnt));
    } finally {
      recognizer.dispose();
    }
    return;
  }
  if (!flags.data && recognizer.metadata.preprocessing === CJK_PROFILE) {
    recognizer.dispose();
    throw hwrError(
      'BAD_ARGUMENT',
      `--data: model ${flags.model} reads Chinese characters (${recognizer.metadata.preprocessing}), not MNIST; evaluate it on GNT files with --data hwdb:DIR ` +
        '(CASIA HWDB, or synthetic writers from `hwr synth --seed 2 --out DIR`)',
    );
  }
  const dataDir = flags.data ? resolve(flags.data) : mnistDir();
  const { test } = await loadIdxDataset(dataDir, flags.limit ? { limit: flags.limit } : {});
  // A rejection class has no images of its own in a dataset: the dataset's classes are the model's others.
  const genuine = recognizer.metadata.classes.filter((c) => c !== recognizer.metadata.rejectClass);
  const classes = flags.data ? await classNamesFor(dataDir) : genuine;
  if (classes.length !== genuine.length) {
    throw hwrError('BAD_ARGUMENT', `${dataDir} has ${classes.length} classes but model ${flags.model} has ${genuine.length}${genuine.length < recognizer.metadata.classes.length ? ' (besides its rejection class)' : ''}`);
  }
  const [h, w] = recognizer.metadata.inputShape;
  if (test.rows !== h || test.cols !== w) throw hwrError('BAD_ARGUMENT', `${dataDir}: images are ${test.rows}x${test.cols} but model ${flags.model} takes ${h}x${w}`);
  const evaluation = await evaluateClassifier(recognizer.predictProbabilities, test, recognizer.metadata.classes);
  // Negatives are built from the test digits: only for data of the kind the rejection class was trained on (MNIST).
  const rejection = flags.data ? null : await measureRejection(recognizer, test);
  if (flags.json) {
    const { errors: _errors, ...rest } = evaluation;
    process.stdout.write(`${JSON.stringify({ model: recognizer.metadata.name, data: flags.data ? dataDir : 'MNIST test', ...rest, errorCount: evaluation.errors.length, ...(rejection ? { rejection } : {}) })}\n`);
  } else {
    process.stdout.write(`${formatEvaluation(evaluation, `${recognizer.metadata.name} on ${flags.data ? dataDir : 'MNIST'} test (${evaluation.count} images)`)}\n`);
    if (rejection) process.stdout.write(`\n${formatRejection(rejection, evaluation.count)}\n`);
  }
  recognizer.dispose();
}

/**
 * Training a digit model that can say "not a digit": the synthetic data that joins MNIST (negatives as an extra
 * rejection class, and digits in the styles MNIST lacks, from src/data/negatives.ts and src/data/digitStyles.ts),
 * and the figures measured after training: temperature calibration (./calibration.ts) and rejection rates.
 */
import type { Calibration, RejectionFigures } from '../core/types.ts';
import { createRng } from '../data/augment.ts';
import { styledDigits } from '../data/digitStyles.ts';
import type { Split } from '../data/mnist.ts';
import { syntheticNegatives } from '../data/negatives.ts';
import { applyTemperature } from '../core/recognizer.ts';
import { ECE_BINS, expectedCalibrationError, fitTemperature } from './calibration.ts';
import type { PredictFn } from './evaluate.ts';
import { toUnitFloat } from '../data/idx.ts';

/** Name of the rejection class that `train` appends to the dataset's classes (`ModelMetadata.rejectClass`). */
export const REJECT_CLASS = 'none';

/** Synthetic negatives added per genuine image of a split (12%: about as many as one digit class of MNIST). */
export const NEGATIVE_FRACTION = 0.12;

/** Synthetic digits in MNIST-lacking styles added per genuine image (3%, spread over the 4 styles). */
export const STYLE_FRACTION = 0.03;

/** Size and seed of the held-out negatives `hwr train` measures the rejection rate on (built from test digits). */
export const HELD_OUT_NEGATIVES = { count: 2000, seed: 4242 } as const;

/** float32 in [0, 1] to uint8 0..255, the storage of a `Split`. */
function toBytes(values: Float32Array): Uint8Array {
  return Uint8Array.from(values, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/** Concatenates splits of the same image size. */
export function concatSplits(...splits: Split[]): Split {
  const { rows, cols } = splits[0]!;
  const count = splits.reduce((n, s) => n + s.count, 0);
  const images = new Uint8Array(count * rows * cols);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of splits) {
    images.set(s.images, at * rows * cols);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { images, labels, count, rows, cols };
}

/**
 * A split of 28x28 digits plus its synthetic additions: `NEGATIVE_FRACTION` negatives labelled `rejectLabel`, built
 * from this split's own digits (pairs, partial digits) and strokes; and `STYLE_FRACTION` styled digits. Deterministic
 * for a seed. Images are normalized by `preprocessDigit`, as user input is.
 *
 * @param split        `[count, 28, 28]` uint8 digits
 * @param rejectLabel  class index of the rejection class
 * @param seed         seed of the synthesis (use different seeds for training and validation)
 * @returns the genuine images first, then negatives, then styled digits; and a description for metadata
 */
export function withSyntheticData(split: Split, rejectLabel: number, seed: number): { split: Split; description: string } {
  const negativeCount = Math.round(split.count * NEGATIVE_FRACTION);
  const styleCount = Math.round(split.count * STYLE_FRACTION);
  const rng = createRng(seed);
  const negatives = syntheticNegatives(negativeCount, split, rng);
  const styles = styledDigits(styleCount, rng);
  const rows = split.rows;
  const cols = split.cols;
  const combined = concatSplits(
    split,
    { images: toBytes(negatives.images), labels: new Uint8Array(negativeCount).fill(rejectLabel), count: negativeCount, rows, cols },
    { images: toBytes(styles.images), labels: styles.labels, count: styleCount, rows, cols },
  );
  return { split: combined, description: `${negativeCount} synthetic non-digits, ${styleCount} synthetic digits in styles MNIST lacks` };
}

/** Held-out negatives built from `source` (use the test split's digits), all labelled `rejectLabel`. */
export function heldOutNegatives(source: Split, rejectLabel: number, count: number = HELD_OUT_NEGATIVES.count, seed: number = HELD_OUT_NEGATIVES.seed): Split {
  const negatives = syntheticNegatives(count, source, createRng(seed));
  return { images: toBytes(negatives.images), labels: new Uint8Array(count).fill(rejectLabel), count, rows: source.rows, cols: source.cols };
}

/**
 * Genuine images (not `rejectLabel`) that may be rejected, as a fraction: the budget of `chooseRejectShift`.
 * MNIST's own test errors are about 0.3% for our models; a rejected digit counts as an error, so this keeps the
 * cost of rejection well below that.
 */
export const MAX_FALSE_REJECTION = 0.0005;

/**
 * The largest shift <= 0 of the rejection class's scaled logit (see `applyTemperature`) that rejects at most
 * `maxFalseRejection` of the genuine images (those not labelled `rejectLabel`): a prior correction chosen on
 * held-out data. 0 when the model already rejects few enough.
 *
 * @param probabilities `[n * classes]` uncalibrated probabilities
 * @param labels        `[n]` true classes
 * @returns the shift in natural-log units, <= 0
 */
export function chooseRejectShift(probabilities: Float32Array, labels: ArrayLike<number>, classes: number, rejectLabel: number, temperature: number, maxFalseRejection = MAX_FALSE_REJECTION): number {
  // Margin of each genuine image: how far the rejection class's scaled logit is above the best other class's.
  const margins: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === rejectLabel) continue;
    const logit = (c: number) => Math.log(Math.max(1e-30, probabilities[i * classes + c]!)) / temperature;
    let best = -Infinity;
    for (let c = 0; c < classes; c++) if (c !== rejectLabel) best = Math.max(best, logit(c));
    margins.push(logit(rejectLabel) - best);
  }
  margins.sort((a, b) => b - a);
  // An image is rejected when margin + shift > 0; allow the `allowed` largest margins through.
  const allowed = Math.floor(maxFalseRejection * margins.length);
  const kth = margins[allowed];
  return kth === undefined || kth < 0 ? 0 : -kth - 1e-6;
}

/** Probabilities of every image of a split, `[count * classes]`, in batches of 500. */
export async function predictSplit(predict: PredictFn, split: Split, classes: number): Promise<Float32Array> {
  const pixels = split.rows * split.cols;
  const out = new Float32Array(split.count * classes);
  for (let start = 0; start < split.count; start += 500) {
    const count = Math.min(500, split.count - start);
    out.set(await predict(toUnitFloat(split.images.subarray(start * pixels, (start + count) * pixels)), count), start * classes);
  }
  return out;
}

/** Fraction of rows whose most probable class is `label`. */
function fractionPredicted(probabilities: Float32Array, classes: number, label: number): number {
  const n = probabilities.length / classes;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    if (best === label) hits++;
  }
  return n ? hits / n : 0;
}

/**
 * Fits the temperature on the validation split and measures calibration and rejection.
 *
 * @param predictRaw   the trained model's uncalibrated probabilities (a recognizer made without `calibration`)
 * @param validation   validation split with its synthetic additions (what T is fitted on)
 * @param test         genuine test images (MNIST test): the false-rejection rate
 * @param negatives    held-out negatives: the rejection rate; test ECE is on `test` and `negatives` together
 * @param classes      number of classes, the rejection class included
 * @param rejectLabel  its index
 * @param maxFalseRejection  budget of genuine validation images the rejection may take (see `chooseRejectShift`)
 */
export async function calibrateAndMeasure(
  predictRaw: PredictFn,
  validation: Split,
  test: Split,
  negatives: Split,
  classes: number,
  rejectLabel: number,
  maxFalseRejection = MAX_FALSE_REJECTION,
): Promise<{ calibration: Calibration; rejection: Omit<RejectionFigures, 'negatives'> }> {
  const validationProbabilities = await predictSplit(predictRaw, validation, classes);
  const temperature = fitTemperature(validationProbabilities, validation.labels, classes);
  const rejectShift = chooseRejectShift(validationProbabilities, validation.labels, classes, rejectLabel, temperature, maxFalseRejection);
  const shift = { index: rejectLabel, value: rejectShift };
  const testProbabilities = await predictSplit(predictRaw, test, classes);
  const negativeProbabilities = await predictSplit(predictRaw, negatives, classes);
  const both = new Float32Array(testProbabilities.length + negativeProbabilities.length);
  both.set(testProbabilities);
  both.set(negativeProbabilities, testProbabilities.length);
  const bothLabels = new Uint8Array(test.count + negatives.count);
  bothLabels.set(test.labels);
  bothLabels.set(negatives.labels, test.count);
  const ece = (p: Float32Array, labels: Uint8Array) => ({
    before: expectedCalibrationError(p, labels, classes),
    after: expectedCalibrationError(applyTemperature(p, classes, temperature, shift), labels, classes),
  });
  return {
    calibration: {
      method: 'temperature scaling',
      temperature,
      rejectShift,
      maxFalseRejection,
      fittedOn: `validation split (${validation.count} images)`,
      bins: ECE_BINS,
      validationEce: ece(validationProbabilities, validation.labels),
      testEce: ece(both, bothLabels),
    },
    rejection: {
      falseRejectionRate: fractionPredicted(applyTemperature(testProbabilities, classes, temperature, shift), classes, rejectLabel),
      negativeRejectionRate: fractionPredicted(applyTemperature(negativeProbabilities, classes, temperature, shift), classes, rejectLabel),
    },
  };
}

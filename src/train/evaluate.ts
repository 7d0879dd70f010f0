/**
 * Test-set metrics of a classifier: accuracy, top-k accuracy, per-class precision and recall, confusion matrix.
 * Runs on preprocessed dataset images (MNIST test images are already size-normalized and centred).
 */
import { toUnitFloat } from '../data/idx.ts';
import type { Split } from '../data/mnist.ts';
import { hwrError } from '../core/errors.ts';
import { topKIndices } from '../core/recognizer.ts';

/** Precision and recall of one class. */
export interface ClassMetrics {
  label: string;
  /** Test images of this class. */
  count: number;
  /** Of the images predicted as this class, the fraction that are this class, in [0, 1] (0 when none predicted). */
  precision: number;
  /** Of the images of this class, the fraction predicted as it, in [0, 1]. */
  recall: number;
}

/** What `evaluateClassifier` measures. */
export interface Evaluation {
  /** Images evaluated. */
  count: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Top-3 accuracy in [0, 1]. */
  top3Accuracy: number;
  perClass: ClassMetrics[];
  /** `confusionMatrix[actual][predicted]` = number of images. */
  confusionMatrix: number[][];
  /** Labels in class-index order. */
  classes: string[];
  /** Indices of misclassified images, with what they were taken for (for sample grids). */
  errors: Array<{ index: number; actual: number; predicted: number }>;
}

/** Anything that maps `[n, h, w, 1]` float32 inputs to `[n * classes]` probabilities. */
export type PredictFn = (inputs: Float32Array, count: number) => Promise<Float32Array>;

/**
 * Classifies every image of `split` in batches and computes the metrics.
 * @param predict e.g. `recognizer.predictProbabilities`.
 * @param split uint8 images `[count, rows, cols]` (0 = background, 255 = ink) and labels `[count]`.
 * @param classes class labels in index order.
 * @param options.batchSize images per forward pass (default 500); `onProgress(done, total)` after each batch.
 */
export async function evaluateClassifier(
  predict: PredictFn,
  split: Split,
  classes: string[],
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Evaluation> {
  const batchSize = options.batchSize ?? 500;
  const n = classes.length;
  const pixels = split.rows * split.cols;
  const confusionMatrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const errors: Evaluation['errors'] = [];
  let top3 = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const count = Math.min(batchSize, split.count - start);
    const inputs = toUnitFloat(split.images.subarray(start * pixels, (start + count) * pixels));
    const probabilities = await predict(inputs, count);
    for (let i = 0; i < count; i++) {
      const row = probabilities.subarray(i * n, (i + 1) * n);
      const ranked = topKIndices(row, 3);
      const actual = split.labels[start + i]!;
      const predicted = ranked[0]!;
      confusionMatrix[actual]![predicted]!++;
      if (ranked.includes(actual)) top3++;
      if (predicted !== actual) errors.push({ index: start + i, actual, predicted });
    }
    options.onProgress?.(start + count, split.count);
  }
  const perClass = classes.map((label, c) => {
    const count = confusionMatrix[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusionMatrix.reduce((sum, row) => sum + row[c]!, 0);
    const correct = confusionMatrix[c]![c]!;
    return { label, count, precision: predictedAs ? correct / predictedAs : 0, recall: count ? correct / count : 0 };
  });
  const correct = confusionMatrix.reduce((sum, row, c) => sum + row[c]!, 0);
  return {
    count: split.count,
    accuracy: split.count ? correct / split.count : 0,
    top3Accuracy: split.count ? top3 / split.count : 0,
    perClass,
    confusionMatrix,
    classes,
    errors,
  };
}

/** A batch of preprocessed images with their labels: `xs` `[count, h, w, 1]` float32 in [0, 1], `labels` `[count]` class indices. */
export interface LabelledBatch {
  xs: Float32Array;
  labels: ArrayLike<number>;
  count: number;
}

/** What `evaluateStream` measures: for any number of classes, with the confusion kept sparse. */
export interface StreamEvaluation {
  /** Images evaluated. */
  count: number;
  /** Top-k accuracy in [0, 1] for each k asked, in the order asked (`topK[0]` is top-1 when k = 1 comes first). */
  topK: { k: number; accuracy: number }[];
  /** Labels in class-index order. */
  classes: string[];
  /** Every non-zero cell of the confusion matrix (diagonal included), largest count first. */
  cells: { actual: number; predicted: number; count: number }[];
}

/**
 * Classifies a stream of batches and measures top-k accuracy and the confusion, without ever holding a dense
 * `classes x classes` matrix (3,755 classes would make it 14 million cells): the confusion is a map of the cells
 * that occur. An image's rank is the number of classes with a higher probability (ties: a lower class index
 * ranks first, as `topKIndices`), so top-k needs no sort.
 * @param predict  e.g. `recognizer.predictProbabilities`
 * @param batches  batches of preprocessed images and labels
 * @param ks       the k of the top-k accuracies, e.g. `[1, 5, 10]`
 * @throws HwrError `BAD_ARGUMENT` for a label outside the classes
 */
export async function evaluateStream(
  predict: PredictFn,
  batches: AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>,
  classes: string[],
  options: { ks?: number[]; onProgress?: (done: number) => void } = {},
): Promise<StreamEvaluation> {
  const ks = options.ks ?? [1, 5, 10];
  const n = classes.length;
  const hits = new Array<number>(ks.length).fill(0);
  const cells = new Map<number, number>();
  let count = 0;
  for await (const batch of batches) {
    const probabilities = await predict(batch.xs, batch.count);
    for (let i = 0; i < batch.count; i++) {
      const actual = batch.labels[i]!;
      if (!(actual >= 0 && actual < n)) throw hwrError('BAD_ARGUMENT', `evaluateStream: label ${actual} is not a class index (${n} classes)`);
      const row = probabilities.subarray(i * n, (i + 1) * n);
      const p = row[actual]!;
      let rank = 0;
      let predicted = 0;
      for (let c = 0; c < n; c++) {
        const q = row[c]!;
        if (q > p || (q === p && c < actual)) rank++;
        if (q > row[predicted]!) predicted = c;
      }
      ks.forEach((k, j) => {
        if (rank < k) hits[j]!++;
      });
      const key = actual * n + predicted;
      cells.set(key, (cells.get(key) ?? 0) + 1);
    }
    count += batch.count;
    options.onProgress?.(count);
  }
  return {
    count,
    topK: ks.map((k, j) => ({ k, accuracy: count ? hits[j]! / count : 0 })),
    classes,
    cells: [...cells].map(([key, c]) => ({ actual: Math.floor(key / n), predicted: key % n, count: c })).sort((a, b) => b.count - a.count || a.actual - b.actual || a.predicted - b.predicted),
  };
}

/** Two classes that a model confuses, both ways summed. */
export interface ConfusedPair {
  /** The two labels, the one more often taken for the other first. */
  a: string;
  b: string;
  /** Images of `a` predicted as `b`, and of `b` predicted as `a`. */
  aAsB: number;
  bAsA: number;
  total: number;
}

/**
 * The `limit` most confused pairs of classes (unordered: a->b and b->a together), most errors first; ties by
 * class index. From the off-diagonal cells of `evaluateStream`.
 */
export function mostConfusedPairs(evaluation: StreamEvaluation, limit = 20): ConfusedPair[] {
  const n = evaluation.classes.length;
  const pairs = new Map<number, { low: number; high: number; lowAsHigh: number; highAsLow: number }>();
  for (const { actual, predicted, count } of evaluation.cells) {
    if (actual === predicted) continue;
    const low = Math.min(actual, predicted);
    const high = Math.max(actual, predicted);
    const pair = pairs.get(low * n + high) ?? { low, high, lowAsHigh: 0, highAsLow: 0 };
    if (actual === low) pair.lowAsHigh += count;
    else pair.highAsLow += count;
    pairs.set(low * n + high, pair);
  }
  return [...pairs.values()]
    .map(({ low, high, lowAsHigh, highAsLow }) => {
      const lowFirst = lowAsHigh >= highAsLow;
      return {
        a: evaluation.classes[lowFirst ? low : high]!,
        b: evaluation.classes[lowFirst ? high : low]!,
        aAsB: lowFirst ? lowAsHigh : highAsLow,
        bAsA: lowFirst ? highAsLow : lowAsHigh,
        total: lowAsHigh + highAsLow,
        order: low * n + high,
      };
    })
    .sort((x, y) => y.total - x.total || x.order - y.order)
    .slice(0, limit)
    .map(({ order: _order, ...pair }) => pair);
}

/** The confusion as tab-separated text: a header, then `actual predicted count` for every non-zero cell, largest first. */
export function formatConfusionCells(evaluation: StreamEvaluation): string {
  const lines = ['actual\tpredicted\tcount'];
  for (const cell of evaluation.cells) lines.push(`${evaluation.classes[cell.actual]}\t${evaluation.classes[cell.predicted]}\t${cell.count}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Test-set metrics of a classifier: accuracy, top-k accuracy, per-class precision and recall, confusion matrix.
 * Runs on preprocessed dataset images (MNIST test images are already size-normalized and centred).
 */
import { toUnitFloat } from '../data/idx.ts';
import type { Split } from '../data/mnist.ts';
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

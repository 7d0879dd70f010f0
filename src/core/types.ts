/**
 * Types shared by every part of hwr: the browser, the server, the CLI and training.
 * This module imports nothing, so it runs anywhere.
 */

/**
 * An image as plain pixels, laid out like the browser's `ImageData`:
 * `data` holds `width * height * 4` bytes, RGBA, row-major, top row first, alpha not premultiplied.
 * `width` and `height` are in px.
 */
export interface PixelBuffer {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
  /**
   * Which way round ink and paper are, when whoever made the pixels knows it (ink drawn by `inkImage` is always
   * `dark-on-light`); preprocessing then skips its detection, which guesses from the majority of the pixels and takes
   * ink that covers most of the picture (a dense scribble) for the paper. Absent: detected.
   */
  polarity?: 'dark-on-light' | 'light-on-dark';
}

/**
 * Metadata stored beside a model as `metadata.json`.
 * Everything the browser and the server need to turn the model's output into an answer.
 */
export interface ModelMetadata {
  /** Model name, e.g. `digits`. */
  name: string;
  /** Architecture name from the model registry, e.g. `hwr-net`, `seed-cnn`, `lenet5`. */
  architecture: string;
  /** Class labels in the order of the model's output units, e.g. `["0", ..., "9"]`. */
  classes: string[];
  /** Input shape without the batch dimension, NHWC: `[28, 28, 1]`. */
  inputShape: [number, number, number];
  /** Version tag of the preprocessing the model was trained for (see `PREPROCESSING_VERSION`). */
  preprocessing: string;
  /**
   * Pen width for ink input, as a fraction of the ink's longer side (see `inkImageFor` in src/core/preprocessing.ts);
   * absent: the profile's default. Models trained on ink (`hwr train --data ink:...`) record the width they saw.
   */
  inkPenWidth?: number;
  /** Trainable and non-trainable parameter count. */
  parameters: number;
  /** Training data description, e.g. `MNIST train (60,000 images, 54,000 used for training, 6,000 for validation)`. */
  trainingData: string;
  /** Epochs trained. */
  epochs: number;
  /** Fraction in [0, 1] of the test set recognized correctly (top-1); null when not measured yet. */
  testAccuracy: number | null;
  /** Fraction in [0, 1] of the test set whose label is among the top 3; null when not measured yet. */
  top3Accuracy: number | null;
  /** Test set the accuracies were measured on, e.g. `MNIST test (10,000 images)`. */
  testData: string | null;
  /** Wall-clock training time in seconds, and the machine it ran on. */
  trainingSeconds: number | null;
  trainedOn: string | null;
  /** Command that reproduces the model. */
  command: string;
  /** ISO 8601 date the model was written. */
  date: string;
  /** hwr version that wrote it. */
  version: string;
  /**
   * Name of the class (one of `classes`) that means "none of the others", e.g. `"none"` for "not a digit".
   * When it is the most probable class, the recognizer answers with a rejection (`label: null` and a reason)
   * rather than a forced guess. Absent: every class is an answer.
   */
  rejectClass?: string;
  /** The named character set the classes are (`gb2312-1`: GB 2312 level 1, 3,755 hanzi); absent: classes from the data. */
  charset?: string;
  /**
   * A pair model (two-character classes, e.g. `"00"`..`"99"`, for reading touching characters in a line): the name of
   * the character model it serves (`"digits"`). The Node loader finds it by this field (src/node/lineReader.ts) and
   * `readLine` takes it as `ReadLineOptions.pairs`. Absent: an ordinary model.
   */
  pairsFor?: string;
  /** Top-k accuracy on the test set, for k = 1, 3, 5, 10 (large vocabularies), each in [0, 1]; absent for digits. */
  topKAccuracy?: { k: number; accuracy: number }[];
  /**
   * Figures on a second test set beside `testData`, made apart from the training data (for the shipped hanzi model:
   * synthetic writers of another seed), with the command that measured them. Absent: none.
   */
  heldOutTest?: { data: string; count: number; topKAccuracy: { k: number; accuracy: number }[]; command: string };
  /** How the model's probabilities were calibrated; absent: they are the raw softmax outputs. */
  calibration?: Calibration;
  /** How often the model rejects, measured after training; absent for models without `rejectClass`. */
  rejection?: RejectionFigures;
}

/**
 * Temperature scaling (Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural Networks", ICML 2017):
 * the recognizer reports `softmax(log p / temperature)` instead of the model's raw `p`; the ranking of classes
 * does not change. ECE is the expected calibration error over `bins` equal-width confidence bins, in [0, 1].
 */
export interface Calibration {
  method: 'temperature scaling';
  /** T > 0, fitted on `fittedOn` by minimizing the negative log-likelihood. */
  temperature: number;
  /**
   * Added to the rejection class's scaled logit (natural log units; <= 0 makes rejection rarer): a prior correction,
   * since the training data held far more non-digits than real input does. Chosen on `fittedOn` as the largest value
   * that rejects at most `maxFalseRejection` of its genuine images. Absent or 0: no correction.
   */
  rejectShift?: number;
  /** The false-rejection budget `rejectShift` was chosen for, a fraction in [0, 1]. */
  maxFalseRejection?: number;
  /** Held-out data T was fitted on, e.g. `validation split (6000 MNIST + 900 synthetic images)`. */
  fittedOn: string;
  /** Number of confidence bins of the ECE figures (15, as in Guo et al.). */
  bins: number;
  /** ECE on the fitting data before and after scaling. */
  validationEce: { before: number; after: number };
  /** ECE on the test data (`testData` plus the held-out negatives of `rejection`) before and after scaling. */
  testEce: { before: number; after: number };
}

/** Rejection figures of a model with a `rejectClass`, fractions in [0, 1]. */
export interface RejectionFigures {
  /** Fraction of the test images (`testData`, all genuine classes) the model rejected; they count as errors in `testAccuracy`. */
  falseRejectionRate: number;
  /** Fraction of a held-out set of negatives that it rejected. */
  negativeRejectionRate: number;
  /** That set, e.g. `2000 synthetic non-digits (letters, symbols, ...) built from MNIST test digits, seed 4242`. */
  negatives: string;
}

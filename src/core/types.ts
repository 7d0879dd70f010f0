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
}

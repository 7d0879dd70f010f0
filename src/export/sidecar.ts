/**
 * What another runtime needs to use an exported model without this project: the input's layout and value range,
 * the preprocessing profile in words, the classes, the rejection class and the calibration. Written into ONNX
 * `metadata_props` (key `hwr`, value this JSON) and TFLite `Model.metadata` (name `hwr`), and beside either file
 * as `<file>.json`.
 */
import type { ModelMetadata } from '../core/types.ts';
import type { QuantizeMode } from './quantize.ts';

/** Format name and version of the sidecar JSON (`format` field), for readers to check. */
export const SIDECAR_FORMAT = 'hwr-exported-model';
export const SIDECAR_VERSION = 1;

/** Words for each preprocessing profile (see src/core/preprocessing.ts), for users of other runtimes. */
const PROFILE_TEXT: Record<string, string> = {
  'mnist-com-v1':
    'MNIST normalization (LeCun et al. 1998): gray image, ink as 1 on 0 (a light background is inverted), the ink\'s bounding box scaled to fit 20x20 px with its aspect ratio kept, then placed in the 28x28 field so that its centre of mass is at the centre; values in [0, 1].',
  'mnist-com-v2':
    'MNIST normalization (LeCun et al. 1998), as mnist-com-v1 with robust background detection: gray image, ink as 1 on 0, ink box fitted to 20/28 of the field with its aspect ratio kept, centred by its centre of mass; values in [0, 1].',
  'cjk-fit-v1':
    'CASIA-style normalization (Liu et al., Pattern Recognition 46, 2013): 8-bit gray image (255 = paper), the bounding box of pixels darker than 223 scaled to fit the square input less a margin of round(size / 16) px with its aspect ratio kept and centred by its box, then ink = (255 - gray) / 255 in [0, 1].',
};

/** The sidecar of an exported model (JSON). */
export interface ExportSidecar {
  format: typeof SIDECAR_FORMAT;
  version: typeof SIDECAR_VERSION;
  /** `onnx` or `tflite`. */
  modelFormat: 'onnx' | 'tflite';
  /** File name of the model the sidecar describes. */
  modelFile: string;
  name: string;
  architecture: string;
  quantization: QuantizeMode;
  input: {
    /** Tensor name in the exported graph. */
    name: string;
    /** `[batch, height, width, 1]`; batch is `"batch"` (any) in ONNX and 1 in TFLite. */
    shape: [number | 'batch', number, number, 1];
    layout: 'NHWC';
    dtype: 'float32';
    /** Values in [0, 1], ink = 1, paper = 0. */
    range: [0, 1];
  };
  output: {
    name: string;
    /** `[batch, classes]` float32 softmax probabilities in `classes` order. */
    shape: [number | 'batch', number];
    dtype: 'float32';
  };
  /** Profile name from the model's metadata, and what it does. */
  preprocessing: { profile: string; description: string };
  classes: string[];
  /** A class meaning "none of the others" (an answer of no label); absent: every class is an answer. */
  rejectClass?: string;
  /**
   * Temperature scaling to apply to the output for calibrated probabilities: `softmax(log(p) / temperature)`, then
   * `rejectShift` added to the rejection class's scaled log-probability before normalizing. Absent: use p as it is.
   */
  calibration?: { temperature: number; rejectShift?: number };
  /** Top-1 test accuracy of the TF.js model in [0, 1] and where it was measured, from its metadata. */
  testAccuracy: number | null;
  testData: string | null;
  /** The `hwr export` command and the hwr version that wrote it, and SHA-256 of the source model's weights. */
  exportedBy: { command: string; version: string; sourceWeightsSha256: string };
}

/**
 * Builds the sidecar of an export of the model described by `metadata`.
 * @param options.command the export command line, for reproduction
 */
export function exportSidecar(
  metadata: ModelMetadata,
  options: {
    modelFormat: 'onnx' | 'tflite';
    modelFile: string;
    quantization: QuantizeMode;
    inputName: string;
    outputName: string;
    batch: number | 'batch';
    command: string;
    version: string;
    sourceWeightsSha256: string;
  },
): ExportSidecar {
  const [height, width] = metadata.inputShape;
  const calibration = metadata.calibration;
  return {
    format: SIDECAR_FORMAT,
    version: SIDECAR_VERSION,
    modelFormat: options.modelFormat,
    modelFile: options.modelFile,
    name: metadata.name,
    architecture: metadata.architecture,
    quantization: options.quantization,
    input: { name: options.inputName, shape: [options.batch, height, width, 1], layout: 'NHWC', dtype: 'float32', range: [0, 1] },
    output: { name: options.outputName, shape: [options.batch, metadata.classes.length], dtype: 'float32' },
    preprocessing: {
      profile: metadata.preprocessing,
      description: PROFILE_TEXT[metadata.preprocessing] ?? `profile "${metadata.preprocessing}" (see src/core/preprocessing.ts of hwr)`,
    },
    classes: [...metadata.classes],
    ...(metadata.rejectClass !== undefined ? { rejectClass: metadata.rejectClass } : {}),
    ...(calibration?.temperature !== undefined
      ? { calibration: { temperature: calibration.temperature, ...(calibration.rejectShift !== undefined ? { rejectShift: calibration.rejectShift } : {}) } }
      : {}),
    testAccuracy: metadata.testAccuracy,
    testData: metadata.testData,
    exportedBy: { command: options.command, version: options.version, sourceWeightsSha256: options.sourceWeightsSha256 },
  };
}

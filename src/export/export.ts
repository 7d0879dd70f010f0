/**
 * `hwr export` as a library call: a model folder -> an ONNX or TFLite file (float32, float16 weights or int8),
 * with the sidecar that lets other runtimes use it (./sidecar.ts). Node-only (reads model folders and datasets).
 *
 * int8 needs calibration: the ranges of every activation on N images the model was trained on
 * (`calibrationImages`): MNIST train images for MNIST-preprocessed models, synthetic handwriting of the model's
 * characters (src/data/synth) for models with a charset, or the train writers of a folder of GNT files.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { hwrError } from '../core/errors.ts';
import { fitInkToBox } from '../core/profiles.ts';
import type { ModelMetadata } from '../core/types.ts';
import { createRng } from '../data/augment.ts';
import { hwdbFolderOf, HwdbStream, indexHwdbFolder } from '../data/hwdb.ts';
import { loadMnist } from '../data/mnist.ts';
import { handwrite } from '../data/synth/handwriting.ts';
import { loadHanziInk } from '../data/synth/hanziStrokes.ts';
import { renderCharacter, syntheticWriter } from '../data/synth/synthesize.ts';
import { activationRanges, lowerModel, type ActivationRange, type LoweredGraph } from './lower.ts';
import { ONNX_INPUT, ONNX_OUTPUT, toOnnx } from './onnx.ts';
import type { QuantizeMode } from './quantize.ts';
import { exportSidecar, type ExportSidecar } from './sidecar.ts';
import { TFLITE_INPUT_NAME, TFLITE_OUTPUT_NAME, toTflite } from './tflite.ts';

/** Formats `hwr export` writes. */
export const EXPORT_FORMATS = ['onnx', 'tflite'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Where calibration images come from: `mnist`, `synth`, or `hwdb:DIR`. */
export type CalibrationSource = string;

/** Options of `exportModel`. */
export interface ExportOptions {
  format: ExportFormat;
  quantize: QuantizeMode;
  /** With int8: images that calibrate the activation ranges (default 1000). */
  calibration?: number;
  /** With int8: `mnist`, `synth` or `hwdb:DIR`; default from the model (see `defaultCalibrationSource`). */
  calibrationData?: CalibrationSource;
  /** File name the sidecar names as the model file. */
  modelFile: string;
  /** The command line, recorded in the sidecar. */
  command: string;
  /** hwr version recorded in the sidecar. */
  version: string;
  /** SHA-256 hex of the source model's weights (`modelWeightsSha256`). */
  sourceWeightsSha256: string;
}

/** What `exportModel` produced. */
export interface ExportResult {
  bytes: Uint8Array;
  sidecar: ExportSidecar;
  graph: LoweredGraph;
  /** With int8: how many images calibrated it, from where, and the ranges. */
  calibration?: { count: number; source: string; ranges: ActivationRange[] };
}

/**
 * The default calibration source of a model: `synth` for a model with a `charset` (or the CJK profile), `mnist` for
 * MNIST-preprocessed models of 28x28 input.
 * @throws HwrError `BAD_ARGUMENT` when neither fits (then `--calibration-data hwdb:DIR` must say)
 */
export function defaultCalibrationSource(metadata: ModelMetadata): CalibrationSource {
  if (metadata.charset !== undefined || metadata.preprocessing.startsWith('cjk-')) return 'synth';
  if (metadata.preprocessing.startsWith('mnist-') && metadata.inputShape[0] === 28 && metadata.inputShape[1] === 28) return 'mnist';
  throw hwrError('BAD_ARGUMENT', `${metadata.name}: no default calibration data for preprocessing "${metadata.preprocessing}": pass --calibration-data hwdb:DIR (GNT files of its training data)`);
}

/**
 * `count` images the model was trained on (or like them), preprocessed as the model expects, for calibration.
 * - `mnist`: `count` MNIST train images, evenly spaced over the 60,000.
 * - `synth`: one synthetic writer per image (src/data/synth, seed 7, writers unlike the training seeds 1 and 2)
 *   writing the model's classes in turn (every `classes.length / count`-th class), fitted by the CJK profile.
 * - `hwdb:DIR`: the first `count` samples of the train writers of a folder of GNT files.
 * @returns `[count, h, w, 1]` float32 in [0, 1], ink = 1; `count` may be lower than asked when the data has fewer
 * @throws HwrError `BAD_ARGUMENT` for an unknown source, or one that does not fit the model's input
 */
export async function calibrationImages(metadata: ModelMetadata, source: CalibrationSource, count: number): Promise<{ images: Float32Array; count: number; source: string }> {
  const [height, width] = metadata.inputShape;
  if (source === 'mnist') {
    if (height !== 28 || width !== 28) throw hwrError('BAD_ARGUMENT', `--calibration-data mnist: MNIST images are 28x28, the model takes ${height}x${width}`);
    const { train } = await loadMnist();
    const n = Math.min(count, train.count);
    const pixels = height * width;
    const images = new Float32Array(n * pixels);
    for (let i = 0; i < n; i++) {
      const from = Math.floor((i * train.count) / n) * pixels;
      for (let p = 0; p < pixels; p++) images[i * pixels + p] = train.images[from + p]! / 255;
    }
    return { images, count: n, source: `${n} MNIST train images (every ${Math.floor(train.count / n)}th)` };
  }
  if (source === 'synth') {
    if (height !== width) throw hwrError('BAD_ARGUMENT', `--calibration-data synth: the model's input ${height}x${width} is not square`);
    const classes = metadata.classes.filter((label) => label !== metadata.rejectClass);
    const images = new Float32Array(count * height * width);
    const rng = createRng(7);
    for (let i = 0; i < count; i++) {
      const label = classes[Math.floor((i * classes.length) / count) % classes.length]!;
      const reference = await loadHanziInk(label).catch((error: unknown) => {
        throw hwrError('BAD_ARGUMENT', `--calibration-data synth: no stroke data for class "${label}" (synthetic handwriting covers Chinese characters only; use --calibration-data hwdb:DIR)`, error);
      });
      const writer = syntheticWriter(7, i + 1);
      const gray = renderCharacter(label, handwrite(reference, writer.style, writer.rng), writer.style, rng);
      const fitted = fitInkToBox({ width: gray.width, height: gray.height, data: gray.pixels }, { size: height });
      for (let p = 0; p < fitted.length; p++) images[i * height * width + p] = fitted[p]! / 255;
    }
    return { images, count, source: `${count} synthetic handwritten characters (seed 7, one writer each)` };
  }
  const dir = hwdbFolderOf(source);
  if (dir === null) throw hwrError('BAD_ARGUMENT', `--calibration-data: expected mnist, synth or hwdb:DIR, got "${source}"`);
  if (height !== width) throw hwrError('BAD_ARGUMENT', `--calibration-data ${source}: the model's input ${height}x${width} is not square`);
  const index = await indexHwdbFolder(dir, { split: 'train' });
  const stream = new HwdbStream({ index, classes: metadata.classes, size: height, split: 'train', seed: 7, limit: count });
  const images = new Float32Array(stream.count * height * width);
  let n = 0;
  for await (const batch of stream.batches(null, 256)) {
    images.set(batch.xs, n * height * width);
    n += batch.count;
  }
  if (n === 0) throw hwrError('BAD_ARGUMENT', `--calibration-data ${source}: no usable train samples`);
  return { images: images.subarray(0, n * height * width), count: n, source: `${n} samples of the train writers of ${dir}` };
}

/**
 * Exports a loaded model: lowers it (./lower.ts), calibrates it for int8, writes the format.
 * @throws HwrError `UNSUPPORTED_MODEL` for a layer the exporters cannot express; `BAD_ARGUMENT` for bad options
 */
export async function exportModel(model: LayersModel, metadata: ModelMetadata, options: ExportOptions): Promise<ExportResult> {
  const graph = lowerModel(model);
  let calibration: ExportResult['calibration'];
  if (options.quantize === 'int8') {
    const source = options.calibrationData ?? defaultCalibrationSource(metadata);
    const data = await calibrationImages(metadata, source, options.calibration ?? 1000);
    calibration = { count: data.count, source: data.source, ranges: await activationRanges(model, graph, data.images, data.count) };
  }
  const onnx = options.format === 'onnx';
  const sidecar = exportSidecar(metadata, {
    modelFormat: options.format,
    modelFile: options.modelFile,
    quantization: options.quantize,
    inputName: onnx ? ONNX_INPUT : TFLITE_INPUT_NAME,
    outputName: onnx ? ONNX_OUTPUT : TFLITE_OUTPUT_NAME,
    batch: onnx ? 'batch' : 1,
    command: options.command,
    version: options.version,
    sourceWeightsSha256: options.sourceWeightsSha256,
  });
  const json = JSON.stringify(sidecar);
  const bytes = onnx
    ? toOnnx(graph, { quantize: options.quantize, ranges: calibration?.ranges, metadataProps: { hwr: json }, producerVersion: options.version })
    : toTflite(graph, { quantize: options.quantize, ranges: calibration?.ranges, metadata: { hwr: json }, description: `hwr ${metadata.name} (${metadata.architecture}), ${options.quantize}` });
  return { bytes, sidecar, graph, ...(calibration ? { calibration } : {}) };
}

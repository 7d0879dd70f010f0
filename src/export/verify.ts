/**
 * Checks an exported model with a runtime that is not this project's, against the TF.js model it came from:
 * ONNX files with ONNX Runtime (onnxruntime-node), TFLite files with ArmNN's TFLite parser and reference backend
 * (scripts/armnn_run.py, Debian's python3-pyarmnn) where it is installed. Node-only.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { writeFile, rm } from 'node:fs/promises';
import { roundToFloat16 } from '../core/float16.ts';
import { tfjsEngine, topKIndices } from '../core/recognizer.ts';
import { onnxruntimeEngine } from '../node/onnxEngine.ts';
import type { ExportFormat } from './export.ts';
import type { LoweredGraph } from './lower.ts';
import type { QuantizeMode } from './quantize.ts';
import { toTflite } from './tflite.ts';

/** What `verifyExport` found. */
export interface ExportCheck {
  /** The runtime that ran the exported file, e.g. `ONNX Runtime 1.30.0`. */
  runtime: string;
  /** Images compared. */
  count: number;
  /** Images whose most probable class is the same in both. */
  sameTop1: number;
  /** Largest absolute difference of any probability. */
  maxAbsDiff: number;
  /** Why nothing was compared (the runtime is not installed); absent when compared. */
  skipped?: string;
  /** What was run instead of the file itself, when the runtime cannot run the file's layout. */
  note?: string;
}

/** Argmax of row `row` of a `[rows, width]` matrix. */
const argmax = (values: Float32Array, row: number, width: number): number => topKIndices(values.subarray(row * width, (row + 1) * width), 1)[0]!;

/**
 * Runs `count` images through the exported bytes and through `model`, and compares the probabilities.
 * @param images `[count, h, w, 1]` float32 in [0, 1]
 * @param path   the exported file (the TFLite check reads it from disk)
 * @throws HwrError `BAD_MODEL` when the runtime cannot load the file (the exported file is then wrong)
 */
export async function verifyExport(
  format: ExportFormat,
  bytes: Uint8Array,
  path: string,
  model: LayersModel,
  images: Float32Array,
  count: number,
  exported?: { graph: LoweredGraph; quantize: QuantizeMode },
): Promise<ExportCheck> {
  // The TF.js engine of the recognizer, not disposed: the model stays the caller's.
  const expected = await tfjsEngine(model).run(images, count);
  const classes = expected.length / count;
  let actual: Float32Array;
  let runtime: string;
  let note: string | undefined;
  if (format === 'onnx') {
    const engine = await onnxruntimeEngine(bytes, { name: path });
    try {
      actual = await engine.run(images, count);
    } finally {
      engine.dispose();
    }
    const ort = await import('onnxruntime-node');
    runtime = `ONNX Runtime ${ort.env.versions.node ?? ''}`.trim();
  } else {
    const { runArmnn, armnnAvailable } = await import('./armnn.ts');
    const why = armnnAvailable();
    if (why !== null) return { runtime: 'ArmNN', count: 0, sameTop1: 0, maxAbsDiff: 0, skipped: why };
    runtime = 'ArmNN TFLite parser (CpuRef)';
    if (exported?.quantize === 'float16') {
      // ArmNN 20.08 cannot run TFLite's float16 layout (FLOAT16 constants behind DEQUANTIZE); run the same
      // half-precision weights written as float32 instead.
      const halfGraph: LoweredGraph = {
        ...exported.graph,
        ops: exported.graph.ops.map((op) => ('kernel' in op ? { ...op, kernel: roundToFloat16(op.kernel), bias: roundToFloat16(op.bias) } : op)),
      };
      const expanded = `${path}.float32-check.tflite`;
      await writeFile(expanded, toTflite(halfGraph, { quantize: 'float32' }));
      try {
        actual = await runArmnn(expanded, images, count, classes);
      } finally {
        await rm(expanded, { force: true });
      }
      note = "its half-precision weights written as float32 (ArmNN 20.08 does not run TFLite's float16 layout, FLOAT16 weights behind DEQUANTIZE; TensorFlow Lite does)";
    } else {
      actual = await runArmnn(path, images, count, classes);
    }
  }
  let sameTop1 = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < count; i++) if (argmax(expected, i, classes) === argmax(actual, i, classes)) sameTop1++;
  for (let i = 0; i < expected.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected[i]! - actual[i]!));
  return { runtime, count, sameTop1, maxAbsDiff, ...(note ? { note } : {}) };
}

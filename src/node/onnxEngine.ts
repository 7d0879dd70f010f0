/**
 * ONNX Runtime (`onnxruntime-node`, Microsoft's native CPU runtime) as an `InferenceEngine` for Node: the engine the
 * CLI and the server use by default (see `loadRecognizer` in ./recognizer.ts), with TF.js as the fallback.
 *
 * ```ts
 * const engine = await onnxruntimeEngine('models/digits/model.onnx', { threads: 1 });
 * const probabilities = await engine.run(inputs, count);   // [count, 28, 28, 1] in -> [count * classes] out
 * ```
 *
 * The session runs with `intraOpNumThreads` = `threads` (default 1: the server's pool already has one worker per
 * core, so more threads per session would only compete), `interOpNumThreads` 1, sequential execution and every
 * graph optimization (`graphOptimizationLevel: 'all'`), as in ONNX Runtime's performance tuning guide
 * (https://onnxruntime.ai/docs/performance/tune-performance/threading.html).
 */
import { readFile } from 'node:fs/promises';
import type * as Ort from 'onnxruntime-node';
import { hwrError, isHwrError } from '../core/errors.ts';
import type { InferenceEngine } from '../core/recognizer.ts';

/** `InferenceEngine.name` of this engine. */
export const ONNXRUNTIME_ENGINE = 'onnxruntime';

/** The `onnxruntime-node` module. */
export type OnnxRuntime = typeof Ort;

let runtime: Promise<OnnxRuntime> | undefined;

/**
 * Imports `onnxruntime-node` once (its native binary loads with it).
 * @throws HwrError `UNSUPPORTED_MODEL` when it cannot be imported (no binary for this platform, a broken install),
 *   naming the platform and the reason
 */
export async function loadOnnxRuntime(): Promise<OnnxRuntime> {
  runtime ??= import('onnxruntime-node').then(
    (module) => module,
    (error: unknown) => {
      runtime = undefined;
      const reason = (error as Error).message?.split('\n')[0] ?? String(error);
      throw hwrError('UNSUPPORTED_MODEL', `onnxruntime-node cannot be loaded on ${process.platform}-${process.arch} (Node ${process.versions.node}): ${reason}`, error);
    },
  );
  return runtime;
}

/** Options of `onnxruntimeEngine`. */
export interface OnnxEngineOptions {
  /** Intra-op threads of the session; default 1. */
  threads?: number;
  /** What to call the model in error messages; default the path, or `ONNX model` for bytes. */
  name?: string;
}

/** An `InferenceEngine` on an ONNX Runtime session, with the shapes the model declares. */
export interface OnnxEngine extends InferenceEngine {
  /** `[height, width]` of one input image, from the model's input `[batch, height, width, 1]`. */
  readonly inputShape: [number, number];
  /** Values per image in the output `[batch, classes]`: the number of classes. */
  readonly classes: number;
  /** Names of the graph's input and output (`image` and `probabilities` for models written by `hwr export`). */
  readonly inputName: string;
  readonly outputName: string;
}

/** A static dimension of a value's shape, or NaN when symbolic (`"batch"`) or unknown. */
function staticDim(metadata: Ort.InferenceSession.ValueMetadata | undefined, index: number): number {
  if (!metadata?.isTensor) return NaN;
  const dim = metadata.shape[index];
  return typeof dim === 'number' && dim > 0 ? dim : NaN;
}

/**
 * Creates an ONNX Runtime session for an ONNX model that takes `[batch, height, width, 1]` float32 NHWC images in
 * [0, 1] (its first input) and answers `[batch, classes]` float32 probabilities (its first output), as the models
 * `hwr export --format onnx` writes (src/export/onnx.ts).
 * @param source the model's bytes, or the path of a `.onnx` file
 * @throws HwrError `FILE_NOT_FOUND` for a path that cannot be read; `BAD_MODEL` (one line naming the file) when ONNX
 *   Runtime cannot load it, or its first input is not `[batch, h, w, 1]` float32 or its first output not
 *   `[batch, classes]`; `UNSUPPORTED_MODEL` when onnxruntime-node cannot be loaded on this platform;
 *   `BAD_ARGUMENT` for a thread count that is not a positive integer
 */
export async function onnxruntimeEngine(source: Uint8Array | string, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw hwrError('BAD_ARGUMENT', `ONNX Runtime threads: expected a positive integer, got ${threads}`);
  const name = options.name ?? (typeof source === 'string' ? source : 'ONNX model');
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (error) {
      throw hwrError('FILE_NOT_FOUND', `${source}: cannot read: ${(error as Error).message}`, error);
    }
  } else {
    bytes = source;
  }
  const ort = await loadOnnxRuntime();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Warnings of the runtime (e.g. about unused initializers) would reach stderr of every CLI run; errors still throw.
      logSeverityLevel: 3,
    });
  } catch (error) {
    const reason = String((error as Error).message ?? error).split('\n')[0];
    throw hwrError('BAD_MODEL', `${name}: not a valid ONNX model: ${reason}`, error);
  }
  try {
    return sessionEngine(ort, session, name);
  } catch (error) {
    await session.release().catch(() => {});
    throw error;
  }
}

/** Wraps a loaded session; checks its input and output shapes. */
function sessionEngine(ort: OnnxRuntime, session: Ort.InferenceSession, name: string): OnnxEngine {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const input = session.inputMetadata[0];
  const output = session.outputMetadata[0];
  if (inputName === undefined || outputName === undefined) throw hwrError('BAD_MODEL', `${name}: the ONNX model has no input or no output`);
  const height = staticDim(input, 1);
  const width = staticDim(input, 2);
  const inputOk = input?.isTensor === true && input.type === 'float32' && input.shape.length === 4 && staticDim(input, 3) === 1 && height > 0 && width > 0;
  if (!inputOk) {
    const shape = input?.isTensor ? `${input.type} [${input.shape.join(', ')}]` : 'not a tensor';
    throw hwrError('BAD_MODEL', `${name}: input "${inputName}" is ${shape}, expected float32 [batch, height, width, 1]`);
  }
  const classes = staticDim(output, 1);
  if (!(output?.isTensor === true && output.shape.length === 2 && classes > 0)) {
    const shape = output?.isTensor ? `[${output.shape.join(', ')}]` : 'not a tensor';
    throw hwrError('BAD_MODEL', `${name}: output "${outputName}" is ${shape}, expected [batch, classes]`);
  }
  const pixels = height * width;
  let released = false;
  return {
    name: ONNXRUNTIME_ENGINE,
    inputShape: [height, width],
    classes,
    inputName,
    outputName,
    async run(inputs, count) {
      if (count === 0) return new Float32Array(0);
      if (released) throw hwrError('BAD_ARGUMENT', `${name}: the ONNX Runtime session was released`);
      if (inputs.length !== count * pixels) throw hwrError('BAD_ARGUMENT', `${name}: ${inputs.length} input values are not ${count} images of ${height}x${width}`);
      const feed = new ort.Tensor('float32', inputs, [count, height, width, 1]);
      const results = await session.run({ [inputName]: feed });
      const out = results[outputName] as Ort.Tensor | undefined;
      if (!out || !(out.data instanceof Float32Array) || out.data.length !== count * classes) {
        throw hwrError('BAD_MODEL', `${name}: output "${outputName}" is not ${count} x ${classes} float32 values`);
      }
      return out.data;
    },
    dispose() {
      if (released) return;
      released = true;
      session.release().catch(() => {});
    },
  };
}

/** True when `error` says ONNX Runtime itself is missing here (as opposed to a bad model). */
export function isRuntimeMissing(error: unknown): boolean {
  return isHwrError(error) && error.code === 'UNSUPPORTED_MODEL' && /onnxruntime-node cannot be loaded/.test(error.message);
}

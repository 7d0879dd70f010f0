/**
 * The page's ONNX Runtime engine: an `InferenceEngine` (src/core/recognizer.ts) that runs a model's ONNX form
 * (`model.onnx`, written at build time by vite.config.ts with `toOnnx` from src/export/onnx.ts) with
 * onnxruntime-web's WebAssembly build (`ort-wasm-simd-threaded.wasm`, needs wasm SIMD).
 * Threads: a page that is not cross-origin isolated (no `SharedArrayBuffer`) runs one thread; an isolated one may
 * run several (`threads`). Runs in the recognition worker already, so ONNX Runtime's own proxy worker stays off.
 *
 * Imports nothing Node-only.
 */
import * as ort from 'onnxruntime-web/wasm';
import type { InferenceEngine } from '../../../src/core/recognizer.ts';
import { hwrError } from '../../../src/core/errors.ts';

/** The name the engine reports (`InferenceEngine.name`). */
export const ORT_WEB_ENGINE = 'onnxruntime-web';

/** ONNX Runtime's files in the app's `wasm/` folder (vite.config.ts publishes the package's `.mjs` glue as `.js`). */
export const ORT_WASM_FILES = { wasm: 'ort-wasm-simd-threaded.wasm', glue: 'ort-wasm-simd-threaded.js' } as const;

/** Options of `createOrtWebEngine`. */
export interface OrtWebOptions {
  /**
   * Absolute URL of the folder holding ONNX Runtime's `ort-wasm-simd-threaded.wasm` and its glue, published as
   * `ort-wasm-simd-threaded.js` (see vite.config.ts), ending in `/`.
   */
  wasmUrl: string;
  /** Model input `[height, width]` in px (the metadata's `inputShape`). */
  inputSize: [number, number];
  /**
   * Intra-op threads; default 1. More than 1 only takes effect where the page is cross-origin isolated
   * (`crossOriginIsolated`), since ONNX Runtime's threads share memory; elsewhere 1 is used.
   */
  threads?: number;
}

/** An ONNX Runtime Web engine and the threads it runs. */
export type OrtWebEngine = InferenceEngine & { readonly threads: number };

/** Threads ONNX Runtime may use here: `wanted` where the page is cross-origin isolated, else 1. */
export function usableThreads(wanted = 1): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return isolated ? Math.max(1, Math.floor(wanted)) : 1;
}

/**
 * Starts an ONNX Runtime Web session on `model` (the bytes of a `.onnx` file whose first input is
 * `[batch, height, width, 1]` float32 NHWC in [0, 1] and whose first output is `[batch, classes]` probabilities,
 * as `toOnnx` writes them).
 * ONNX Runtime's settings (`ort.env.wasm`) are global to the worker: the first engine's `wasmUrl` and thread count
 * hold for every later one.
 * @returns the engine; `run(inputs, count)` takes `[count * height * width]` float32 and answers
 *   `[count * classes]` float32.
 * @throws HwrError `BAD_MODEL` when the runtime cannot start (no wasm SIMD, the .wasm missing) or the model is not
 *   one it can run.
 */
export async function createOrtWebEngine(model: Uint8Array, options: OrtWebOptions): Promise<OrtWebEngine> {
  const threads = usableThreads(options.threads);
  ort.env.wasm.wasmPaths = { wasm: `${options.wasmUrl}${ORT_WASM_FILES.wasm}`, mjs: `${options.wasmUrl}${ORT_WASM_FILES.glue}` };
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  } catch (error) {
    throw hwrError('BAD_MODEL', `ONNX Runtime Web could not start on the model: ${(error as Error).message ?? String(error)}`, error);
  }
  const [height, width] = options.inputSize;
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  return {
    name: ORT_WEB_ENGINE,
    threads,
    async run(inputs, count) {
      if (count === 0) return new Float32Array(0);
      const input = new ort.Tensor('float32', inputs, [count, height, width, 1]);
      const outputs = await session.run({ [inputName]: input });
      const output = outputs[outputName]!;
      const data = output.data as Float32Array;
      return data;
    },
    dispose() {
      void session.release();
    },
  };
}

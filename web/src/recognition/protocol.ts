/**
 * Messages between the page and the recognition worker (recognition.worker.ts).
 * Pixel and result buffers are transferred, not copied.
 */
import type { SizedInk } from '../../../src/core/ink.ts';
import type { LineReading } from '../../../src/core/line/types.ts';
import type { ClassProbability, Recognition } from '../../../src/core/recognizer.ts';
import type { ModelMetadata } from '../../../src/core/types.ts';
import type { ModelFiles } from '../training/types.ts';
import type { EngineChoice } from './types.ts';

/**
 * Page -> worker. `load` a model folder by URL, or `load-files` a model the page holds (a taught script's; TF.js);
 * then `recognize` pixels (RGBA, any size) or `recognize-ink` the pad's strokes (drawn by the core's `inkImageFor`),
 * or `read` a whole line of ink (Line mode: the core's `readLine`, src/core/line/readLine.ts, with `options`).
 */
export type WorkerRequest =
  | { type: 'load'; modelUrl: string; wasmUrl: string; engine?: EngineChoice }
  | { type: 'load-files'; files: ModelFiles; wasmUrl: string }
  | { type: 'recognize'; id: number; width: number; height: number; pixels: ArrayBuffer }
  | { type: 'recognize-ink'; id: number; ink: SizedInk }
  | { type: 'read'; id: number; ink: SizedInk; options: LineReadOptions };

/**
 * What Line mode passes to `readLine` (a subset of `ReadLineOptions`, src/core/line/types.ts, that survives
 * `postMessage`): `pattern` as a string (a JavaScript regular expression, anchored), `words`, `topK`.
 */
export interface LineReadOptions {
  pattern?: string;
  words?: string[];
  topK?: number;
}

/** Worker -> page. `error.code` is an `HwrErrorCode` (e.g. `NO_INK`, `BAD_MODEL`) or `INTERNAL_ERROR`. */
export type WorkerResponse =
  | { type: 'progress'; loaded: number; total: number; cached: boolean }
  /** `engine`: what runs the model (`onnxruntime-web` or `tfjs`); `backend`: how, e.g. `wasm, 1 thread`. */
  | { type: 'loaded'; metadata: ModelMetadata; engine: string; backend: string }
  | { type: 'load-failed'; error: { code: string; message: string } }
  | {
      type: 'result';
      id: number;
      /** null when the model rejects the drawing; `reason` then says why. */
      label: string | null;
      reason?: string;
      probability: number;
      probabilities: number[];
      /** The most probable classes, most probable first (3 for digits, 10 for a large vocabulary: `defaultTopK`). */
      candidates: ClassProbability[];
      /** `[size * size]` float32 in [0, 1], ink = 1: the model's input (28x28 for digits, 64x64 for hanzi). */
      processed: Float32Array;
      timings: { preprocessMs: number; inferenceMs: number };
    }
  /** The answer to `read`: the line as `readLine` read it (boxes in the ink's units). */
  | { type: 'reading'; id: number; reading: LineReading }
  | { type: 'failed'; id: number; error: { code: string; message: string } };

/**
 * The `result` message for a recognition (its `topK` as `candidates`), in the worker and on the page alike.
 * @param processed the image the model saw, default `result.processed` (the worker passes a copy it transfers).
 */
export function resultMessage(id: number, result: Recognition, processed = result.processed): WorkerResponse & { type: 'result' } {
  const { label, reason, probability, probabilities, topK: candidates, timings } = result;
  return { type: 'result', id, label, ...(reason === undefined ? {} : { reason }), probability, probabilities, candidates, processed, timings };
}

/** `{ code, message }` of anything thrown. */
export function describeError(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL_ERROR',
    message: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Messages between the benchmark page (./page.ts) and its workers (./bench.worker.ts); see bench/web-engines.ts.
 */
import type { EngineChoice } from '../../web/src/recognition/types.ts';

/** What the worker times: the forward pass on one image, `Recognizer.recognize` of the drawing, or a batch. */
export type TimedKind = 'inference' | 'recognize' | 'batch';

/** Page -> worker. */
export type BenchRequest =
  | {
      /** Load the model with `engine` and prepare the inputs. */
      type: 'load';
      modelUrl: string;
      wasmUrl: string;
      engine: EngineChoice;
      /** ONNX Runtime's threads (used where the page is cross-origin isolated). */
      threads: number;
      /** The drawing: RGBA pixels of a `size` x `size` canvas, black ink on white. */
      pixels: ArrayBuffer;
      size: number;
      /** Batch size of the `batch` measurement. */
      batch: number;
    }
  /** Time `calls` calls of `kind`, ms each. */
  | { type: 'time'; kind: TimedKind; calls: number }
  /** Recognize one drawing (the page times the round trip). */
  | { type: 'recognize'; pixels: ArrayBuffer; size: number };

/** Worker -> page: the answer to `load`. */
export interface LoadedAnswer {
  type: 'loaded';
  engine: string;
  backend: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  /** From `loadInBrowser` called to the recognizer ready (files from the HTTP server, no cache), ms. */
  loadMs: number;
  /** The first forward pass (one image) after loading, ms. */
  firstRunMs: number;
  /** The engine's uncalibrated probabilities of the preprocessed drawing, to compare the engines. */
  probabilities: number[];
  /** The recognized label of the drawing. */
  label: string | null;
}

/** Worker -> page: the answer to `time`. */
export interface TimesAnswer {
  type: 'times';
  times: number[];
}

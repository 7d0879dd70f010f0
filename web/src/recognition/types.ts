/**
 * What the page's two recognition engines (in the browser, on the server) have in common,
 * so the UI renders their answers the same way.
 */
import type { SizedInk } from '../../../src/core/ink.ts';
import type { LineReading } from '../../../src/core/line/types.ts';
import type { ClassProbability } from '../../../src/core/recognizer.ts';
import type { PixelBuffer } from '../../../src/core/types.ts';
import type { LineReadOptions } from './protocol.ts';

/** Where recognition runs; also the values of the mode `<select data-testid="mode">`. */
export type RecognitionMode = 'browser' | 'server';

/** A script with a shipped model: `models/<script>/` in the app, `model=<script>` on the server. */
export type ShippedScript = 'digits' | 'hanzi';

/** The shipped scripts, in the order of the script switch. */
export const SHIPPED_SCRIPTS: readonly ShippedScript[] = ['digits', 'hanzi'];

/**
 * What the pad writes: a shipped script, or one taught in the page (`taught:<name>`, its model trained in the browser
 * and kept in IndexedDB; web/src/teach/). Also the values of the script `<select data-testid="script">`.
 */
export type Script = ShippedScript | `taught:${string}`;

/** True for `digits` and `hanzi`. */
export function isShippedScript(script: string): script is ShippedScript {
  return (SHIPPED_SCRIPTS as readonly string[]).includes(script);
}

/**
 * What runs the model in the browser (see loadInBrowser.ts): TF.js (its wasm backend), or ONNX Runtime Web on the
 * build's model.onnx, which falls back to TF.js when it cannot start. The page takes it from its URL
 * (`?engine=onnxruntime-web`); default `DEFAULT_ENGINE`.
 */
export type EngineChoice = 'tfjs' | 'onnxruntime-web';

/** The values `EngineChoice` takes. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['tfjs', 'onnxruntime-web'];

/**
 * The page's engine unless its URL asks for another (`?engine=tfjs`): ONNX Runtime Web, the faster of the two on the
 * shipped models. Measured in Chromium on an idle machine (bench/web-engines.ts, figures in notes/EXPORT.md, "Browser:
 * onnxruntime-web vs TF.js wasm"): a drawing's whole recognition in the worker takes a median 5.3 ms against 7.6 ms
 * for digits and 3.9 against 4.6 ms for hanzi, the forward pass 1.3-1.8x faster. It costs 3.7 MB gzipped of wasm
 * (TF.js's is 0.14 MB), fetched once and then cached by the browser, and about 0.4 s more start-up; where it cannot
 * start, the worker falls back to TF.js.
 */
export const DEFAULT_ENGINE: EngineChoice = 'onnxruntime-web';

/** The engine a page URL's query asks for (`?engine=onnxruntime-web`); `DEFAULT_ENGINE` when absent or unknown. */
export function engineChoiceFromQuery(search: string): EngineChoice {
  const asked = new URLSearchParams(search).get('engine');
  return ENGINE_CHOICES.find((choice) => choice === asked) ?? DEFAULT_ENGINE;
}

/** One answer, from either engine. */
export interface PadRecognition {
  mode: RecognitionMode;
  /** Recognized class label, e.g. `"7"`; null when the model rejects the drawing (not a digit), see `reason`. */
  label: string | null;
  /** Present when `label` is null: why, e.g. `"not a digit"`. */
  reason?: string;
  /** Probability of `label` (of the rejection when `label` is null), in [0, 1]. */
  probability: number;
  /** One probability per class, in the order of `classes`. */
  probabilities: number[];
  /**
   * Class labels, e.g. `["0", ..., "9"]`, with the model's rejection class (e.g. `"none"`) if it has one; empty when
   * the engine gave only candidates (the server's answer for a large vocabulary), and then `probabilities` is empty too.
   */
  classes: string[];
  /** The most probable classes, most probable first: 3 for digits, 10 for hanzi (the page's candidate buttons). */
  candidates: ClassProbability[];
  /** The image the model saw (28x28 for digits, 64x64 for hanzi), as opaque RGBA pixels, white ink on black. */
  processed: PixelBuffer;
  /**
   * Milliseconds: `totalMs` as measured by the page (round trip), the rest as reported by the engine (the server's
   * answer for a large vocabulary may give only its total, then in `preprocessMs` + `inferenceMs` as `inferenceMs`).
   */
  timings: { totalMs: number; decodeMs?: number; preprocessMs: number; inferenceMs: number };
}

/** A recognition failure the page explains to the user; `code` is an `HwrErrorCode` or a server/page code. */
export class PadRecognitionError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'PadRecognitionError';
    this.code = code;
  }
}

/**
 * An engine: recognizes the pad's ink when the page passes it (rendered by the core's `inkImageFor`, the pixels the
 * server and training see too), else the pad rendered on a canvas (black ink on white, any size).
 */
export interface RecognitionEngine {
  readonly mode: RecognitionMode;
  /**
   * @param drawing the pad's canvas: recognized when `ink` is absent.
   * @param ink the pad's strokes (`SizedInk`, src/core/ink.ts), in the canvas's pixels.
   * @throws PadRecognitionError with `code` `NO_INK` for a blank drawing, `SERVER_UNREACHABLE` when the server
   *         cannot be reached, `MODEL_UNAVAILABLE` when the model cannot be loaded, or the server's error code.
   */
  recognize(drawing: HTMLCanvasElement, ink?: SizedInk): Promise<PadRecognition>;
  /**
   * Reads a whole line of ink (Line mode): the core's `readLine` (src/core/line/readLine.ts) in the recognition worker,
   * or `POST api/read` on the server.
   * @param ink the line pad's strokes, in its ink units (`DrawingPad.ink()`): the answer's boxes are in these units.
   * @param options `pattern` (a regular expression the whole text must match), `words`, `topK`.
   * @throws PadRecognitionError as `recognize` does; `BAD_ARGUMENT` for a bad pattern.
   */
  read(ink: SizedInk, options: LineReadOptions): Promise<PadLineReading>;
}

/** One line read by an engine (Line mode). */
export interface PadLineReading {
  mode: RecognitionMode;
  /** The reading (`LineReading`, src/core/line/types.ts): text, characters with boxes in the ink's units, confidence. */
  reading: LineReading;
  /** Milliseconds from the request to the answer, as measured by the page (worker messages or HTTP included). */
  roundTripMs: number;
}

/** Short description of the model for the page footer. */
export interface ModelSummary {
  name: string;
  architecture: string;
  classes: string[];
  testAccuracy: number | null;
  /** The model's input `[height, width, 1]` (`[28, 28, 1]` for digits, `[64, 64, 1]` for hanzi); absent from an older server. */
  inputShape?: number[];
  /** How the model runs, e.g. `wasm` (TF.js's wasm backend) or `wasm, 1 thread` (ONNX Runtime Web's). */
  backend?: string;
  /** What runs the model in the browser: `onnxruntime-web` or `tfjs`; absent for the server's model. */
  engine?: string;
}

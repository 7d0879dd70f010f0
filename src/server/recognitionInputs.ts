/**
 * What the server recognizes: decoded pixels (an uploaded image), or ink (`{ ink }`, strokes from a request's
 * `ink` field) that is drawn by whoever recognizes it: a pool worker, or the server's thread without a pool. Ink
 * travels to the worker as points (a few hundred kB at most, `INK_LIMITS`) and is drawn there, so a large ink
 * (20,000 points: tens of ms, up to about half a second for a hostile zigzag) never holds up the event loop.
 * Lines to read (`LineJobInput`, `POST /api/read`) travel the same way: pixels or ink, read where they are read.
 */
import { inkImageFor } from '../core/preprocessing.ts';
import type { Ink } from '../core/ink.ts';
import type { Recognition } from '../core/recognizer.ts';
import type { ModelMetadata, PixelBuffer } from '../core/types.ts';
import type { ReadLineOptions } from '../core/line/types.ts';

/** Ink to recognize: validated strokes (`parseInk` from src/core/ink.ts), y down, any unit. */
export interface InkInput {
  ink: Ink;
}

/** One thing to recognize: RGBA pixels (`PixelBuffer`), or ink drawn at recognition with `inkImageFor`. */
export type RecognitionInput = PixelBuffer | InkInput;

/**
 * A line to read (`POST /api/read`): RGBA pixels of the uploaded image (decoded on the event loop, within the pixel
 * budget) or validated ink; `readLine`'s `LineInput` (src/core/line/readLine.ts), which a pool worker receives by
 * structured clone.
 */
export type LineJobInput = { image: PixelBuffer } | { ink: Ink };

/**
 * The options of a line read that cross to a worker: `ReadLineOptions` with the pattern as text (the server receives
 * it as text; a `RegExp` would lose its flags' meaning across threads).
 */
export type LineJobOptions = Omit<ReadLineOptions, 'pattern'> & { pattern?: string };

/** True when `input` is ink rather than pixels. */
export function isInkInput(input: RecognitionInput): input is InkInput {
  return (input as Partial<InkInput>).ink !== undefined;
}

/** What `recognizeInputs` needs of a recognizer: its metadata (for the pen width and profile) and its batch recognition. */
export interface BatchRecognizer {
  readonly metadata: Pick<ModelMetadata, 'preprocessing' | 'inkPenWidth'>;
  recognizeBatch(images: PixelBuffer[], options?: { names?: string[]; topK?: number; signal?: AbortSignal }): Promise<Array<Recognition | Error>>;
}

/**
 * Recognizes pixels and ink in one forward pass: each ink is drawn with `inkImageFor(ink, metadata)` (the one path
 * from ink to a model input, as `Recognizer.recognizeInk` takes it), and the time spent drawing it is added to its
 * `timings.preprocessMs`, as `recognizeInk` does. An ink that cannot be drawn (`NO_INK`) gets its error in its
 * slot; the other inputs are still recognized. Pixels pass through unchanged.
 *
 * @param recognizer a `Recognizer` (src/core/recognizer.ts) or any `RecognitionService` of the server
 * @param inputs     pixels or ink, in any mix
 * @param options    `names[i]` names input i in error messages; `topK` candidates; `signal` as the recognizer takes it
 * @returns one `Recognition` or `Error` per input, in order
 * @throws what `recognizer.recognizeBatch` throws for the whole batch (503 `BUSY`, an aborted signal, ...)
 */
export async function recognizeInputs(
  recognizer: BatchRecognizer,
  inputs: RecognitionInput[],
  options: { names?: string[]; topK?: number; signal?: AbortSignal } = {},
): Promise<Array<Recognition | Error>> {
  if (!inputs.some(isInkInput)) return recognizer.recognizeBatch(inputs as PixelBuffer[], options);
  const renderMs: number[] = [];
  const drawn: Array<PixelBuffer | Error> = inputs.map((input, i) => {
    renderMs[i] = 0;
    if (!isInkInput(input)) return input;
    const started = performance.now();
    try {
      return inkImageFor(input.ink, recognizer.metadata);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    } finally {
      renderMs[i] = performance.now() - started;
    }
  });
  const good = drawn.map((image, i) => ({ image, i })).filter((entry): entry is { image: PixelBuffer; i: number } => !(entry.image instanceof Error));
  const names = options.names ? good.map(({ i }) => options.names![i] ?? `image ${i}`) : undefined;
  const recognized = good.length === 0 ? [] : await recognizer.recognizeBatch(good.map(({ image }) => image), { ...options, ...(names ? { names } : {}) });
  const results: Array<Recognition | Error> = drawn.map((image) => image as Error);
  good.forEach(({ i }, j) => {
    const result = recognized[j]!;
    if (!(result instanceof Error)) result.timings.preprocessMs += renderMs[i]!;
    results[i] = result;
  });
  return results;
}

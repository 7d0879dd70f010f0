/**
 * Web Worker that runs the model off the UI thread (like Tesseract.js's workers), so drawing stays smooth, on
 * TF.js or ONNX Runtime Web (the `load` request's `engine`; see loadInBrowser.ts).
 * Protocol: see protocol.ts. One `load` (answered by `progress` messages as the weights arrive, then `loaded`) or
 * `load-files` (a model the page holds, answered by `loaded`), then any number of `recognize`, `recognize-ink` and
 * `read` (a whole line, Line mode: `readLine` of src/core/line/readLine.ts with the loaded recognizer and, for a
 * model loaded by URL, the segment verifier the app publishes for it: lineVerifier.ts, loaded on the first `read`)
 * requests, answered in order.
 */
import type { Recognizer } from '../../../src/core/recognizer.ts';
import { loadFilesInBrowser, loadInBrowser, type LoadedModel } from './loadInBrowser.ts';
import { loadLineVerifier } from './lineVerifier.ts';
import type { ModelProgress } from './modelFetch.ts';
import { describeError, resultMessage, type WorkerRequest, type WorkerResponse } from './protocol.ts';
import { DEFAULT_ENGINE, type EngineChoice } from './types.ts';

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib's `self` is typed as a Window). */
const scope = self as unknown as {
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
};

let recognizer: Promise<Recognizer> | null = null;
/**
 * The line reader, imported on the first `read` (its pattern compiler, refa, is ~1 MB of JavaScript the single-character
 * pad never needs).
 */
let lineReader: Promise<typeof import('../../../src/core/line/readLine.ts')> | null = null;
/** The `load` request of a model loaded by URL (where its line verifier is looked up); null for `load-files`. */
let loadedFrom: { modelUrl: string; wasmUrl: string; engine: EngineChoice } | null = null;
/** The line verifier (or null: none published, or it failed to load), looked up on the first `read`. */
let verifier: Promise<Recognizer | null> | null = null;

scope.addEventListener('message', async ({ data: request }) => {
  if (request.type === 'load' || request.type === 'load-files') {
    const onProgress = (progress: ModelProgress): void => scope.postMessage({ type: 'progress', ...progress });
    if (!recognizer && request.type === 'load') loadedFrom = { modelUrl: request.modelUrl, wasmUrl: request.wasmUrl, engine: request.engine ?? DEFAULT_ENGINE };
    recognizer ??= (request.type === 'load'
      ? loadInBrowser(request.modelUrl, request.wasmUrl, onProgress, { engine: request.engine })
      : loadFilesInBrowser(request.files, request.wasmUrl)
    ).then(
      (loaded: LoadedModel) => {
        scope.postMessage({ type: 'loaded', metadata: loaded.recognizer.metadata, engine: loaded.engine, backend: loaded.backend });
        return loaded.recognizer;
      },
      (error: unknown) => {
        scope.postMessage({ type: 'load-failed', error: describeError(error) });
        throw error;
      },
    );
    // The page has the failure in `load-failed`; later `recognize` requests get it again from `await recognizer`.
    recognizer.catch(() => undefined);
    return;
  }
  try {
    if (!recognizer) throw new Error(`the worker got a ${request.type} request before load`);
    if (request.type === 'read') {
      lineReader ??= import('../../../src/core/line/readLine.ts');
      const { readLine } = await lineReader;
      const model = await recognizer;
      const from = loadedFrom;
      verifier ??= from ? loadLineVerifier(from.modelUrl, from.wasmUrl, from.engine, model) : Promise.resolve(null);
      const pairs = (await verifier) ?? undefined;
      const reading = await readLine(model, { ink: request.ink }, { ...request.options, ...(pairs ? { pairs } : {}), name: 'the line' });
      scope.postMessage({ type: 'reading', id: request.id, reading });
      return;
    }
    const result = request.type === 'recognize-ink'
      ? await (await recognizer).recognizeInk(request.ink, { name: 'the drawing' })
      : await (await recognizer).recognize({ width: request.width, height: request.height, data: new Uint8ClampedArray(request.pixels) }, { name: 'the drawing' });
    const processed = new Float32Array(result.processed);
    scope.postMessage(resultMessage(request.id, result, processed), [processed.buffer]);
  } catch (error) {
    scope.postMessage({ type: 'failed', id: request.id, error: describeError(error) });
  }
});

/**
 * In-browser recognition: the model runs in a Web Worker (ONNX Runtime Web, or TF.js wasm; see
 * loadInBrowser.ts), and the page only sends pixels or ink and receives probabilities (or, for Line mode, a line's
 * ink and its reading by the core's `readLine`). Works from any static host: the model and the .wasm files
 * are fetched from URLs relative to the page. A model the page holds (a taught script's `ModelFiles`) runs on TF.js
 * in the same kind of worker.
 */
import type { SizedInk } from '../../../src/core/ink.ts';
import type { ModelMetadata } from '../../../src/core/types.ts';
import { toImageData } from '../../../src/core/preprocess.ts';
import type { Recognizer } from '../../../src/core/recognizer.ts';
import type { ModelFiles } from '../training/types.ts';
import type { ModelProgress } from './modelFetch.ts';
import { describeError, resultMessage, type LineReadOptions, type WorkerRequest, type WorkerResponse } from './protocol.ts';
import {
  DEFAULT_ENGINE, PadRecognitionError, type EngineChoice, type ModelSummary, type PadLineReading, type PadRecognition, type RecognitionEngine,
} from './types.ts';

type Pending = { resolve: (value: WorkerResponse) => void; reject: (error: Error) => void };

/**
 * Recognition in the browser. Starts loading the model at construction; `ready` settles when it has loaded.
 * Falls back to running on the page itself when workers are unavailable (still with async, short calls).
 */
export class BrowserEngine implements RecognitionEngine {
  readonly mode = 'browser' as const;
  /** Resolves with the model's description once loaded; rejects with a `PadRecognitionError` (`MODEL_UNAVAILABLE`). */
  readonly ready: Promise<ModelSummary>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private worker: Worker | null = null;
  private onPage: Recognizer | null = null;
  private classes: string[] = [];

  private readonly onProgress: (progress: ModelProgress) => void;
  private readonly engineChoice: EngineChoice;
  /** Where the model was loaded from (a URL, or null for a model the page holds) and the .wasm folder: for the line verifier on the page. */
  private readonly modelUrl: string | null;
  private readonly wasmUrl: string;
  /** The line verifier when reading on the page (see lineVerifier.ts), looked up on the first `read`. */
  private onPageVerifier: Promise<Recognizer | null> | null = null;

  /**
   * @param model absolute URL of the model folder, e.g. `new URL('models/digits/', document.baseURI).href`, or a model
   *   the page holds (`ModelFiles`: a taught script's, run on TF.js whatever `engine` says).
   * @param wasmUrl absolute URL of the folder with the TF.js and ONNX Runtime .wasm files, ending in `/`.
   * @param onProgress called as the model's weights arrive: bytes so far of the total, and whether from the cache.
   * @param engine what runs the model (default `DEFAULT_ENGINE`; ONNX Runtime Web falls back to TF.js when it cannot start).
   */
  constructor(model: string | ModelFiles, wasmUrl: string, onProgress: (progress: ModelProgress) => void = () => undefined, engine: EngineChoice = DEFAULT_ENGINE) {
    this.onProgress = onProgress;
    this.engineChoice = typeof model === 'string' ? engine : 'tfjs';
    this.modelUrl = typeof model === 'string' ? model : null;
    this.wasmUrl = wasmUrl;
    this.ready = this.start(model, wasmUrl).then((summary) => {
      this.classes = summary.classes;
      return summary;
    }, (error: unknown) => {
      const { message } = describeError(error);
      throw new PadRecognitionError('MODEL_UNAVAILABLE', `The model could not be loaded in the browser: ${message}`);
    });
    this.ready.catch(() => undefined); // reported where `ready` or `recognize` is awaited
  }

  /** Recognizes the pad's ink when given (`Recognizer.recognizeInk`), else the drawing; see `RecognitionEngine.recognize`. */
  async recognize(drawing: HTMLCanvasElement, ink?: SizedInk): Promise<PadRecognition> {
    await this.ready;
    const started = performance.now();
    let input: ImageData | SizedInk;
    if (ink) input = ink;
    else {
      const context = drawing.getContext('2d', { willReadFrequently: true })!;
      input = context.getImageData(0, 0, drawing.width, drawing.height);
    }
    const result = this.onPage
      ? await this.recognizeOnPage(input)
      : await this.recognizeInWorker(input);
    return {
      mode: 'browser',
      label: result.label,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
      probability: result.probability,
      probabilities: result.probabilities,
      classes: this.classes,
      candidates: result.candidates,
      processed: toImageData(result.processed, Math.round(Math.sqrt(result.processed.length))),
      timings: { totalMs: performance.now() - started, ...result.timings },
    };
  }

  /**
   * Reads a line of ink with `readLine` in the worker (on the page when workers are unavailable), with the segment
   * verifier the app publishes for the model when there is one (lineVerifier.ts); see `RecognitionEngine.read`.
   */
  async read(ink: SizedInk, options: LineReadOptions): Promise<PadLineReading> {
    await this.ready;
    const started = performance.now();
    const plain: SizedInk = { width: ink.width, height: ink.height, strokes: ink.strokes };
    let reading;
    if (this.onPage) {
      try {
        const { readLine } = await import('../../../src/core/line/readLine.ts');
        const onPage = this.onPage;
        if (!this.onPageVerifier) {
          const { loadLineVerifier } = await import('./lineVerifier.ts');
          this.onPageVerifier = this.modelUrl ? loadLineVerifier(this.modelUrl, this.wasmUrl, this.engineChoice, onPage) : Promise.resolve(null);
        }
        const pairs = (await this.onPageVerifier) ?? undefined;
        reading = await readLine(onPage, { ink: plain }, { ...options, ...(pairs ? { pairs } : {}), name: 'the line' });
      } catch (error) {
        const { code, message } = describeError(error);
        throw new PadRecognitionError(code, message);
      }
    } else {
      const id = this.nextId++;
      const response = await new Promise<WorkerResponse>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.post({ type: 'read', id, ink: plain, options });
      });
      if (response.type !== 'reading') throw new PadRecognitionError('INTERNAL_ERROR', `the worker answered a read with ${response.type}`);
      reading = response.reading;
    }
    return { mode: 'browser', reading, roundTripMs: performance.now() - started };
  }

  private async start(model: string | ModelFiles, wasmUrl: string): Promise<ModelSummary> {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./recognition.worker.ts', import.meta.url), { type: 'module', name: 'hwr-recognizer' });
    } catch {
      return this.startOnPage(model, wasmUrl);
    }
    this.worker = worker;
    const loaded = new Promise<ModelSummary>((resolve, reject) => {
      worker.addEventListener('message', ({ data }: MessageEvent<WorkerResponse>) => {
        if (data.type === 'progress') this.onProgress(data);
        else if (data.type === 'loaded') resolve(summarize(data.metadata, data.backend, data.engine));
        else if (data.type === 'load-failed') reject(new PadRecognitionError(data.error.code, data.error.message));
        else this.settle(data);
      });
      worker.addEventListener('error', (event) => {
        const error = new Error(event.message || 'the recognition worker failed to start');
        reject(error);
        for (const pending of this.pending.values()) pending.reject(error);
        this.pending.clear();
      });
    });
    this.post(typeof model === 'string' ? { type: 'load', modelUrl: model, wasmUrl, engine: this.engineChoice } : { type: 'load-files', files: model, wasmUrl });
    try {
      return await loaded;
    } catch (error) {
      if ((error as { code?: string }).code === 'BAD_MODEL') throw error; // the model itself is missing or broken
      // The worker could not run (e.g. module workers unsupported): run on the page instead.
      worker.terminate();
      this.worker = null;
      return this.startOnPage(model, wasmUrl);
    }
  }

  private async startOnPage(model: string | ModelFiles, wasmUrl: string): Promise<ModelSummary> {
    const { loadFilesInBrowser, loadInBrowser } = await import('./loadInBrowser.ts');
    const { recognizer, backend, engine } = typeof model === 'string'
      ? await loadInBrowser(model, wasmUrl, this.onProgress, { engine: this.engineChoice })
      : await loadFilesInBrowser(model, wasmUrl);
    this.onPage = recognizer;
    return summarize(recognizer.metadata, `${backend}, on the page`, engine);
  }

  private recognizeInWorker(input: ImageData | SizedInk): Promise<WorkerResponse & { type: 'result' }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (response) => resolve(response as WorkerResponse & { type: 'result' }), reject });
      if ('strokes' in input) return this.post({ type: 'recognize-ink', id, ink: { width: input.width, height: input.height, strokes: input.strokes } });
      const pixels = input.data.buffer as ArrayBuffer;
      this.post({ type: 'recognize', id, width: input.width, height: input.height, pixels }, [pixels]);
    });
  }

  private async recognizeOnPage(input: ImageData | SizedInk): Promise<WorkerResponse & { type: 'result' }> {
    try {
      const options = { name: 'the drawing' };
      return resultMessage(0, 'strokes' in input ? await this.onPage!.recognizeInk(input, options) : await this.onPage!.recognize(input, options));
    } catch (error) {
      const { code, message } = describeError(error);
      throw new PadRecognitionError(code, message);
    }
  }

  private settle(response: WorkerResponse): void {
    if (response.type !== 'result' && response.type !== 'reading' && response.type !== 'failed') return;
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    if (response.type !== 'failed') pending.resolve(response);
    else pending.reject(new PadRecognitionError(response.error.code, response.error.message));
  }

  private post(message: WorkerRequest, transfer: Transferable[] = []): void {
    this.worker!.postMessage(message, transfer);
  }

  /** Ends the worker (and its model); the engine cannot recognize afterwards. */
  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
    this.onPage?.dispose();
    this.onPage = null;
    void this.onPageVerifier?.then((verifier) => verifier?.dispose());
    this.onPageVerifier = null;
    for (const pending of this.pending.values()) pending.reject(new PadRecognitionError('MODEL_UNAVAILABLE', 'the engine was disposed'));
    this.pending.clear();
  }
}

function summarize(metadata: ModelMetadata, backend: string, engine: string): ModelSummary {
  return {
    name: metadata.name,
    architecture: metadata.architecture,
    classes: metadata.classes,
    testAccuracy: metadata.testAccuracy,
    inputShape: metadata.inputShape,
    backend,
    engine,
  };
}

/**
 * Routes a request's `model` to what recognizes with it:
 * - the default model (no `model`, or its name): the server's recognizer (`RecognizerSlot`), as before;
 * - another model of the catalog: the same pool when the recognizer is a `RecognitionPool` (its workers load the
 *   model on first use), else a recognizer loaded in this thread on first use and kept, at most
 *   `MODELS_PER_WORKER` of them (the `workers: 0` and `recognizer` configurations, for tests and small setups).
 *
 * ```ts
 * const target = await router.target('hanzi');     // 404 for an unknown name, 400 for a path
 * const [result] = await target.recognizeBatch([pixels], { names: ['upload'], topK: 10, signal });
 * const reading = await target.readLine({ ink }, { pattern: '\\d+', signal });   // POST /api/read
 * ```
 */
import type { Recognition, Recognizer } from '../core/recognizer.ts';
import type { ModelMetadata } from '../core/types.ts';
import type { LineReading } from '../core/line/types.ts';
import { readLine } from '../core/line/readLine.ts';
import { ApiError } from './errors.ts';
import { loadPairRecognizer } from '../node/lineReader.ts';
import { loadRecognizer, type EngineChoice } from '../node/recognizer.ts';
import { modelFailed, type ModelCatalog, type ModelRef } from './modelCatalog.ts';
import { MODELS_PER_WORKER, modelKey, servesModels, type RecognitionService } from './recognitionPool.ts';
import { recognizeInputs, type LineJobInput, type LineJobOptions, type RecognitionInput } from './recognitionInputs.ts';
import type { RecognizerSlot } from './recognizerSlot.ts';

/** A model ready to recognize with, as a request addressed it. */
export interface ModelTarget {
  /** The model's name in the API, e.g. `hanzi`. */
  name: string;
  /** Its metadata (classes, input shape, ...). */
  metadata: ModelMetadata;
  /**
   * Recognizes images and ink (./recognitionInputs.ts: ink is drawn by the pool worker that recognizes it, or in this
   * thread without a pool) in one forward pass; a bad input gives an `Error` in its slot.
   * @throws ApiError 503 `BUSY` (full queue) or `MODEL_NOT_READY` (the model failed to load, naming it), or the
   *   recognizer's errors
   */
  recognizeBatch(inputs: RecognitionInput[], options: { names?: string[]; topK?: number; signal?: AbortSignal }): Promise<Array<Recognition | Error>>;
  /**
   * Reads one line (`readLine`, src/core/line/readLine.ts) in a pool worker, or in this thread without a pool.
   * @throws readLine's HwrErrors (`NO_INK`, `BAD_ARGUMENT`) and what `recognizeBatch` throws
   */
  readLine(line: LineJobInput, options: LineJobOptions & { signal?: AbortSignal }): Promise<LineReading>;
}

/** See the module comment. */
export class ModelRouter {
  private readonly slot: RecognizerSlot;
  readonly catalog: ModelCatalog;
  /** Models loaded in this thread, by `modelKey`, least recently used first; only without a pool. */
  private readonly local = new Map<string, LocalModel>();
  /** The engine of the models loaded in this thread. */
  private readonly engine: EngineChoice;

  /** @param engine what runs the models loaded in this thread (without a pool); default `auto` */
  constructor(slot: RecognizerSlot, catalog: ModelCatalog, engine: EngineChoice = 'auto') {
    this.slot = slot;
    this.catalog = catalog;
    this.engine = engine;
  }

  /**
   * The model named `name` (default: the server's default model), ready to recognize with. Reads metadata only;
   * the model itself loads on first recognition.
   * @throws ApiError 400 `BAD_REQUEST` for a name that is not `^[\w-]+$`; 404 `UNKNOWN_MODEL`; 503
   *   `MODEL_NOT_READY` while the server's recognizer loads, or when the model's metadata cannot be read
   */
  async target(name?: string): Promise<ModelTarget> {
    const service = this.slot.get();
    if (name === undefined || name === this.catalog.defaultName) {
      if (servesModels(service)) {
        return {
          name: this.catalog.defaultName,
          metadata: service.metadata,
          recognizeBatch: (inputs, options) => service.recognizeBatch(inputs, options),
          readLine: (line, options) => service.readLine(line, options),
        };
      }
      return {
        name: this.catalog.defaultName,
        metadata: service.metadata,
        recognizeBatch: (inputs, options) => recognizeInputs(service, inputs, options),
        readLine: async (line, { signal, ...options }) => {
          signal?.throwIfAborted();
          const recognizer = asRecognizer(service);
          return readLine(recognizer, line, await withPairs(recognizer, options, this.engine));
        },
      };
    }
    const { ref, metadata } = await this.catalog.resolve(name);
    if (servesModels(service)) {
      return {
        name,
        metadata,
        recognizeBatch: (images, options) => service.recognizeBatch(images, { ...options, model: ref }),
        readLine: (line, options) => service.readLine(line, { ...options, model: ref }),
      };
    }
    return {
      name,
      metadata,
      recognizeBatch: (images, options) =>
        this.withLocal(ref, options.signal, (recognizer) => recognizeInputs(recognizer, images, { names: options.names, topK: options.topK })),
      readLine: (line, { signal, ...options }) => this.withLocal(ref, signal, async (recognizer) => readLine(recognizer, line, await withPairs(recognizer, options, this.engine))),
    };
  }

  /**
   * Runs `work` with model `ref` loaded in this thread (see `localEntry`), keeping it from being freed meanwhile.
   * @throws the aborted signal's reason before loading; ApiError 503 `MODEL_NOT_READY` when the model fails to load; `work`'s errors
   */
  private async withLocal<T>(ref: ModelRef, signal: AbortSignal | undefined, work: (recognizer: Recognizer) => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const entry = this.localEntry(ref);
    entry.users++;
    try {
      const recognizer = await entry.recognizer.catch((error: unknown) => { throw modelFailed(ref.name, error); });
      return await work(recognizer);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) freeLocal(entry);
    }
  }

  /** Metadata of model `name` (default the default model's, once loaded); reads no weights. Throws like `target`. */
  async metadata(name?: string): Promise<ModelMetadata> {
    if (name === undefined || name === this.catalog.defaultName) return this.slot.get().metadata;
    return (await this.catalog.resolve(name)).metadata;
  }

  /** Frees the models loaded in this thread. */
  async dispose(): Promise<void> {
    const entries = [...this.local.values()];
    this.local.clear();
    await Promise.all(entries.map((entry) => entry.recognizer.then((recognizer) => recognizer.dispose(), () => {})));
  }

  /**
   * The entry of model `ref` loaded in this thread, starting its load on first use (its weights are set up on the
   * event loop, which is why servers run a pool). Marks it most recently used; evicts the least recently used
   * beyond `MODELS_PER_WORKER` (freed once no request uses it). A failed load is not kept.
   */
  private localEntry(ref: ModelRef): LocalModel {
    const key = modelKey(ref);
    let entry = this.local.get(key);
    if (entry) {
      this.local.delete(key);
    } else {
      const created: LocalModel = { recognizer: loadRecognizer(ref.dir, undefined, { engine: this.engine }), users: 0, evicted: false };
      created.recognizer.catch(() => this.local.get(key) === created && this.local.delete(key));
      entry = created;
      while (this.local.size >= MODELS_PER_WORKER) {
        const [oldest, old] = this.local.entries().next().value as [string, LocalModel];
        this.local.delete(oldest);
        old.evicted = true;
        if (old.users === 0) freeLocal(old);
      }
    }
    this.local.set(key, entry);
    return entry;
  }
}

/**
 * The server's own recognizer as a core `Recognizer` (what `readLine` takes): without a pool it is one
 * (`loadRecognizer`); a service that is not (a stand-in of a test) cannot read lines.
 * @throws ApiError 500 `INTERNAL_ERROR` for a service that is neither
 */
function asRecognizer(service: RecognitionService): Recognizer {
  const candidate = service as Partial<Recognizer>;
  if (typeof candidate.predictProbabilities === 'function' && typeof candidate.recognizeInk === 'function') return service as Recognizer;
  throw new ApiError(500, 'INTERNAL_ERROR', 'this server\'s recognizer cannot read lines (it is neither a Recognizer nor a RecognitionPool)');
}

/** A model loaded in the server's thread, with the number of recognitions using it right now. */
interface LocalModel {
  recognizer: Promise<Recognizer>;
  users: number;
  /** Out of the cache: freed when `users` drops to 0. */
  evicted: boolean;
}

function freeLocal(entry: LocalModel): void {
  entry.recognizer.then((recognizer) => recognizer.dispose(), () => {});
}

/**
 * `options` with the pair model serving `recognizer` (metadata `pairsFor`, e.g. models/digit-segments for digits: touching
 * characters read two at a time, src/core/line/pairs.ts), when there is one; loaded once per process and engine.
 */
async function withPairs<T extends object>(recognizer: Pick<Recognizer, 'metadata'>, options: T, engine: EngineChoice): Promise<T & { pairs?: Recognizer }> {
  const pairs = await loadPairRecognizer(recognizer, { engine });
  return pairs ? { ...options, pairs } : options;
}

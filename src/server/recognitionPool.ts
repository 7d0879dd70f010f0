/**
 * A pool of worker threads that preprocess and recognize decoded images, each with its own copy of the model,
 * so that the server's event loop only parses requests and answers them (issue 8: one large image froze every
 * other request), and so that recognition uses every core.
 *
 * ```ts
 * const pool = await RecognitionPool.start({ model: 'digits' });   // one worker per core
 * const [result] = await pool.recognizeBatch([pixels], { names: ['upload'], signal });
 * await pool.dispose();
 * ```
 *
 * Jobs wait first come first served for a free worker, in a queue of at most `maxQueue` jobs; past that,
 * `recognize` refuses at once with ApiError 503 `BUSY`. A job whose `signal` aborts while it waits is dropped
 * (its client went away); a job already running finishes, and its answer is discarded by the caller.
 * A worker that dies is replaced, and its job fails with an error (a 500 for that request only).
 *
 * Line reading (`POST /api/read`): `readLine(line, options)` is a job of its own kind (`PoolJob.kind: 'read'`), queued
 * with the recognitions in the same first-come queue and run by `readLine` (src/core/line/readLine.ts) in the worker.
 * A read job that runs longer than `readTimeoutMs` fails with 400 `BAD_ARGUMENT`, and its worker, which cannot be
 * interrupted, is stopped and replaced; the other workers serve on meanwhile. A backstop: the line reader refuses
 * patterns whose automaton would be costly at once (src/core/line/constraints.ts), but a read's cost has other
 * sources (the line, the model), and one stuck worker must not hold up a server of one.
 *
 * Several models: every worker starts with the pool's model; a job may name another (`model`, a `ModelRef` from
 * ./modelCatalog.ts), which the worker that takes it loads on first use and keeps, at most `MODELS_PER_WORKER`
 * per worker, least recently used out first. A free worker that has the job's model loaded is preferred, so one
 * worker loading a large model does not hold up the others. A model that fails to load fails that job with 503
 * `MODEL_NOT_READY` naming the model; the worker and its other models carry on.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hwrError, type HwrErrorCode } from '../core/errors.ts';
import { resolveModelDir, type EngineChoice } from '../node/recognizer.ts';
import type { Recognition, RecognizeOptions } from '../core/recognizer.ts';
import type { ModelMetadata, PixelBuffer } from '../core/types.ts';
import type { LineReading } from '../core/line/types.ts';
import { ApiError } from './errors.ts';
import { modelFailed, type ModelRef } from './modelCatalog.ts';
import { busyError } from './pixelBudget.ts';
import type { LineJobInput, LineJobOptions, RecognitionInput } from './recognitionInputs.ts';

/** Default `RecognitionPoolOptions.readTimeoutMs`: 10 s (a 10-character line reads in tens of ms). */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;

/** Most models one worker keeps loaded; the least recently used is freed for a new one. */
export const MODELS_PER_WORKER = 3;

/**
 * What the server needs of a recognizer: `Recognizer` from src/core/recognizer.ts (in this thread) and
 * `RecognitionPool` (in worker threads) both fit.
 */
export interface RecognitionService {
  readonly metadata: ModelMetadata;
  /** What runs the default model (`Recognizer.engine`: `onnxruntime` or `tfjs`), where known. */
  readonly engine?: string;
  /** Recognizes one RGBA image. @throws HwrError `NO_INK` for a blank image; ApiError 503 `BUSY` when the queue is full. */
  recognize(image: PixelBuffer, options?: RecognizeOptions & { signal?: AbortSignal }): Promise<Recognition>;
  /** Recognizes images in one forward pass; a bad image gives an `Error` in its slot. Throws like `recognize`. */
  recognizeBatch(images: PixelBuffer[], options?: { names?: string[]; topK?: number; signal?: AbortSignal }): Promise<Array<Recognition | Error>>;
  /** Frees the model(s); the pool also stops its workers. */
  dispose(): void | Promise<void>;
}

/** Options of a recognition by a service that serves several models. */
export interface ModelRecognizeOptions {
  /** `names[i]` names image i in error messages. */
  names?: string[];
  /** Candidates each recognition lists (`Recognition.topK`); default the core recognizer's. */
  topK?: number;
  /** Aborts a job still waiting (its client went away). */
  signal?: AbortSignal;
  /** The model to use; default the service's own (`metadata`). */
  model?: ModelRef;
}

/**
 * A `RecognitionService` that also serves other models than its own, by `ModelRef`, and recognizes ink as well as
 * pixels (each ink drawn where it is recognized, see ./recognitionInputs.ts): `RecognitionPool`.
 */
export interface MultiModelService extends RecognitionService {
  readonly servesModels: true;
  recognizeBatch(inputs: RecognitionInput[], options?: ModelRecognizeOptions): Promise<Array<Recognition | Error>>;
  /**
   * Reads one line (`readLine` of src/core/line/readLine.ts) with `options.model` (default the service's own).
   * @throws readLine's HwrErrors (`NO_INK`, `BAD_ARGUMENT`), ApiError 503 `BUSY` / `MODEL_NOT_READY`, an aborted signal's reason
   */
  readLine(line: LineJobInput, options?: LineJobOptions & Pick<ModelRecognizeOptions, 'signal' | 'model'>): Promise<LineReading>;
}

/** True when `service` can serve other models than its own. */
export function servesModels(service: RecognitionService): service is MultiModelService {
  return (service as Partial<MultiModelService>).servesModels === true;
}

/** Options of `RecognitionPool.start`. */
export interface RecognitionPoolOptions {
  /** Model name under `modelsDir` or a model folder, as `loadRecognizer` takes it: every worker loads it first. */
  model: string;
  /** Folder of the models by name; default the shipped models (`SHIPPED_MODELS_DIR`). */
  modelsDir?: string;
  /** Worker threads; default `HWR_WORKERS` from the environment, else `os.availableParallelism()` (one per core). */
  workers?: number;
  /** Most jobs waiting for a worker before `recognize` answers 503 `BUSY`; default 256. */
  maxQueue?: number;
  /**
   * Most milliseconds a line read (`readLine`) may run in a worker; then the job fails with 400 `BAD_ARGUMENT` and the
   * worker is replaced. Default `DEFAULT_READ_TIMEOUT_MS`; 0: no limit.
   */
  readTimeoutMs?: number;
  /**
   * What runs the models in every worker (`EngineChoice`); default `auto`. An ONNX Runtime session uses one
   * intra-op thread: the pool's parallelism is its workers.
   */
  engine?: EngineChoice;
}

/** `workerData` of a pool worker: its initial model, and the engine for every model it loads. */
export interface PoolWorkerInit {
  model: string;
  engine: EngineChoice;
}

/** An error as it crosses the thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

/**
 * A job sent to a worker, with its model (absent: the worker's initial model, `PoolWorkerInit.model`):
 * - a recognition (no `kind`): images in RGBA or ink (drawn by the worker), `names[i]` naming input i in error
 *   messages, the candidates to list;
 * - `kind: 'read'`: one line (pixels or ink) to read with `readLine`, and its options.
 */
export type PoolJob = { id: number; model?: ModelRef } & PoolWork;

/** What a job asks a worker to do; see `PoolJob`. */
export type PoolWork =
  | { kind?: undefined; inputs: RecognitionInput[]; names: string[]; topK?: number }
  | { kind: 'read'; line: LineJobInput; options: LineJobOptions };

/**
 * A worker's answer: one entry per image of a recognition, the reading of a `read` job, or an error for the whole job
 * (`loadFailed` when the job's model could not be loaded). `loaded` lists the model keys (`modelKey`) the worker holds
 * after the job.
 */
export type PoolAnswer =
  | { id: number; loaded: string[]; results: Array<{ recognition: Recognition } | { error: SerializedError }> }
  | { id: number; loaded: string[]; reading: LineReading }
  | { id: number; loaded: string[]; error: SerializedError; loadFailed?: boolean };

/** What a worker posts when a read job's model is loaded and `readLine` starts (the read's deadline runs from then). */
export interface PoolReadStarted {
  id: number;
  readStarted: true;
}

/** The key a worker keeps a loaded model under: its folder and version (`@` alone for the initial model). */
export function modelKey(model: ModelRef | undefined): string {
  return model ? `${model.dir}@${model.version}` : '@';
}

/** Worker count from `HWR_WORKERS`, or one per core. @throws HwrError `BAD_ARGUMENT` for a value that is not a positive integer. */
export function defaultWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.HWR_WORKERS;
  if (text === undefined || text === '') return availableParallelism();
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw hwrError('BAD_ARGUMENT', `HWR_WORKERS must be a positive integer, got ${JSON.stringify(text)}`);
  return count;
}

/** A job in the pool: what it asks (`message`, sent as is) and how its caller is answered. */
interface Job {
  message: PoolJob;
  signal?: AbortSignal;
  /** The read job's deadline, from when a worker took it. */
  timer?: ReturnType<typeof setTimeout>;
  /** Settles the caller's promise from a successful answer (`results` or `reading`). */
  resolve: (answer: PoolAnswer) => void;
  reject: (error: Error) => void;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** Model keys the worker holds (`modelKey`), as its last answer said. */
  loaded: string[];
  /** Being stopped (a read job ran out of time): it takes no job, and its answers are ignored. */
  retired?: boolean;
}

function revive(error: SerializedError): Error {
  if (error.name === 'HwrError' && error.code) return hwrError(error.code as HwrErrorCode, error.message);
  const revived = new Error(error.message);
  revived.name = error.name;
  return revived;
}

/** URL of the worker module, with this module's extension (.ts from source, .js from a build). */
const WORKER_URL = new URL(`./recognitionWorker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url).href;

/** Registers tsx in the new thread (so it can import TypeScript, as src/train/parallel.ts does), then loads the worker. */
const BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); })`;

/** Recognition in worker threads; see the module comment. */
export class RecognitionPool implements MultiModelService {
  readonly servesModels = true as const;
  readonly metadata: ModelMetadata;
  /** What runs the default model in the workers (`Recognizer.engine` of the first worker: `onnxruntime` or `tfjs`). */
  readonly engine: string;
  /** Number of worker threads. */
  readonly size: number;
  private readonly init: PoolWorkerInit;
  private readonly maxQueue: number;
  private readonly readTimeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private disposed = false;

  private constructor(options: Required<Omit<RecognitionPoolOptions, 'modelsDir'>>, metadata: ModelMetadata, engine: string) {
    this.init = { model: options.model, engine: options.engine };
    this.size = options.workers;
    this.maxQueue = options.maxQueue;
    this.readTimeoutMs = options.readTimeoutMs;
    this.metadata = metadata;
    this.engine = engine;
  }

  /**
   * Starts the workers and waits until each has loaded the model (about a second each: tsx, TF.js, wasm).
   * An unknown model is refused before any worker starts.
   * @throws HwrError `BAD_ARGUMENT` for bad counts; the model's load error (`UNKNOWN_MODEL`, `BAD_MODEL`) when it fails to load.
   */
  static async start(options: RecognitionPoolOptions): Promise<RecognitionPool> {
    const model = resolveModelDir(options.model, options.modelsDir);
    const engine = options.engine ?? 'auto';
    const workers = options.workers ?? defaultWorkerCount();
    const maxQueue = options.maxQueue ?? 256;
    const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    if (!Number.isInteger(workers) || workers < 1) throw hwrError('BAD_ARGUMENT', `recognition pool: workers must be a positive integer, got ${workers}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw hwrError('BAD_ARGUMENT', `recognition pool: maxQueue must be an integer >= 0, got ${maxQueue}`);
    if (!(readTimeoutMs >= 0)) throw hwrError('BAD_ARGUMENT', `recognition pool: readTimeoutMs must be a number >= 0, got ${readTimeoutMs}`);
    const started = await Promise.allSettled(Array.from({ length: workers }, () => startWorker({ model, engine })));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      throw failure.reason;
    }
    const ready = started.map((s) => (s as PromiseFulfilledResult<ReadyWorker>).value);
    const pool = new RecognitionPool({ model, workers, maxQueue, engine, readTimeoutMs }, ready[0]!.metadata, ready[0]!.engine);
    for (const { worker } of ready) pool.adopt(worker);
    return pool;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** For each worker, the models it holds (`modelKey`s, least recently used first), as its last answer said. */
  get loadedModels(): string[][] {
    return this.slots.map((slot) => [...slot.loaded]);
  }

  async recognize(image: PixelBuffer, options: RecognizeOptions & { signal?: AbortSignal; model?: ModelRef } = {}): Promise<Recognition> {
    const [result] = await this.recognizeBatch([image], { names: [options.name ?? 'image'], topK: options.topK, signal: options.signal, model: options.model });
    if (result instanceof Error) throw result;
    return result!;
  }

  /** Recognizes `inputs` (pixels or ink) with `options.model` (default the pool's) in one worker; see `MultiModelService`. */
  recognizeBatch(inputs: RecognitionInput[], options: ModelRecognizeOptions = {}): Promise<Array<Recognition | Error>> {
    if (inputs.length === 0 && !this.disposed && !options.signal?.aborted) return Promise.resolve([]);
    const work: PoolWork = {
      inputs,
      names: inputs.map((_, i) => options.names?.[i] ?? `image ${i}`),
      ...(options.topK !== undefined ? { topK: options.topK } : {}),
    };
    return this.submit(work, options, `images are waiting for recognition`, (answer) =>
      ('results' in answer ? answer.results.map((entry) => ('error' in entry ? revive(entry.error) : entry.recognition)) : []));
  }

  /** Reads one line with `options.model` (default the pool's) in one worker; see `MultiModelService.readLine`. */
  readLine(line: LineJobInput, options: LineJobOptions & Pick<ModelRecognizeOptions, 'signal' | 'model'> = {}): Promise<LineReading> {
    const { signal, model, ...readOptions } = options;
    return this.submit({ kind: 'read', line, options: readOptions }, { signal, model }, 'jobs are waiting for a worker', (answer) => {
      if (!('reading' in answer)) throw new Error('recognition worker answered a read job without a reading');
      return answer.reading;
    });
  }
  /**
   * Queues `work` for a worker (one that holds its model when one is free) and answers with `take(answer)`.
   * @param waiting the end of the 503 `BUSY` message after the queue's length, e.g. `images are waiting for recognition`
   * @param take    the caller's result from a successful answer; may throw, which rejects
   */
  private submit<T>(work: PoolWork, options: Pick<ModelRecognizeOptions, 'signal' | 'model'>, waiting: string, take: (answer: PoolAnswer) => T): Promise<T> {
    if (this.disposed) return Promise.reject(new ApiError(503, 'MODEL_NOT_READY', 'the server is shutting down'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const idle = this.idleSlotFor(modelKey(options.model));
    if (!idle && this.queue.length >= this.maxQueue) return Promise.reject(busyError(`${this.queue.length} ${waiting}`));
    return new Promise((resolve, reject) => {
      const job: Job = {
        message: { id: this.nextId++, ...work, ...(options.model ? { model: options.model } : {}) },
        signal,
        resolve: (answer) => {
          try {
            resolve(take(answer));
          } catch (error) {
            reject(error as Error);
          }
        },
        reject,
      };
      if (signal) {
        job.onAbort = () => {
          const index = this.queue.indexOf(job);
          if (index >= 0) {
            this.queue.splice(index, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (idle) this.run(idle, job);
      else this.queue.push(job);
    });
  }

  /** Stops every worker; waiting and running jobs fail with 503 `MODEL_NOT_READY`. Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const stopping = new ApiError(503, 'MODEL_NOT_READY', 'the server is shutting down');
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(stopping));
    const slots = this.slots.splice(0);
    for (const slot of slots) if (slot.job) this.settle(slot.job, () => slot.job!.reject(stopping));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** A free worker, one that holds the model `key` when there is one. */
  private idleSlotFor(key: string): Slot | undefined {
    const idle = this.slots.filter((slot) => slot.job === null && !slot.retired);
    return idle.find((slot) => slot.loaded.includes(key)) ?? idle[0];
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, job: null, loaded: [modelKey(undefined)] };
    this.slots.push(slot);
    worker.on('message', (message: PoolAnswer | PoolReadStarted) => {
      if ('readStarted' in message) this.readStarted(slot, message.id);
      else this.answered(slot, message);
    });
    worker.on('error', () => {}); // 'exit' follows and handles it
    worker.on('exit', (code) => this.died(slot, code));
    this.next(slot);
  }

  private run(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.postMessage(job.message);
  }

  /** The worker has its model and starts reading: the read job's time runs from now (loading a model is not reading). */
  private readStarted(slot: Slot, id: number): void {
    const job = slot.job;
    if (slot.retired || !job || job.message.id !== id || this.readTimeoutMs === 0) return;
    job.timer = setTimeout(() => this.timedOut(slot, job), this.readTimeoutMs);
  }

  /**
   * A read job ran past `readTimeoutMs`: it fails with 400 `BAD_ARGUMENT`, and its worker (busy in synchronous code,
   * which cannot be interrupted) is stopped; `died` starts its replacement.
   */
  private timedOut(slot: Slot, job: Job): void {
    if (slot.job !== job) return;
    slot.job = null;
    slot.retired = true;
    const seconds = this.readTimeoutMs / 1000;
    this.settle(job, () => job.reject(hwrError('BAD_ARGUMENT',
      `${job.message.kind === 'read' ? job.message.options.name ?? 'the line' : 'the job'}: reading took over ${seconds} s and was stopped; ` +
      'a simpler pattern or a shorter word list or line may be read in time')));
    void slot.worker.terminate();
  }

  /** Gives a free worker the oldest waiting job (first come, first served, whatever its model). */
  private next(slot: Slot): void {
    if (slot.retired) return;
    const job = this.queue.shift();
    if (job) this.run(slot, job);
  }

  private answered(slot: Slot, answer: PoolAnswer): void {
    if (slot.retired) return;
    const job = slot.job;
    slot.job = null;
    slot.loaded = answer.loaded;
    if (job && job.message.id === answer.id) {
      this.settle(job, () => {
        if (!('error' in answer)) job.resolve(answer);
        else if (answer.loadFailed) job.reject(modelFailed(job.message.model?.name ?? this.metadata.name, revive(answer.error)));
        else job.reject(revive(answer.error));
      });
    }
    this.next(slot);
  }

  /** A worker exited (a crash, or `terminate` from `dispose`): fail its job and start a replacement. */
  private died(slot: Slot, code: number): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return; // disposed
    this.slots.splice(index, 1);
    const job = slot.job;
    if (job) this.settle(job, () => job.reject(new Error(`recognition worker exited with code ${code} while recognizing`)));
    if (this.disposed) return;
    startWorker(this.init).then(
      ({ worker }) => (this.disposed ? void worker.terminate() : this.adopt(worker)),
      () => {}, // the model loaded before, so this is unexpected; the remaining workers carry on
    );
  }

  private settle(job: Job, action: () => void): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
    action();
  }
}

/** A started worker, with its initial model's metadata and the engine that runs it. */
interface ReadyWorker {
  worker: Worker;
  metadata: ModelMetadata;
  engine: string;
}

/** Starts one worker and waits for its model. */
function startWorker(init: PoolWorkerInit): Promise<ReadyWorker> {
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: init });
  return new Promise((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`recognition worker exited (code ${code}) while loading the model`));
    worker.once('exit', onExit);
    worker.once('error', (error) => reject(new Error(`recognition worker failed to start: ${error.message}`, { cause: error })));
    worker.once('message', (message: { type: 'ready'; metadata: ModelMetadata; engine: string } | { type: 'failed'; error: SerializedError }) => {
      worker.off('exit', onExit);
      if (message.type === 'ready') {
        resolve({ worker, metadata: message.metadata, engine: message.engine });
      } else {
        void worker.terminate();
        reject(revive(message.error));
      }
    });
  });
}

/**
 * Teaching a script in the browser: `ScriptTrainer` (./types.ts) runs `trainInkScript` (src/train/inkScript.ts) in a
 * Web Worker (./training.worker.ts) on TF.js's wasm backend with hwr's training kernels and SIMD module
 * (`setupBackend` of src/backend/backend.ts), so the page keeps drawing while it trains.
 *
 * Usage (teach mode):
 * ```ts
 * const trainer = createScriptTrainer();                 // models/ and wasm/ relative to the page
 * const job = trainer.train(dataset, {                   // dataset: an hwr-ink-dataset (src/data/inkDataset.ts)
 *   base: 'glyphs-latin',                                // the model it learns from (the default): a shipped model
 *   onProgress: (p) => showProgress(p.phase, p.fraction, p.loss, p.accuracy),
 *   onUsable: (files) => useModel(files),                // recognizes already; fine-tuning goes on
 * });
 * cancelButton.onclick = () => job.cancel();             // job.result then rejects with code 'CANCELLED'
 * const files = await job.result;                        // ModelFiles: keep in IndexedDB
 * const engine = new BrowserEngine(files, wasmUrl);      // ../recognition/browserEngine.ts: recognizes with it
 * const folder = await modelFolderFiles(files);          // ./modelFiles.ts: { 'model.json': bytes, ... } to zip
 * ```
 * "Improve" (personalization): `trainer.train(corrections, { startFrom: currentFiles })`, or `startFrom: 'digits'` to
 * start from a shipped model.
 * Each job runs in its own worker, terminated when the job ends (its memory goes with it).
 */
import type { InkDataset } from '../../../src/data/inkDataset.ts';
import { DEFAULT_TEACHING_BASE } from '../../../src/train/teachingBase.ts';
import type { TrainerRequest, TrainerResponse } from './protocol.ts';
import type { ModelFiles, ScriptTrainer, TrainingJob, TrainOptions } from './types.ts';

export { modelFolderFiles, modelFilesHandler } from './modelFiles.ts';

/** Where the trainer finds the shipped models and TF.js's wasm binaries. */
export interface ScriptTrainerOptions {
  /** Absolute URL of the folder holding the shipped model folders (`digits/`, `hanzi/`), ending in `/`. Default: the page's `models/`. */
  modelsUrl?: string;
  /** Absolute URL of the folder holding TF.js's `.wasm` binaries, ending in `/`. Default: the page's `wasm/`. */
  wasmUrl?: string;
}

/** How long a cancelled worker may take to stop by itself before it is terminated, ms. */
const CANCEL_GRACE_MS = 2000;

/** A training error for the page: `code` is `CANCELLED`, an `HwrErrorCode`, or `INTERNAL_ERROR`. */
export class TrainingError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'TrainingError';
    this.code = code;
  }
}

/**
 * The page's `ScriptTrainer`: each `train` call starts a Web Worker that loads the base model (through
 * ../recognition/modelFetch.ts: checked against SHA256SUMS, cached), trains, posts progress, the usable model and
 * the final model, and ends.
 */
export function createScriptTrainer(options: ScriptTrainerOptions = {}): ScriptTrainer {
  const base = globalThis.document?.baseURI ?? globalThis.location?.href;
  const modelsUrl = options.modelsUrl ?? new URL('models/', base).href;
  const wasmUrl = options.wasmUrl ?? new URL('wasm/', base).href;
  return { train: (dataset, trainOptions = {}) => startJob(dataset, trainOptions, modelsUrl, wasmUrl) };
}

function startJob(dataset: InkDataset, options: TrainOptions, modelsUrl: string, wasmUrl: string): TrainingJob {
  const worker = new Worker(new URL('./training.worker.ts', import.meta.url), { type: 'module', name: 'hwr-trainer' });
  let settled = false;
  let cancelTimer: ReturnType<typeof setTimeout> | undefined;
  let resolveResult!: (model: ModelFiles) => void;
  let rejectResult!: (error: Error) => void;
  const result = new Promise<ModelFiles>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  const finish = (outcome: { model: ModelFiles } | { error: Error }): void => {
    if (settled) return;
    settled = true;
    clearTimeout(cancelTimer);
    worker.terminate();
    if ('model' in outcome) resolveResult(outcome.model);
    else rejectResult(outcome.error);
  };
  worker.addEventListener('message', ({ data }: MessageEvent<TrainerResponse>) => {
    if (settled) return;
    if (data.type === 'progress') options.onProgress?.(data.progress);
    else if (data.type === 'usable') options.onUsable?.(data.model);
    else if (data.type === 'done') finish({ model: data.model });
    else finish({ error: new TrainingError(data.error.code, data.error.message) });
  });
  worker.addEventListener('error', (event) => {
    finish({ error: new TrainingError('INTERNAL_ERROR', `the training worker failed: ${event.message || 'it could not start'}`) });
  });
  const startFrom = typeof options.startFrom === 'string' ? { url: new URL(`${options.startFrom}/`, modelsUrl).href } : options.startFrom;
  const request: TrainerRequest = {
    type: 'train',
    dataset,
    baseUrl: new URL(`${options.base ?? DEFAULT_TEACHING_BASE}/`, modelsUrl).href,
    wasmUrl,
    ...(startFrom === undefined ? {} : { startFrom }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.recipe === undefined ? {} : { recipe: options.recipe }),
  };
  worker.postMessage(request);
  return {
    result,
    cancel() {
      if (settled) return;
      worker.postMessage({ type: 'cancel' } satisfies TrainerRequest);
      // The worker stops at its next batch; one stuck in a long step is terminated.
      cancelTimer = setTimeout(() => finish({ error: cancelled() }), CANCEL_GRACE_MS);
    },
  };
}

function cancelled(): Error {
  return new TrainingError('CANCELLED', 'training was cancelled');
}

/**
 * Worker thread of `RecognitionPool` (./recognitionPool.ts): loads its own recognizer
 * (`loadRecognizer(model, ..., { engine })`: an ONNX Runtime session with one intra-op thread, or its own
 * single-threaded TF.js wasm backend), then preprocesses and recognizes the images it is sent, one job at a time,
 * so that this JavaScript work never runs on the server's event loop. Ink inputs are drawn here too (`inkImageFor`,
 * see ./recognitionInputs.ts). Line reading jobs (`kind: 'read'`, `POST /api/read`) run `readLine`
 * (src/core/line/readLine.ts) here the same way: segmentation, the model and the search, off the event loop.
 *
 * A job may name another model (`PoolJob.model`): it is loaded here on first use and kept, at most
 * `MODELS_PER_WORKER` models, the least recently used freed first. Jobs run one at a time, so a model is never
 * freed while a job uses it. A model that fails to load is not kept (the next job for it tries again, in case its
 * files were repaired); that job's answer says `loadFailed`.
 *
 * Protocol (structured-cloned messages): it posts `{ type: 'ready', metadata, engine }` or `{ type: 'failed', error }` once,
 * then answers each `PoolJob` with a `PoolAnswer` of the same `id` (`results` for a recognition, `reading` for a read;
 * a read job first posts `PoolReadStarted` once its model is loaded).
 * Not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Recognizer } from '../core/recognizer.ts';
import { loadPairRecognizer } from '../node/lineReader.ts';
import { loadRecognizer } from '../node/recognizer.ts';
import { readLine } from '../core/line/readLine.ts';
import { MODELS_PER_WORKER, modelKey, type PoolAnswer, type PoolJob, type PoolReadStarted, type PoolWorkerInit, type SerializedError } from './recognitionPool.ts';
import { recognizeInputs } from './recognitionInputs.ts';

const port = parentPort!;
const init = workerData as PoolWorkerInit;

function serialize(error: unknown): SerializedError {
  const { name = 'Error', message = String(error), code } = (error ?? {}) as { name?: string; message?: string; code?: string };
  return { name, message, ...(typeof code === 'string' ? { code } : {}) };
}

/** Loads a model folder (or name) with the pool's engine; one intra-op thread per ONNX Runtime session (one worker per core). */
const load = (model: string): Promise<Recognizer> => loadRecognizer(model, undefined, { engine: init.engine, threads: 1 });

/** Loaded models by `modelKey`, least recently used first (a Map keeps insertion order). */
const loaded = new Map<string, Recognizer>();

/** The recognizer for `job`'s model, loading it (and freeing the least recently used beyond the limit) on first use. */
async function recognizerFor(job: PoolJob): Promise<Recognizer> {
  const key = modelKey(job.model);
  let recognizer = loaded.get(key);
  if (recognizer) {
    loaded.delete(key);
  } else {
    recognizer = await load(job.model?.dir ?? init.model);
    while (loaded.size >= MODELS_PER_WORKER) {
      const [oldest, old] = loaded.entries().next().value as [string, Recognizer];
      loaded.delete(oldest);
      old.dispose();
    }
  }
  loaded.set(key, recognizer);
  return recognizer;
}

try {
  loaded.set(modelKey(undefined), await load(init.model));
  port.on('message', async (job: PoolJob) => {
    let answer: PoolAnswer;
    let recognizer: Recognizer;
    try {
      recognizer = await recognizerFor(job);
    } catch (error) {
      port.postMessage({ id: job.id, loaded: [...loaded.keys()], error: serialize(error), loadFailed: true } satisfies PoolAnswer);
      return;
    }
    try {
      if (job.kind === 'read') {
        // Touching characters: the pair model serving this model (metadata `pairsFor`), loaded once per worker.
        const pairs = await loadPairRecognizer(recognizer, { engine: init.engine, threads: 1 });
        // The read's deadline runs from here: loading models is not reading.
        port.postMessage({ id: job.id, readStarted: true } satisfies PoolReadStarted);
        const reading = await readLine(recognizer, job.line, pairs ? { ...job.options, pairs } : job.options);
        port.postMessage({ id: job.id, loaded: [...loaded.keys()], reading } satisfies PoolAnswer);
        return;
      }
      // Ink is drawn here (inkImageFor), off the server's event loop.
      const results = await recognizeInputs(recognizer, job.inputs, { names: job.names, topK: job.topK });
      answer = {
        id: job.id,
        loaded: [...loaded.keys()],
        results: results.map((result) => (result instanceof Error ? { error: serialize(result) } : { recognition: result })),
      };
    } catch (error) {
      answer = { id: job.id, loaded: [...loaded.keys()], error: serialize(error) };
    }
    port.postMessage(answer);
  });
  const initial = loaded.get(modelKey(undefined))!;
  port.postMessage({ type: 'ready', metadata: initial.metadata, engine: initial.engine });
} catch (error) {
  port.postMessage({ type: 'failed', error: serialize(error) });
}

/**
 * Worker thread of `RecognitionPool` (./recognitionPool.ts): loads its own recognizer (`loadRecognizer(model)`,
 * its own single-threaded wasm backend), then preprocesses and recognizes the images it is sent, one job at a time,
 * so that this JavaScript work never runs on the server's event loop.
 *
 * Protocol (structured-cloned messages): it posts `{ type: 'ready', metadata }` or `{ type: 'failed', error }` once,
 * then answers each `PoolJob` with a `PoolAnswer` of the same `id`. Not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRecognizer } from '../node/recognizer.ts';
import type { PoolAnswer, PoolJob, PoolWorkerInit, SerializedError } from './recognitionPool.ts';

const port = parentPort!;
const init = workerData as PoolWorkerInit;

function serialize(error: unknown): SerializedError {
  const { name = 'Error', message = String(error), code } = (error ?? {}) as { name?: string; message?: string; code?: string };
  return { name, message, ...(typeof code === 'string' ? { code } : {}) };
}

try {
  const recognizer = await loadRecognizer(init.model);
  port.on('message', async (job: PoolJob) => {
    let answer: PoolAnswer;
    try {
      const results = await recognizer.recognizeBatch(job.images, { names: job.names });
      answer = { id: job.id, results: results.map((result) => (result instanceof Error ? { error: serialize(result) } : { recognition: result })) };
    } catch (error) {
      answer = { id: job.id, error: serialize(error) };
    }
    port.postMessage(answer);
  });
  port.postMessage({ type: 'ready', metadata: recognizer.metadata });
} catch (error) {
  port.postMessage({ type: 'failed', error: serialize(error) });
}

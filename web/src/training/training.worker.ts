/**
 * Web Worker that teaches a script: one `train` request (./protocol.ts), answered by `progress` messages, one
 * `usable` model, and `done` (or `failed`). A `cancel` request aborts the run at its next batch (`failed` with code
 * `CANCELLED`). Runs `trainInkScript` (src/train/inkScript.ts) unchanged, on TF.js's wasm backend prepared by
 * `setupBackend` (src/backend/backend.ts): the training kernels and hwr's SIMD module, loaded from the build's
 * `kernels.wasm` asset.
 */
import { setupBackend } from '../../../src/backend/backend.ts';
import { simdKernelsAvailable } from '../../../src/backend/simd/index.ts';
import { loadRecognizer, type Recognizer } from '../../../src/core/recognizer.ts';
import { modelFiles, trainInkScript } from '../../../src/train/inkScript.ts';
import { modelFetch } from '../recognition/modelFetch.ts';
import { describeError } from '../recognition/protocol.ts';
import { modelFilesHandler } from './modelFiles.ts';
import type { TrainerRequest, TrainerResponse } from './protocol.ts';
import type { ModelFiles } from './types.ts';
import packageJson from '../../../package.json' with { type: 'json' };

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib's `self` is typed as a Window). */
const scope = self as unknown as {
  postMessage(message: TrainerResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<TrainerRequest>) => void): void;
};

const abort = new AbortController();
let started = false;

scope.addEventListener('message', ({ data: request }) => {
  if (request.type === 'cancel') {
    abort.abort();
    return;
  }
  if (started) return; // one job per worker
  started = true;
  train(request).then(
    ({ files, backend }) => post({ type: 'done', model: files, backend, simd: simdKernelsAvailable() }, [files.weightData]),
    (error: unknown) => post({ type: 'failed', error: abort.signal.aborted ? { code: 'CANCELLED', message: 'training was cancelled' } : describeError(error) }),
  );
});

function post(message: TrainerResponse, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/** Loads a model folder (checked and cached by modelFetch.ts) or in-memory `ModelFiles` as a TF.js recognizer. */
async function loadModel(source: string | ModelFiles): Promise<Recognizer> {
  if (typeof source === 'string') return loadRecognizer(source, await modelFetch(source));
  return loadRecognizer({ model: modelFilesHandler(source), metadata: source.metadata });
}

async function train(request: TrainerRequest & { type: 'train' }): Promise<{ files: ModelFiles; backend: string }> {
  const backend = await setupBackend({ wasmPaths: request.wasmUrl });
  const base = await loadModel(request.baseUrl);
  const start = request.startFrom === undefined ? undefined : await loadModel('url' in request.startFrom ? request.startFrom.url : request.startFrom);
  try {
    const trained = await trainInkScript(request.dataset, { model: base.model!, metadata: base.metadata }, {
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...request.recipe,
      ...(start ? { startFrom: { model: start.model!, metadata: start.metadata } } : {}),
      signal: abort.signal,
      // What the model's metadata.json records about where it came from.
      version: packageJson.version,
      command: `teach mode in the hwr page (hwr ${packageJson.version}): ${request.dataset.samples.length} drawn samples, seed ${request.seed ?? 1}`,
      trainedOn: `a web browser (${self.navigator.userAgent.match(/(Chrome|Firefox|Safari)\/[\d.]+/)?.[0] ?? 'unknown'}), TF.js ${backend} in a Web Worker`,
      onProgress: (progress) => post({ type: 'progress', progress }),
      // Copied, not transferred: the page may use it while fine-tuning goes on here.
      onUsable: (files) => post({ type: 'usable', model: files }),
    });
    try {
      return { files: await modelFiles(trained.model, trained.metadata), backend };
    } finally {
      trained.model.dispose();
    }
  } finally {
    base.dispose();
    start?.dispose();
  }
}

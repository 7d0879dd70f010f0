/**
 * One place that chooses and prepares the TensorFlow.js backend for training and inference.
 *
 * In Node the `wasm` backend (XNNPACK, SIMD, single thread) is the fast choice: `@tensorflow/tfjs-node`
 * is not available and the pure-JS `cpu` backend trains about 100x slower. The stock wasm backend
 * cannot train convolutional nets (it lacks `Conv2DBackpropFilter`), so `setupBackend` also installs
 * the kernels from `./kernels/` (see `registerTrainingKernels`); the convolutions among them run on hwr's
 * own wasm SIMD module (`./simd/`, built by `npm install`), also for inference in Node.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerTrainingGradients } from './gradients/FusedBatchNorm_grad.ts';
import { registerTrainingKernels } from './kernels/index.ts';

/** Backends that `setupBackend` knows how to prepare. */
export type BackendName = 'wasm' | 'cpu';

/** Options for `setupBackend`. */
export interface SetupBackendOptions {
  /** Backend to activate; default `'wasm'`. */
  backend?: BackendName;
}

let wasmPathsSet = false;
const ready = new Map<BackendName, Promise<void>>();

/**
 * Points the wasm backend at its `.wasm` binaries inside `node_modules`, by absolute file path,
 * so that it loads from any working directory. Does nothing outside Node (bundlers serve the files).
 * Must run before the wasm backend is first initialized.
 */
async function locateWasmBinaries(): Promise<void> {
  if (wasmPathsSet) return;
  wasmPathsSet = true;
  if (typeof process === 'undefined' || !process.versions?.node) return;
  const { createRequire } = await import('node:module');
  const { dirname, sep } = await import('node:path');
  const require = createRequire(import.meta.url);
  // The package `main` is dist/tf-backend-wasm.node.js; the binaries sit beside it.
  const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  setWasmPaths(distDir + sep);
}

/**
 * Prepares and activates a TensorFlow.js backend; call it once before building or running models.
 *
 * For `'wasm'` (the default): locates the `.wasm` binaries (Node), registers the training kernels
 * (`registerTrainingKernels`), selects the backend and awaits `tf.ready()`. The wasm backend runs
 * single-threaded in Node (its threaded build needs blob: workers that Node refuses).
 * For `'cpu'`: selects the pure-JS reference backend (slow; used by tests as the reference).
 *
 * Idempotent and safe to call concurrently: repeated calls only re-select the backend.
 *
 * @returns the name of the active backend (`tf.getBackend()`), e.g. `'wasm'`.
 * @throws Error when the backend fails to initialize (e.g. the .wasm binary cannot be read).
 */
export function setupBackend(options: SetupBackendOptions = {}): Promise<string> {
  const name: BackendName = options.backend ?? 'wasm';
  // Calls run one after another, so concurrent callers never race in tf.setBackend.
  const result = queue.then(() => activate(name));
  queue = result.catch(() => undefined);
  return result;
}

let queue: Promise<unknown> = Promise.resolve();

async function activate(name: BackendName): Promise<string> {
  let pending = ready.get(name);
  if (!pending) {
    pending = (async () => {
      if (name === 'wasm') {
        await locateWasmBinaries();
        registerTrainingKernels();
        registerTrainingGradients();
      }
    })();
    ready.set(name, pending);
  }
  await pending;
  if (tf.engine().backendName !== name) {
    const ok = await withoutNewProcessListeners(() => tf.setBackend(name));
    if (!ok) throw new Error(`setupBackend: the TensorFlow.js backend '${name}' failed to initialize`);
  }
  await tf.ready();
  return tf.getBackend();
}

/**
 * Runs `init` and then removes the `uncaughtException` / `unhandledRejection` listeners it added.
 * The Emscripten runtime of the wasm backend installs listeners that rethrow, which makes Node print
 * the whole minified runtime source (one very long line) above every uncaught error of the application.
 */
async function withoutNewProcessListeners<T>(init: () => Promise<T>): Promise<T> {
  if (typeof process === 'undefined' || typeof process.listeners !== 'function') return init();
  const emitter = process as NodeJS.EventEmitter;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((event) => new Set(emitter.listeners(event)));
  try {
    return await init();
  } finally {
    events.forEach((event, i) => {
      for (const listener of emitter.listeners(event)) {
        if (!before[i]!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    });
  }
}

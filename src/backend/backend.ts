/**
 * One place that chooses and prepares the TensorFlow.js backend for training and inference.
 *
 * In Node the `wasm` backend (XNNPACK, SIMD, single thread) is the fast choice: `@tensorflow/tfjs-node`
 * is not available and the pure-JS `cpu` backend trains about 100x slower. The stock wasm backend
 * cannot train convolutional nets (it lacks `Conv2DBackpropFilter`), so `setupBackend` also installs
 * the kernels from `./kernels/` (see `registerTrainingKernels`); the convolutions among them run on hwr's
 * own wasm SIMD module (`./simd/`, built by `npm install`), also for inference in Node.
 *
 * The same path runs in a browser (the page's training Web Worker, web/src/training/training.worker.ts): nothing
 * here imports a `node:` module statically (Node's are reached through `process.getBuiltinModule` when running in
 * Node), the TF.js `.wasm` binaries come from `options.wasmPaths` and the SIMD module from `options.simdWasm` or the
 * URL the bundler emitted for it (`SIMD_WASM_URL` of ./simd/index.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// TF.js's own gradients (tfjs-core's register_all_gradients, which tfjs-layers imports in Node and in bundles alike).
import '@tensorflow/tfjs-layers';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installFusedAdam } from './adam.ts';
import { installFusedCrossEntropy } from './crossEntropy.ts';
import { dropoutMaskKernelConfigs } from './kernels/DropoutMask.ts';
import { registerMissingKernels } from './kernels/wasm_util.ts';
import { installBatchNormTraining } from './batchNormTraining.ts';
import { installConvReluTraining } from './convReluTraining.ts';
import { installConvReluPool } from './convReluPool.ts';
import { useThreadedWasmInNode } from './threadedWasm.ts';
import { registerTrainingGradients } from './gradients/FusedBatchNorm_grad.ts';
import { registerTrainingKernels } from './kernels/index.ts';
import { loadSimdModule, setKernelThreads, type SimdWasmSource } from './simd/index.ts';

/** Backends that `setupBackend` knows how to prepare. */
export type BackendName = 'wasm' | 'cpu';

/** Options for `setupBackend`. */
export interface SetupBackendOptions {
  /** Backend to activate; default `'wasm'`. */
  backend?: BackendName;
  /**
   * Browser: URL of the folder holding TF.js's wasm binaries (`tfjs-backend-wasm*.wasm`), ending in `/` (the page's
   * `wasm/`). Ignored in Node, where they are found in `node_modules`.
   */
  wasmPaths?: string;
  /**
   * Where hwr's SIMD kernel module (`kernels.wasm`) comes from: a URL, bytes or a compiled module (see
   * `loadSimdModule`). Default: the file beside src/backend/simd/index.ts in Node, the build's asset in a browser.
   * Only the first `setupBackend` call of a thread loads it.
   */
  simdWasm?: SimdWasmSource;
  /**
   * Node: threads for one training step's kernels (default 1). With 2 or more, TF.js runs its threaded wasm build
   * (a shared heap; ./threadedWasm.ts), hwr's SIMD convolutions split each call over this many threads
   * (./simd/threads.ts) and TF.js's own XNNPACK kernels use as many. Takes effect only if the wasm backend has not
   * been initialized yet in this process (a warning says so otherwise). Ignored in a browser.
   */
  kernelThreads?: number;
}

let wasmPathsSet = false;
const ready = new Map<BackendName, Promise<void>>();

/**
 * Points the wasm backend at its `.wasm` binaries: in Node inside `node_modules`, by absolute file path, so that it
 * loads from any working directory; in a browser at `browserPaths` when given (else where the bundler serves them).
 * Must run before the wasm backend is first initialized.
 */
function locateWasmBinaries(browserPaths: string | undefined): void {
  if (wasmPathsSet) return;
  wasmPathsSet = true;
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node) {
    if (browserPaths !== undefined) setWasmPaths(browserPaths);
    // A cross-origin isolated page would get TF.js's threaded wasm, whose memory is shared: stay on one thread
    // (the SIMD module imports the backend's memory; web/src/recognition/loadInBrowser.ts does the same).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return;
  }
  const { createRequire } = proc.getBuiltinModule!('node:module') as typeof import('node:module');
  const { dirname, sep } = proc.getBuiltinModule!('node:path') as typeof import('node:path');
  const require = createRequire(import.meta.url);
  // The package `main` is dist/tf-backend-wasm.node.js; the binaries sit beside it.
  const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  setWasmPaths(distDir + sep);
}

/**
 * Prepares and activates a TensorFlow.js backend; call it once before building or running models.
 *
 * For `'wasm'` (the default): locates the `.wasm` binaries (Node; `options.wasmPaths` in a browser), loads hwr's SIMD
 * module (`loadSimdModule(options.simdWasm)`), registers the training kernels
 * (`registerTrainingKernels`), the faster gradients (`registerTrainingGradients`), the fused batch norm of training
 * (`installBatchNormTraining`), Adam update (`installFusedAdam`) and categorical cross-entropy loss
 * (`installFusedCrossEntropy`; all three also used by 'cpu' once installed), selects
 * the backend and awaits `tf.ready()`. The wasm backend runs
 * single-threaded in Node unless `kernelThreads` asks for TF.js's threaded build (./threadedWasm.ts, which works round
 * the blob: workers Node refuses).
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
  const result = queue.then(() => activate(name, options));
  queue = result.catch(() => undefined);
  return result;
}

let queue: Promise<unknown> = Promise.resolve();

async function activate(name: BackendName, options: SetupBackendOptions): Promise<string> {
  let pending = ready.get(name);
  if (!pending) {
    pending = (async () => {
      if (name === 'wasm') {
        const threads = options.kernelThreads ?? 1;
        if (threads > 1) {
          if (tf.engine().registry['wasm'] !== undefined) console.warn('hwr: kernelThreads: the wasm backend is already initialized; its kernels stay on one thread');
          else if (useThreadedWasmInNode()) {
            setThreadsCount(1);
            setKernelThreads(threads);
          }
        }
        locateWasmBinaries(options.wasmPaths);
        await loadSimdModule(options.simdWasm);
        registerTrainingKernels();
        registerTrainingGradients();
        installBatchNormTraining();
        installConvReluTraining();
        installConvReluPool();
        installFusedAdam();
        installFusedCrossEntropy();
        registerMissingKernels(dropoutMaskKernelConfigs);
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

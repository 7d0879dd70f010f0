/**
 * TF.js's threaded wasm build in Node: a shared heap for hwr's kernel threads (./simd/threads.ts).
 *
 * tfjs-backend-wasm 4.22 reports no multithread support under Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false when
 * `IS_NODE`; tfjs issue 3830), because Emscripten starts its pthread workers from `blob:` URLs, which Node's
 * `worker_threads` refuses (`ERR_WORKER_PATH`). Emscripten's worker script itself supports Node. So:
 * 1. the worker script (`wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`, `wasmWorkerContents`, with `\n`
 *    escaped as TF.js escapes it before making its Blob) and the main script the workers load
 *    (`var WasmBackendModuleThreadedSimd = ` + the factory's source, which TF.js posts to them as a Blob) are
 *    written once to files in a folder under the OS temp folder, named by their content's hash (atomically:
 *    a temporary name, then a rename);
 * 2. the worker script's `URL.createObjectURL(e.data.urlOrBlob)` is replaced by that main script's path;
 * 3. `URL.createObjectURL`, for a JavaScript Blob of exactly the worker script's size (the one TF.js makes in
 *    `locateFile`), returns the worker script's path; every other Blob gets the original function;
 * 4. the flag is set to true, before the backend initializes.
 * Results are the same as the single-threaded build's (the same kernels); the cost is Emscripten's fixed pool of
 * 8 pthread workers started with the backend (about 160 MB of memory in all).
 *
 * Node only; nothing here runs in a browser (a cross-origin isolated page gets the threaded build from TF.js
 * itself).
 */
import * as tf from '@tensorflow/tfjs-core';

let prepared: boolean | undefined;

/**
 * Makes the next initialization of TF.js's wasm backend in this Node process use its threaded SIMD build.
 * Must run before the backend first initializes; later calls return the first result.
 * @returns false (with the reason in `warn`) when it cannot: not Node, or the files could not be written
 */
export function useThreadedWasmInNode(warn: (message: string) => void = console.warn): boolean {
  if (prepared !== undefined) return prepared;
  prepared = false;
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return false;
  try {
    const fs = proc.getBuiltinModule('node:fs') as typeof import('node:fs');
    const os = proc.getBuiltinModule('node:os') as typeof import('node:os');
    const path = proc.getBuiltinModule('node:path') as typeof import('node:path');
    const crypto = proc.getBuiltinModule('node:crypto') as typeof import('node:crypto');
    const { createRequire } = proc.getBuiltinModule('node:module') as typeof import('node:module');
    const require = createRequire(import.meta.url);
    const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as { wasmWorkerContents: string };
    const factory = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js') as { default?: unknown };
    const mainSource = `var WasmBackendModuleThreadedSimd = ${String(factory.default ?? factory)}`;
    const hash = crypto.createHash('sha256').update(wasmWorkerContents).update(mainSource).digest('hex').slice(0, 16);
    const dir = path.join(os.tmpdir(), `hwr-tfjs-wasm-threads-${hash}`);
    fs.mkdirSync(dir, { recursive: true });
    const mainPath = path.join(dir, 'main.cjs');
    const workerPath = path.join(dir, 'worker.cjs');
    const escaped = wasmWorkerContents.replace(/\n/g, '\\n');
    const marker = 'var objectUrl=URL.createObjectURL(e.data.urlOrBlob)';
    if (!escaped.includes(marker)) throw new Error('the worker script has changed (no createObjectURL of the main script)');
    const workerSource = escaped.replace(marker, `var objectUrl=${JSON.stringify(mainPath)}`).replace('URL.revokeObjectURL(objectUrl)', 'void 0');
    const writeOnce = (file: string, text: string): void => {
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
      const temporary = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, text);
      fs.renameSync(temporary, file);
    };
    writeOnce(mainPath, mainSource);
    writeOnce(workerPath, workerSource);
    const workerSize = new Blob([escaped]).size;
    const original = URL.createObjectURL.bind(URL);
    URL.createObjectURL = ((object: Blob) =>
      object instanceof Blob && object.type === 'application/javascript' && object.size === workerSize ? workerPath : original(object)) as typeof URL.createObjectURL;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    prepared = true;
  } catch (error) {
    warn(`hwr: TF.js's threaded wasm build is not available in this process (${(error as Error).message}); training kernels run on one thread`);
  }
  return prepared;
}

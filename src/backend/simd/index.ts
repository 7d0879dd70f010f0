/**
 * hwr's own wasm SIMD kernels for training convolutions, run on the tfjs-backend-wasm heap.
 *
 * Why: tfjs-backend-wasm 4.22 reaches its XNNPACK GEMM only through operators that repack the right-hand
 * operand on every call, and the convolution gradients around it needed JS gathers (im2col, col2im). The
 * kernels in `assembly/kernels.ts` (AssemblyScript, compiled to `kernels.wasm` by `npm run build:simd`,
 * which `npm install` runs through the `prepare` script) are implicit GEMMs: they read the input through
 * per-pixel and per-tap offset tables instead of copying patches, keep a 4x8 block of results in SIMD
 * registers (the shape of XNNPACK's wasmsimd micro-kernels), and accumulate a GEMM's results straight
 * into the input gradient (col2im fused into the GEMM). Algorithm: im2col convolution as a GEMM
 * (Chellapilla et al. 2006, "High performance convolutional neural networks for document processing"),
 * without materializing the columns.
 *
 * Memory: the module imports the wasm backend's `WebAssembly.Memory`, so its pointers are the tensors'
 * own `memoryOffset`s (no copies in or out). Scratch buffers (offset tables, padded copies) are tensors
 * from `backend.makeOutput`, disposed before the kernel returns. One module instance per backend, i.e.
 * per thread (`src/train/parallel.ts` runs one backend per worker).
 *
 * Where the module comes from: `loadSimdModule(source)` compiles it once per thread before the kernels run
 * (`setupBackend` calls it). By default it is one of two builds of the same sources (scripts/build-simd.mjs):
 * `kernels-relaxed.wasm`, whose GEMM loops use relaxed SIMD's fused multiply-add (assembly/fma.ts), where the engine
 * has relaxed SIMD (`relaxedSimdSupported`), else `kernels.wasm` (plain wasm SIMD); `simdBuild()` says which. In Node
 * the default is the file beside this module, checked against its AssemblyScript sources (a stale build is refused
 * with a warning). In a browser (a training Web Worker) it is the URL `new URL('./kernels-relaxed.wasm',
 * import.meta.url)` (or `./kernels.wasm`), which Vite turns into the URL of the asset it emits into the build, fetched
 * and compiled with `WebAssembly.compileStreaming`. No `node:` module is imported statically: Node's are reached
 * through `process.getBuiltinModule` only when running in Node, so the module bundles for a browser worker.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispose, heapOffset as ptr, type WasmBackend, zeroFill } from '../kernels/wasm_util.ts';
import type { AdamExports } from '../kernels/AdamUpdate.ts';
import type { GemmExports } from './gemm.ts';
import type { CrossEntropyExports } from '../kernels/CategoricalCrossentropy.ts';
import type { DropoutExports } from '../kernels/DropoutMask.ts';
import type { BatchNormExports } from '../kernels/BatchNormTraining.ts';
import type { ConvReluPoolExports } from '../kernels/ConvReluPool.ts';
import type { PoolingExports } from './pooling.ts';
import { KernelThreads, splitImages, type KernelCall } from './threads.ts';
import type { WinogradExports } from './winograd.ts';

/** The exports of `kernels.wasm` (see `assembly/kernels.ts`); pointers are byte offsets on the heap. */
export interface SimdExports extends WinogradExports, PoolingExports, BatchNormExports, ConvReluPoolExports, AdamExports, GemmExports, CrossEntropyExports, DropoutExports {
  pixelOffsets(dst: number, B: number, OH: number, OW: number, Hp: number, Wp: number, Ci: number, sH: number, sW: number): void;
  rowOffsets(dst: number, KH: number, KW: number, Ci: number, Wp: number): void;
  conv2dBackpropFilter(x: number, dy: number, dw: number, pix: number, row: number, P: number, R: number, Co: number, panel: number): void;
  filterPanelBytes(): number;
  conv2dBackpropInput(dy: number, wT: number, dxp: number, pix: number, row: number, P: number, Co: number, R: number, Rp: number): void;
  conv2d(x: number, w: number, y: number, pix: number, row: number, P: number, taps: number, Ci: number, Co: number, bias: number, relu: number, panel: number): void;
  biasActivation(x: number, y: number, bias: number, P: number, C: number, relu: number): void;
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  scaleChannels(x: number, y: number, v: number, P: number, C: number): void;
}

/**
 * Where `npm run build:simd` writes the module, as a URL: a `file:` URL in Node, the emitted asset's URL in a
 * Vite build (Vite rewrites `new URL('<relative file>', import.meta.url)` and copies the file into the build).
 */
export const SIMD_WASM_URL: URL = new URL('./kernels.wasm', import.meta.url);

/** The relaxed-SIMD build of the same kernels (fused multiply-add in the GEMM loops), as a URL like `SIMD_WASM_URL`. */
export const SIMD_RELAXED_WASM_URL: URL = new URL('./kernels-relaxed.wasm', import.meta.url);

/**
 * Which build of the kernels a thread runs: `'relaxed-simd'` (kernels-relaxed.wasm: fused multiply-add where the CPU
 * has FMA3), `'simd'` (kernels.wasm), `'given'` (a source passed to `loadSimdModule`) (`simdBuild` answers null when none is loaded).
 */
export type SimdBuild = 'relaxed-simd' | 'simd' | 'given';

/**
 * What `loadSimdModule` accepts: a URL of `kernels.wasm` (fetched; `file:` URLs and paths read from disk in Node),
 * its bytes, or an already compiled module.
 */
export type SimdWasmSource = string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module;

/** Node's built-in modules used here, when running in Node (Node >= 20.16 has `process.getBuiltinModule`). */
interface NodeBuiltins {
  fs: typeof import('node:fs');
  url: typeof import('node:url');
  path: typeof import('node:path');
  v8: typeof import('node:v8');
  env: Record<string, string | undefined>;
}

function nodeBuiltins(): NodeBuiltins | null {
  const proc = (globalThis as { process?: { versions?: { node?: string }; env?: Record<string, string | undefined>; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return null;
  return {
    fs: proc.getBuiltinModule('node:fs') as NodeBuiltins['fs'],
    url: proc.getBuiltinModule('node:url') as NodeBuiltins['url'],
    path: proc.getBuiltinModule('node:path') as NodeBuiltins['path'],
    v8: proc.getBuiltinModule('node:v8') as NodeBuiltins['v8'],
    env: proc.env ?? {},
  };
}

/**
 * The smallest module that uses relaxed SIMD: `(func (result v128) (f32x4.relaxed_madd (v128.const 0) x3))`
 * (type, function and code sections; opcode 0xfd 0x105 in the relaxed-simd proposal's binary encoding).
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, ...new Array<number>(16).fill(0), 253, 12, ...new Array<number>(16).fill(0), 253, 12, ...new Array<number>(16).fill(0),
  253, 133, 2, 11,
]);

let relaxedPreferred = true;
let relaxedSupported: boolean | undefined;

/**
 * Whether this engine compiles relaxed SIMD, so that the default build is `kernels-relaxed.wasm`. Chrome >= 114 and
 * Node >= 22 have it (the probe decides, whatever the engine). Node 20 has it behind V8's `--experimental-wasm-relaxed-simd`, which this
 * sets at run time (`v8.setFlagsFromString`, before any relaxed module is compiled) unless the environment variable
 * `HWR_RELAXED_SIMD` is `0`. Answered once per thread; false after `setRelaxedSimdPreferred(false)`.
 */
export function relaxedSimdSupported(): boolean {
  if (!relaxedPreferred) return false;
  if (relaxedSupported === undefined) {
    const node = nodeBuiltins();
    if (node?.env.HWR_RELAXED_SIMD === '0') relaxedSupported = false;
    else {
      relaxedSupported = WebAssembly.validate(RELAXED_SIMD_PROBE);
      if (!relaxedSupported && node) {
        node.v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        relaxedSupported = WebAssembly.validate(RELAXED_SIMD_PROBE);
      }
    }
  }
  return relaxedSupported;
}

/**
 * Whether the default build may be the relaxed-SIMD one (default true). `false` before the first load makes this
 * thread run `kernels.wasm` (for tests and A/B benchmarks of the two builds); it does not reload a compiled module.
 */
export function setRelaxedSimdPreferred(on: boolean): void {
  relaxedPreferred = on;
}

/** The compiled module: undefined until loaded, null when unusable (missing, stale, failed to fetch or compile). */
let compiled: WebAssembly.Module | null | undefined;
let compiledBuild: SimdBuild | null = null;

/** `build` in words for reports: which module, and what its multiply-accumulate is. */
export function describeSimdBuild(build: SimdBuild | null): string {
  switch (build) {
    case 'relaxed-simd': return 'kernels-relaxed.wasm (relaxed SIMD: fused multiply-add)';
    case 'simd': return 'kernels.wasm (wasm SIMD: multiply, then add)';
    case 'given': return 'a module given to loadSimdModule';
    default: return 'none (XNNPACK and JS fallbacks)';
  }
}

/** Which build of the kernels this thread compiled (see `SimdBuild`); null before loading or when none is usable. */
export function simdBuild(): SimdBuild | null {
  compile();
  return compiled ? compiledBuild : null;
}
const instances = new WeakMap<WasmBackend, SimdExports>();

/**
 * Why the `kernels.wasm` file at `path` cannot be used: missing, or older than one of its sources in
 * `assembly/` (a `git pull` or checkout without `npm install`: its functions may no longer take the arguments the
 * wrappers pass). `null` when it is usable. Node only.
 */
function unusableReason(node: NodeBuiltins, path: string): string | null {
  const { existsSync, readdirSync, statSync } = node.fs;
  if (!existsSync(path)) return 'is missing';
  const sourceDir = node.path.join(node.path.dirname(path), 'assembly');
  if (!existsSync(sourceDir)) return null;
  const built = statSync(path).mtimeMs;
  const newer = readdirSync(sourceDir).find((name) => statSync(node.path.join(sourceDir, name)).mtimeMs > built);
  return newer ? `is older than assembly/${newer}` : null;
}

/**
 * Compiles the module file at `path` synchronously, or null with a warning when it is unusable (`instead`: what training
 * uses then, for the warning). Node only.
 */
function compileFile(node: NodeBuiltins, path: string, instead = 'the slower XNNPACK kernels'): WebAssembly.Module | null {
  const reason = unusableReason(node, path);
  if (reason) {
    console.warn(`hwr: ${path} ${reason} (run \`npm run build:simd\`); training uses ${instead}`);
    return null;
  }
  return new WebAssembly.Module(node.fs.readFileSync(path));
}

/**
 * Compiles the default build from the files beside this module (Node): `relaxed` (the relaxed-SIMD build, used when
 * `relaxedSimdSupported()` and the file is usable; a missing or stale one is a warning) else `plain`.
 */
function compileDefaultFile(node: NodeBuiltins, plain: URL, relaxed: URL): { module: WebAssembly.Module | null; build: SimdBuild } {
  const module = relaxedSimdSupported() ? compileFile(node, node.url.fileURLToPath(relaxed), 'the plain SIMD build, without fused multiply-add') : null;
  if (module) return { module, build: 'relaxed-simd' };
  return { module: compileFile(node, node.url.fileURLToPath(plain)), build: 'simd' };
}

/** The compiled module, compiling the default file on first use in Node; null elsewhere until `loadSimdModule`. */
function compile(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const node = nodeBuiltins();
    if (!node || SIMD_WASM_URL.protocol !== 'file:') return null; // a browser: `loadSimdModule` has not run (yet)
    ({ module: compiled, build: compiledBuild } = compileDefaultFile(node, SIMD_WASM_URL, SIMD_RELAXED_WASM_URL));
  }
  return compiled;
}

/**
 * Where `npm run build:simd` writes the module's shared-memory build (`--enable threads --sharedMemory`), which
 * instantiates on the heap of TF.js's threaded wasm build (a shared `WebAssembly.Memory` of at most 65,536 pages).
 */
export const SIMD_SHARED_WASM_URL: URL = new URL('./kernels-shared.wasm', import.meta.url);

/** The shared-memory build with relaxed SIMD (see `SIMD_RELAXED_WASM_URL`). */
export const SIMD_SHARED_RELAXED_WASM_URL: URL = new URL('./kernels-shared-relaxed.wasm', import.meta.url);

/** The compiled shared-memory build: undefined until first needed, null when unusable. Node only. */
let compiledShared: WebAssembly.Module | null | undefined;

function compileShared(): WebAssembly.Module | null {
  if (compiledShared === undefined) {
    const node = nodeBuiltins();
    compiledShared = node && SIMD_SHARED_WASM_URL.protocol === 'file:' ? compileDefaultFile(node, SIMD_SHARED_WASM_URL, SIMD_SHARED_RELAXED_WASM_URL).module : null;
  }
  return compiledShared;
}

/**
 * Compiles the kernels for this thread, once (later calls return the first result): from `source`, default the
 * relaxed-SIMD build `SIMD_RELAXED_WASM_URL` where `relaxedSimdSupported()`, else `SIMD_WASM_URL` (the files beside
 * this module in Node, the build's assets in a browser; a relaxed build that cannot be fetched falls back to the plain
 * one with a warning). In Node a file is checked against its sources first (see `simdKernelsAvailable`); in a browser
 * a URL is fetched and compiled with `WebAssembly.compileStreaming` (which needs the `application/wasm` MIME type;
 * otherwise the bytes are compiled). Never throws: when no module can be had, a console warning says why and the
 * training kernels take their XNNPACK and JS paths (slower, same results within float32 rounding).
 * @returns whether the SIMD kernels are available.
 */
export async function loadSimdModule(source?: SimdWasmSource): Promise<boolean> {
  if (compiled !== undefined) return compiled !== null;
  const node = nodeBuiltins();
  if (source === undefined) {
    if (node && SIMD_WASM_URL.protocol === 'file:') return compile() !== null;
    if (relaxedSimdSupported()) {
      try {
        compiled = await compileUrl(SIMD_RELAXED_WASM_URL);
        compiledBuild = 'relaxed-simd';
        return true;
      } catch (error) {
        console.warn(`hwr: the relaxed-SIMD training kernels could not be loaded from ${SIMD_RELAXED_WASM_URL.href} (${(error as Error).message}); trying ${SIMD_WASM_URL.href}`);
      }
    }
    compiledBuild = 'simd';
    source = SIMD_WASM_URL;
  } else {
    compiledBuild = 'given';
    relaxedSimdSupported(); // a given module may be the relaxed build: Node 20 needs V8's flag set before compiling it
  }
  try {
    if (source instanceof WebAssembly.Module) compiled = source;
    else if (source instanceof ArrayBuffer || source instanceof Uint8Array) compiled = await WebAssembly.compile(source.slice(0));
    else {
      const url = source instanceof URL ? source : new URL(source, node ? `file://${process.cwd()}/` : globalThis.location?.href);
      if (node && url.protocol === 'file:') compiled = compileFile(node, node.url.fileURLToPath(url));
      else compiled = await compileUrl(url);
    }
  } catch (error) {
    console.warn(`hwr: the SIMD training kernels could not be loaded from ${String(source instanceof WebAssembly.Module ? 'a module' : source instanceof URL || typeof source === 'string' ? source : 'bytes')} (${(error as Error).message}); training uses the slower XNNPACK kernels`);
    compiled = null;
  }
  return compiled !== null;
}

/** Fetches and compiles a module, streaming where the server sends `application/wasm`. */
async function compileUrl(url: URL): Promise<WebAssembly.Module> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && /application\/wasm/i.test(response.headers.get('content-type') ?? '')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

/**
 * Whether `kernels.wasm` is loaded (in Node: built and up to date with its sources, `npm run build:simd`); without
 * it the training kernels use XNNPACK and JS loops. In a browser it is false until `loadSimdModule` has run.
 */
export function simdKernelsAvailable(): boolean {
  return compile() !== null;
}

let enabled = true;

/**
 * Turns the SIMD kernels off (`false`) or back on, so that tests and A/B benchmarks can run the XNNPACK
 * fallbacks that an install without `kernels.wasm` would use.
 */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

/**
 * `simdKernels` for any backend: undefined unless `backend` is a wasm backend (one with a `wasm` module) that has them.
 * For kernels registered on 'wasm' only that check where they apply before running.
 */
export function simdKernelsOf(backend: tf.KernelBackend): SimdExports | undefined {
  return (backend as unknown as { wasm?: unknown }).wasm != null ? simdKernels(backend as WasmBackend) : undefined;
}

/**
 * The SIMD kernels bound to `backend`'s heap, or `undefined` when `kernels.wasm` is missing or
 * `setSimdKernelsEnabled(false)` (the callers then take their XNNPACK paths). Instantiated once per backend.
 */
export function simdKernels(backend: WasmBackend): SimdExports | undefined {
  if (!enabled) return undefined;
  let kernels = instances.get(backend);
  if (kernels) return kernels;
  const memory = heapMemory(backend);
  if (!memory) return undefined;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = shared ? compileShared() : compile();
  if (!module) return undefined;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  kernels = instance.exports as unknown as SimdExports;
  instances.set(backend, kernels);
  if (shared && kernelThreadCount > 1) {
    const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
    const pool = KernelThreads.start(memory, module, names, kernelThreadCount - 1);
    if (pool) pools.set(backend, pool);
  }
  return kernels;
}

/** The wasm backend's heap: the threaded build keeps its (shared) memory in `wasmMemory`, the others export it as `asm.memory`. */
function heapMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  const wasm = backend.wasm as unknown as { asm: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  return wasm.asm.memory ?? wasm.wasmMemory;
}

/** Threads for the SIMD kernels (1: none started); see `setKernelThreads`. */
let kernelThreadCount = 1;
const pools = new WeakMap<WasmBackend, KernelThreads>();

/**
 * How many threads the SIMD kernels split their work over (the calling thread included), for backends whose
 * heap is shared (TF.js's threaded build: `setupBackend({ kernelThreads })`). Helper threads are started when a
 * backend's kernels are first used, as many as this says then; later calls can lower the split (1: every kernel on
 * the calling thread, as without helpers) but not start more.
 * @throws Error when `threads` is not a positive integer
 */
export function setKernelThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`kernel threads: expected a positive integer, got ${threads}`);
  kernelThreadCount = threads;
}

/**
 * How a kernel over `batch` images splits among `backend`'s threads: `[first image, count]` runs (`splitImages`),
 * a single run when it has no helper threads.
 */
export function imageParts(backend: WasmBackend, batch: number): Array<[number, number]> {
  const pool = pools.get(backend);
  return pool && kernelThreadCount > 1 ? splitImages(batch, Math.min(pool.threads, kernelThreadCount)) : [[0, batch]];
}

/**
 * How `n` independent elements (or rows) split among `backend`'s kernel threads: `[first, count]` ranges cut at
 * multiples of `align`, a single range without helper threads or below 4,096 elements (not worth a thread's wake-up).
 */
export function elementParts(backend: WasmBackend, n: number, align = 16): Array<[number, number]> {
  const pool = pools.get(backend);
  const threads = pool && kernelThreadCount > 1 && n >= 4096 ? Math.min(pool.threads, kernelThreadCount) : 1;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let k = 0; k < threads; k++) {
    const end = k === threads - 1 ? n : Math.min(n, Math.round((n * (k + 1)) / threads / align) * align);
    if (end > start) out.push([start, end - start]);
    start = Math.max(start, end);
  }
  return out;
}

/** How many threads `backend`'s SIMD kernels split over now (1 without helper threads; see `setKernelThreads`). */
export function threadCount(backend: WasmBackend): number {
  const pool = pools.get(backend);
  return pool && kernelThreadCount > 1 ? Math.min(pool.threads, kernelThreadCount) : 1;
}

/** `target` += each of `partials` (float32, `n` elements each), in the order given. */
export function addInto(backend: WasmBackend, target: tf.TensorInfo, partials: readonly tf.TensorInfo[], n: number): void {
  const heap = new Float32Array(heapMemory(backend)!.buffer);
  const t = ptr(backend, target) / 4;
  for (const partial of partials) {
    const p = ptr(backend, partial) / 4;
    for (let i = 0; i < n; i++) heap[t + i]! += heap[p + i]!;
  }
}

/** The helper threads of `backend`'s SIMD kernels, or undefined when they run on the calling thread only. */
export function kernelThreads(backend: WasmBackend): KernelThreads | undefined {
  return pools.get(backend);
}

/**
 * Runs one kernel call per part, on the calling thread and the helpers at once when `backend` has them, else one
 * after another here. The parts must write disjoint memory.
 */
export function runParts(backend: WasmBackend, simd: SimdExports, calls: readonly KernelCall[]): void {
  const pool = pools.get(backend);
  if (pool && calls.length > 1) pool.run(simd as unknown as Record<string, unknown>, calls);
  else for (const call of calls) (simd as unknown as Record<string, (...a: number[]) => void>)[call.fn]!(...call.args);
}

type Info = tf.backend_util.Conv2DInfo;

/** The padded input extent [Hp, Wp] that every window of `info` lies in. */
export function paddedSize(info: Info): [number, number] {
  const { top, bottom, left, right } = info.padInfo;
  return [info.inHeight + top + bottom, info.inWidth + left + right];
}

/** Offset tables: per output pixel (`pix`, [batch*outH*outW]) and per filter row (`row`, [fH*fW*inC]), int32. */
function offsetTables(backend: WasmBackend, simd: SimdExports, info: Info): { pix: tf.TensorInfo; row: tf.TensorInfo } {
  const [Hp, Wp] = paddedSize(info);
  const P = info.batchSize * info.outHeight * info.outWidth;
  const pix = backend.makeOutput([P], 'int32');
  const row = backend.makeOutput([info.filterHeight * info.filterWidth * info.inChannels], 'int32');
  simd.pixelOffsets(ptr(backend, pix), info.batchSize, info.outHeight, info.outWidth, Hp, Wp, info.inChannels, info.strideHeight, info.strideWidth);
  simd.rowOffsets(ptr(backend, row), info.filterHeight, info.filterWidth, info.inChannels, Wp);
  return { pix, row };
}

/**
 * A copy of `x` [batch, inH, inW, inC] placed at (padTop, padLeft) of a zero-filled float32 [batch, Hp, Wp, inC]
 * (Hp >= inH + padTop, Wp >= inW + padLeft); the caller disposes it.
 */
export function paddedCopy(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, info: Info, Hp: number, Wp: number): tf.TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci } = info;
  const padded = backend.makeOutput([B, Hp, Wp, Ci], 'float32');
  simd.padCopy(ptr(backend, x), ptr(backend, padded), B, H, W, Ci, Hp, Wp, info.padInfo.top, info.padInfo.left);
  return padded;
}

/**
 * The 3x3 filter [3, 3, inC, outC] transposed per tap to [3, 3, outC, inC] (float32), for the Winograd input gradients:
 * their transform is element-wise over channel pairs, so transforming this gives the transposed transform, for a
 * quarter of the transposing. The caller disposes it.
 */
export function tapTransposedFilter(backend: WasmBackend, simd: WinogradExports, filter: tf.TensorInfo, Ci: number, Co: number): tf.TensorInfo {
  const wT = backend.makeOutput([3, 3, Co, Ci], 'float32');
  const tap = Ci * Co * 4;
  for (let t = 0; t < 9; t++) simd.transpose(ptr(backend, filter) + t * tap, ptr(backend, wT) + t * tap, Ci, Co, Ci);
  return wT;
}

/** `x` itself when `info` has no padding, else `paddedCopy` to the padded extent (the caller disposes it). */
export function paddedInput(backend: WasmBackend, simd: SimdExports, x: tf.TensorInfo, info: Info): tf.TensorInfo {
  return isPadded(info) ? paddedCopy(backend, simd, x, info, ...paddedSize(info)) : x;
}

function isPadded(info: Info): boolean {
  const { top, bottom, left, right } = info.padInfo;
  return top > 0 || bottom > 0 || left > 0 || right > 0;
}

/**
 * Whether the SIMD kernels cover `info`: NHWC, dilation 1, and, for the forward convolution and the filter
 * gradient, outChannels % 8 == 0 (their micro-kernel writes 8 output channels at a time).
 */
export function simdCovers(info: Info, kernel: 'forward' | 'filter' | 'input'): boolean {
  return info.dataFormat === 'channelsLast' && info.dilationHeight === 1 && info.dilationWidth === 1
    && (kernel === 'input' || info.outChannels % 8 === 0);
}

/**
 * Conv2D: y[p, co] = act(sum over (kh, kw, ci) of x[window(p) + (kh, kw), ci] * W[kh, kw, ci, co] + bias[co]).
 * `x` float32 [batch, inH, inW, inC], `filter` float32 [fH, fW, inC, outC], `bias` float32 [outC] or null (none),
 * `relu` max(0, .) when true (FusedConv2D's epilogue, applied before the kernel's stores: no second pass); returns
 * float32 [batch, outH, outW, outC]. Requires `simdCovers(info, 'forward')`. Sums over (kh, kw, ci) in that order,
 * then adds the bias.
 */
export function simdConv2D(backend: WasmBackend, simd: SimdExports, x: tf.TensorInfo, filter: tf.TensorInfo, info: Info, bias: tf.TensorInfo | null = null, relu = false): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outChannels: Co } = info;
  const padded = paddedInput(backend, simd, x, info);
  const { pix, row } = offsetTables(backend, simd, info);
  const y = backend.makeOutput([B, info.outHeight, info.outWidth, Co], 'float32');
  const perImage = info.outHeight * info.outWidth;
  const [xp, w, yp, pixp, rowp] = [ptr(backend, padded), ptr(backend, filter), ptr(backend, y), ptr(backend, pix), ptr(backend, row)];
  const parts = imageParts(backend, B);
  // Below 4 input channels the kernel gathers 4 pixels' inputs into a panel [fH * fW * inC][4] per thread.
  const panels = Ci < 4 ? parts.map(() => backend.makeOutput([info.filterHeight * info.filterWidth * Ci * 4], 'float32')) : [];
  // Output pixels in runs of whole images, one per thread (the offset tables are absolute, so a run is a sub-table).
  runParts(backend, simd, parts.map(([b0, n], k) => ({
    fn: 'conv2d',
    args: [xp, w, yp + b0 * perImage * Co * 4, pixp + b0 * perImage * 4, rowp, n * perImage, info.filterHeight * info.filterWidth, Ci, Co, bias ? ptr(backend, bias) : 0, relu ? 1 : 0,
      panels[k] ? ptr(backend, panels[k]) : 0],
  })));
  dispose(backend, pix, row, ...panels, ...(padded !== x ? [padded] : []));
  return y;
}

/**
 * Conv2DBackpropFilter: dW[kh, kw, ci, co] = sum over output pixels p of x[window(p) + (kh, kw), ci] * dy[p, co].
 * `x` float32 [batch, inH, inW, inC], `dy` float32 [batch, outH, outW, outC]; returns float32
 * [fH, fW, inC, outC]. Requires `simdCovers(info, 'filter')`. Summation order: over pixels in chunks of
 * 512, so results differ from the cpu backend's by float32 rounding only.
 */
export function simdConv2DBackpropFilter(backend: WasmBackend, simd: SimdExports, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outChannels: Co } = info;
  const P = B * info.outHeight * info.outWidth;
  const R = info.filterHeight * info.filterWidth * Ci;
  const padded = paddedInput(backend, simd, x, info);
  const { pix, row } = offsetTables(backend, simd, info);
  const dW = backend.makeOutput([info.filterHeight, info.filterWidth, Ci, Co], 'float32');
  const parts = imageParts(backend, B);
  // Per thread a panel for the kernel's gathered inputs (`filterPanelBytes`).
  const panels = parts.map(() => backend.makeOutput([simd.filterPanelBytes() / 4], 'float32'));
  if (parts.length === 1) {
    simd.conv2dBackpropFilter(ptr(backend, padded), ptr(backend, dy), ptr(backend, dW), ptr(backend, pix), ptr(backend, row), P, R, Co, ptr(backend, panels[0]!));
  } else {
    // Each thread sums its own images' pixels into its own dW; the partial sums are added at the end.
    const perImage = info.outHeight * info.outWidth;
    const partial = parts.slice(1).map(() => backend.makeOutput([R * Co], 'float32'));
    const outs = [dW, ...partial];
    runParts(backend, simd, parts.map(([b0, n], k) => ({
      fn: 'conv2dBackpropFilter',
      args: [ptr(backend, padded), ptr(backend, dy) + b0 * perImage * Co * 4, ptr(backend, outs[k]!), ptr(backend, pix) + b0 * perImage * 4, ptr(backend, row), n * perImage, R, Co, ptr(backend, panels[k]!)],
    })));
    addInto(backend, dW, partial, R * Co);
    dispose(backend, ...partial);
  }
  dispose(backend, pix, row, ...panels, ...(padded !== x ? [padded] : []));
  return dW;
}

/**
 * Conv2DBackpropInput: dx[window(p) + (kh, kw), ci] += sum over co of dy[p, co] * W[kh, kw, ci, co], for every
 * output pixel p. `dy` float32 [batch, outH, outW, outC], `filter` float32 [fH, fW, inC, outC]; returns float32
 * [batch, inH, inW, inC]. Requires `simdCovers(info, 'input')`.
 */
export function simdConv2DBackpropInput(backend: WasmBackend, simd: SimdExports, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const [Hp, Wp] = paddedSize(info);
  const R = info.filterHeight * info.filterWidth * Ci;
  const Rp = Math.ceil(R / 8) * 8;
  // W viewed as [R, Co], transposed to [Co, Rp] with zero columns past R (the micro-kernel reads 8 at a time).
  const wT = backend.makeOutput([Co, Rp], 'float32');
  if (Rp !== R) zeroFill(backend, wT);
  simd.transpose(ptr(backend, filter), ptr(backend, wT), R, Co, Rp);
  const padded = isPadded(info);
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  const dxp = padded ? backend.makeOutput([B, Hp, Wp, Ci], 'float32') : dx;
  zeroFill(backend, dxp);
  const { pix, row } = offsetTables(backend, simd, info);
  // Runs of whole images, one per thread: col2im scatters within one image only, so the runs write disjoint rows.
  const perImage = info.outHeight * info.outWidth;
  runParts(backend, simd, imageParts(backend, B).map(([b0, n]) => ({
    fn: 'conv2dBackpropInput',
    args: [ptr(backend, dy) + b0 * perImage * Co * 4, ptr(backend, wT), ptr(backend, dxp), ptr(backend, pix) + b0 * perImage * 4, ptr(backend, row), n * perImage, Co, R, Rp],
  })));
  if (padded) {
    simd.cropCopy(ptr(backend, dxp), ptr(backend, dx), B, H, W, Ci, Hp, Wp, info.padInfo.top, info.padInfo.left);
    dispose(backend, dxp);
  }
  dispose(backend, pix, row, wT);
  return dx;
}

/**
 * Small helpers shared by the training kernels: typed views on the wasm heap, calls into the stock
 * wasm kernels (XNNPACK Conv2D, BatchMatMul, Transpose) and disposal of intermediate tensors.
 *
 * Heap views: `backend.typedArrayFromHeap` returns a view on the current `WebAssembly.Memory` buffer,
 * which is replaced when the heap grows. A kernel takes its views after its last allocation (`makeOutput`,
 * a call to another kernel) that precedes their use, and never keeps them across calls.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

/** The wasm backend as kernels see it (`args.backend`). */
export type WasmBackend = BackendWasm;

/**
 * Registers each of `configs` whose kernel name is not yet registered for its backend; those already registered are
 * left alone (so installing twice, or after another registration, is harmless).
 */
export function registerMissingKernels(configs: readonly tf.KernelConfig[]): void {
  for (const config of configs) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
}

/**
 * Whether a gradient tape records (a training step's forward pass): the training-only kernel paths (the SIMD dense
 * products, MaxPool) take it as their cue and leave inference on the stock kernels.
 */
export function taping(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/** Kernels of the stock wasm backend that a training kernel replaced, by kernel name. */
const stockKernels = new Map<string, tf.KernelFunc>();

/** Remembers the stock kernel `name` before `registerTrainingKernels` replaces it. */
export function rememberStockKernel(name: string, kernelFunc: tf.KernelFunc): void {
  if (!stockKernels.has(name)) stockKernels.set(name, kernelFunc);
}

/** The stock wasm kernel `name` (the one tfjs-backend-wasm registered), if there is one. */
export function stockKernel(name: string): tf.KernelFunc | undefined {
  return stockKernels.get(name) ?? tf.getKernel(name, 'wasm')?.kernelFunc;
}

/**
 * Runs the stock wasm kernel `name` directly (no engine, no tape): the one tfjs-backend-wasm registered,
 * even where a training kernel replaced it (so `BatchMatMul` here is always the XNNPACK one).
 * The caller owns the returned tensor info and must return it or `dispose` it.
 * @throws Error when the wasm backend has no kernel of that name.
 */
export function runKernel(
  name: string,
  backend: WasmBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernelFunc = stockKernel(name);
  if (!kernelFunc) throw new Error(`training kernels: the wasm backend has no kernel '${name}'`);
  return kernelFunc({ inputs, attrs, backend }) as tf.TensorInfo;
}

/** Runs the stock kernel with a training kernel's own arguments: the fallback for cases it does not cover. */
export function runStockKernel(name: string, args: { inputs: object; backend: WasmBackend; attrs?: object }): tf.TensorInfo {
  return runKernel(name, args.backend, args.inputs as tf.NamedTensorInfoMap, (args.attrs ?? {}) as tf.NamedAttrMap);
}

/**
 * Cost constants for choosing between algorithms, measured on the seed CNN shapes (Node 20, x86-64, one
 * thread, wasm SIMD). Only their ratios matter.
 */
export const COST = {
  /** XNNPACK f32 GEMM / convolution, per multiply-add, at full width (about 40 GFLOP/s). */
  gemmMacNs: 0.047,
  /** XNNPACK packs the right-hand GEMM operand (or a conv filter) on every call with new data, per float. */
  packNs: 4.6,
  /** A JS scatter-add or gather loop over the wasm heap, per element. */
  jsScatterNs: 2.1,
  /** A JS copy loop (im2col), per element. */
  jsCopyNs: 1.2,
  /** `copyWithin` on the heap, per element, plus `copyCallNs` per call. */
  copyNs: 0.2,
  copyCallNs: 20,
  /** The stock wasm Transpose, per element (see `transpose2D`). */
  transposeNs: 0.7,
} as const;

/**
 * Estimated milliseconds of an XNNPACK [m x k] x [k x n] product. Its SIMD micro-kernels produce 8 columns
 * at a time, so a narrow result (n < 8, e.g. a 1-channel gradient) costs as much as n rounded up to 8.
 */
export function gemmMs(m: number, k: number, n: number): number {
  return (m * k * Math.ceil(n / 8) * 8 * COST.gemmMacNs) / 1e6;
}

/**
 * Transposes a row-major float32 matrix [rows, cols] into a new tensor [cols, rows] with the wasm Transpose.
 * Its 2-D path runs at 0.3 ns per element (1 ns for large square-ish matrices) but 10x slower when `rows`
 * is a multiple of 256 (output rows 1 KiB-aligned: cache-set conflicts); those go through its 3-D path
 * ([2, rows/2, cols]), which measured 0.7 to 1.7 ns per element.
 */
export function transpose2D(backend: WasmBackend, data: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo {
  const aligned = rows % 256 === 0;
  const shape = aligned ? [2, rows / 2, cols] : [rows, cols];
  const perm = aligned ? [2, 0, 1] : [1, 0];
  const out = runKernel('Transpose', backend, { x: { dataId: data.dataId, shape, dtype: data.dtype } }, { perm });
  return { dataId: out.dataId, shape: [cols, rows], dtype: out.dtype };
}

/** Float32 view on the wasm heap of a float32 tensor (see the module note on view lifetime). */
export function f32(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * Float32 view on the whole wasm heap, with `offsetF32` for positions in it: lets `copyWithin` move runs of
 * floats between tensors at memcpy speed (see the module note on view lifetime).
 */
export function heapF32(backend: WasmBackend): Float32Array {
  return new Float32Array((backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer);
}

/** Byte offset of tensor `info`'s data on the wasm heap: the pointer that the SIMD kernels (src/backend/simd) take. */
export function heapOffset(backend: WasmBackend, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

/** Index of the first element of float32 tensor `info` in `heapF32(backend)`. */
export function offsetF32(backend: WasmBackend, info: tf.TensorInfo): number {
  return heapOffset(backend, info) / 4;
}

/** Sets every element of float32 tensor `info` (e.g. a fresh `makeOutput`) to 0. */
export function zeroFill(backend: WasmBackend, info: tf.TensorInfo): void {
  const at = offsetF32(backend, info);
  heapF32(backend).fill(0, at, at + tf.util.sizeFromShape(info.shape));
}

/**
 * The output of a kernel that returns its input unchanged (Identity, a Cast to the same dtype): a tensor info sharing
 * `x`'s data, whose reference count grows, so no copy is made. Tensor data is never written in place, so the two
 * can be disposed in any order (the cpu backend shares data the same way).
 */
export function sharedOutput(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Releases intermediate tensors created inside a kernel (by `makeOutput` or `runKernel`). */
export function dispose(backend: WasmBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * `HwrReluGrad` (our kernel name; TF.js has no such kernel): the ReLU gradient dx = dy * step(x) in one SIMD pass,
 * where tfjs-core's Relu gradient runs Step, Cast and Multiply (three passes over the activation; about 1 ms per
 * seed-CNN step for its first layer). Used by the Relu gradient of `src/backend/gradients/Relu_grad.ts` on the wasm
 * backend when `kernels.wasm` is present. Semantics: tfjs-core/src/gradients/Relu_grad.ts (NaN in x gives NaN).
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementParts, runParts, simdKernels } from '../simd/index.ts';
import { dispose, heapOffset, type WasmBackend } from './wasm_util.ts';

/** The kernel's registered name. */
export const RELU_GRAD = 'HwrReluGrad';

/**
 * Kernel function. Inputs `dy` and `x`, float32 of the same shape; returns float32 dx of that shape.
 * @throws Error when kernels.wasm is missing (callers check `simdKernels` first).
 */
export function reluGrad(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend }): tf.TensorInfo {
  const { backend, inputs } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const x = inputs.x as tf.TensorInfo;
  const simd = simdKernels(backend);
  if (!simd) throw new Error(`${RELU_GRAD}: the SIMD kernels (kernels.wasm) are not available`);
  const dx = backend.makeOutput(x.shape, 'float32');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  // Element ranges, one per kernel thread, cut at multiples of 16 elements (whole SIMD vectors).
  runParts(backend, simd, elementParts(backend, tf.util.sizeFromShape(x.shape)).map(([i0, n]) => ({
    fn: 'reluGrad', args: [at(dy) + 4 * i0, at(x) + 4 * i0, at(dx) + 4 * i0, n],
  })));
  return dx;
}

/** Registration record for `HwrReluGrad` on 'wasm'. */
export const reluGradConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: reluGrad as unknown as tf.KernelFunc,
};

/** The registered name of the ReLU gradient with its column sums (see `reluGradSum`). */
export const RELU_GRAD_SUM = 'HwrReluGradSum';

/**
 * Whether `reluGradSum` covers `shape` on `backend`: kernels.wasm loaded, a last axis that is a multiple of 4, and the
 * kernels on one thread (a split ReLU gradient goes through `reluGrad` and `Sum`).
 */
export function reluGradSumApplies(backend: WasmBackend, shape: readonly number[]): boolean {
  const n = tf.util.sizeFromShape([...shape]);
  const cols = shape[shape.length - 1] ?? 0;
  return simdKernels(backend) !== undefined && shape.length >= 2 && cols % 4 === 0 && n > 0 && elementParts(backend, n).length === 1;
}

/**
 * Kernel function: the ReLU gradient and its sums over every axis but the last, in one pass (a convolution's bias
 * gradient under a fused ReLU: FusedConv2D's gradient). Inputs `dy` and `x` float32 [..., C]. Returns [dx float32 of
 * x's shape, dx summed over the leading axes float32 [C]], bit-identical to `HwrReluGrad` followed by `Sum` (same
 * float64 accumulation order as src/backend/kernels/Sum.ts).
 * @throws Error when `reluGradSumApplies` is false for x's shape (callers check it first).
 */
export function reluGradSum(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend }): tf.TensorInfo[] {
  const { backend, inputs } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const x = inputs.x as tf.TensorInfo;
  if (!reluGradSumApplies(backend, x.shape)) throw new Error(`${RELU_GRAD_SUM}: not applicable to shape [${x.shape}] (kernels.wasm, C % 4 == 0, one thread)`);
  const simd = simdKernels(backend)!;
  const cols = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / cols;
  const dx = backend.makeOutput(x.shape, 'float32');
  const sums = backend.makeOutput([cols], 'float32');
  const acc = backend.makeOutput([2 * cols], 'float32'); // float64 [cols]
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simd.reluGradColumnSums(at(dy), at(x), at(dx), rows, cols, at(sums), at(acc));
  dispose(backend, acc);
  return [dx, sums];
}

/** Registration record for `HwrReluGradSum` on 'wasm'. */
export const reluGradSumConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD_SUM,
  backendName: 'wasm',
  kernelFunc: reluGradSum as unknown as tf.KernelFunc,
};

/**
 * `HwrReluGrad` (our kernel name; TF.js has no such kernel): the ReLU gradient dx = dy * step(x) in one SIMD pass,
 * where tfjs-core's Relu gradient runs Step, Cast and Multiply (three passes over the activation; about 1 ms per
 * seed-CNN step for its first layer). Used by the Relu gradient of `src/backend/gradients/Relu_grad.ts` on the wasm
 * backend when `kernels.wasm` is present. Semantics: tfjs-core/src/gradients/Relu_grad.ts (NaN in x gives NaN).
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementParts, runParts, simdKernels } from '../simd/index.ts';
import { heapOffset, type WasmBackend } from './wasm_util.ts';

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

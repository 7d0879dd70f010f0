/**
 * Identity for the wasm backend without a copy.
 *
 * The stock kernel copies the tensor; TF.js calls Identity for every `clone`, for variable reads and in many
 * gradients (about 50 to 150 calls per training step of our CNNs, 2 to 4% of the step). Tensor data is never
 * written in place, so, like the cpu backend (tfjs-backend-cpu/src/kernels/Identity.ts), the output shares
 * the input's data and only its reference count grows. String tensors keep the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runStockKernel, sharedOutput, type WasmBackend } from './wasm_util.ts';

/** Kernel function. Input `x` of any shape and dtype; returns a tensor info sharing x's data. */
export function identity(args: { inputs: tf.IdentityInputs; backend: WasmBackend }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  return x.dtype === 'string' ? runStockKernel(tf.Identity, args) : sharedOutput(args.backend, x);
}

/** Registration record for `Identity` on 'wasm'. */
export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};

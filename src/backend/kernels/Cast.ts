/**
 * Cast for the wasm backend without a copy when the dtype does not change.
 *
 * tfjs-core's Identity gradient is `dy.toFloat()`, a Cast from float32 to float32, and the stock wasm Cast copies
 * every time: in training, the gradient through each `clone` that `Layer.apply` hands on (hwr-net's ReLU layers
 * fused into their batch norms) copied the whole activation gradient, 0.9 ms of a 27 ms hwr-net step at batch 64
 * (notes/PERFORMANCE.md, session 23). Tensor data is never written in place, so a cast to the same dtype shares
 * the input's data, as the cpu backend's Cast does for casts without encoding loss
 * (tfjs-backend-cpu/src/kernels/Cast.ts) and as our Identity does. Any other cast is the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runStockKernel, sharedOutput, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel function. Input `x` of any shape and dtype, attr `dtype`; to the same dtype (strings excepted) it returns a
 * tensor info sharing x's data, else the stock kernel's copy.
 */
export function cast(args: { inputs: tf.CastInputs; backend: WasmBackend; attrs: tf.CastAttrs }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  return x.dtype !== args.attrs.dtype || x.dtype === 'string' ? runStockKernel(tf.Cast, args) : sharedOutput(args.backend, x);
}

/** Registration record for `Cast` on 'wasm'. */
export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: 'wasm',
  kernelFunc: cast as unknown as tf.KernelFunc,
};

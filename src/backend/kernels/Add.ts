/**
 * Add for the wasm backend, with a SIMD path for the bias add of a layer: a float32 tensor [..., C] plus a
 * vector [C] (in either order; see `channelOperands`), C % 4 == 0, in one pass (`biasActivation` of `src/backend/simd`). The stock
 * kernel's broadcasting loop measured 0.6 ms for the seed CNN's [64, 26, 26, 32] + [32], about twice the
 * SIMD pass. Every other case (same shapes, other broadcasts, other dtypes, no kernels.wasm) runs the stock
 * kernel. Reference semantics: tfjs-backend-cpu/src/kernels/Add.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runChannelOp } from './channelOps.ts';
import type { WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.BinaryInputs; backend: WasmBackend };

/** Kernel function. Inputs `a`, `b` (broadcastable); returns `a + b` with the broadcast shape. */
export function add(args: Args): tf.TensorInfo {
  return runChannelOp(args, tf.Add, (simd, x, y, v, rows, channels) => simd.biasActivation(x, y, v, rows, channels, 0));
}

/** Registration record for `Add` on 'wasm'. */
export const addConfig: tf.KernelConfig = {
  kernelName: tf.Add,
  backendName: 'wasm',
  kernelFunc: add as unknown as tf.KernelFunc,
};

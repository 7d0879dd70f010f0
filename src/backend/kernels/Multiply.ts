/**
 * Multiply for the wasm backend, with a SIMD path for per-channel scales: a float32 tensor [..., C] times a
 * vector [C] or [1, ..., 1, C] (either order; see `channelOperands`), C % 4 == 0, in one pass (`scaleChannels`
 * of `src/backend/simd`). hwr-net's batch-norm gradient multiplies its [64, 24, 24, 32] activations by
 * per-channel factors seven times a step; the stock kernel's broadcasting loop took 0.5 to 0.7 ms each
 * (notes/PERFORMANCE.md). Every other case runs the stock kernel. Reference semantics:
 * tfjs-backend-cpu/src/kernels/Multiply.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runChannelOp } from './channelOps.ts';
import type { WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.BinaryInputs; backend: WasmBackend };

/** Kernel function. Inputs `a`, `b` (broadcastable); returns `a * b` with the broadcast shape. */
export function multiply(args: Args): tf.TensorInfo {
  return runChannelOp(args, tf.Multiply, (simd, x, y, v, rows, channels) => simd.scaleChannels(x, y, v, rows, channels));
}

/** Registration record for `Multiply` on 'wasm'. */
export const multiplyConfig: tf.KernelConfig = {
  kernelName: tf.Multiply,
  backendName: 'wasm',
  kernelFunc: multiply as unknown as tf.KernelFunc,
};

/**
 * FusedBatchNorm for the wasm backend: y = (x - mean) * scale / sqrt(variance + epsilon) + offset.
 *
 * The stock kernel computes the per-channel index of every element with a division and runs at about
 * 3.5 ns per element; a batch-normalized CNN calls it on every conv output in both training and inference.
 * Here the per-channel factor a = scale / sqrt(variance + epsilon) is computed once per channel (C values,
 * in JS), and the element-wise work runs as three broadcasting SIMD passes of the stock wasm kernels
 * (Sub, Multiply, Add: about 0.4 ns per element each). Subtracting the mean first keeps the accuracy of the
 * reference formula (tfjs-backend-cpu/src/kernels/BatchNorm.ts) when |mean| is large against the spread.
 * Parameters that are not per-channel vectors (length = last dimension of x) keep the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispose, f32, runKernel, runStockKernel, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel function. Inputs: float32 `x` [..., C]; `mean`, `variance` [C]; optional `scale`, `offset` [C];
 * attrs: `varianceEpsilon` (default 0.001, as in the cpu backend). Returns float32 with x's shape.
 */
export function fusedBatchNorm(args: {
  inputs: tf.FusedBatchNormInputs;
  backend: WasmBackend;
  attrs: tf.FusedBatchNormAttrs;
}): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const { x, mean, variance, scale, offset } = inputs as Record<string, tf.TensorInfo | undefined>;
  const channels = x!.shape[x!.shape.length - 1] ?? 0;
  const perChannel = (t: tf.TensorInfo | undefined): boolean => t == null || (t.shape.length === 1 && t.shape[0] === channels);
  if (x!.dtype !== 'float32' || channels === 0 || ![mean, variance, scale, offset].every(perChannel) || mean == null || variance == null) {
    return runStockKernel(tf.FusedBatchNorm, args);
  }
  const epsilon = attrs.varianceEpsilon ?? 0.001;
  const factor = backend.makeOutput([channels], 'float32');
  const factors = f32(backend, factor);
  const v = f32(backend, variance);
  const s = scale ? f32(backend, scale) : undefined;
  for (let c = 0; c < channels; c++) factors[c] = (s ? s[c]! : 1) / Math.sqrt(v[c]! + epsilon);

  const centered = runKernel(tf.Sub, backend, { a: x!, b: mean });
  const scaled = runKernel(tf.Multiply, backend, { a: centered, b: factor });
  dispose(backend, centered, factor);
  if (!offset) return scaled;
  const out = runKernel(tf.Add, backend, { a: scaled, b: offset });
  dispose(backend, scaled);
  return out;
}

/** Registration record for `FusedBatchNorm` on 'wasm' (replaces the stock one, which it calls for other cases). */
export const fusedBatchNormConfig: tf.KernelConfig = {
  kernelName: tf.FusedBatchNorm,
  backendName: 'wasm',
  kernelFunc: fusedBatchNorm as unknown as tf.KernelFunc,
};

/**
 * MaxPool for the wasm backend in training: while a gradient tape records, NHWC float32 input with a channel count
 * divisible by 4 and dilation 1 runs on hwr's SIMD kernel (src/backend/simd/pooling.ts `simdMaxPool`: one pass, four
 * channels per f32x4); everything else, inference included, keeps the stock XNNPACK kernel.
 *
 * Why: the stock kernel took 0.65-0.98 ms for hwr-net's and the seed CNN's first pooling at batch 64 ([64,24,24,32]
 * and [64,26,26,32]), about 3 GB/s of input; the SIMD loop reads x once (notes/PERFORMANCE.md, session 22).
 * The values are the same maxima; a window holding a NaN gives NaN here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { simdMaxPool } from '../simd/pooling.ts';
import { runStockKernel, taping, type WasmBackend } from './wasm_util.ts';

let enabled = true;

/** Turns the training MaxPool off (`false`: the stock kernel always) or back on, for A/B benchmarks and tests. */
export function setSimdMaxPoolEnabled(on: boolean): void {
  enabled = on;
}

/** Kernel function. Input `x` float32 [batch, inH, inW, C]; attrs as tf.MaxPoolAttrs. Returns [batch, outH, outW, C]. */
export function maxPool(args: { inputs: tf.MaxPoolInputs; backend: WasmBackend; attrs: tf.MaxPoolAttrs }): tf.TensorInfo {
  const { backend, attrs } = args;
  const x = args.inputs.x as tf.TensorInfo;
  const kernels = enabled && taping() && x.dtype === 'float32' && x.shape.length === 4 && x.shape[3]! % 4 === 0 ? simdKernels(backend) : undefined;
  if (!kernels || tf.util.sizeFromShape(x.shape) === 0) return runStockKernel(tf.MaxPool, args);
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return simdMaxPool(backend, kernels, x, info);
}

/** Registration record for `MaxPool` on 'wasm' (replaces the stock one, which it calls outside training). */
export const maxPoolConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool,
  backendName: 'wasm',
  kernelFunc: maxPool as unknown as tf.KernelFunc,
};

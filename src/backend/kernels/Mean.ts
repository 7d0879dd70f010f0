/**
 * Mean for the wasm backend: the stock kernel, plus the fast route of `Sum` for reductions over leading
 * axes (batch-norm statistics over [batch, h, w] per channel). See ./Sum.ts for the algorithm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { leadingAxes, reduceLeadingAxes } from './Sum.ts';
import { runStockKernel, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel function. Inputs: `x`; attrs: `axis`, `keepDims`. Float32 means over leading axes run here
 * (sum in float64, times 1/count); everything else runs the stock kernel.
 */
export function mean(args: { inputs: tf.MeanInputs; backend: WasmBackend; attrs: tf.MeanAttrs }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const k = x.dtype === 'float32' ? leadingAxes(args.attrs.axis, x.shape) : 0;
  if (k === 0 || tf.util.sizeFromShape(x.shape) === 0) return runStockKernel(tf.Mean, args);
  const count = tf.util.sizeFromShape(x.shape.slice(0, k));
  return reduceLeadingAxes(args.backend, x, k, Boolean(args.attrs.keepDims), 1 / count);
}

/** Registration record for `Mean` on 'wasm' (replaces the stock one, which it calls for other cases). */
export const meanConfig: tf.KernelConfig = {
  kernelName: tf.Mean,
  backendName: 'wasm',
  kernelFunc: mean as unknown as tf.KernelFunc,
};

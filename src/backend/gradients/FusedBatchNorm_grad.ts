/**
 * Gradient of `FusedBatchNorm` (y = (x - mean) / sqrt(variance + epsilon) * scale + offset) without `Tile`.
 *
 * TF.js's own gradient (tfjs-core/src/gradients/FusedBatchNorm_grad.ts) broadcasts 1/sqrt(variance + epsilon)
 * over x with an explicit `tile` to x's full shape; on the wasm backend `Tile` is a generic slow kernel and took
 * a third of a training step of a batch-normalized CNN (profile in notes/PERFORMANCE.md). This config computes the
 * same derivatives with broadcasting `mul`, which the wasm backend runs as one fused loop. Mathematically identical
 * to the original; checked against the gradient of the same formula written with primitive ops
 * (test/backend/gradients.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { installFusedConv2DGradient } from './FusedConv2D_grad.ts';
import { reluGradConfig } from './Relu_grad.ts';

interface FusedBatchNormAttrs {
  varianceEpsilon: number;
}

/** Gradient config for kernel `FusedBatchNorm`; install with `registerTrainingGradients()`. */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const gradient = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const scaleValue = scale ?? tf.scalar(1);
    // Axes over which mean/variance were broadcast to x (all but the channel axis for rank-1 statistics).
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor): tf.Tensor => tf.reshape(reductionAxes.length ? tf.sum(t, reductionAxes) : t, mean.shape);
    const rsqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(gradient, scaleValue);
    return {
      x: () => tf.reshape(tf.mul(gradient, tf.mul(rsqrtVariance, scaleValue)), x.shape),
      mean: () => reduce(tf.mul(dyTimesScale, tf.neg(rsqrtVariance))),
      variance: () => reduce(tf.mul(tf.mul(xMinusMean, dyTimesScale), tf.mul(tf.pow(rsqrtVariance, tf.scalar(3)), tf.scalar(-0.5)))),
      scale: () => reduce(tf.mul(gradient, tf.mul(xMinusMean, rsqrtVariance))),
      offset: () => reduce(gradient),
    };
  },
};

let registered = false;

/**
 * Replaces TF.js gradients that are slow on the wasm backend with equivalent faster ones: `FusedBatchNorm`'s
 * (no `Tile`), `Relu`'s (one SIMD pass, src/backend/gradients/Relu_grad.ts) and `tf.fused.conv2d`'s (lazy: an input
 * gradient that nothing consumes is not computed; src/backend/gradients/FusedConv2D_grad.ts). Gradients are
 * registered per kernel name for all backends; the results are the same.
 * Idempotent.
 */
export function registerTrainingGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient(fusedBatchNormGradConfig);
  tf.registerGradient(reluGradConfig);
  installFusedConv2DGradient();
}

/**
 * A convolution + ReLU + 2x2 max-pooling block in training (the seed CNN's) with the pooling's and the ReLU's
 * gradients in one pass: the MaxPooling2D layer, reading the output of a convolution whose ReLU ran in its
 * `FusedConv2D` kernel (src/backend/convReluTraining.ts), pools with `HwrReluMaxPool`, whose gradient writes the
 * ReLU-masked gradient of the convolution's output directly (kernels/ReluMaxPool.ts). That gradient's data is
 * marked with its bias sums (`markReluMaskedGradient`), and the fused convolution's gradient
 * (gradients/FusedConv2D_grad.ts) then skips its ReLU gradient and bias sum: the gradient the same values, bit for bit,
 * as MaxPoolGrad followed by `HwrReluGradSum`, the bias gradient float64 sums of the same values in another order,
 * without writing and reading a full-size gradient twice more (notes/PERFORMANCE.md, session 24).
 *
 * The pooling layer's forward output is `maxPool`'s, unchanged. Where the convolution's output has another reader, its
 * accumulated gradient is a new tensor (a sum) without the mark and gets the ReLU gradient as before, which leaves the
 * pooling's already-masked part unchanged. `installConvReluPool` patches tfjs-layers' `MaxPooling2D.call` (pool 2,
 * stride 2, 'valid', NHWC, training, wasm with the SIMD kernels, C % 4 == 0); `setConvReluPoolEnabled(false)` turns
 * it off for A/B benchmarks and tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { isMaxPool2x2, layerPrototype, type PoolingLayerConfig, singleInput } from './layerPatch.ts';
import { isReluConvOutput, markReluMaskedGradient } from './gradients/FusedConv2D_grad.ts';
import { RELU_MAX_POOL, RELU_MAX_POOL_GRAD, reluMaxPoolApplies, reluMaxPoolKernelConfigs } from './kernels/ReluMaxPool.ts';
import { registerMissingKernels } from './kernels/wasm_util.ts';

/** Gradient of `HwrReluMaxPool`: the ReLU-masked gradient of x, marked with its per-channel sums. */
export const reluMaxPoolGradConfig: tf.GradConfig = {
  kernelName: RELU_MAX_POOL,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved as [tf.Tensor];
    const [dx, sums] = tf.engine().runKernel(RELU_MAX_POOL_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor[];
    markReluMaskedGradient(dx!, sums!);
    return { x: () => dx! };
  },
};

let enabled = true;

/** Pools a ReLU convolution's output with `HwrReluMaxPool` in training (default, `true`) or with MaxPool (`false`). */
export function setConvReluPoolEnabled(on: boolean): void {
  enabled = on;
}

/** The parts of tfjs-layers' MaxPooling2D layer that the patched `call` reads. */
interface MaxPooling2DLayer extends PoolingLayerConfig {
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

let installed = false;

/**
 * Registers the kernels and the gradient and patches `MaxPooling2D.prototype.call` (see the module comment).
 * Idempotent; affects every model of this thread.
 */
export function installConvReluPool(): void {
  if (installed) return;
  installed = true;
  registerMissingKernels(reluMaxPoolKernelConfigs);
  tf.registerGradient(reluMaxPoolGradConfig);
  const proto = layerPrototype<MaxPooling2DLayer>('MaxPooling2D');
  if (!proto) return;
  const original = proto.call;
  proto.call = function (this: MaxPooling2DLayer, inputs, kwargs) {
    const input = singleInput(inputs);
    if (enabled && kwargs?.['training'] && input && input.dtype === 'float32' && isReluConvOutput(input) && isMaxPool2x2(this)
      && reluMaxPoolApplies(tf.backend(), input.shape)) {
      return tf.engine().runKernel(RELU_MAX_POOL, { x: input }, {}) as tf.Tensor;
    }
    return original.call(this, inputs, kwargs);
  };
}

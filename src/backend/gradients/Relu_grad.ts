/**
 * Gradient of `Relu`: dx = dy * step(x), as tfjs-core/src/gradients/Relu_grad.ts, in one SIMD pass
 * (`HwrReluGrad`, src/backend/kernels/ReluGrad.ts) on the wasm backend with kernels.wasm, and with tfjs-core's
 * Step, Cast and Multiply elsewhere (the cpu backend, or no kernels.wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELU_GRAD } from '../kernels/ReluGrad.ts';
import { simdKernels } from '../simd/index.ts';
import type { WasmBackend } from '../kernels/wasm_util.ts';

/** Gradient config for kernel `Relu`; install with `registerTrainingGradients()`. */
export const reluGradConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const gradient = dy as tf.Tensor;
    const [x] = saved as [tf.Tensor];
    const fused = tf.getBackend() === 'wasm' && x.dtype === 'float32' && simdKernels(tf.backend() as WasmBackend) !== undefined;
    return {
      x: () => fused
        ? (tf.engine().runKernel(RELU_GRAD, { dy: gradient, x }) as tf.Tensor)
        : tf.mul(gradient, tf.cast(tf.step(x), 'float32')),
    };
  },
};

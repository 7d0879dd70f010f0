/**
 * Training kernels for the TensorFlow.js `wasm` backend, one kernel per file (like tfjs-backend-wasm/src/kernels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.ts';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.ts';
import { maxPoolGradConfig } from './MaxPoolGrad.ts';
import { rememberStockKernel } from './wasm_util.ts';

/** Every kernel that `registerTrainingKernels` installs, in registration order. */
export const trainingKernelConfigs: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
];

let registered = false;

/**
 * Registers the training kernels for the wasm backend (idempotent).
 * A stock wasm kernel of the same name is replaced and kept as the fallback for cases ours does not cover.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of trainingKernelConfigs) {
    const stock = tf.getKernel(config.kernelName, config.backendName);
    if (stock) {
      rememberStockKernel(config.kernelName, stock.kernelFunc);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}

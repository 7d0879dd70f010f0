/**
 * Training kernels for the TensorFlow.js `wasm` backend, one kernel per file (like tfjs-backend-wasm/src/kernels).
 */
import * as tf from '@tensorflow/tfjs-core';
// The stock wasm kernels must be registered before ours replace them (the import registers them).
import '@tensorflow/tfjs-backend-wasm';
import { batchMatMulConfig } from './BatchMatMul.ts';
import { addConfig } from './Add.ts';
import { conv2DConfig } from './Conv2D.ts';
import { fusedConv2DConfig } from './FusedConv2D.ts';
import { fusedMatMulConfig } from './FusedMatMul.ts';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.ts';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.ts';
import { fusedBatchNormConfig } from './FusedBatchNorm.ts';
import { identityConfig } from './Identity.ts';
import { castConfig } from './Cast.ts';
import { maxPoolConfig } from './MaxPool.ts';
import { maxPoolGradConfig } from './MaxPoolGrad.ts';
import { meanConfig } from './Mean.ts';
import { multiplyConfig } from './Multiply.ts';
import { reluGradConfig, reluGradSumConfig } from './ReluGrad.ts';
import { sliceConfig } from './Slice.ts';
import { sumConfig } from './Sum.ts';
import { tanhConfig } from './Tanh.ts';
import { rememberStockKernel, stockKernel } from './wasm_util.ts';

/** Every kernel that `registerTrainingKernels` installs, in registration order. */
export const trainingKernelConfigs: readonly tf.KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  sumConfig,
  meanConfig,
  fusedBatchNormConfig,
  identityConfig,
  castConfig,
  tanhConfig,
  addConfig,
  multiplyConfig,
  reluGradConfig,
  reluGradSumConfig,
  sliceConfig,
];

let registered = false;

/**
 * Registers the training kernels for the wasm backend (idempotent); call it before the backend is first
 * initialized (`setupBackend` does). A stock wasm kernel of the same name is replaced but kept: the training
 * kernels call it for the cases they do not cover, and its `setupFunc` (which binds the native function)
 * moves to the replacement so that the backend still runs it at initialization.
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
    tf.registerKernel(stock?.setupFunc ? { ...config, setupFunc: stock.setupFunc } : config);
  }
}

/**
 * Switches one kernel between its training version (`enabled` true) and the stock wasm one (false), for A/B
 * benchmarks (bench/train-throughput.ts --stock). Call after `registerTrainingKernels`.
 * @throws Error for names that are not training kernels or have no stock version (Conv2DBackpropFilter).
 */
export function useTrainingKernel(name: string, enabled: boolean): void {
  const config = trainingKernelConfigs.find((c) => c.kernelName === name);
  const stock = stockKernel(name);
  if (!config || !stock) throw new Error(`useTrainingKernel: '${name}' is not a training kernel with a stock wasm version`);
  const current = tf.getKernel(name, 'wasm');
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...config, setupFunc: current?.setupFunc, kernelFunc: enabled ? config.kernelFunc : stock });
}

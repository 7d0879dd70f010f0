/**
 * Add for the wasm backend, with a SIMD path for the bias add of a layer: a float32 tensor [..., C] plus a
 * vector [C] (in either order; see `channelOperands`), C % 4 == 0, in one pass (`biasActivation` of `src/train/simd`). The stock
 * kernel's broadcasting loop measured 0.6 ms for the seed CNN's [64, 26, 26, 32] + [32], about twice the
 * SIMD pass. Every other case (same shapes, other broadcasts, other dtypes, no kernels.wasm) runs the stock
 * kernel. Reference semantics: tfjs-backend-cpu/src/kernels/Add.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { channelOperands, runStockKernel, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.BinaryInputs; backend: WasmBackend };

/** Kernel function. Inputs `a`, `b` (broadcastable); returns `a + b` with the broadcast shape. */
export function add(args: Args): tf.TensorInfo {
  const { backend, inputs } = args;
  const operands = channelOperands(inputs.a as tf.TensorInfo, inputs.b as tf.TensorInfo);
  const simd = operands ? simdKernels(backend) : undefined;
  if (!operands || !simd) return runStockKernel(tf.Add, args);
  const [x, bias] = operands;
  const channels = bias.shape[0]!;
  const y = backend.makeOutput(x.shape, 'float32');
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  simd.biasActivation(at(x), at(y), at(bias), tf.util.sizeFromShape(x.shape) / channels, channels, 0);
  return y;
}

/** Registration record for `Add` on 'wasm'. */
export const addConfig: tf.KernelConfig = {
  kernelName: tf.Add,
  backendName: 'wasm',
  kernelFunc: add as unknown as tf.KernelFunc,
};

/**
 * Tanh for the wasm backend, as tanh(x) = 2 * sigmoid(2x) - 1.
 *
 * The stock kernel calls the scalar libm tanh (about 14 ns per element: 4.3 ms for one 28x28x6 LeNet
 * activation at batch 64), while the stock Sigmoid is XNNPACK's SIMD kernel (0.8 ns). Four stock passes
 * (Multiply, Sigmoid, Multiply, Sub) take about 0.6 ms for the same tensor. The identity is exact; in float32
 * the result is within 2^-23 (absolute) of Math.tanh, which for |x| < 1e-3 is a larger relative error than the
 * stock kernel's but far below anything training can see. Non-float32 inputs keep the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispose, f32, runKernel, runStockKernel, type WasmBackend } from './wasm_util.ts';

/** Kernel function. Input `x` float32 of any shape; returns tanh(x), float32 of the same shape. */
export function tanh(args: { inputs: tf.TanhInputs; backend: WasmBackend }): tf.TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== 'float32') return runStockKernel(tf.Tanh, args);
  const two = backend.makeOutput([], 'float32');
  f32(backend, two)[0] = 2;
  const one = backend.makeOutput([], 'float32');
  f32(backend, one)[0] = 1;
  const doubled = runKernel(tf.Multiply, backend, { a: x, b: two });
  const sigmoid = runKernel(tf.Sigmoid, backend, { x: doubled });
  const scaled = runKernel(tf.Multiply, backend, { a: sigmoid, b: two });
  const y = runKernel(tf.Sub, backend, { a: scaled, b: one });
  dispose(backend, two, one, doubled, sigmoid, scaled);
  return y;
}

/** Registration record for `Tanh` on 'wasm' (replaces the stock one, which it calls for non-float32 input). */
export const tanhConfig: tf.KernelConfig = {
  kernelName: tf.Tanh,
  backendName: 'wasm',
  kernelFunc: tanh as unknown as tf.KernelFunc,
};

/**
 * `HwrReluMaxPool` and `HwrReluMaxPoolGrad` (our kernel names): 2x2 max pooling, stride 2, 'valid', NHWC, of a ReLU's
 * output, and its gradient through both the pooling and that ReLU in one pass. In the seed CNN's convolution + ReLU +
 * max-pool blocks the stock path writes MaxPoolGrad's full-size gradient (zero-filled, one value per window added) and
 * then reads it again with the ReLU's output for the ReLU gradient (`HwrReluGradSum`, FusedConv2D's gradient); here
 * the backward finds each window's winner in the ReLU's output and writes the masked gradient and its per-channel sums
 * once (src/backend/convReluPool.ts; notes/PERFORMANCE.md, session 24). Values: the forward is `maxPool`'s; the
 * gradient is MaxPoolGrad's followed by the ReLU's, bit for bit, for a ReLU's output (no NaN, no -0); the sums are
 * float64 sums of the same values in another order than `Sum`'s.
 *
 * Backend: 'wasm' with hwr's SIMD kernels only (`maxPool` and `reluMaxPool2x2Grad` of simd/assembly/pooling.ts);
 * `reluMaxPoolApplies` says where. The forward is a kernel of its own only so that the gradient below is its.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels, simdKernelsOf } from '../simd/index.ts';
import { dispose, heapOffset, type WasmBackend } from './wasm_util.ts';

/**
 * Forward kernel name. Input `x` float32 [B, H, W, C] (a ReLU's output: >= 0); output pooled float32
 * [B, H/2, W/2, C] (halves rounded down), each 2x2 window's maximum (MaxPool with filter 2, stride 2, 'valid').
 */
export const RELU_MAX_POOL = 'HwrReluMaxPool';
/**
 * Backward kernel name. Inputs `dy` float32 [B, H/2, W/2, C] (the pooled output's gradient) and `x` (the forward's).
 * Outputs [dx float32 [B, H, W, C]: dy at each window's winner where the window's maximum is > 0, +0 elsewhere
 * (MaxPoolGrad, then the gradient of the ReLU that produced x); dx summed over every axis but the last, float32 [C]
 * (float64 sums window by window: the bias gradient of the convolution under the ReLU)].
 */
export const RELU_MAX_POOL_GRAD = 'HwrReluMaxPoolGrad';

/** Whether the kernels run on `backend` for x of `shape`: wasm with the SIMD kernels, rank 4, H, W >= 2, C % 4 == 0. */
export function reluMaxPoolApplies(backend: tf.KernelBackend, shape: readonly number[]): boolean {
  if (shape.length !== 4) return false;
  const [B, H, W, C] = shape as [number, number, number, number];
  if (!(B > 0 && H >= 2 && W >= 2 && C > 0 && C % 4 === 0)) return false;
  return simdKernelsOf(backend) !== undefined;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: WasmBackend };

function notApplicable(kernel: string, shape: readonly number[]): Error {
  return new Error(`${kernel}: not applicable to x [${shape}] (wasm SIMD kernels, NHWC, H and W >= 2, C % 4 == 0)`);
}

/** `HwrReluMaxPool` on 'wasm'. @throws Error where `reluMaxPoolApplies` is false (naming the shape). */
export function reluMaxPool({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  if (!reluMaxPoolApplies(backend, x.shape)) throw notApplicable(RELU_MAX_POOL, x.shape);
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const pooled = backend.makeOutput([B, H >> 1, W >> 1, C], 'float32');
  simdKernels(backend)!.maxPool(heapOffset(backend, x), heapOffset(backend, pooled), B, H, W, C, H >> 1, W >> 1, 2, 2, 2, 2, 0, 0);
  return pooled;
}

/** `HwrReluMaxPoolGrad` on 'wasm'. @throws Error where `reluMaxPoolApplies` is false for x. */
export function reluMaxPoolGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const dy = inputs.dy as tf.TensorInfo;
  const x = inputs.x as tf.TensorInfo;
  if (!reluMaxPoolApplies(backend, x.shape)) throw notApplicable(RELU_MAX_POOL_GRAD, x.shape);
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const dx = backend.makeOutput(x.shape, 'float32');
  const sums = backend.makeOutput([C], 'float32');
  const acc = backend.makeOutput([2 * C], 'float32'); // float64 [C]
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdKernels(backend)!.reluMaxPool2x2Grad(at(dy), at(x), at(dx), B, H, W, C, at(sums), at(acc));
  dispose(backend, acc);
  return [dx, sums];
}

/** Registration records of both kernels on 'wasm'. */
export const reluMaxPoolKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: RELU_MAX_POOL, backendName: 'wasm', kernelFunc: reluMaxPool as unknown as tf.KernelFunc },
  { kernelName: RELU_MAX_POOL_GRAD, backendName: 'wasm', kernelFunc: reluMaxPoolGrad as unknown as tf.KernelFunc },
];

/**
 * `HwrMaxPoolPositions` and `HwrMaxPoolPositionsGrad` (our kernel names): 2x2 max pooling, stride 2, 'valid', NHWC,
 * of a ReLU's output that also returns each window's winning position, and the gradient through both the pooling and
 * that ReLU from those positions. In the seed CNN's convolution + ReLU + max-pool blocks the stock path writes
 * MaxPoolGrad's full-size gradient (zero-filled, one value per window added) and then reads it again with the ReLU's
 * output for the ReLU gradient (`HwrReluGradSum`, FusedConv2D's gradient); here the backward writes the masked
 * gradient once from the pooled gradient and the positions (src/backend/convReluPool.ts; notes/PERFORMANCE.md,
 * session 24). Values: the pooled output is `maxPool`'s and the gradient MaxPoolGrad's followed by the ReLU's, bit for
 * bit, for a ReLU's output (no NaN, no -0); the bias sums are float64 sums of the same values in another order.
 *
 * Backend: 'wasm' with hwr's SIMD kernels only (`maxPool2x2Positions`, `maxPool2x2PositionsGrad` of
 * simd/assembly/pooling.ts); `maxPoolPositionsApplies` says where.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { dispose, heapOffset, type WasmBackend } from './wasm_util.ts';

/**
 * Forward kernel name. Input `x` float32 [B, H, W, C] (a ReLU's output: >= 0); outputs [pooled float32
 * [B, H/2, W/2, C] (halves rounded down), positions int32 of the same shape: each window's winner, 0..3 row-major,
 * MaxPoolGrad's tie rule, or -1 where the maximum is not > 0].
 */
export const MAX_POOL_POSITIONS = 'HwrMaxPoolPositions';
/**
 * Backward kernel name. Inputs `dy` float32 [B, H/2, W/2, C] (the pooled output's gradient), `positions` (the
 * forward's); attr `inputShape` [B, H, W, C]. Outputs [dx float32 [B, H, W, C]: dy at each window's winner where its
 * position is >= 0, +0 elsewhere (MaxPoolGrad, then the gradient of the ReLU that produced x); dx summed over every
 * axis but the last, float32 [C] (float64 sums window by window: the bias gradient of the convolution under the ReLU)].
 */
export const MAX_POOL_POSITIONS_GRAD = 'HwrMaxPoolPositionsGrad';

/** Whether the kernels run on `backend` for x of `shape`: wasm with the SIMD kernels, rank 4, H, W >= 2, C % 4 == 0. */
export function maxPoolPositionsApplies(backend: tf.KernelBackend, shape: readonly number[]): boolean {
  if (shape.length !== 4) return false;
  const [B, H, W, C] = shape as [number, number, number, number];
  if (!(B > 0 && H >= 2 && W >= 2 && C > 0 && C % 4 === 0)) return false;
  return (backend as unknown as { wasm?: unknown }).wasm != null && simdKernels(backend as WasmBackend) !== undefined;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: tf.NamedAttrMap };

/** `HwrMaxPoolPositions` on 'wasm'. @throws Error where `maxPoolPositionsApplies` is false (naming the shape). */
export function maxPoolPositions({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const x = inputs.x as tf.TensorInfo;
  if (!maxPoolPositionsApplies(backend, x.shape)) throw new Error(`${MAX_POOL_POSITIONS}: not applicable to x [${x.shape}] (wasm SIMD kernels, NHWC, H and W >= 2, C % 4 == 0)`);
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const pooled = backend.makeOutput([B, H >> 1, W >> 1, C], 'float32');
  const positions = backend.makeOutput([B, H >> 1, W >> 1, C], 'int32');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdKernels(backend)!.maxPool2x2Positions(at(x), at(pooled), at(positions), B, H, W, C);
  return [pooled, positions];
}

/** `HwrMaxPoolPositionsGrad` on 'wasm'. @throws Error where `maxPoolPositionsApplies` is false for `inputShape`. */
export function maxPoolPositionsGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const dy = inputs.dy as tf.TensorInfo;
  const positions = inputs.positions as tf.TensorInfo;
  const shape = (attrs as unknown as { inputShape: number[] }).inputShape;
  if (!maxPoolPositionsApplies(backend, shape)) throw new Error(`${MAX_POOL_POSITIONS_GRAD}: not applicable to x [${shape}] (wasm SIMD kernels, NHWC, H and W >= 2, C % 4 == 0)`);
  const [B, H, W, C] = shape as [number, number, number, number];
  const dx = backend.makeOutput(shape, 'float32');
  const sums = backend.makeOutput([C], 'float32');
  const acc = backend.makeOutput([2 * C], 'float32'); // float64 [C]
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdKernels(backend)!.maxPool2x2PositionsGrad(at(dy), at(positions), at(dx), B, H, W, C, at(sums), at(acc));
  dispose(backend, acc);
  return [dx, sums];
}

/** Registration records of both kernels on 'wasm'. */
export const maxPoolPositionsKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: MAX_POOL_POSITIONS, backendName: 'wasm', kernelFunc: maxPoolPositions as unknown as tf.KernelFunc },
  { kernelName: MAX_POOL_POSITIONS_GRAD, backendName: 'wasm', kernelFunc: maxPoolPositionsGrad as unknown as tf.KernelFunc },
];

/**
 * hwr's wasm SIMD pooling and reduction kernels (`assembly/pooling.ts`, part of `kernels.wasm`): max pooling in
 * training, the max-pooling gradient and the float64 column sums behind Sum and Mean over leading axes.
 *
 * Why: the JS loops they replace (src/backend/kernels/MaxPoolGrad.ts, Sum.ts) handle one float per
 * iteration; over NHWC tensors the channels are contiguous, so the wasm kernels take 4 channels (columns)
 * per f32x4 and need no per-lane scatter: a max-pool window's gradient goes to each of its pixels as
 * `dy & (pixel == first argmax)`. Both return bit-identical results to the JS kernels (same comparisons,
 * same float64 summation order), which stay the fallback when `kernels.wasm` is missing.
 * Measured (Node 20, one thread, seed CNN shapes, JS -> SIMD): MaxPoolGrad [64,26,26,32] 2.7 -> 0.23 ms with
 * its data in cache, 3.2 -> 1.0 ms in a training step, where it is bound by memory traffic (read x and dy,
 * write dx); Sum of [64,26,26,32] over [0, 1, 2] 0.70 -> 0.18 ms in cache, 0.87 -> 0.43 ms in a step.
 *
 * Memory as in ./index.ts: pointers are the tensors' own heap offsets; scratch comes from
 * `backend.makeOutput` and is disposed before returning.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispose, heapOffset as ptr, type WasmBackend } from '../kernels/wasm_util.ts';
import { imageParts, runParts } from './index.ts';

/** The exports of `assembly/pooling.ts`; pointers are byte offsets on the wasm heap. */
export interface PoolingExports {
  reluMaxPool2x2Grad(dp: number, y: number, dx: number, B: number, H: number, W: number, C: number, sums: number, acc: number): void;
  maxPool(x: number, y: number, B: number, H: number, W: number, C: number, OH: number, OW: number,
    fH: number, fW: number, sH: number, sW: number, padTop: number, padLeft: number): void;
  maxPoolGrad(x: number, dy: number, dx: number, B: number, H: number, W: number, C: number, OH: number, OW: number,
    fH: number, fW: number, sH: number, sW: number, padTop: number, padLeft: number): void;
  columnSums(x: number, rows: number, cols: number, scale: number, out: number, acc: number): void;
  reluGradColumnSums(dy: number, x: number, dx: number, rows: number, cols: number, out: number, acc: number): void;
}

/**
 * MaxPoolGrad: dx[first argmax of x over window (b, oh, ow), c] += dy[b, oh, ow, c], zero elsewhere.
 * `x` float32 [batch, inH, inW, C] (the pooled tensor), `dy` float32 [batch, outH, outW, C], `info` from
 * `computePool2DInfo` (any window, stride and padding; dilation 1); returns float32 [batch, inH, inW, C].
 * Ties and NaN handled exactly as the JS kernel in src/backend/kernels/MaxPoolGrad.ts. Throws nothing.
 */
export function simdMaxPoolGrad(backend: WasmBackend, kernels: PoolingExports, x: tf.TensorInfo, dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const dx = backend.makeOutput(x.shape, 'float32');
  const inImage = info.inHeight * info.inWidth * info.inChannels * 4;
  const outImage = info.outHeight * info.outWidth * info.inChannels * 4;
  // Runs of whole images, one per kernel thread (windows never cross images).
  runParts(backend, kernels as never, imageParts(backend, info.batchSize).map(([b0, n]) => ({
    fn: 'maxPoolGrad',
    args: [ptr(backend, x) + b0 * inImage, ptr(backend, dy) + b0 * outImage, ptr(backend, dx) + b0 * inImage, n, info.inHeight, info.inWidth,
      info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, info.strideHeight,
      info.strideWidth, info.padInfo.top, info.padInfo.left],
  })));
  return dx;
}

/**
 * MaxPool: y[b, oh, ow, c] = max of x over window (b, oh, ow) (its pixels inside x), channel c. `x` float32
 * [batch, inH, inW, C] with C % 4 == 0, `info` from `computePool2DInfo` (any window, stride and padding; dilation
 * 1); returns float32 [batch, outH, outW, C]. A NaN in a window gives NaN (wasm's `f32x4.max`). Throws nothing.
 */
export function simdMaxPool(backend: WasmBackend, kernels: PoolingExports, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const y = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.inChannels], 'float32');
  const inImage = info.inHeight * info.inWidth * info.inChannels * 4;
  const outImage = info.outHeight * info.outWidth * info.inChannels * 4;
  runParts(backend, kernels as never, imageParts(backend, info.batchSize).map(([b0, n]) => ({
    fn: 'maxPool',
    args: [ptr(backend, x) + b0 * inImage, ptr(backend, y) + b0 * outImage, n, info.inHeight, info.inWidth, info.inChannels,
      info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth,
      info.padInfo.top, info.padInfo.left],
  })));
  return y;
}

/**
 * Column sums: out[j] = scale * sum over i of x[i, j], for `x` float32 viewed as [rows, cols], into `out`
 * float32 [cols] (an existing tensor). Accumulates in float64 in the order of `columnSums` in
 * src/backend/kernels/Sum.ts, so the results are bit-identical to it. Throws nothing.
 */
export function simdColumnSums(backend: WasmBackend, kernels: PoolingExports, x: tf.TensorInfo, rows: number, cols: number,
  scale: number, out: tf.TensorInfo): void {
  const acc = backend.makeOutput([2 * cols], 'float32'); // float64 [cols]
  kernels.columnSums(ptr(backend, x), rows, cols, scale, ptr(backend, out), ptr(backend, acc));
  dispose(backend, acc);
}

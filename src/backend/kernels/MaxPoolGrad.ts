/**
 * MaxPoolGrad for the wasm backend: routes each output gradient to the input element that won its window.
 *
 * Replaces the stock wasm kernel, which visits every input pixel and rescans all windows that cover it
 * (about 8x slower than this on the seed CNN).
 *
 * Algorithm: dx = 0; for every window (b, oh, ow) and channel c: dx[argmax of x over the window] += dy[b, oh, ow, c].
 * The argmax is branch-free (`at += +(x[p] > x[at]) * (p - at)`; `+bool` compiles to a flag, a ternary to a jump): with ReLU activations the comparisons are
 * unpredictable and branchy code measured 4x slower. 2x2 windows use a two-round tournament. Ties go to the first pixel in row-major
 * window order and only a strictly greater value wins, as in the cpu backend
 * (tfjs-backend-cpu/src/utils/pool_utils.ts maxPoolPositions), so both backends route gradients identically
 * (except for windows that hold only NaN or -Infinity, which the cpu backend skips and this kernel routes to
 * their first pixel).
 * Pixels of the window that lie in the padding are skipped.
 *
 * With `kernels.wasm` built, the wasm SIMD version of this loop runs instead (src/backend/simd/pooling.ts: 4
 * channels per f32x4, bit-identical results); `maxPoolGradJs` is the fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { simdMaxPoolGrad } from '../simd/pooling.ts';
import { f32, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel function. Inputs: `dy` float32 [batch, outH, outW, C], `input` float32 [batch, inH, inW, C]
 * (the pooled tensor), `output` (unused); attrs: `filterSize`, `strides`, `pad`, `dimRoundingMode`.
 * Returns float32 [batch, inH, inW, C].
 */
export function maxPoolGrad(args: {
  inputs: tf.MaxPoolGradInputs;
  backend: WasmBackend;
  attrs: tf.MaxPoolGradAttrs;
}): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const input = inputs.input as tf.TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode,
  );
  const kernels = simdKernels(backend);
  if (kernels && tf.util.sizeFromShape(input.shape) > 0) return simdMaxPoolGrad(backend, kernels, input, dy, info);
  return maxPoolGradJs(backend, input, dy, info);
}

/**
 * The JS loop of this kernel (see the module comment). `input` float32 [batch, inH, inW, C], `dy` float32
 * [batch, outH, outW, C], `info` from `computePool2DInfo`; returns float32 [batch, inH, inW, C].
 */
export function maxPoolGradJs(backend: WasmBackend, input: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: nB, inHeight: inH, inWidth: inW, inChannels: nC, outHeight: outH, outWidth: outW } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const dxInfo = backend.makeOutput(input.shape, 'float32');
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const dx = f32(backend, dxInfo);
  dx.fill(0);
  const rowStride = inW * nC;
  let gi = 0;
  for (let b = 0; b < nB; b++) {
    const image = b * inH * rowStride;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - padTop;
      const hFrom = Math.max(0, h0);
      const hTo = Math.min(inH, h0 + fH);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - padLeft;
        const wFrom = Math.max(0, w0);
        const wTo = Math.min(inW, w0 + fW);
        const corner = image + hFrom * rowStride + wFrom * nC;
        if (hTo - hFrom === 2 && wTo - wFrom === 2) {
          // 2x2 window inside x: a tournament of the two rows, then of the two row winners.
          for (let c = 0; c < nC; c++, gi++) {
            const p0 = corner + c;
            const p2 = p0 + rowStride;
            const top = p0 + +(x[p0 + nC]! > x[p0]!) * nC;
            const bottom = p2 + +(x[p2 + nC]! > x[p2]!) * nC;
            const at = top + +(x[bottom]! > x[top]!) * (bottom - top);
            dx[at] += g[gi]!;
          }
          continue;
        }
        if (hTo <= hFrom || wTo <= wFrom) {
          gi += nC; // window entirely in the padding: no input receives gradient
          continue;
        }
        for (let c = 0; c < nC; c++, gi++) {
          let at = corner + c;
          for (let h = hFrom; h < hTo; h++) {
            for (let p = image + h * rowStride + wFrom * nC + c, pEnd = p + (wTo - wFrom) * nC; p < pEnd; p += nC) {
              at += +(x[p]! > x[at]!) * (p - at);
            }
          }
          dx[at] += g[gi]!;
        }
      }
    }
  }
  return dxInfo;
}

/** Registration record for `MaxPoolGrad` on 'wasm'. */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};

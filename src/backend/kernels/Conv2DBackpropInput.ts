/**
 * Conv2DBackpropInput for the wasm backend: the gradient of a 2-D convolution with respect to its input.
 *
 * Replaces the stock wasm kernel (a scalar C++ loop, 10x to 20x slower on the seed CNN). First choice: hwr's
 * SIMD kernels (`src/backend/simd`): Winograd F(2x2, 3x3) or F(4x4, 3x3) for 3x3 stride-1 layers where
 * `winogradTile` finds it cheaper, else the direct implicit GEMM with col2im fused into it (any stride,
 * padding and channel count, NHWC, dilation 1). Without `kernels.wasm` (an install with --ignore-scripts),
 * two XNNPACK algorithms, chosen per call by a cost model (`estimateCostMs`) calibrated on the seed CNN,
 * lenet5 and hwr-net shapes:
 *
 * - "transposed conv" (Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning", sec. 4):
 *     dx = conv2d(dilate(dy, stride), flip(W), stride 1, pads [fH-1-padTop, ..., fW-1-padLeft, ...])
 *   with flip(W)[kh, kw, co, ci] = W[fH-1-kh, fW-1-kw, ci, co], on the stock XNNPACK Conv2D. It also
 *   multiplies the zero padding and the inserted zeros, so it wastes work on small images and strides > 1,
 *   and XNNPACK runs narrow outputs (inC < 8) at a fraction of its speed.
 * - "GEMM + col2im" (the Caffe backward pass; Chellapilla et al. 2006):
 *     cols[b*oh*ow, (kh, kw, ci)] = dy[b*oh*ow, co] x W^T[co, (kh, kw, ci)]   (one XNNPACK BatchMatMul)
 *     dx[b, oh*sH+kh-padTop, ow*sW+kw-padLeft, ci] += cols[...]               (scatter-add in JS)
 *   It does only the necessary multiplies but pays about 2 ns per cols element for the JS scatter.
 * Reference semantics: tfjs-backend-cpu/src/kernels/Conv2DBackpropInput.ts. NCHW and explicit pads wider than
 * the filter use the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { winogradConv2DBackpropInput, winogradTile } from '../simd/winograd.ts';
import { simdConv2DBackpropInput, simdCovers, simdKernels } from '../simd/index.ts';
import { COST, dispose, f32, gemmMs, runKernel, runStockKernel, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.Conv2DBackpropInputInputs; backend: WasmBackend; attrs: tf.Conv2DBackpropInputAttrs };
type Info = tf.backend_util.Conv2DInfo;

/** Estimated milliseconds of each algorithm for `info` (see the module comment). */
export function estimateCostMs(info: Info): { transposedConv: number; gemmCol2im: number } {
  const { batchSize: nB, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW } = info;
  const taps = info.filterHeight * info.filterWidth;
  const patches = nB * outH * outW;
  return {
    transposedConv: gemmMs(nB * inH * inW, taps * info.outChannels, inC),
    gemmCol2im:
      gemmMs(patches, info.outChannels, taps * inC) + (patches * taps * inC * COST.jsScatterNs) / 1e6,
  };
}

/**
 * Kernel function. Inputs: `dy` float32 [batch, outH, outW, outC], `filter` float32 [fH, fW, inC, outC];
 * attrs: `inputShape` [batch, inH, inW, inC], `strides`, `pad`, `dataFormat`, `dimRoundingMode`.
 * Returns float32 `inputShape`.
 */
export function conv2DBackpropInput(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode,
    false, tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const pads = transposedConvPads(info);
  if (info.dataFormat !== 'channelsLast') return runStockKernel(tf.Conv2DBackpropInput, args);
  const simd = simdKernels(backend);
  const tile = simd && winogradTile(info, 'input');
  if (simd && tile) return winogradConv2DBackpropInput(backend, simd, dy, filter, info, tile);
  if (simd && simdCovers(info, 'input')) return simdConv2DBackpropInput(backend, simd, dy, filter, info);
  const cost = estimateCostMs(info);
  if (cost.gemmCol2im < cost.transposedConv || Math.min(...pads) < 0) return viaGemmCol2im(backend, dy, filter, info);
  return viaTransposedConv(backend, dy, filter, info, pads);
}

/** [top, bottom, left, right] pads of dilated dy that make the stride-1 convolution output [inH, inW]. */
function transposedConvPads(info: Info): [number, number, number, number] {
  const dilH = (info.outHeight - 1) * info.strideHeight + 1;
  const dilW = (info.outWidth - 1) * info.strideWidth + 1;
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  return [top, info.inHeight + info.filterHeight - 1 - top - dilH, left, info.inWidth + info.filterWidth - 1 - left - dilW];
}

function viaTransposedConv(
  backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info, pads: [number, number, number, number],
): tf.TensorInfo {
  const { batchSize: nB, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW } = info;
  const dilH = (outH - 1) * sH + 1;
  const dilW = (outW - 1) * sW + 1;
  const flipped = backend.makeOutput([fH, fW, outC, inC], 'float32');
  const dilated = sH === 1 && sW === 1 ? dy : backend.makeOutput([nB, dilH, dilW, outC], 'float32');
  const w = f32(backend, filter);
  const wf = f32(backend, flipped);
  for (let kh = 0; kh < fH; kh++) {
    for (let kw = 0; kw < fW; kw++) {
      const from = ((fH - 1 - kh) * fW + (fW - 1 - kw)) * inC * outC;
      let to = (kh * fW + kw) * outC * inC;
      for (let co = 0; co < outC; co++) {
        for (let ci = 0; ci < inC; ci++) wf[to++] = w[from + ci * outC + co]!;
      }
    }
  }
  if (dilated !== dy) {
    const src = f32(backend, dy);
    const dst = f32(backend, dilated);
    dst.fill(0);
    let s = 0;
    for (let b = 0; b < nB; b++) {
      for (let oh = 0; oh < outH; oh++) {
        let d = (b * dilH + oh * sH) * dilW * outC;
        for (let ow = 0; ow < outW; ow++, d += sW * outC) {
          for (let c = 0; c < outC; c++) dst[d + c] = src[s++]!;
        }
      }
    }
  }
  const [top, bottom, left, right] = pads;
  const dx = runKernel('Conv2D', backend, { x: dilated, filter: flipped }, {
    strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dilations: [1, 1], dataFormat: 'NHWC',
  });
  dispose(backend, flipped);
  if (dilated !== dy) dispose(backend, dilated);
  return dx;
}

function viaGemmCol2im(backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: nB, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW, outChannels: outC } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const rowLen = fH * fW * inC;
  const patches = nB * outH * outW;

  // W viewed as [rowLen, outC], transposed to [outC, rowLen]: the small GEMM operand, which XNNPACK packs.
  const wT = backend.makeOutput([1, outC, rowLen], 'float32');
  const w = f32(backend, filter);
  const wt = f32(backend, wT);
  for (let r = 0; r < rowLen; r++) {
    for (let co = 0; co < outC; co++) wt[co * rowLen + r] = w[r * outC + co]!;
  }
  const dy3 = { dataId: dy.dataId, shape: [1, patches, outC], dtype: dy.dtype };
  const cols = runKernel('BatchMatMul', backend, { a: dy3, b: wT }, { transposeA: false, transposeB: false });
  dispose(backend, wT);

  const dxInfo = backend.makeOutput([nB, inH, inW, inC], 'float32');
  const c = f32(backend, cols);
  const dx = f32(backend, dxInfo);
  dx.fill(0);
  // Per (patch, kh), the filter columns that land inside dx form one contiguous run of (kwTo - kwFrom) * inC
  // floats in both cols and NHWC dx.
  const run = fW * inC;
  let j = 0;
  for (let b = 0; b < nB; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = ow * sW - padLeft;
        const kwFrom = Math.max(0, -iw0);
        const kwTo = Math.max(kwFrom, Math.min(fW, inW - iw0));
        const count = (kwTo - kwFrom) * inC;
        for (let kh = 0; kh < fH; kh++, j += run) {
          const ih = oh * sH + kh - padTop;
          if (ih < 0 || ih >= inH) continue;
          const d = ((b * inH + ih) * inW + iw0 + kwFrom) * inC;
          const from = j + kwFrom * inC;
          for (let i = 0; i < count; i++) dx[d + i] += c[from + i]!;
        }
      }
    }
  }
  dispose(backend, cols);
  return dxInfo;
}

/** Registration record for `Conv2DBackpropInput` on 'wasm'. */
export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};

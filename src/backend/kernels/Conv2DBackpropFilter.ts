/**
 * Conv2DBackpropFilter for the wasm backend: the gradient of a 2-D convolution with respect to its filter.
 *
 * The stock wasm backend has no such kernel, so training any conv net on wasm fails without it.
 *
 * First choice: hwr's SIMD kernels (`src/backend/simd`): Winograd F(2x2, 3x3) or F(4x4, 3x3) for 3x3 stride-1
 * layers where `winogradTile` finds it cheaper, else the direct implicit GEMM (NHWC, dilation 1, outC % 8 == 0).
 * The XNNPACK paths below serve the other cases (e.g. lenet5's 6-channel layer) and installs without
 * `kernels.wasm` (--ignore-scripts).
 *
 * Algorithm (im2col + one GEMM, as in Caffe; Chellapilla et al. 2006, "High performance convolutional
 * neural networks for document processing"):
 *   dW[(kh, kw, ci), co] = sum over patches p = (b, oh, ow) of cols[p, (kh, kw, ci)] * dy[p, co]
 *   cols[p, (kh, kw, ci)] = x[b, oh*sH + kh - padTop, ow*sW + kw - padLeft, ci]   (0 outside x)
 * The GEMM is the stock wasm BatchMatMul (XNNPACK, SIMD). XNNPACK repacks its right-hand operand on every
 * call (about 4.6 ns per float), so the smaller of dy and cols goes on the right:
 * - "dy right":   dW = colsT x dy, colsT gathered in JS from x transposed to [ci, b, h, w]; the
 *                 [kh*kw*ci, co] result is already the filter layout. Used by all but narrow first layers.
 * - "cols right": dW^T = dyT x cols, dyT by the wasm Transpose, cols copied from NHWC x in runs of fW*inC
 *                 floats (`copyWithin` on the wasm heap for long runs); used when kh*kw*ci is small next to
 *                 co (a 3x3 conv on a 1-channel image: 9 columns instead of 32).
 * A convolution with batch and channels swapped (XNNPACK Conv2D, dilation = stride) gives the same result
 * but measured 0.6x to 1.0x as fast. Reference semantics: tfjs-backend-cpu/src/kernels/Conv2DBackpropFilter.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { winogradConv2DBackpropFilter, winogradTile } from '../simd/winograd.ts';
import { simdConv2DBackpropFilter, simdCovers, simdKernels } from '../simd/index.ts';
import { COST, dispose, f32, gemmMs, heapF32, offsetF32, runKernel, transpose2D, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.Conv2DBackpropFilterInputs; backend: WasmBackend; attrs: tf.Conv2DBackpropFilterAttrs };
type Info = tf.backend_util.Conv2DInfo;

/** Estimated milliseconds of both operand orders for `info` (see the module comment). */
export function estimateCostMs(info: Info): { dyRight: number; colsRight: number } {
  const patches = info.batchSize * info.outHeight * info.outWidth;
  const run = info.filterWidth * info.inChannels;
  const rowLen = info.filterHeight * run;
  const outC = info.outChannels;
  const im2col = (run >= MIN_COPY_RUN
    ? patches * info.filterHeight * COST.copyCallNs + patches * rowLen * COST.copyNs
    : patches * rowLen * COST.jsCopyNs) / 1e6;
  const xTranspose = info.inChannels > 1 ? info.batchSize * info.inHeight * info.inWidth * info.inChannels * COST.transposeNs : 0;
  return {
    dyRight: (xTranspose + patches * rowLen * COST.jsCopyNs + patches * outC * COST.packNs) / 1e6 + gemmMs(rowLen, patches, outC),
    colsRight: im2col + (patches * outC * COST.transposeNs + patches * rowLen * COST.packNs) / 1e6 + gemmMs(outC, patches, rowLen),
  };
}

/** Shortest run of floats that im2col moves with `copyWithin` rather than a JS loop. */
const MIN_COPY_RUN = 16;

/**
 * Kernel function. Inputs: `x` float32 [batch, inH, inW, inC], `dy` float32 [batch, outH, outW, outC];
 * attrs: `strides`, `pad` ('valid' | 'same' | number | explicit), `dataFormat`, `dimRoundingMode`,
 * `filterShape` [fH, fW, inC, outC]. Returns float32 `filterShape`.
 * @throws Error for dataFormat 'NCHW' (tfjs-backend-wasm 4.22 has no kernel to fall back to; layers use NHWC).
 */
export function conv2DBackpropFilter(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm): dataFormat NCHW is not supported; use NHWC');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode,
  );
  const simd = simdKernels(backend);
  const tile = simd && winogradTile(info, 'filter');
  if (simd && tile) return winogradConv2DBackpropFilter(backend, simd, x, dy, info, tile);
  if (simd && simdCovers(info, 'filter')) return simdConv2DBackpropFilter(backend, simd, x, dy, info);
  const cost = estimateCostMs(info);
  return cost.colsRight < cost.dyRight ? colsRight(backend, x, dy, info) : dyRight(backend, x, dy, info);
}

/**
 * im2col: cols[p, (kh, kw, ci)] for p = (b, oh, ow), as a new float32 tensor [patches, fH*fW*inC].
 * Each (patch, kh) row segment is one run of fW*inC floats of x (clipped at the borders, zeros outside).
 */
function im2col(backend: WasmBackend, x: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: nB, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const run = fW * inC;
  const cols = backend.makeOutput([nB * outH * outW, fH * run], 'float32');
  const heap = heapF32(backend);
  const xAt = offsetF32(backend, x);
  let j = offsetF32(backend, cols);
  const useCopy = run >= MIN_COPY_RUN;
  for (let b = 0; b < nB; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = ow * sW - padLeft;
        // Filter columns whose input column lies inside x: [kwFrom, kwTo).
        const kwFrom = Math.max(0, -iw0);
        const kwTo = Math.max(kwFrom, Math.min(fW, inW - iw0));
        for (let kh = 0; kh < fH; kh++) {
          const ih = oh * sH + kh - padTop;
          if (ih < 0 || ih >= inH || kwTo === kwFrom) {
            heap.fill(0, j, j + run);
            j += run;
            continue;
          }
          if (kwFrom > 0) heap.fill(0, j, j + kwFrom * inC);
          const from = xAt + ((b * inH + ih) * inW + iw0 + kwFrom) * inC;
          const count = (kwTo - kwFrom) * inC;
          const to = j + kwFrom * inC;
          if (useCopy) heap.copyWithin(to, from, from + count);
          else for (let i = 0; i < count; i++) heap[to + i] = heap[from + i]!;
          if (kwTo < fW) heap.fill(0, to + count, j + run);
          j += run;
        }
      }
    }
  }
  return cols;
}

function dyRight(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: nB, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW, outChannels: outC } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const patches = nB * outH * outW;

  // colsT[(kh, kw, ci), (b, oh, ow)], gathered from x transposed to channel planes [ci, b, h, w] so that each
  // output row reads consecutive pixels. (Building cols and transposing it measured no faster: the wasm
  // Transpose of a large [patches, kh*kw*ci] matrix costs about 1 ns per element, 3.5 when rows are 1 KiB-aligned.)
  const xT = inC === 1 ? x : runKernel('Transpose', backend, { x }, { perm: [3, 0, 1, 2] });
  const colsT = backend.makeOutput([1, fH * fW * inC, patches], 'float32');
  const src = f32(backend, xT);
  const dst = f32(backend, colsT);
  let j = 0;
  for (let kh = 0; kh < fH; kh++) {
    for (let kw = 0; kw < fW; kw++) {
      // Output columns whose input column lies inside x: [owFrom, owTo).
      const owFrom = Math.min(outW, Math.max(0, Math.ceil((padLeft - kw) / sW)));
      const owTo = Math.max(owFrom, Math.min(outW, Math.floor((inW - 1 + padLeft - kw) / sW) + 1));
      const iwFrom = owFrom * sW + kw - padLeft;
      for (let ci = 0; ci < inC; ci++) {
        for (let b = 0; b < nB; b++) {
          const plane = (ci * nB + b) * inH;
          for (let oh = 0; oh < outH; oh++) {
            const ih = oh * sH + kh - padTop;
            if (ih < 0 || ih >= inH) {
              dst.fill(0, j, j + outW);
              j += outW;
              continue;
            }
            for (let ow = 0; ow < owFrom; ow++) dst[j++] = 0;
            let s = (plane + ih) * inW + iwFrom;
            for (let ow = owFrom; ow < owTo; ow++, s += sW) dst[j++] = src[s]!;
            for (let ow = owTo; ow < outW; ow++) dst[j++] = 0;
          }
        }
      }
    }
  }
  if (xT !== x) dispose(backend, xT);

  const dy3 = { dataId: dy.dataId, shape: [1, patches, outC], dtype: dy.dtype };
  const dW = runKernel('BatchMatMul', backend, { a: colsT, b: dy3 }, { transposeA: false, transposeB: false });
  dispose(backend, colsT);
  return { dataId: dW.dataId, shape: [fH, fW, inC, outC], dtype: 'float32' };
}

function colsRight(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { filterHeight: fH, filterWidth: fW, inChannels: inC, outChannels: outC } = info;
  const patches = info.batchSize * info.outHeight * info.outWidth;
  const rowLen = fH * fW * inC;
  const dyT = transpose2D(backend, dy, patches, outC);
  const cols = im2col(backend, x, info);
  const a = { dataId: dyT.dataId, shape: [1, outC, patches], dtype: dyT.dtype };
  const b = { dataId: cols.dataId, shape: [1, patches, rowLen], dtype: cols.dtype };
  const dWT = runKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
  dispose(backend, dyT, cols);
  const dW = transpose2D(backend, dWT, outC, rowLen);
  dispose(backend, dWT);
  return { dataId: dW.dataId, shape: [fH, fW, inC, outC], dtype: 'float32' };
}

/** Registration record for `Conv2DBackpropFilter` on 'wasm'. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};

/**
 * Conv2D for the wasm backend during training: the forward convolution through hwr's SIMD implicit GEMM
 * (`src/backend/simd`), which needs no packing of the filter. The stock kernel (XNNPACK) caches a packed
 * filter per filter tensor, and training hands it a new filter tensor every step, so it repacked the
 * weights on each call; measured on the seed CNN's [64,13,13,32] * [3,3,32,64] layer: see
 * notes/PERFORMANCE.md. Cases the SIMD kernel does not cover (NCHW, dilation, outChannels % 8 != 0, or a
 * missing kernels.wasm) run the stock kernel. Reference semantics: tfjs-backend-cpu/src/kernels/Conv2D.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { winogradConv2D, winogradTile } from '../simd/winograd.ts';
import { simdConv2D, simdCovers, simdKernels, type SimdExports } from '../simd/index.ts';
import { runStockKernel, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.Conv2DInputs; backend: WasmBackend; attrs: tf.Conv2DAttrs };

/**
 * Kernel function. Inputs: `x` float32 [batch, inH, inW, inC] (NHWC), `filter` float32 [fH, fW, inC, outC];
 * attrs as tf.conv2d. Returns float32 [batch, outH, outW, outC].
 */
export function conv2D(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const x = inputs.x as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations,
    pad, dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const simd = simdKernels(backend);
  if (!simd || !simdCovers(info, 'forward') || x.dtype !== 'float32') return runStockKernel(tf.Conv2D, args);
  return convolve(backend, simd, x, filter, info);
}

/**
 * The forward convolution by the cheaper SIMD algorithm for `info` (Winograd or the direct implicit GEMM).
 * Requires `simdCovers(info, 'forward')`. Returns float32 [batch, outH, outW, outC].
 */
export function convolve(backend: WasmBackend, simd: SimdExports, x: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const tile = winogradTile(info, 'forward');
  return tile ? winogradConv2D(backend, simd, x, filter, info, tile) : simdConv2D(backend, simd, x, filter, info);
}

/** Registration record for `Conv2D` on 'wasm'. */
export const conv2DConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: 'wasm',
  kernelFunc: conv2D as unknown as tf.KernelFunc,
};

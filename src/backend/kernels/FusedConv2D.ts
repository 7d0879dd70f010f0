/**
 * FusedConv2D for the wasm backend: the convolution of `Conv2D.ts` (Winograd or the direct SIMD kernel)
 * followed by an optional bias and a 'linear' or 'relu' activation in one pass over the output. TF.js runs
 * the fused op whenever the activation is linear, also while training (tfjs-core `fused.conv2d`,
 * `shouldFuse`): hwr-net's convolutions (no bias, batch norm after) take this path. Other activations,
 * PReLU weights, a bias that is not one value per output channel, NCHW and the cases `Conv2D.ts` does not
 * cover run the stock kernel (XNNPACK). Reference semantics: tfjs-backend-cpu/src/kernels/FusedConv2D.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementParts, runParts, simdConv2D, simdCovers, simdKernels } from '../simd/index.ts';
import { winogradTile } from '../simd/winograd.ts';
import { convolve } from './Conv2D.ts';
import { heapOffset, runStockKernel, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.FusedConv2DInputs; backend: WasmBackend; attrs: tf.FusedConv2DAttrs };

/**
 * Kernel function. Inputs: `x` float32 [batch, inH, inW, inC] (NHWC), `filter` float32 [fH, fW, inC, outC],
 * optional `bias` float32 [outC], optional `preluActivationWeights`; attrs as tf.fused.conv2d. Returns float32
 * [batch, outH, outW, outC].
 */
export function fusedConv2D(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
  const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number], strides, dilations,
    pad, dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const simd = simdKernels(backend);
  const supported = (activation === 'linear' || activation === 'relu') && !preluActivationWeights
    && (!bias || tf.util.sizeFromShape(bias.shape) === info.outChannels) && x!.dtype === 'float32';
  if (!simd || !supported || !simdCovers(info, 'forward')) return runStockKernel(tf.FusedConv2D, args);
  // The direct kernel applies the bias and activation before its stores; Winograd's output needs a second pass.
  if (!winogradTile(info, 'forward')) return simdConv2D(backend, simd, x!, filter!, info, bias ?? null, activation === 'relu');
  const y = convolve(backend, simd, x!, filter!, info);
  if (bias || activation === 'relu') {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    const P = info.batchSize * info.outHeight * info.outWidth;
    const C = info.outChannels;
    // Pixel ranges, one per kernel thread.
    runParts(backend, simd, elementParts(backend, P, 1).map(([p0, n]) => ({
      fn: 'biasActivation', args: [at(y) + 4 * p0 * C, at(y) + 4 * p0 * C, bias ? at(bias) : 0, n, C, activation === 'relu' ? 1 : 0],
    })));
  }
  return y;
}

/** Registration record for `FusedConv2D` on 'wasm'. */
export const fusedConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: 'wasm',
  kernelFunc: fusedConv2D as unknown as tf.KernelFunc,
};

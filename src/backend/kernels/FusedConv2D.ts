/**
 * FusedConv2D for the wasm backend: the convolution of `Conv2D.ts` (Winograd or the direct SIMD kernel) with an
 * optional bias and a 'linear' or 'relu' activation applied inside the kernel (no second pass over the output). TF.js runs
 * the fused op whenever the activation is linear, also while training (tfjs-core `fused.conv2d`,
 * `shouldFuse`): hwr-net's convolutions (no bias, batch norm after) take this path. Other activations,
 * PReLU weights, a bias that is not one value per output channel, NCHW and the cases `Conv2D.ts` does not
 * cover run the stock kernel (XNNPACK). Reference semantics: tfjs-backend-cpu/src/kernels/FusedConv2D.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdConv2D, simdCovers, simdKernels } from '../simd/index.ts';
import { winogradConv2D, winogradTile } from '../simd/winograd.ts';
import { runStockKernel, type WasmBackend } from './wasm_util.ts';

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
  // Both algorithms apply the bias and activation inside the kernel (the direct one before its stores, Winograd per
  // chunk of tiles after its output transform): no second pass over y.
  const tile = winogradTile(info, 'forward');
  const relu = activation === 'relu';
  return tile ? winogradConv2D(backend, simd, x!, filter!, info, tile, bias ?? null, relu) : simdConv2D(backend, simd, x!, filter!, info, bias ?? null, relu);
}

/** Registration record for `FusedConv2D` on 'wasm'. */
export const fusedConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: 'wasm',
  kernelFunc: fusedConv2D as unknown as tf.KernelFunc,
};

/**
 * `_FusedMatMul` for the wasm backend (a dense layer's forward pass: op(a) x op(b) + bias, then an activation):
 * while a gradient tape records, the product runs on hwr's SIMD kernels (`simdMatMul` of ./BatchMatMul.ts: the GEMMs
 * of ../simd/gemm.ts, no XNNPACK repacking of the weights that change every step), the bias and ReLU applied in the
 * GEMM's final store.
 * Outside training, and for batched products, PReLU or other activations, a bias that is not one value per output
 * column, or shapes `simdMatMul` does not cover, the stock kernel runs (inference results are unchanged).
 * Reference semantics: tfjs-backend-cpu/src/kernels/_FusedMatMul.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdMatMul } from './BatchMatMul.ts';
import { runStockKernel, taping, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf._FusedMatMulInputs; backend: WasmBackend; attrs: tf._FusedMatMulAttrs };

/**
 * Kernel function. Inputs float32 `a` [...batch, r, c], `b` [...batch, r', c'], optional `bias`, optional
 * `preluActivationWeights`; attrs `transposeA`, `transposeB`, `activation`. Returns float32 [...batch, m, n].
 */
export function fusedMatMul(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const { a, b, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
  const { transposeA, transposeB, activation } = attrs;
  const n = (transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1]) ?? 0;
  const supported = taping() && (activation === 'linear' || activation === 'relu') && !preluActivationWeights
    && (!bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === n && bias.shape.length <= 1))
    && a!.dtype === 'float32' && b!.dtype === 'float32'
    && tf.util.sizeFromShape(a!.shape.slice(0, -2)) === 1 && tf.util.sizeFromShape(b!.shape.slice(0, -2)) === 1;
  const y = supported ? simdMatMul(backend, a!, b!, transposeA, transposeB, bias, activation === 'relu') : null;
  return y ?? runStockKernel(tf._FusedMatMul, args);
}

/** Registration record for `_FusedMatMul` on 'wasm' (replaces the stock one, which it calls for other cases). */
export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: 'wasm',
  kernelFunc: fusedMatMul as unknown as tf.KernelFunc,
};

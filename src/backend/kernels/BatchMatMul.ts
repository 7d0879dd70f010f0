/**
 * BatchMatMul for the wasm backend: the stock kernel, plus a fast route for transposed operands.
 *
 * The stock kernel reaches XNNPACK (SIMD) only for a single, untransposed product; with `transposeA` or
 * `transposeB` it runs a scalar triple loop about 20x slower. Backpropagation through a dense layer needs
 * exactly those two products (dx = dy x W^T, dW = x^T x dy), so on the hwr-net (a 1152 x 128 dense layer)
 * they took 8% of a training step.
 *
 * Algorithm: materialize the transposed operands with the wasm Transpose and run the untransposed XNNPACK
 * product, in whichever of two equivalent orders is cheaper (XNNPACK repacks its right operand on every
 * call, about 4.6 ns per float, so that operand should be the small one):
 *   C = op(A) x op(B)                 (right operand op(B), [k, n]), or
 *   C = (op(B)^T x op(A)^T)^T         (right operand op(A)^T, [k, m]; one more transpose of C).
 * Batched products (batch > 1) keep the stock kernel. Reference semantics: tfjs-core matMul.
 */
import * as tf from '@tensorflow/tfjs-core';
import { COST, dispose, runKernel, runStockKernel, transpose2D, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.BatchMatMulInputs; backend: WasmBackend; attrs: tf.BatchMatMulAttrs };

/**
 * Kernel function. Inputs: float32 `a` [...batch, r, c] and `b` [...batch, r', c']; attrs `transposeA`,
 * `transposeB`. Returns float32 [...batch, m, n] with m, n the outer dimensions of op(a) and op(b).
 */
export function batchMatMul(args: Args): tf.TensorInfo {
  const { backend, inputs, attrs } = args;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  const { transposeA, transposeB } = attrs;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if ((!transposeA && !transposeB) || batchA !== 1 || batchB !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return runStockKernel(tf.BatchMatMul, args);
  }
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const n = transposeB ? bRows : bCols;
  const outShape = [...a.shape.slice(0, -2), m, n];
  const transposeMs = (size: number) => (size * COST.transposeNs) / 1e6;
  const packMs = (size: number) => (size * COST.packNs) / 1e6;
  const direct = (transposeA ? transposeMs(m * k) : 0) + (transposeB ? transposeMs(k * n) : 0) + packMs(k * n);
  const swapped = (transposeA ? 0 : transposeMs(m * k)) + (transposeB ? 0 : transposeMs(k * n)) + packMs(k * m) + transposeMs(m * n);

  const temporaries: tf.TensorInfo[] = [];
  // Returns `x` ([rows, cols]) or its transpose as a rank-3 [1, ., .] operand.
  const operand = (x: tf.TensorInfo, rows: number, cols: number, transpose: boolean): tf.TensorInfo => {
    if (!transpose) return { dataId: x.dataId, shape: [1, rows, cols], dtype: x.dtype };
    const t = transpose2D(backend, x, rows, cols);
    temporaries.push(t);
    return { dataId: t.dataId, shape: [1, cols, rows], dtype: t.dtype };
  };
  const plain = { transposeA: false, transposeB: false };
  let out: tf.TensorInfo;
  if (direct <= swapped) {
    const left = operand(a, aRows, aCols, transposeA);
    const right = operand(b, bRows, bCols, transposeB);
    out = runKernel(tf.BatchMatMul, backend, { a: left, b: right }, plain);
  } else {
    const left = operand(b, bRows, bCols, !transposeB); // op(B)^T, [n, k]
    const right = operand(a, aRows, aCols, !transposeA); // op(A)^T, [k, m]
    const outT = runKernel(tf.BatchMatMul, backend, { a: left, b: right }, plain);
    out = transpose2D(backend, outT, n, m);
    temporaries.push(outT);
  }
  dispose(backend, ...temporaries);
  return { dataId: out.dataId, shape: outShape, dtype: 'float32' };
}

/** Registration record for `BatchMatMul` on 'wasm' (replaces the stock one, which it calls). */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};

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
 *
 * With kernels.wasm, a single product runs on hwr's SIMD GEMMs (`simdMatMul`, ../simd/gemm.ts: any shape, the right
 * operand streamed once per call; until session 21 a 1x1 convolution on the convolution kernels, still there behind
 * `setGemmKernelsEnabled(false)`). The transposed products (only gradients make them) always take it; the plain
 * product only while a gradient tape records (training, where the weights change every step and XNNPACK repacks them
 * every call), so inference keeps XNNPACK's cached operator and its results.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdConv2D, simdConv2DBackpropFilter, simdConv2DBackpropInput, simdCovers, simdKernels, type SimdExports } from '../simd/index.ts';
import { simdGemm, type GemmForm } from '../simd/gemm.ts';
import { COST, dispose, heapOffset, runKernel, runStockKernel, taping, transpose2D, type WasmBackend } from './wasm_util.ts';

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
  const single = batchA === 1 && batchB === 1 && a.dtype === 'float32' && b.dtype === 'float32';
  if (single && (transposeA || transposeB || taping())) {
    const product = simdMatMul(backend, a, b, transposeA, transposeB);
    if (product) return product;
  }
  if ((!transposeA && !transposeB) || !single) {
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

let simdMatMulEnabled = true;

/** Turns `simdMatMul` off (`false`: the XNNPACK paths of 2026-11-23) or back on, for A/B benchmarks and tests. */
export function setSimdMatMulEnabled(on: boolean): void {
  simdMatMulEnabled = on;
}


let gemmEnabled = true;

/**
 * Turns the GEMM kernels of ../simd/gemm.ts off (`false`: `simdMatMul` takes the 1x1-convolution route of
 * 2026-11-30, which needs n % 8 == 0 for A B and A^T B) or back on, for A/B benchmarks and tests.
 */
export function setGemmKernelsEnabled(on: boolean): void {
  gemmEnabled = on;
}

/**
 * op(a) x op(b) for float32 `a`, `b` of rank >= 2 with batch 1 (shape [1, ..., 1, r, c]) on hwr's SIMD kernels:
 * the GEMMs of ../simd/gemm.ts (A B, A^T B, A B^T; any shape), with `bias` (float32, n values) added and ReLU
 * applied in the same pass for A B when given. Returns [...a's batch dims, m, n], or null when kernels.wasm is
 * missing, `setSimdMatMulEnabled(false)`, both operands are transposed, a dimension is 0, or (with
 * `setGemmKernelsEnabled(false)` only) the 1x1-convolution route does not cover the shape. With a bias or ReLU and a
 * transposed operand, null unless n % 4 == 0 (the separate epilogue writes 4 columns at once).
 * Sums over k in order within blocks, so results differ from XNNPACK's and the cpu backend's by rounding only.
 */
export function simdMatMul(
  backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean,
  bias?: tf.TensorInfo, relu = false,
): tf.TensorInfo | null {
  const simd = simdMatMulEnabled ? simdKernels(backend) : undefined;
  if (!simd || (transposeA && transposeB)) return null;
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const n = transposeB ? bRows : bCols;
  if (m === 0 || n === 0 || k === 0) return null;
  const fused = !!bias || relu;
  const plain = !transposeA && !transposeB;
  if (fused && !plain && n % 4 !== 0) return null;
  let out: tf.TensorInfo | null;
  if (gemmEnabled) {
    const form: GemmForm = transposeA ? 'tn' : transposeB ? 'nt' : 'nn';
    // For A B, the bias and ReLU are applied in the GEMM's final store.
    out = plain ? simdGemm(backend, simd, form, a, b, m, k, n, bias, relu) : simdGemm(backend, simd, form, a, b, m, k, n);
  } else {
    out = convMatMul(backend, simd, a, b, transposeA, transposeB, m, k, n);
  }
  if (!out) return null;
  if (fused && !(gemmEnabled && plain)) {
    simd.biasActivation(heapOffset(backend, out), heapOffset(backend, out), bias ? heapOffset(backend, bias) : 0, m, n, relu ? 1 : 0);
  }
  return { dataId: out.dataId, shape: [...a.shape.slice(0, -2), m, n], dtype: 'float32' };
}

/**
 * The 1x1-convolution route of 2026-11-30 (kept for A/B runs, `setGemmKernelsEnabled(false)`): the rows of op(a) are
 * the pixels of a 1x1 convolution: A^T B is the filter gradient of x = A and dy = B, A B^T the convolution of x = A
 * with the filter B^T (transposed first; the input gradient of dy = A through the filter B when n % 8 != 0), A B the
 * convolution of x = A with the filter B. Returns [m, n], or null where the micro-kernels need n % 8 == 0.
 */
function convMatMul(
  backend: WasmBackend, simd: SimdExports, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean,
  m: number, k: number, n: number,
): tf.TensorInfo | null {
  const as4 = (t: tf.TensorInfo, shape: [number, number, number, number]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });
  const info = (pixels: number, ci: number, co: number) => tf.backend_util.computeConv2DInfo([pixels, 1, 1, ci], [1, 1, ci, co], 1, 1, 'valid');
  if (transposeA) {
    const conv = info(k, m, n);
    if (!simdCovers(conv, 'filter')) return null;
    return simdConv2DBackpropFilter(backend, simd, as4(a, [k, 1, 1, m]), as4(b, [k, 1, 1, n]), conv);
  }
  if (transposeB) {
    const forward = info(m, k, n);
    if (simdCovers(forward, 'forward')) {
      // B^T by the SIMD transpose, then the forward kernel (faster than the input-gradient kernel's scatter).
      const bT = backend.makeOutput([k, n], 'float32');
      simd.transpose(heapOffset(backend, b), heapOffset(backend, bT), n, k, n);
      const out = simdConv2D(backend, simd, as4(a, [m, 1, 1, k]), as4(bT, [1, 1, k, n]), forward);
      dispose(backend, bT);
      return out;
    }
    const conv = info(m, n, k);
    if (!simdCovers(conv, 'input')) return null;
    return simdConv2DBackpropInput(backend, simd, as4(a, [m, 1, 1, k]), as4(b, [1, 1, n, k]), conv);
  }
  const conv = info(m, k, n);
  if (!simdCovers(conv, 'forward')) return null;
  return simdConv2D(backend, simd, as4(a, [m, 1, 1, k]), as4(b, [1, 1, k, n]), conv);
}

/** Registration record for `BatchMatMul` on 'wasm' (replaces the stock one, which it calls). */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};

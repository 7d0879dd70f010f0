/**
 * The SIMD GEMMs of src/backend/simd/gemm.ts (through `simdMatMul`, the route of a dense layer's three products in
 * training) against the cpu backend's matMul, TF.js's reference, on random shapes: m = 1..70 rows, k across the
 * kernels' k-blocks (256 and 512), n with n % 8 == 0 and != 0 (the packed remainder strip), the hccr-vgg output
 * layer's [64, 256] x [256, 3755], and m of 530 and 601; then a taped dense layer with bias and ReLU (forward and both gradients).
 *
 * Tolerance: max |wasm - cpu| <= 1e-4 * max(1, max |cpu|), as test/backend/kernels.test.ts (both sum in float32, in
 * different orders; an indexing bug gives errors of order 1). With inputs in [-1, 1) and k up to 3,755 the largest
 * observed difference is far below it.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setGemmKernelsEnabled, simdMatMul } from '../../src/backend/kernels/BatchMatMul.ts';
import { columnParts } from '../../src/backend/simd/gemm.ts';
import { simdKernels, simdKernelsAvailable } from '../../src/backend/simd/index.ts';
import { heapF32, heapOffset, offsetF32, type WasmBackend } from '../../src/backend/kernels/wasm_util.ts';
import { compareBackends, expectClose, sizeOf, values, valuesOn } from '../fixtures/backends.ts';

const TOLERANCE = 1e-4;

type Case = { m: number; k: number; n: number; transposeA: boolean; transposeB: boolean; bias: boolean; relu: boolean };

/** Deterministic shapes: a small LCG over the ranges named in the file's docstring. */
function randomCases(count: number, seed: number): Case[] {
  let s = seed >>> 0;
  const next = (lo: number, hi: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
  const ks = [1, 3, 4, 7, 64, 255, 256, 257, 513, 700];
  const out: Case[] = [];
  for (let i = 0; i < count; i++) {
    const form = i % 3;
    const plain = form === 0;
    const n = i % 2 === 0 ? 8 * next(1, 40) : next(1, 300);
    out.push({ m: next(1, 70), k: ks[next(0, ks.length - 1)]!, n, transposeA: form === 1, transposeB: form === 2, bias: plain && i % 4 === 0, relu: plain && i % 5 === 0 });
  }
  return out;
}

const cases: Case[] = [
  ...randomCases(36, 7),
  // hccr-vgg's 3,755-class output layer at batch 64: forward, dW = x^T dy, dx = dy W^T.
  { m: 64, k: 256, n: 3755, transposeA: false, transposeB: false, bias: true, relu: false },
  { m: 256, k: 64, n: 3755, transposeA: true, transposeB: false, bias: false, relu: false },
  { m: 64, k: 3755, n: 256, transposeA: false, transposeB: true, bias: false, relu: false },
  // Many rows (the panels of A then stream from L3 once per strip: no row blocking, which measured no faster).
  { m: 601, k: 300, n: 45, transposeA: false, transposeB: false, bias: true, relu: true },
  { m: 530, k: 70, n: 19, transposeA: true, transposeB: false, bias: false, relu: false },
  // Single rows and columns.
  { m: 1, k: 1, n: 1, transposeA: false, transposeB: false, bias: true, relu: true },
  { m: 1, k: 9, n: 1, transposeA: true, transposeB: false, bias: false, relu: false },
  { m: 1, k: 9, n: 1, transposeA: false, transposeB: true, bias: false, relu: false },
];

const shapeA = (c: Case): [number, number] => (c.transposeA ? [c.k, c.m] : [c.m, c.k]);
const shapeB = (c: Case): [number, number] => (c.transposeB ? [c.n, c.k] : [c.k, c.n]);
const label = (c: Case): string =>
  `${c.transposeA ? 'A^T' : 'A'} ${c.transposeB ? 'B^T' : 'B'}, m ${c.m} k ${c.k} n ${c.n}${c.bias ? ' + bias' : ''}${c.relu ? ', relu' : ''}`;

describe('columnParts', () => {
  it('cuts n columns into runs of whole strips, none empty, covering all', () => {
    expect(columnParts(3755, 2, 8)).toEqual([[0, 1880], [1880, 1875]]);
    expect(columnParts(256, 2, 4)).toEqual([[0, 128], [128, 128]]);
    expect(columnParts(5, 2, 8)).toEqual([[0, 5]]);
    expect(columnParts(17, 3, 8)).toEqual([[0, 8], [8, 8], [16, 1]]);
    expect(columnParts(100, 1, 8)).toEqual([[0, 100]]);
  });
});

describe('SIMD GEMMs match the cpu backend', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
    expect(simdKernelsAvailable()).toBe(true);
  });

  for (const c of cases) {
    it(label(c), async () => {
      const inputs = () => ({
        a: tf.tensor2d(values(sizeOf(shapeA(c)), 31), shapeA(c)),
        b: tf.tensor2d(values(sizeOf(shapeB(c)), 32), shapeB(c)),
        bias: tf.tensor1d(values(c.n, 33)),
      });
      const expected = await valuesOn('cpu', () => {
        const { a, b, bias } = inputs();
        let y = tf.matMul(a, b, c.transposeA, c.transposeB);
        if (c.bias) y = tf.add(y, bias);
        return c.relu ? tf.relu(y) : y;
      });
      const actual = await valuesOn('wasm', () => {
        const { a, b, bias } = inputs();
        const backend = tf.backend() as WasmBackend;
        const out = simdMatMul(backend, a, b, c.transposeA, c.transposeB, c.bias ? bias : undefined, c.relu);
        expect(out, 'simdMatMul covers every shape').not.toBeNull();
        return tf.engine().makeTensorFromTensorInfo(out!);
      });
      expectClose(actual[0]!, expected[0]!, label(c), TOLERANCE);
    });
  }

  it('the SIMD transpose (4x4 blocks and the scalar edges) equals tf.transpose exactly, and leaves the padding columns', async () => {
    await tf.setBackend('wasm');
    for (const [rows, cols, stride] of [[1, 1, 1], [4, 4, 4], [5, 7, 5], [7, 5, 8], [3, 4, 3], [4, 3, 6], [25, 32, 32], [128, 256, 128], [301, 19, 304]] as const) {
      const label = `transpose [${rows}, ${cols}] into rows of ${stride}`;
      const src = tf.tensor2d(values(rows * cols, rows + cols), [rows, cols]);
      const expected = await tf.transpose(src).data();
      const backend = tf.backend() as WasmBackend;
      const simd = simdKernels(backend)!;
      const out = backend.makeOutput([cols, stride], 'float32');
      const heap = () => heapF32(backend).subarray(offsetF32(backend, out), offsetF32(backend, out) + cols * stride);
      heap().fill(-7);
      simd.transpose(heapOffset(backend, src), heapOffset(backend, out), rows, cols, stride);
      const got = heap().slice();
      backend.disposeData(out.dataId);
      src.dispose();
      for (let c = 0; c < cols; c++) {
        expect(Array.from(got.subarray(c * stride, c * stride + rows)), `${label}: row ${c}`).toEqual(Array.from(expected.subarray(c * rows, (c + 1) * rows)));
        expect(got.subarray(c * stride + rows, (c + 1) * stride).every((v) => v === -7), `${label}: padding of row ${c}`).toBe(true);
      }
    }
  });

  it('a dense layer in training (taped _FusedMatMul with bias and ReLU, and its gradients), n % 8 != 0', async () => {
    for (const gemm of [true, false]) {
      // gemm false: the 1x1-convolution route, which hands n % 8 != 0 to XNNPACK; both must agree with cpu.
      setGemmKernelsEnabled(gemm);
      try {
        await compareBackends(`dense, gemm ${gemm}`, () => {
          const x = tf.tensor2d(values(33 * 70, 41), [33, 70]);
          const w = tf.tensor2d(values(70 * 37, 42), [70, 37]);
          const bias = tf.tensor1d(values(37, 43));
          const weights = tf.tensor2d(values(33 * 37, 44), [33, 37]);
          const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
            tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: d, activation: 'relu' });
          const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, b, d), weights)) as tf.Scalar)([x, w, bias]);
          return [value, ...grads];
        }, TOLERANCE);
      } finally {
        setGemmKernelsEnabled(true);
      }
    }
  });
});

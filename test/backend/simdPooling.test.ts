/**
 * The wasm SIMD pooling kernels (src/backend/simd/pooling.ts) behind MaxPool in training, MaxPoolGrad, Sum and Mean: against the
 * cpu backend (TF.js's reference) on shapes that reach every branch (2x2 tournaments, general and clipped
 * windows, overlapping windows, gaps between windows, 'same' and numeric padding, channels not a multiple
 * of 4, ReLU-like ties; reductions over several leading-axis sets and widths), and bit for bit against the
 * JS loops they replace, NaN and -Infinity included.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { compareBackends, sizeOf, values } from '../fixtures/backends.ts';
import { maxPoolGradJs } from '../../src/backend/kernels/MaxPoolGrad.ts';
import { columnSums } from '../../src/backend/kernels/Sum.ts';
import type { WasmBackend } from '../../src/backend/kernels/wasm_util.ts';
import { simdKernels, simdKernelsAvailable } from '../../src/backend/simd/index.ts';

/** As in kernels.test.ts: max |wasm - cpu| <= TOLERANCE * max(1, max |cpu|) (float32 rounding only). */
const TOLERANCE = 1e-5;

/** ReLU-like data: about half zeros, the rest on a coarse grid, so windows hold many equal maxima. */
const withTies = (v: Float32Array): Float32Array => v.map((a) => Math.max(0, Math.round(a * 3) / 3));

/** Runs `compute` on the cpu backend and on wasm and compares the results (float32 rounding only). */
const compareWithCpu = (label: string, compute: () => tf.Tensor): Promise<void> => compareBackends(label, compute, TOLERANCE);

/** Asserts identical float32 bit patterns (so +0 / -0 and NaN payloads count). */
function expectSameBits(actual: Float32Array, expected: Float32Array, label: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  expect(a.length, `${label}: length`).toBe(e.length);
  const first = a.findIndex((bits, i) => bits !== e[i]);
  expect(first, `${label}: first differing element (${actual[first]} vs ${expected[first]})`).toBe(-1);
}

type Shape4D = [number, number, number, number];
type Pad = 'valid' | 'same' | number;
type PoolCase = { x: Shape4D; size: [number, number]; stride: [number, number]; pad: Pad; ties: boolean };

const poolCases: PoolCase[] = [
  { x: [3, 26, 26, 32], size: [2, 2], stride: [2, 2], pad: 'valid', ties: true }, // the seed CNN's layer, tiled
  { x: [2, 11, 11, 8], size: [2, 2], stride: [2, 2], pad: 'valid', ties: true }, // last row and column uncovered
  { x: [2, 7, 9, 6], size: [2, 2], stride: [2, 2], pad: 'same', ties: true }, // clipped 2x1 / 1x2 windows, C % 4
  { x: [2, 6, 6, 3], size: [2, 2], stride: [1, 1], pad: 'valid', ties: true }, // overlapping 2x2, channels < 4
  { x: [1, 9, 8, 7], size: [3, 3], stride: [2, 2], pad: 'same', ties: true }, // overlapping 3x3, corners clip to 2x2
  { x: [2, 10, 10, 5], size: [3, 3], stride: [1, 1], pad: 'same', ties: false },
  { x: [2, 9, 9, 12], size: [3, 3], stride: [3, 3], pad: 'valid', ties: true }, // tiled 3x3
  { x: [2, 10, 11, 4], size: [2, 3], stride: [3, 4], pad: 'valid', ties: true }, // gaps between windows
  { x: [1, 5, 5, 9], size: [1, 1], stride: [1, 1], pad: 'valid', ties: false },
  { x: [2, 8, 8, 4], size: [3, 2], stride: [2, 1], pad: 1, ties: true }, // numeric padding
  { x: [2, 3, 3, 128], size: [3, 3], stride: [2, 2], pad: 'valid', ties: false },
];

const poolName = (c: PoolCase): string =>
  `x ${c.x} window ${c.size} stride ${c.stride} pad ${c.pad}${c.ties ? ', ReLU-like ties' : ''}`;

/**
 * MaxPoolGrad's inputs for case `c` on the current backend, from the raw values `raw`. Both kernels ignore
 * `output`, so it is zeros: the stock wasm MaxPool fails on numeric padding (memory access out of bounds).
 */
function poolInputs(c: PoolCase, raw: Float32Array): { dy: tf.Tensor4D; input: tf.Tensor4D; output: tf.Tensor4D } {
  const outShape = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad).outShape as Shape4D;
  return { dy: tf.tensor4d(values(sizeOf(outShape), 6), outShape), input: tf.tensor4d(raw, c.x), output: tf.zeros(outShape) };
}

const poolGrad = (c: PoolCase, raw: Float32Array): tf.Tensor =>
  tf.engine().runKernel('MaxPoolGrad', poolInputs(c, raw), { filterSize: c.size, strides: c.stride, pad: c.pad }) as tf.Tensor;

/** The JS loop of the MaxPoolGrad kernel on the wasm backend, for bitwise comparison. */
function poolGradJs(c: PoolCase, raw: Float32Array): Float32Array {
  const backend = tf.backend() as WasmBackend;
  return tf.tidy(() => {
    const { dy, input } = poolInputs(c, raw);
    const info = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad);
    const dx = maxPoolGradJs(backend, input, dy, info);
    const out = (backend.readSync(dx.dataId) as Float32Array).slice();
    backend.disposeData(dx.dataId);
    return out;
  });
}

type ReduceCase = { x: number[]; axis: number[] };
const reduceCases: ReduceCase[] = [
  { x: [4, 26, 26, 32], axis: [0, 1, 2] }, // the bias gradient
  { x: [5, 7, 6, 9], axis: [0, 1, 2] }, // 9 columns: SIMD and scalar columns
  { x: [5, 7, 6, 9], axis: [1, 0] },
  { x: [13, 3], axis: [0] }, // fewer than 4 columns, rows % 8 != 0
  { x: [3, 2, 10], axis: [0, 1] }, // fewer than 8 rows
  { x: [64, 128], axis: [-2] },
  { x: [2, 3, 4, 5, 8], axis: [0, 1, 2, 3] },
];

describe('wasm SIMD pooling kernels', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  for (const c of poolCases) {
    it(`MaxPoolGrad matches the cpu backend, ${poolName(c)}`, async () => {
      const raw = c.ties ? withTies(values(sizeOf(c.x), 5)) : values(sizeOf(c.x), 5);
      await compareWithCpu('dx', () => poolGrad(c, raw));
    });
  }

  /** MaxPool's output while a tape records (the training kernel of src/backend/kernels/MaxPool.ts runs then). */
  const taped = (c: PoolCase, raw: Float32Array): tf.Tensor => {
    let y: tf.Tensor | undefined;
    const x = tf.tensor4d(raw, c.x);
    const grad = tf.grad((input: tf.Tensor) => {
      y = tf.keep(tf.maxPool(input as tf.Tensor4D, c.size, c.stride, c.pad));
      return tf.sum(y);
    })(x);
    tf.dispose([x, grad]);
    return y!;
  };

  // Numeric padding is left out: the stock wasm MaxPool fails on it (see poolInputs), and the SIMD kernel runs only
  // where the channels are a multiple of 4.
  for (const c of poolCases.filter((p) => typeof p.pad === 'string')) {
    it(`MaxPool in training matches the cpu backend's values exactly, ${poolName(c)}`, async () => {
      const raw = c.ties ? withTies(values(sizeOf(c.x), 7)) : values(sizeOf(c.x), 7);
      for (let i = 3; i < raw.length; i += 29) raw[i] = -Infinity;
      await setupBackend({ backend: 'cpu' });
      const expected = tf.tidy(() => tf.maxPool(tf.tensor4d(raw, c.x), c.size, c.stride, c.pad).dataSync() as Float32Array);
      await setupBackend({ backend: 'wasm' });
      const y = taped(c, raw);
      expectSameBits(y.dataSync() as Float32Array, expected, 'y');
      y.dispose();
    });
  }

  it('MaxPool in training gives NaN for a window holding a NaN, and the stock kernel runs outside a tape', async () => {
    await setupBackend({ backend: 'wasm' });
    const c: PoolCase = { x: [1, 4, 4, 4], size: [2, 2], stride: [2, 2], pad: 'valid', ties: false };
    const raw = values(64, 3);
    raw[0] = NaN; // pixel (0, 0), channel 0: window (0, 0)
    const y = taped(c, raw);
    const v = y.dataSync();
    expect(Number.isNaN(v[0])).toBe(true);
    expect(Array.from(v.slice(1)).every(Number.isFinite)).toBe(true);
    y.dispose();
    const before = tf.memory().numTensors;
    const stock = tf.tidy(() => tf.maxPool(tf.tensor4d(values(64, 4), c.x), c.size, c.stride, c.pad).dataSync());
    const trained = taped(c, values(64, 4));
    expect(Array.from(trained.dataSync())).toEqual(Array.from(stock));
    trained.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  describe.skipIf(!simdKernelsAvailable())('bit-identical to the JS kernels', () => {
    it('the pooling kernels are built into kernels.wasm', async () => {
      await setupBackend({ backend: 'wasm' });
      expect(simdKernels(tf.backend() as WasmBackend)).toBeDefined();
    });

    for (const c of poolCases) {
      it(`MaxPoolGrad, ${poolName(c)}, with NaN and -Infinity`, async () => {
        await setupBackend({ backend: 'wasm' });
        const raw = c.ties ? withTies(values(sizeOf(c.x), 5)) : values(sizeOf(c.x), 5);
        for (let i = 0; i < raw.length; i += 37) raw[i] = NaN;
        for (let i = 5; i < raw.length; i += 41) raw[i] = -Infinity;
        const simd = tf.tidy(() => poolGrad(c, raw).dataSync() as Float32Array);
        expectSameBits(simd, poolGradJs(c, raw), 'dx');
      });
    }

    for (const kernel of ['Sum', 'Mean'] as const) {
      for (const c of reduceCases) {
        it(`${kernel}, x ${c.x} axis ${c.axis}`, async () => {
          await setupBackend({ backend: 'wasm' });
          const raw = values(sizeOf(c.x), 11).map((v, i) => (i % 5 === 0 ? v * 1e4 : v));
          const simd = tf.tidy(() => (tf.engine().runKernel(kernel, { x: tf.tensor(raw, c.x) }, { axis: c.axis, keepDims: false }) as tf.Tensor).dataSync() as Float32Array);
          const rows = sizeOf(c.x.slice(0, c.axis.length));
          const cols = raw.length / rows;
          const expected = new Float32Array(cols);
          columnSums(raw, rows, cols, kernel === 'Sum' ? 1 : 1 / rows, expected);
          expectSameBits(simd, expected, kernel);
        });
      }
    }
  });

  for (const kernel of ['Sum', 'Mean']) {
    for (const c of reduceCases) {
      it(`${kernel} matches the cpu backend, x ${c.x} axis ${c.axis}`, async () => {
        await compareWithCpu(kernel, () =>
          tf.engine().runKernel(kernel, { x: tf.tensor(values(sizeOf(c.x), 11), c.x) }, { axis: c.axis, keepDims: true }) as tf.Tensor);
      });
    }
  }
});

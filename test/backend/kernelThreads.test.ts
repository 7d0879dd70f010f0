/**
 * The SIMD convolutions split over two threads (`setupBackend({ kernelThreads: 2 })`: TF.js's threaded wasm build in
 * Node, src/backend/threadedWasm.ts, and the helper threads of src/backend/simd/threads.ts) against the cpu backend,
 * TF.js's reference: every split kernel (direct Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput; Winograd
 * F(2x2) and F(4x4) forward, input and filter gradient; the GEMMs; MaxPool in training and its gradient; the one-kernel
 * convolution + ReLU + pooling) on batches that split evenly and unevenly, then a short
 * training run whose loss curve must follow the cpu backend's.
 *
 * Tolerance as in kernels.test.ts: max |wasm - cpu| <= 1e-4 * max(1, max |cpu|) (the filter gradients add the
 * threads' partial sums, another summation order). This file runs in its own process (vitest isolates files), so
 * the wasm backend here is the threaded one.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { kernelThreads, setKernelThreads, simdKernelsAvailable, type SimdExports } from '../../src/backend/simd/index.ts';
import { KernelThreads, splitImages } from '../../src/backend/simd/threads.ts';
import { forceWinogradTile, winogradApplies } from '../../src/backend/simd/winograd.ts';
import { genericTileFits } from '../../src/backend/simd/winogradGeneric.ts';
import type { WasmBackend } from '../../src/backend/kernels/wasm_util.ts';
import { simdMatMul } from '../../src/backend/kernels/BatchMatMul.ts';
import { getArchitecture } from '../../src/models/index.ts';
import { compareBackends, expectClose, sizeOf, values } from '../fixtures/backends.ts';
import { convReluPoolAndGradients, type ConvReluPoolCase, convReluPoolCaseName } from '../fixtures/convReluPool.ts';

const TOLERANCE = 1e-4;
type Shape4D = [number, number, number, number];
type ConvCase = { x: Shape4D; filter: Shape4D; stride: number; pad: 'valid' | 'same' };

const cases: ConvCase[] = [
  { x: [2, 28, 28, 1], filter: [5, 5, 1, 32], stride: 1, pad: 'valid' },
  { x: [3, 12, 12, 32], filter: [3, 3, 32, 64], stride: 1, pad: 'valid' },
  { x: [5, 5, 5, 64], filter: [3, 3, 64, 128], stride: 1, pad: 'valid' },
  { x: [4, 13, 11, 5], filter: [3, 3, 5, 8], stride: 2, pad: 'same' },
  { x: [3, 9, 7, 8], filter: [3, 3, 8, 16], stride: 1, pad: 'same' },
  { x: [1, 10, 10, 16], filter: [3, 3, 16, 8], stride: 1, pad: 'valid' },
];
const name = (c: ConvCase): string => `x ${c.x} filter ${c.filter} stride ${c.stride} pad ${c.pad}`;

function convAndGradients(c: ConvCase, seed: number): tf.Tensor[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
  const x = tf.tensor4d(values(sizeOf(c.x), seed), c.x);
  const w = tf.tensor4d(values(sizeOf(c.filter), seed + 1), c.filter);
  const dy = tf.tensor(values(sizeOf(info.outShape), seed + 2), info.outShape);
  return [
    tf.conv2d(x, w, c.stride, c.pad),
    tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }) as tf.Tensor,
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor,
  ];
}

describe('splitImages', () => {
  it('cuts a batch into contiguous runs of whole images, as even as possible, none empty', () => {
    expect(splitImages(64, 2)).toEqual([[0, 32], [32, 32]]);
    expect(splitImages(5, 2)).toEqual([[0, 2], [2, 3]]);
    expect(splitImages(1, 2)).toEqual([[0, 1]]);
    expect(splitImages(7, 3)).toEqual([[0, 2], [2, 2], [4, 3]]);
  });
});

describe('SIMD kernels on two threads (TF.js threaded wasm build in Node)', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm', kernelThreads: 2 });
  });

  it('runs on a shared heap with one helper thread', () => {
    expect(simdKernelsAvailable()).toBe(true);
    tf.tidy(() => tf.conv2d(tf.ones([2, 5, 5, 8]) as tf.Tensor4D, tf.ones([3, 3, 8, 8]) as tf.Tensor4D, 1, 'valid').dataSync());
    const backend = tf.backend() as WasmBackend;
    expect(kernelThreads(backend)?.threads).toBe(2);
  });

  for (const c of cases) {
    it(`Conv2D and both gradients match the cpu backend, ${name(c)}`, async () => {
      await compareBackends('y, dx, dW', () => convAndGradients(c, 31), TOLERANCE);
    });
    if (winogradApplies(tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad))) {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
      for (const tile of ([2, 3, 4, 5, 6] as const).filter((m) => m === 2 || m === 4 || genericTileFits(info, m))) {
        it(`Winograd F(${tile}x${tile}): Conv2D and both gradients match the cpu backend, ${name(c)}`, async () => {
          forceWinogradTile(tile);
          try {
            await compareBackends('y, dx, dW', () => convAndGradients(c, 47), TOLERANCE);
          } finally {
            forceWinogradTile(undefined);
          }
        });
      }
    }
  }

  // The dense layer's GEMMs (src/backend/simd/gemm.ts) split by output columns: hccr-vgg's output layer, and a
  // split whose second run has a partial strip.
  const gemmCases = [
    { a: [64, 256], b: [256, 3755], transposeA: false, transposeB: false },
    { a: [64, 256], b: [64, 3755], transposeA: true, transposeB: false },
    { a: [64, 3755], b: [256, 3755], transposeA: false, transposeB: true },
    { a: [37, 600], b: [600, 141], transposeA: false, transposeB: false },
  ];
  for (const c of gemmCases) {
    it(`GEMM split over two threads matches the cpu backend, a ${c.a}${c.transposeA ? ' transposed' : ''}, b ${c.b}${c.transposeB ? ' transposed' : ''}`, async () => {
      await compareBackends('product', () => {
        const a = tf.tensor2d(values(sizeOf(c.a), 71), c.a as [number, number]);
        const b = tf.tensor2d(values(sizeOf(c.b), 72), c.b as [number, number]);
        if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, c.transposeA, c.transposeB);
        const out = simdMatMul(tf.backend() as WasmBackend, a, b, c.transposeA, c.transposeB);
        expect(out).not.toBeNull();
        return tf.engine().makeTensorFromTensorInfo(out!);
      }, TOLERANCE);
    });
  }

  // The one-kernel convolution + ReLU + pooling (src/backend/convReluPool.ts) splits by images; its filter gradient
  // adds the threads' partial sums.
  const convReluPoolCases: ConvReluPoolCase[] = [
    { x: [5, 28, 28, 1], filter: [3, 3, 1, 32], pad: 'valid', bias: true },
    { x: [3, 9, 7, 1], filter: [3, 3, 1, 8], pad: 'same', bias: true, grid: true },
  ];
  for (const c of convReluPoolCases) {
    it(`one-kernel convolution + ReLU + pooling and its gradients, split over two threads, match the cpu backend, ${convReluPoolCaseName(c)}`, async () => {
      await compareBackends('pooled, dx, dfilter, dbias', () => convReluPoolAndGradients(c, 23), TOLERANCE);
    });
  }

  for (const shape of [[3, 24, 24, 32], [5, 11, 11, 8]] as Shape4D[]) {
    it(`MaxPool in training and its gradient, split over two threads, match the cpu backend, x ${shape}`, async () => {
      await compareBackends('y and dx', () => {
        const x = tf.tensor4d(values(sizeOf(shape), 81), shape);
        let y: tf.Tensor | undefined;
        const dx = tf.grad((input: tf.Tensor) => {
          y = tf.keep(tf.maxPool(input as tf.Tensor4D, 2, 2, 'same'));
          return tf.sum(tf.mul(y, tf.range(1, sizeOf(y.shape) + 1).reshape(y.shape)));
        })(x);
        return [y!, dx];
      }, TOLERANCE);
    });
  }

  it('a helper that traps is reported as an error, and the threads keep working', async () => {
    await setupBackend({ backend: 'wasm' });
    const backend = tf.backend() as WasmBackend;
    const pool = kernelThreads(backend)!;
    const simd = (await import('../../src/backend/simd/index.ts')).simdKernels(backend) as SimdExports;
    // A pointer far past the heap's end: the helper's call traps (out of bounds).
    expect(() => pool.run(simd as unknown as Record<string, unknown>, [{ fn: 'reluGrad', args: [0, 0, 0, 0] }, { fn: 'reluGrad', args: [0x7ffffff0, 0x7ffffff0, 0x7ffffff0, 64] }])).toThrow(/trapped/);
    expect(() => pool.run(simd as unknown as Record<string, unknown>, [{ fn: 'reluGrad', args: [0, 0, 0, 0] }, { fn: 'noSuchExport', args: [] }])).toThrow(/no export/);
    await compareBackends('y, dx, dW', () => convAndGradients(cases[1]!, 5), TOLERANCE);
  });

  it('a short hwr-net training run on two threads follows the one-thread loss curve (same seed)', async () => {
    await setupBackend({ backend: 'wasm' });
    const run = async (threads: number): Promise<number[]> => {
      setKernelThreads(threads);
      const model = getArchitecture('hwr-net').create({ classes: 10, seed: 3 });
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
      const xs = tf.tensor4d(values(32 * 28 * 28, 9).map((v) => (v + 1) / 2), [32, 28, 28, 1]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10).toFloat());
      try {
        const losses: number[] = [];
        for (let i = 0; i < 8; i++) losses.push(Number(await model.trainOnBatch(xs, ys)));
        return losses;
      } finally {
        tf.dispose([xs, ys]);
        model.dispose();
        setKernelThreads(2);
      }
    };
    const one = await run(1);
    const two = await run(2);
    // The two runs differ by float32 rounding only (each kernel split over threads sums its partial filter gradients
    // in another order: 1e-6 relative), but Adam divides each update by the gradient's running RMS, so a parameter
    // whose gradient is near zero moves by about the learning rate either way and the rounding grows step by step
    // (measured: 1e-5 at step 2, 1e-3 at step 3, 2e-3 at step 8 with F(3x3) on the last layer). The first two steps
    // are compared at the kernels' tolerance, the whole curve at 1e-2.
    expectClose(two.slice(0, 2), one.slice(0, 2), 'loss, steps 1 and 2', 1e-4);
    expectClose(two, one, 'loss per step', 1e-2);
    expect(one[7]!).toBeLessThan(one[0]!);
    expect(two[7]!).toBeLessThan(two[0]!);
  });

  it('KernelThreads.start returns null for a heap that is not shared', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    expect(KernelThreads.start(memory, new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), [], 1)).toBeNull();
  });
});

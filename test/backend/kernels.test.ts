/**
 * The wasm training kernels (src/backend/kernels) against the cpu backend, which is TF.js's reference
 * implementation: every kernel on random shapes (stride 1, 2 and 3; valid, same and explicit padding;
 * 1 to 64 channels; 1x1, 3x3 and 5x5 filters; batch 1 and more; odd sizes), then the gradients of a
 * small conv net end to end.
 *
 * Tolerance: max |wasm - cpu| <= 1e-4 * max(1, max |cpu|). Both backends compute in float32 but sum in
 * different orders (XNNPACK blocks, im2col); an indexing or padding bug gives errors of order 1.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { useTrainingKernel } from '../../src/backend/kernels/index.ts';
import { compareBackends, sizeOf, values } from '../fixtures/backends.ts';
import { setSimdKernelsEnabled, simdCovers, simdKernelsAvailable } from '../../src/backend/simd/index.ts';
import { forceWinogradTile, winogradApplies, winogradTile } from '../../src/backend/simd/winograd.ts';
import { estimateCostMs as filterCost } from '../../src/backend/kernels/Conv2DBackpropFilter.ts';
import { estimateCostMs as inputCost } from '../../src/backend/kernels/Conv2DBackpropInput.ts';

const TOLERANCE = 1e-4;

/** Runs the same computation on cpu and wasm and compares every output. */
const compare = (label: string, compute: () => tf.Tensor | tf.Tensor[]): Promise<void> => compareBackends(label, compute, TOLERANCE);

type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];
type ConvCase = { x: number[]; filter: number[]; stride: number; pad: Pad };

const convCases: ConvCase[] = [
  { x: [1, 9, 9, 1], filter: [3, 3, 1, 4], stride: 1, pad: 'valid' },
  { x: [3, 11, 13, 3], filter: [3, 3, 3, 8], stride: 1, pad: 'same' },
  { x: [2, 12, 12, 8], filter: [5, 5, 8, 16], stride: 1, pad: 'same' },
  { x: [2, 13, 11, 5], filter: [3, 3, 5, 6], stride: 2, pad: 'valid' },
  { x: [3, 14, 14, 4], filter: [5, 5, 4, 8], stride: 2, pad: 'same' },
  { x: [2, 9, 10, 3], filter: [3, 3, 3, 4], stride: 3, pad: 'same' },
  { x: [2, 28, 28, 1], filter: [5, 5, 1, 32], stride: 1, pad: 'valid' },
  { x: [2, 28, 28, 1], filter: [3, 3, 1, 32], stride: 1, pad: 'same' },
  { x: [4, 13, 13, 32], filter: [3, 3, 32, 64], stride: 1, pad: 'valid' },
  { x: [2, 5, 5, 64], filter: [3, 3, 64, 128], stride: 1, pad: 'valid' },
  { x: [1, 7, 7, 2], filter: [1, 1, 2, 3], stride: 1, pad: 'valid' },
  { x: [2, 8, 7, 3], filter: [3, 3, 3, 5], stride: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { x: [2, 6, 6, 2], filter: [3, 3, 2, 3], stride: 1, pad: [[0, 0], [4, 3], [3, 4], [0, 0]] },
  // Winograd F(2x2, 3x3) cases: odd and even outputs, 'same' and explicit padding.
  { x: [2, 9, 7, 8], filter: [3, 3, 8, 16], stride: 1, pad: 'same' },
  { x: [3, 10, 10, 16], filter: [3, 3, 16, 8], stride: 1, pad: 'valid' },
  { x: [1, 6, 8, 24], filter: [3, 3, 24, 32], stride: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
];

const caseName = (c: ConvCase): string => `x ${c.x} filter ${c.filter} stride ${c.stride} pad ${JSON.stringify(c.pad)}`;
type Shape4D = [number, number, number, number];
const convInfo = (c: ConvCase) => tf.backend_util.computeConv2DInfo(c.x as Shape4D, c.filter as Shape4D, c.stride, 1, c.pad);

describe('wasm training kernels match the cpu backend', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  it('the conv cases exercise Winograd and the direct SIMD kernels', () => {
    expect(convCases.filter((c) => winogradApplies(convInfo(c))).length).toBeGreaterThanOrEqual(4);
    expect(convCases.filter((c) => !winogradApplies(convInfo(c)) && simdCovers(convInfo(c), 'filter')).length).toBeGreaterThanOrEqual(4);
    expect(simdKernelsAvailable()).toBe(true);
  });

  it('the conv cases exercise both algorithms of each backprop kernel', () => {
    const filterChoices = new Set(convCases.map((c) => { const e = filterCost(convInfo(c)); return e.colsRight < e.dyRight; }));
    const inputChoices = new Set(convCases.map((c) => { const e = inputCost(convInfo(c)); return e.gemmCol2im < e.transposedConv; }));
    expect([...filterChoices].sort()).toEqual([false, true]);
    expect([...inputChoices].sort()).toEqual([false, true]);
  });

  // The XNNPACK fallbacks (no kernels.wasm, or a shape the SIMD kernels do not cover).
  for (const c of convCases) {
    it(`without the SIMD module: Conv2DBackpropFilter and Conv2DBackpropInput, ${caseName(c)}`, async () => {
      const dyShape = convInfo(c).outShape;
      setSimdKernelsEnabled(false);
      try {
        await compare('dW, dx', () => {
          const x = tf.tensor(values(sizeOf(c.x), 1), c.x);
          const dy = tf.tensor(values(sizeOf(dyShape), 2), dyShape);
          const filter = tf.tensor(values(sizeOf(c.filter), 4), c.filter);
          return [
            tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
              { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor,
            tf.engine().runKernel('Conv2DBackpropInput', { dy, filter },
              { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x as Shape4D }) as tf.Tensor,
          ];
        });
      } finally {
        setSimdKernelsEnabled(true);
      }
    });
  }

  for (const c of convCases) {
    it(`Conv2D, ${caseName(c)}`, async () => {
      await compare('y', () =>
        tf.conv2d(tf.tensor4d(values(sizeOf(c.x), 6), c.x as Shape4D), tf.tensor4d(values(sizeOf(c.filter), 7), c.filter as Shape4D), c.stride, c.pad));
    });

    it(`FusedConv2D (bias + relu, and linear without bias), ${caseName(c)}`, async () => {
      await compare('y', () => {
        const x = tf.tensor4d(values(sizeOf(c.x), 11), c.x as Shape4D);
        const filter = tf.tensor4d(values(sizeOf(c.filter), 12), c.filter as Shape4D);
        const bias = tf.tensor1d(values(c.filter[3]!, 13));
        return [
          tf.fused.conv2d({ x, filter, bias, activation: 'relu', strides: c.stride, pad: c.pad }),
          tf.fused.conv2d({ x, filter, activation: 'linear', strides: c.stride, pad: c.pad }),
        ];
      });
    });

    it(`Conv2DBackpropFilter, ${caseName(c)}`, async () => {
      const dyShape = convInfo(c).outShape;
      await compare('dW', () =>
        tf.engine().runKernel('Conv2DBackpropFilter',
          { x: tf.tensor(values(sizeOf(c.x), 1), c.x), dy: tf.tensor(values(sizeOf(dyShape), 2), dyShape) },
          { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor);
    });

    it(`Conv2DBackpropInput, ${caseName(c)}`, async () => {
      const dyShape = convInfo(c).outShape;
      await compare('dx', () =>
        tf.engine().runKernel('Conv2DBackpropInput',
          { dy: tf.tensor(values(sizeOf(dyShape), 3), dyShape), filter: tf.tensor(values(sizeOf(c.filter), 4), c.filter) },
          { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x as Shape4D }) as tf.Tensor);
    });
  }

  it('the cost model picks F(6x6) for an 11x11 output at batch 64 (F(4x4) at batch 1), F(5x5) for 10x10, F(3x3) for 3x3 and the direct kernel for 1x1', () => {
    const info = (x: Shape4D, f: Shape4D) => tf.backend_util.computeConv2DInfo(x, f, 1, 1, 'valid');
    for (const op of ['forward', 'input', 'filter'] as const) {
      expect(winogradTile(info([64, 13, 13, 32], [3, 3, 32, 64]), op), op).toBe(6);
      expect(winogradTile(info([1, 13, 13, 32], [3, 3, 32, 64]), op), op).toBe(4);
      expect(winogradTile(info([64, 12, 12, 32], [3, 3, 32, 64]), op), op).toBe(5);
      expect(winogradTile(info([64, 5, 5, 64], [3, 3, 64, 128]), op), op).toBe(3);
      expect(winogradTile(info([64, 3, 3, 64], [3, 3, 64, 64]), op), op).toBe(0);
      expect(winogradTile(info([64, 28, 28, 1], [3, 3, 1, 32]), op), op).toBe(0);
    }
  });

  // Both Winograd variants on every case they cover (the cost model picks one per shape).
  for (const c of convCases.filter((c) => winogradApplies(convInfo(c)))) {
    for (const tile of [2, 4] as const) {
      it(`Winograd F(${tile}x${tile}, 3x3): Conv2D and both gradients, ${caseName(c)}`, async () => {
        const dyShape = convInfo(c).outShape;
        forceWinogradTile(tile);
        try {
          await compare('y, dx, dW', () => {
            const x = tf.tensor4d(values(sizeOf(c.x), 8), c.x as Shape4D);
            const w = tf.tensor4d(values(sizeOf(c.filter), 9), c.filter as Shape4D);
            const dy = tf.tensor(values(sizeOf(dyShape), 10), dyShape);
            return [
              tf.conv2d(x, w, c.stride, c.pad),
              tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w },
                { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x as Shape4D }) as tf.Tensor,
              tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
                { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor,
            ];
          });
        } finally {
          forceWinogradTile(undefined);
        }
      });
    }
  }

  it('Add: bias adds ([..., C] + [C], either order) and other broadcasts match the cpu backend', async () => {
    await compare('sum', () => {
      const x = tf.tensor4d(values(3 * 5 * 5 * 8, 14), [3, 5, 5, 8]);
      const bias = tf.tensor1d(values(8, 15));
      const odd = tf.tensor3d(values(2 * 3 * 6, 16), [2, 3, 6]);
      return [tf.add(x, bias), tf.add(bias, x), tf.add(odd, tf.tensor1d(values(6, 17))), tf.add(x, x), tf.add(x, tf.scalar(2))];
    });
  });

  it('Multiply: per-channel scales ([..., C] * [C] or [1, 1, 1, C], either order) and other broadcasts match the cpu backend', async () => {
    await compare('product', () => {
      const x = tf.tensor4d(values(3 * 5 * 5 * 8, 19), [3, 5, 5, 8]);
      const v = tf.tensor1d(values(8, 20));
      const v4 = tf.tensor4d(values(8, 21), [1, 1, 1, 8]);
      const odd = tf.tensor3d(values(2 * 3 * 6, 22), [2, 3, 6]);
      const rows = tf.tensor2d(values(4 * 8, 23), [4, 8]);
      return [tf.mul(x, v), tf.mul(v4, x), tf.mul(odd, tf.tensor1d(values(6, 24))), tf.mul(x, x), tf.mul(x, tf.scalar(-3)), tf.mul(tf.tensor3d(values(3 * 4 * 8, 25), [3, 4, 8]), rows)];
    });
  });

  it('Relu gradient: one pass on wasm, equal to the cpu backend (zeros, negatives, NaN)', async () => {
    const raw = values(4 * 7 * 7 * 8 + 3, 18).map((v, i) => (i % 5 === 0 ? 0 : v));
    await compare('dx', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), tf.linspace(-2, 3, raw.length))))(tf.tensor1d(raw)));
    await setupBackend({ backend: 'wasm' });
    const dx = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.relu(x)))(tf.tensor1d([NaN, -1, 0, 2, 3, NaN, 1])).dataSync());
    expect(Array.from(dx)).toEqual([NaN, 0, 0, 1, 1, NaN, 1]);
  });

  type PoolCase = { x: number[]; size: number; stride: number; pad: 'valid' | 'same'; ties?: boolean };
  const poolCases: PoolCase[] = [
    { x: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' },
    { x: [2, 7, 9, 4], size: 2, stride: 2, pad: 'valid' },
    { x: [2, 5, 5, 3], size: 2, stride: 2, pad: 'same' },
    { x: [1, 7, 7, 2], size: 3, stride: 2, pad: 'same' },
    { x: [2, 6, 6, 3], size: 2, stride: 1, pad: 'valid' },
    { x: [3, 26, 26, 32], size: 2, stride: 2, pad: 'valid', ties: true },
    { x: [2, 9, 9, 5], size: 3, stride: 3, pad: 'valid', ties: true },
  ];
  for (const c of poolCases) {
    it(`MaxPoolGrad, x ${c.x} window ${c.size} stride ${c.stride} ${c.pad}${c.ties ? ', ReLU-like ties' : ''}`, async () => {
      // With ties (many zeros, as after ReLU, and repeated values) the gradient must go to the first maximum.
      const raw = values(sizeOf(c.x), 5).map((v) => (c.ties ? Math.max(0, Math.round(v * 3) / 3) : v));
      await compare('dx', () => {
        const x = tf.tensor4d(raw, c.x as Shape4D);
        const y = tf.maxPool(x, c.size, c.stride, c.pad);
        const dy = tf.tensor(values(y.size, 6), y.shape as number[]);
        return tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: c.size, strides: c.stride, pad: c.pad }) as tf.Tensor;
      });
    });
  }

  const matMulCases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
    { a: [64, 1152], b: [1152, 128], transposeA: false, transposeB: false },
    { a: [64, 128], b: [1152, 128], transposeA: false, transposeB: true },
    { a: [64, 1152], b: [64, 128], transposeA: true, transposeB: false },
    { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
    { a: [1, 9, 4], b: [1, 9, 6], transposeA: true, transposeB: false },
    { a: [512, 3], b: [10, 3], transposeA: false, transposeB: true },
    { a: [2, 4, 5], b: [2, 6, 5], transposeA: false, transposeB: true },
  ];
  for (const c of matMulCases) {
    it(`BatchMatMul, a ${c.a}${c.transposeA ? ' transposed' : ''}, b ${c.b}${c.transposeB ? ' transposed' : ''}`, async () => {
      await compare('product', () =>
        tf.engine().runKernel('BatchMatMul',
          { a: tf.tensor(values(sizeOf(c.a), 8), c.a), b: tf.tensor(values(sizeOf(c.b), 9), c.b) },
          { transposeA: c.transposeA, transposeB: c.transposeB }) as tf.Tensor);
    });
  }

  const denseCases: { x: number[]; w: number[]; bias: boolean; activation: 'linear' | 'relu' }[] = [
    { x: [64, 1152], w: [1152, 128], bias: false, activation: 'linear' },
    { x: [7, 13], w: [13, 24], bias: true, activation: 'relu' },
    { x: [5, 9], w: [9, 10], bias: true, activation: 'linear' },
  ];
  for (const c of denseCases) {
    it(`dense layer in training (taped _FusedMatMul and its gradients), x ${c.x} w ${c.w}${c.bias ? ' + bias' : ''} ${c.activation}`, async () => {
      await compare('dense', () => {
        const x = tf.tensor2d(values(sizeOf(c.x), 21), c.x as [number, number]);
        const w = tf.tensor2d(values(sizeOf(c.w), 22), c.w as [number, number]);
        const bias = tf.tensor1d(values(c.w[1]!, 23));
        const weights = tf.tensor2d(values(c.x[0]! * c.w[1]!, 24), [c.x[0]!, c.w[1]!]);
        const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
          tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c.bias ? d : undefined, activation: c.activation });
        const inputs = c.bias ? [x, w, bias] : [x, w];
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, d?: tf.Tensor) => tf.sum(tf.mul(f(a, b, d ?? bias), weights)) as tf.Scalar)(inputs);
        return [value, ...grads, f(x, w, bias)];
      });
    });
  }

  it('_FusedMatMul and BatchMatMul outside training (inference) are the stock kernels: bit-identical', async () => {
    await setupBackend({ backend: 'wasm' });
    const x = tf.tensor2d(values(64 * 1152, 25), [64, 1152]);
    const w = tf.tensor2d(values(1152 * 128, 26), [1152, 128]);
    const bias = tf.tensor1d(values(128, 27));
    const run = () => [tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' }), tf.matMul(x, w)].map((t) => Array.from(t.dataSync()));
    const ours = run();
    useTrainingKernel('_FusedMatMul', false);
    useTrainingKernel('BatchMatMul', false);
    try {
      expect(run()).toEqual(ours);
    } finally {
      useTrainingKernel('_FusedMatMul', true);
      useTrainingKernel('BatchMatMul', true);
    }
  });

  const reduceCases: { x: number[]; axis: number[]; keepDims: boolean }[] = [
    { x: [64, 26, 26, 32], axis: [0, 1, 2], keepDims: false },
    { x: [3, 5, 7, 9], axis: [2, 0, 1], keepDims: true },
    { x: [17, 10], axis: [0], keepDims: false },
    { x: [4, 6, 5], axis: [-3, -2], keepDims: false },
    { x: [4, 6, 5], axis: [1, 2], keepDims: false },
    { x: [4, 6, 5], axis: [0, 2], keepDims: true },
    { x: [4, 6, 5], axis: [0, 1, 2], keepDims: false },
  ];
  for (const kernel of ['Sum', 'Mean']) {
    for (const c of reduceCases) {
      it(`${kernel}, x ${c.x} axis ${c.axis}${c.keepDims ? ' keepDims' : ''}`, async () => {
        await compare(kernel, () => {
          const y = tf.engine().runKernel(kernel, { x: tf.tensor(values(sizeOf(c.x), 11), c.x) }, { axis: c.axis, keepDims: c.keepDims }) as tf.Tensor;
          return [y, tf.tensor1d(y.shape.length ? (y.shape as number[]) : [0])];
        });
      });
    }
  }

  const batchNormCases: { x: number[]; withScale: boolean; withOffset: boolean; perChannel: boolean }[] = [
    { x: [4, 7, 7, 16], withScale: true, withOffset: true, perChannel: true },
    { x: [64, 128], withScale: true, withOffset: false, perChannel: true },
    { x: [2, 5, 3], withScale: false, withOffset: true, perChannel: true },
    { x: [2, 5, 3], withScale: true, withOffset: true, perChannel: false },
  ];
  for (const c of batchNormCases) {
    it(`FusedBatchNorm, x ${c.x}${c.withScale ? ', scale' : ''}${c.withOffset ? ', offset' : ''}${c.perChannel ? '' : ', full-shape parameters'}`, async () => {
      const shape = c.perChannel ? [c.x[c.x.length - 1]!] : c.x;
      await compare('y', () => {
        const param = (seed: number, shift: number) => tf.tensor(values(sizeOf(shape), seed).map((v) => v + shift), shape);
        return tf.engine().runKernel('FusedBatchNorm', {
          x: tf.tensor(values(sizeOf(c.x), 12).map((v) => 100 + 3 * v), c.x),
          mean: param(13, 100),
          variance: param(14, 2),
          ...(c.withScale ? { scale: param(15, 0) } : {}),
          ...(c.withOffset ? { offset: param(16, 0) } : {}),
        }, { varianceEpsilon: 1e-3 }) as tf.Tensor;
      });
    });
  }

  it('Tanh, over [-12, 12] and near 0', async () => {
    await compare('tanh', () => {
      const x = tf.tensor(values(64 * 28 * 28 * 6, 18).map((v) => 12 * v), [64, 28, 28, 6]);
      const small = tf.tensor(values(1000, 19).map((v) => 1e-3 * v));
      return [tf.tanh(x), tf.tanh(small)];
    });
  });

  it('Identity shares data and survives disposing its input', async () => {
    await compare('clone', () => {
      const x = tf.tensor(values(24, 17), [2, 3, 4]);
      const y = tf.clone(x);
      x.dispose();
      return tf.add(y, 1);
    });
  });

  it('Cast to the same dtype shares data and survives disposing its input; other casts convert', async () => {
    await compare('cast', () => {
      const x = tf.tensor(values(24, 21).map((v) => 7 * v), [2, 3, 4]);
      const same = tf.cast(x, 'float32');
      const toInt = tf.cast(x, 'int32');
      const back = tf.cast(toInt, 'float32');
      const fromBool = tf.cast(tf.greater(x, 0), 'float32');
      const sameInt = tf.cast(toInt, 'int32');
      x.dispose();
      return [tf.add(same, 1), back, fromBool, tf.cast(sameInt, 'float32')];
    });
    // On wasm the same-dtype cast (e.g. tfjs-core's Identity gradient) shares its input's data: no copy.
    await setupBackend({ backend: 'wasm' });
    const x = tf.tensor(values(4096, 22), [4096]);
    const same = tf.cast(x, 'float32');
    const other = tf.cast(x, 'int32');
    expect(same.dataId).toBe(x.dataId);
    expect(other.dataId).not.toBe(x.dataId);
    tf.dispose([x, same, other]);
  });

  it('gradients of a small conv net (conv, fused conv, batch norm, relu, tanh, max/avg pool, dense, softmax cross-entropy)', async () => {
    const shapes: Record<string, number[]> = {
      w1: [3, 3, 1, 4], b1: [4], w2: [5, 5, 4, 6], b2: [6], gamma: [6], beta: [6], w3: [3, 3, 6, 8], wd: [2 * 2 * 8, 10], bd: [10],
    };
    const names = Object.keys(shapes);
    const images = values(3 * 18 * 18, 7);
    const labels = [1, 4, 9];
    await compare('gradients', () => {
      const params = names.map((n, i) => tf.tensor(values(sizeOf(shapes[n]!), 10 + i).map((v) => v * 0.5), shapes[n]!));
      const x = tf.tensor4d(images, [3, 18, 18, 1]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
      const loss = (...p: tf.Tensor[]): tf.Scalar => {
        const [w1, b1, w2, b2, gamma, beta, w3, wd, bd] = p as tf.Tensor4D[];
        let h = tf.relu(tf.add(tf.conv2d(x, w1!, 1, 'valid'), b1!)) as tf.Tensor4D; // 16x16x4
        h = tf.maxPool(h, 2, 2, 'valid'); // 8x8x4
        h = tf.fused.conv2d({ x: h, filter: w2!, strides: 1, pad: 'same', bias: b2 }); // 8x8x6
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        h = tf.relu(tf.batchNorm(h, mean, variance, beta, gamma, 1e-3)) as tf.Tensor4D;
        h = tf.tanh(tf.conv2d(h, w3!, 2, 'same')); // 4x4x8
        h = tf.avgPool(h, 2, 2, 'valid'); // 2x2x8
        const logits = tf.add(tf.matMul(tf.reshape(h, [3, 32]), wd!), bd!);
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      };
      return tf.grads(loss)(params);
    });
  });
});

/**
 * A convolution layer with a ReLU in training as one FusedConv2D kernel (src/backend/convReluTraining.ts) against
 * tfjs-layers' own path (Conv2D, Add, Relu and their gradients).
 *
 * Tolerance: max |fused - stock| <= 1e-5 * max(1, max |stock|) on wasm (the same kernels in the same order: the
 * differences are float32 rounding at most), and 1e-4 against the cpu backend (the SIMD convolutions sum in
 * another order than TF.js's cpu kernels). An indexing or gradient error gives differences of order 1.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setConvReluTrainingEnabled } from '../../src/backend/convReluTraining.ts';
import { RELU_GRAD, RELU_GRAD_SUM } from '../../src/backend/kernels/ReluGrad.ts';
import { forceWinogradTile } from '../../src/backend/simd/winograd.ts';
import { compareBackends, expectClose, sizeOf, values } from '../fixtures/backends.ts';

interface Case { x: number[]; filters: number; kernel: number; strides: number; padding: 'same' | 'valid'; bias: boolean }

const cases: Case[] = [
  { x: [3, 9, 9, 1], filters: 8, kernel: 3, strides: 1, padding: 'valid', bias: true }, // a first layer (direct kernel)
  { x: [2, 13, 13, 8], filters: 16, kernel: 3, strides: 1, padding: 'valid', bias: true }, // Winograd
  { x: [2, 10, 10, 4], filters: 8, kernel: 3, strides: 1, padding: 'same', bias: false },
  { x: [2, 9, 8, 3], filters: 16, kernel: 5, strides: 2, padding: 'same', bias: true },
];

/**
 * One training-mode forward and backward pass of a conv2d layer with ReLU under `tf.variableGrads`, the input a
 * variable too (so its gradient, a later layer's case, is computed): [loss, y, dx, dkernel, (dbias)].
 */
function layerStep(c: Case): tf.Tensor[] {
  const layer = tf.layers.conv2d({ filters: c.filters, kernelSize: c.kernel, strides: c.strides, padding: c.padding, activation: 'relu', useBias: c.bias });
  const input = tf.variable(tf.tensor4d(values(sizeOf(c.x), 51), c.x as [number, number, number, number]));
  layer.build(input.shape);
  const kernelShape = [c.kernel, c.kernel, c.x[3]!, c.filters];
  const weights = [tf.tensor(values(sizeOf(kernelShape), 52).map((v) => v / 2), kernelShape)];
  if (c.bias) weights.push(tf.tensor1d(values(c.filters, 53).map((v) => v / 4)));
  layer.setWeights(weights);
  const y = layer.apply(input) as tf.Tensor;
  const wy = tf.tensor(values(sizeOf(y.shape), 54), y.shape);
  const trainable = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, wy)) as tf.Scalar, [input, ...trainable]);
  const out = [value, y, grads[input.name]!, ...trainable.map((v) => grads[v.name]!)];
  input.dispose();
  return out;
}

describe('conv2d + ReLU in training as one FusedConv2D (wasm)', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });
  afterEach(() => setConvReluTrainingEnabled(true));

  for (const c of cases) {
    const label = `x ${c.x}, ${c.kernel}x${c.kernel}x${c.filters}, stride ${c.strides}, ${c.padding}${c.bias ? ', bias' : ''}`;
    it(`${label}: loss, output and gradients as tfjs-layers' path`, async () => {
      await setupBackend({ backend: 'wasm' });
      const run = (on: boolean) => {
        setConvReluTrainingEnabled(on);
        return tf.tidy(() => layerStep(c).map((t) => t.dataSync() as Float32Array));
      };
      const fused = run(true);
      const stock = run(false);
      const names = ['loss', 'y', 'dx', 'dkernel', 'dbias'];
      stock.forEach((s, i) => expectClose(fused[i]!, s, names[i]!, 1e-5));
    });

    it(`${label}: wasm fused against the cpu backend`, async () => {
      await compareBackends(label, () => layerStep(c), 1e-4);
    });
  }

  it('runs FusedConv2D under a tape (no Add or Relu kernels), and the original call without one', async () => {
    await setupBackend({ backend: 'wasm' });
    const layer = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' });
    const input = tf.tensor4d(values(2 * 8 * 8 * 2, 61), [2, 8, 8, 2]);
    layer.build(input.shape);
    const trainable = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const training = (await tf.profile(() => tf.variableGrads(() => tf.sum(layer.apply(input) as tf.Tensor) as tf.Scalar, trainable).value)).kernels.map((k) => k.name);
    expect(training).toContain('FusedConv2D');
    expect(training).toContain('HwrReluGradSum'); // the ReLU and bias gradients in one pass
    expect(training).not.toContain('Relu');
    expect(training).not.toContain('Add');
    const inference = (layer.apply(input) as tf.Tensor).dataSync();
    setConvReluTrainingEnabled(false);
    expect(Array.from((layer.apply(input) as tf.Tensor).dataSync())).toEqual(Array.from(inference));
    input.dispose();
  });
});

describe('HwrReluGradSum: the ReLU gradient and its column sums in one pass (wasm)', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  for (const shape of [[64, 26, 26, 32], [3, 5, 5, 64], [7, 4], [9, 1, 1, 8], [1, 12]]) {
    it(`x ${JSON.stringify(shape)}: bit-identical to HwrReluGrad + Sum, and to Step/Multiply/Sum on cpu within 1e-6`, async () => {
      await setupBackend({ backend: 'wasm' });
      const n = sizeOf(shape);
      const xs = values(n, 71);
      xs[0] = 0; xs[1] = NaN; xs[2] = -0; // the edge cases of step(x)
      const x = tf.tensor(xs, shape);
      const dy = tf.tensor(values(n, 72).map((v) => 3 * v), shape);
      const axes = shape.slice(0, -1).map((_, i) => i);
      const [dx, sums] = tf.engine().runKernel(RELU_GRAD_SUM, { dy, x }) as tf.Tensor[];
      const dx2 = tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
      expect(Array.from(dx!.dataSync())).toEqual(Array.from(dx2.dataSync()));
      expect(Array.from(sums!.dataSync())).toEqual(Array.from(tf.sum(dx2, axes).dataSync()));
      const wasm = [dx!.dataSync(), sums!.dataSync()] as Float32Array[];
      tf.dispose([x, dy, dx!, sums!, dx2]);
      const reference = await (async () => {
        await setupBackend({ backend: 'cpu' });
        return tf.tidy(() => {
          const g = tf.mul(tf.tensor(values(n, 72).map((v) => 3 * v), shape), tf.step(tf.tensor(xs, shape)));
          return [g.dataSync(), tf.sum(g, axes).dataSync()] as Float32Array[];
        });
      })();
      await setupBackend({ backend: 'wasm' });
      // NaN at index 1 on both sides: compare the rest (NaN propagates into that column's sum on both).
      expect(Number.isNaN(wasm[0]![1]!)).toBe(true);
      expect(Number.isNaN(reference[0]![1]!)).toBe(true);
      const finite = (a: Float32Array) => Array.from(a).map((v) => (Number.isNaN(v) ? 0 : v));
      expectClose(finite(wasm[0]!), finite(reference[0]!), 'dx', 0);
      expectClose(finite(wasm[1]!), finite(reference[1]!), 'sums', 1e-6);
    });
  }
});

describe('FusedConv2D epilogue inside the Winograd kernels (bias and ReLU per chunk of tiles)', () => {
  for (const tile of [2, 4] as const) {
    for (const shape of [[3, 13, 13, 8], [2, 10, 7, 4]]) {
      it(`F(${tile}x${tile}), x ${JSON.stringify(shape)}: bias + relu and bias + linear against the cpu backend (1e-4)`, async () => {
        forceWinogradTile(tile);
        try {
          await compareBackends(`F${tile} ${shape}`, () => {
            const x = tf.tensor4d(values(sizeOf(shape), 91), shape as [number, number, number, number]);
            const filter = tf.tensor4d(values(3 * 3 * shape[3]! * 16, 92), [3, 3, shape[3]!, 16]);
            const bias = tf.tensor1d(values(16, 93));
            return [
              tf.fused.conv2d({ x, filter, bias, activation: 'relu', strides: 1, pad: 'valid' }),
              tf.fused.conv2d({ x, filter, bias, activation: 'linear', strides: 1, pad: 'same' }),
              tf.fused.conv2d({ x, filter, activation: 'relu', strides: 1, pad: 'same' }),
            ];
          }, 1e-4);
        } finally {
          forceWinogradTile(undefined);
        }
      });
    }
  }
});

/**
 * 2x2 max pooling after a convolution's ReLU with its gradient through the pooling and the ReLU in one pass
 * (src/backend/convReluPool.ts, src/backend/kernels/ReluMaxPool.ts): the kernels against MaxPool, MaxPoolGrad and the
 * ReLU's gradient (bit for bit; the bias sums within float32 rounding, as float64 sums in another order), then the seed
 * CNN's gradients with and without it, and a convolution output with a second reader.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setConvPoolCropEnabled, setConvReluPoolEnabled, setFusedConvReluPoolEnabled } from '../../src/backend/convReluPool.ts';
import { RELU_MAX_POOL, RELU_MAX_POOL_GRAD } from '../../src/backend/kernels/ReluMaxPool.ts';
import { RELU_GRAD } from '../../src/backend/kernels/ReluGrad.ts';
import { expectClose, sizeOf, values } from '../fixtures/backends.ts';
import { seedCnnStep, type SeedCnnStep } from '../fixtures/convReluPool.ts';

type Shape4D = [number, number, number, number];

/** Asserts identical float32 bit patterns (so +0 / -0 count), naming the first differing element. */
function expectSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  const a = new Uint32Array(Float32Array.from(actual).buffer);
  const e = new Uint32Array(Float32Array.from(expected).buffer);
  expect(a.length, `${label}: length`).toBe(e.length);
  const first = a.findIndex((bits, i) => bits !== e[i]);
  expect(first, `${label}: first differing element (${actual[first]} vs ${expected[first]})`).toBe(-1);
}

/** A ReLU's output: about half +0, the rest on a coarse grid when `ties` (windows with equal maxima), else distinct. */
function reluOutput(shape: Shape4D, seed: number, ties: boolean): tf.Tensor4D {
  return tf.tensor4d(values(sizeOf(shape), seed).map((v) => Math.max(0, ties ? Math.round(v * 3) / 3 : v)), shape);
}

describe('max pooling of a ReLU output and its gradient through both', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  const cases: Array<{ shape: Shape4D; ties: boolean }> = [
    { shape: [64, 26, 26, 32], ties: false }, // the seed CNN's first block
    { shape: [64, 11, 11, 64], ties: true }, // its second: odd sizes, the last row and column in no window
    { shape: [3, 2, 2, 4], ties: true },
    { shape: [2, 5, 8, 12], ties: false },
    { shape: [1, 3, 3, 128], ties: true },
  ];

  for (const { shape, ties } of cases) {
    it(`x ${shape}${ties ? ', with ties' : ''}: pooled = MaxPool, gradient = MaxPoolGrad then the ReLU's gradient, bit for bit`, () => {
      tf.tidy(() => {
        const y = reluOutput(shape, 3, ties);
        const pooled = tf.engine().runKernel(RELU_MAX_POOL, { x: y }, {}) as tf.Tensor;
        const stock = tf.maxPool(y, 2, 2, 'valid');
        expect(pooled.shape).toEqual(stock.shape);
        expectSameBits(pooled.dataSync(), stock.dataSync(), `${shape}: pooled`);

        const dp = tf.tensor(values(sizeOf(stock.shape), 5).map((v, i) => (i % 7 === 0 ? -0 : v)), stock.shape);
        const [dx, sums] = tf.engine().runKernel(RELU_MAX_POOL_GRAD, { dy: dp, x: y }) as tf.Tensor[];
        const viaPool = tf.engine().runKernel('MaxPoolGrad', { dy: dp, input: y, output: stock }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
        const expected = tf.engine().runKernel(RELU_GRAD, { dy: viaPool, x: y }) as tf.Tensor;
        expectSameBits(dx!.dataSync(), expected.dataSync(), `${shape}: dx`);
        expectClose(sums!.dataSync(), tf.sum(expected, [0, 1, 2]).dataSync(), `${shape}: bias sums`, 1e-6);
      });
    });
  }

  it('refuses inputs it does not cover, naming them', () => {
    expect(() => tf.tidy(() => tf.engine().runKernel(RELU_MAX_POOL, { x: tf.ones([2, 4, 4, 6]) }, {}))).toThrow(/HwrReluMaxPool: not applicable to x \[2,4,4,6\]/);
    expect(() => tf.tidy(() => tf.engine().runKernel(RELU_MAX_POOL_GRAD, { dy: tf.ones([2, 0, 2, 8]), x: tf.ones([2, 1, 4, 8]) }, {}))).toThrow(/HwrReluMaxPoolGrad: not applicable to x \[2,1,4,8\]/);
  });
});

describe('the seed CNN with and without the fused pooling gradient', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  /** One seed-CNN step (test/fixtures/convReluPool.ts) with this pooling on or off. */
  async function step(on: boolean): Promise<SeedCnnStep> {
    setConvReluPoolEnabled(on);
    // The first block's one-kernel path (convReluPoolFused.test.ts) off, so that all three blocks take this one.
    setFusedConvReluPoolEnabled(false);
    try {
      return await seedCnnStep();
    } finally {
      setConvReluPoolEnabled(true);
      setFusedConvReluPoolEnabled(true);
    }
  }

  it('pools the conv blocks with HwrReluMaxPool; the loss and every gradient but the conv biases bit-identical, those within 1e-6', async () => {
    const fused = await step(true);
    const apart = await step(false);
    expect(fused.kernels.filter((k) => k === RELU_MAX_POOL).length).toBe(3);
    expect(fused.kernels).not.toContain('MaxPoolGrad');
    expect(fused.kernels).not.toContain('HwrReluGradSum');
    expect(apart.kernels).not.toContain(RELU_MAX_POOL);
    expect(fused.loss).toBe(apart.loss);
    fused.names.forEach((name, i) => {
      if (/conv2d.*bias/.test(name)) expectClose(fused.grads[i]!, apart.grads[i]!, `gradient of ${name}`, 1e-6);
      else expectSameBits(fused.grads[i]!, apart.grads[i]!, `gradient of ${name}`);
    });
  });

  it('a convolution output with a second reader keeps the right gradient (the sum carries no mark)', async () => {
    const run = (on: boolean): Float32Array[] => {
      setConvReluPoolEnabled(on);
      try {
        return tf.tidy(() => {
          const input = tf.input({ shape: [8, 8, 4] });
          const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
          const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(conv)) as tf.SymbolicTensor;
          const direct = tf.layers.flatten().apply(conv) as tf.SymbolicTensor;
          const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(tf.layers.concatenate().apply([pooled, direct])) as tf.SymbolicTensor;
          const model = tf.model({ inputs: input, outputs: out });
          const x = tf.tensor4d(values(2 * 8 * 8 * 4, 91), [2, 8, 8, 4]);
          const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
          return model.trainableWeights.map((w) => grads[w.originalName]!.dataSync() as Float32Array);
        });
      } finally {
        setConvReluPoolEnabled(true);
      }
    };
    const fused = run(true);
    const apart = run(false);
    fused.forEach((g, i) => expectClose(g, apart[i]!, `gradient ${i}`, 1e-6));
  });
});

describe('a convolution cropped to the outputs its 2x2 pooling reads', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  /** Loss, gradients and the FusedConv2D input shapes of one step of `model` on x, with the crop on or off. */
  function step(model: tf.LayersModel, x: tf.Tensor, on: boolean): { loss: number; grads: Float32Array[]; convInputs: string[] } {
    setConvPoolCropEnabled(on);
    const convInputs: string[] = [];
    const engine = tf.engine() as unknown as { runKernel: (n: string, inputs: Record<string, tf.Tensor>, ...rest: unknown[]) => unknown };
    const runKernel = engine.runKernel;
    engine.runKernel = function (this: unknown, n, inputs, ...rest) {
      if (n === 'FusedConv2D') convInputs.push(String(inputs['x']!.shape));
      return runKernel.call(this, n, inputs, ...rest);
    };
    try {
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
        return { loss: value.dataSync()[0]!, grads: model.trainableWeights.map((w) => grads[w.originalName]!.dataSync() as Float32Array), convInputs };
      });
    } finally {
      engine.runKernel = runKernel;
      setConvPoolCropEnabled(true);
    }
  }

  it('the seed CNN: layers 2 and 3 convolve 12x12 and 4x4 inputs instead of 13x13 and 5x5; loss and gradients within float32 rounding', async () => {
    const { getArchitecture } = await import('../../src/models/index.ts');
    const model = getArchitecture('seed-cnn').create({ classes: 10, seed: 3 });
    const x = tf.tensor4d(values(16 * 28 * 28, 81).map((v) => Math.abs(v)), [16, 28, 28, 1]);
    const cropped = step(model, x, true);
    const full = step(model, x, false);
    expect(cropped.convInputs).toEqual(['16,12,12,32', '16,4,4,64']);
    expect(full.convInputs).toEqual(['16,13,13,32', '16,5,5,64']);
    expect(Math.abs(cropped.loss - full.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(full.loss));
    cropped.grads.forEach((g, i) => expectClose(g, full.grads[i]!, `gradient ${i}`, 1e-5));
    tf.dispose(x);
    model.dispose();
  });

  it('an output odd in one dimension, strides; no crop for even outputs, \'same\' padding or another pooling', () => {
    const layersOf = (conv: { kernelSize: number | number[] }, pool: number) => [
      tf.layers.conv2d({ inputShape: [11, 10, 3], filters: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), ...conv }),
      tf.layers.maxPooling2d({ poolSize: pool }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ];
    const cases: Array<{ conv: { kernelSize: number | number[]; strides?: number; padding?: 'same' }; pool: number; cropped: string | null }> = [
      { conv: { kernelSize: 3 }, pool: 2, cropped: '2,10,10,3' }, // output 9x8: 8 rows kept, which read 10
      { conv: { kernelSize: 3, strides: 2 }, pool: 2, cropped: '2,9,9,3' }, // output 5x4: 4 rows and columns, reading 9
      { conv: { kernelSize: [2, 3] }, pool: 2, cropped: null }, // output 10x8: nothing dropped
      { conv: { kernelSize: 3, padding: 'same' }, pool: 2, cropped: null },
      { conv: { kernelSize: 3 }, pool: 3, cropped: null },
    ];
    const x = tf.tensor4d(values(2 * 11 * 10 * 3, 7), [2, 11, 10, 3]);
    for (const c of cases) {
      const model = tf.sequential({ layers: layersOf(c.conv, c.pool) });
      const on = step(model, x, true);
      const off = step(model, x, false);
      const label = JSON.stringify(c.conv);
      if (c.cropped) expect(on.convInputs, label).toEqual([c.cropped]);
      else expect(on.convInputs, label).toEqual(off.convInputs);
      expect(Math.abs(on.loss - off.loss), label).toBeLessThanOrEqual(1e-5 * Math.abs(off.loss));
      on.grads.forEach((g, i) => expectClose(g, off.grads[i]!, `${label}: gradient ${i}`, 1e-5));
      model.dispose();
    }
    tf.dispose(x);
  });
});

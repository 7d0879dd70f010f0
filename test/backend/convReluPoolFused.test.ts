/**
 * A one-channel convolution + bias + ReLU + 2x2 max pooling as one kernel each way (src/backend/convReluPool.ts,
 * src/backend/kernels/ConvReluPool.ts, simd/assembly/convReluPool.ts): the pooled output against the wasm FusedConv2D
 * and MaxPool it replaces (bit for bit) and the cpu backend (TF.js's reference), the filter, bias and input gradients
 * against the cpu backend's within float32 rounding, ties included; then the seed CNN's training step with and without
 * it, and the layer graphs where it must not apply.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setFusedConvReluPoolEnabled } from '../../src/backend/convReluPool.ts';
import { CONV_RELU_POOL, CONV_RELU_POOL_GRAD, convReluPoolApplies } from '../../src/backend/kernels/ConvReluPool.ts';
import { compareBackends, expectClose, sizeOf, trainingOutputShapes, values } from '../fixtures/backends.ts';
import { convReluPoolAndGradients, type ConvReluPoolCase, convReluPoolCaseName, seedCnnStep, type SeedCnnStep } from '../fixtures/convReluPool.ts';

const TOLERANCE = 1e-5;

const cases: ConvReluPoolCase[] = [
  { x: [8, 28, 28, 1], filter: [3, 3, 1, 32], pad: 'valid', bias: true }, // the seed CNN's first block
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 32], pad: 'valid', bias: true, grid: true },
  { x: [2, 9, 7, 1], filter: [3, 3, 1, 8], pad: 'valid', bias: true, grid: true }, // odd output: 7 x 5
  { x: [3, 10, 10, 1], filter: [5, 5, 1, 16], pad: 'same', bias: true }, // 25 taps: three blocks of 9
  { x: [2, 8, 9, 1], filter: [2, 3, 1, 24], pad: 'valid', bias: false },
  { x: [1, 5, 5, 1], filter: [1, 1, 1, 40], pad: 'same', bias: true, grid: true },
  { x: [2, 6, 6, 1], filter: [4, 4, 1, 8], pad: 'same', bias: false }, // even filter, 'same': padding 1 before, 2 after
];

describe('one-channel convolution + ReLU + 2x2 max pooling as one kernel', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  for (const c of cases) {
    it(`pooled output and every gradient match the cpu backend, ${convReluPoolCaseName(c)}`, async () => {
      await compareBackends('pooled, dx, dfilter, dbias', () => convReluPoolAndGradients(c, 17), TOLERANCE);
    });

    it(`pooled output = wasm FusedConv2D then MaxPool, bit for bit, ${convReluPoolCaseName(c)}`, () => {
      tf.tidy(() => {
        const x = tf.tensor4d(values(sizeOf(c.x), 5), c.x);
        const filter = tf.tensor4d(values(sizeOf(c.filter), 6), c.filter);
        const bias = c.bias ? tf.tensor1d(values(c.filter[3], 7)) : undefined;
        const [pooled] = tf.engine().runKernel(CONV_RELU_POOL, { x, filter, ...(bias ? { bias } : {}) }, { pad: c.pad }) as tf.Tensor[];
        const apart = tf.maxPool(tf.fused.conv2d({ x, filter, bias, strides: 1, pad: c.pad, activation: 'relu' }), 2, 2, 'valid');
        expect(pooled!.shape).toEqual(apart.shape);
        const a = new Uint32Array(Float32Array.from(pooled!.dataSync()).buffer);
        const e = new Uint32Array(Float32Array.from(apart.dataSync()).buffer);
        expect(a.findIndex((bits, i) => bits !== e[i])).toBe(-1);
      });
    });
  }

  it('applies to one input channel, stride-1 shapes with outChannels % 8 == 0 and an output of 2 x 2 or more only', () => {
    const backend = tf.backend();
    expect(convReluPoolApplies(backend, [64, 28, 28, 1], [3, 3, 1, 32], 'valid')).toBe(true);
    expect(convReluPoolApplies(backend, [64, 28, 28, 2], [3, 3, 2, 32], 'valid')).toBe(false);
    expect(convReluPoolApplies(backend, [64, 28, 28, 1], [3, 3, 1, 12], 'valid')).toBe(false);
    expect(convReluPoolApplies(backend, [1, 3, 3, 1], [3, 3, 1, 8], 'valid')).toBe(false);
    expect(convReluPoolApplies(backend, [1, 3, 3, 1], [3, 3, 1, 8], 'same')).toBe(true);
    expect(convReluPoolApplies(backend, [1, 3, 3, 1], [3, 3, 1, 8], 'causal')).toBe(false);
  });

  it('refuses inputs it does not cover, naming them', () => {
    expect(() => tf.tidy(() => tf.engine().runKernel(CONV_RELU_POOL, { x: tf.ones([2, 6, 6, 3]), filter: tf.ones([3, 3, 3, 8]) }, { pad: 'valid' })))
      .toThrow(/HwrConvReluPool: not applicable to x \[2,6,6,3\] and a filter \[3,3,3,8\]/);
    expect(() => tf.tidy(() => tf.engine().runKernel(CONV_RELU_POOL, { x: tf.ones([2, 6, 6, 1]), filter: tf.ones([3, 3, 1, 8]), bias: tf.ones([4]) }, { pad: 'valid' })))
      .toThrow(/HwrConvReluPool: bias of shape \[4\] for 8 output channels/);
    expect(() => tf.tidy(() => tf.engine().runKernel(CONV_RELU_POOL_GRAD, { x: tf.ones([2, 6, 6, 1]), dy: tf.ones([2, 2, 2, 8]), codes: tf.ones([2, 2, 2, 8], 'bool') },
      { pad: 'valid', filterShape: [3, 3, 1, 6] }))).toThrow(/HwrConvReluPoolGrad: not applicable/);
  });
});

describe('the seed CNN with and without the one-kernel first block', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  /** One seed-CNN step (test/fixtures/convReluPool.ts) with the one-kernel first block on or off. */
  async function step(on: boolean): Promise<SeedCnnStep> {
    setFusedConvReluPoolEnabled(on);
    try {
      return await seedCnnStep();
    } finally {
      setFusedConvReluPoolEnabled(true);
    }
  }

  it('runs the first block as HwrConvReluPool; the same loss, the first layer\'s gradients within float32 rounding, the rest bit for bit', async () => {
    const fused = await step(true);
    const apart = await step(false);
    expect(fused.kernels).toContain(CONV_RELU_POOL);
    expect(fused.kernels).toContain(CONV_RELU_POOL_GRAD);
    expect(fused.kernels.filter((k) => k === 'FusedConv2D').length).toBe(2);
    expect(apart.kernels).not.toContain(CONV_RELU_POOL);
    expect(fused.loss).toBe(apart.loss);
    fused.names.forEach((name, i) => {
      if (i < 2) expectClose(fused.grads[i]!, apart.grads[i]!, `gradient of ${name}`, TOLERANCE);
      else expect(Array.from(fused.grads[i]!), `gradient of ${name}`).toEqual(Array.from(apart.grads[i]!));
    });
  });

  it('leaves a convolution alone whose output has a second reader, or that a pooling of another size reads', () => {
    const run = (pool: number, secondReader: boolean) => tf.tidy(() => {
      const input = tf.input({ shape: [8, 8, 1] });
      const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
      const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: pool }).apply(conv)) as tf.SymbolicTensor;
      const merged = secondReader ? tf.layers.concatenate().apply([pooled, tf.layers.flatten().apply(conv) as tf.SymbolicTensor]) as tf.SymbolicTensor : pooled;
      const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(merged) as tf.SymbolicTensor });
      const x = tf.tensor4d(values(2 * 8 * 8, 91), [2, 8, 8, 1]);
      const names: string[] = [];
      const engine = tf.engine() as unknown as { runKernel: (n: string, ...rest: unknown[]) => unknown };
      const runKernel = engine.runKernel;
      engine.runKernel = function (this: unknown, n: string, ...rest: unknown[]) {
        names.push(n);
        return runKernel.call(this, n, ...rest);
      };
      try {
        const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
        return { names, grads: model.trainableWeights.map((w) => Array.from(grads[w.originalName]!.dataSync())) };
      } finally {
        engine.runKernel = runKernel;
      }
    });
    for (const [pool, second] of [[2, true], [3, false]] as const) {
      const { names, grads } = run(pool, second);
      expect(names, `pool ${pool}${second ? ', second reader' : ''}`).not.toContain(CONV_RELU_POOL);
      expect(grads.every((g) => g.every(Number.isFinite))).toBe(true);
    }
    // The same graph with a sole 2x2 pooling reader takes the fused path.
    expect(run(2, false).names).toContain(CONV_RELU_POOL);
  });

  it('leaves a convolution alone whose output is also a model output (not an outbound node), in apply and in fit', async () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const convLayer = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const conv = convLayer.apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(conv)) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [conv, out] });
    const x = tf.tensor4d(values(2 * 8 * 8, 93), [2, 8, 8, 1]);
    expect(trainingOutputShapes(model, x)).toEqual([[2, 6, 6, 8], [2, 3]]);
    const squaredError = (axes: number[]) => (yt: tf.Tensor, yp: tf.Tensor) => tf.mean(tf.square(tf.sub(yp, yt)), axes);
    model.compile({ optimizer: 'sgd', loss: [squaredError([1, 2, 3]), squaredError([1])] });
    const history = await model.fit(x, [tf.zeros([2, 6, 6, 8]), tf.zeros([2, 3])], { epochs: 1, batchSize: 2, verbose: 0 });
    expect(Number.isFinite(history.history['loss']![0] as number)).toBe(true);
    tf.dispose(x);
    model.dispose();
  });
});

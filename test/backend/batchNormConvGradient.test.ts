/**
 * A one-channel convolution's filter gradient computed without its output's gradient, where a batch norm, ReLU and 2x2
 * max pooling fused into one kernel pair read that output (src/backend/batchNormConvGradient.ts): against the cpu
 * backend (tfjs-core's ops, the layers apart) and against the path switched off, and the graphs it must leave alone.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setBatchNormConvGradientEnabled } from '../../src/backend/batchNormConvGradient.ts';
import { BATCH_NORM_RELU_POOL_GRAD } from '../../src/backend/kernels/BatchNormTraining.ts';
import { CONV_RELU_POOL_GRAD } from '../../src/backend/kernels/ConvReluPool.ts';
import { expectClose, values, valuesOn } from '../fixtures/backends.ts';

interface BlockCase {
  name: string;
  /** [H, W, C] of the input. */
  input: [number, number, number];
  kernelSize: number | [number, number];
  filters: number;
  useBias?: boolean;
  padding?: 'valid' | 'same';
  strides?: number;
  /** A 1x1 convolution (one channel, with bias) before the block, so that the block's input gradient is needed. */
  convBefore?: boolean;
}

/** [optional 1x1 conv] -> conv -> batch norm -> ReLU -> 2x2 max pooling -> flatten -> dense(5), seeded. */
function blockModel(c: BlockCase): tf.LayersModel {
  const layers: tf.layers.Layer[] = [];
  if (c.convBefore) layers.push(tf.layers.conv2d({ inputShape: c.input, filters: 1, kernelSize: 1, kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }), biasInitializer: 'ones' }));
  layers.push(
    tf.layers.conv2d({
      ...(c.convBefore ? {} : { inputShape: c.input }),
      filters: c.filters,
      kernelSize: c.kernelSize,
      useBias: c.useBias ?? false,
      padding: c.padding ?? 'valid',
      strides: c.strides ?? 1,
      kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 3 }),
    }),
    tf.layers.batchNormalization({ momentum: 0.9, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 4 }), betaInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 5 }) }),
    tf.layers.reLU(),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.glorotNormal({ seed: 6 }) }),
  );
  return tf.sequential({ layers });
}

/** Loss and every weight's gradient of one training step of a fresh `blockModel` on a fixed batch of 6. */
function stepGradients(c: BlockCase): tf.Tensor[] {
  const model = blockModel(c);
  const [H, W, C] = c.input;
  const xs = tf.tensor4d(values(6 * H * W * C, 41).map((v) => Math.abs(v)), [6, H, W, C]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5).toFloat();
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
  const out = [value, ...model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]!)];
  model.dispose();
  return out;
}

/** The same step on wasm with the path on and off: [on, off] values, and whether the fused filter gradient ran. */
async function onAndOff(c: BlockCase): Promise<{ on: Float32Array[]; off: Float32Array[]; deferred: boolean; batchNormGrads: number }> {
  await setupBackend({ backend: 'wasm' });
  const profile = await tf.profile(() => { tf.dispose(stepGradients(c)); });
  const deferred = profile.kernels.some((k) => k.name === CONV_RELU_POOL_GRAD);
  const batchNormGrads = profile.kernels.filter((k) => k.name === BATCH_NORM_RELU_POOL_GRAD).length;
  const on = await valuesOn('wasm', () => stepGradients(c));
  setBatchNormConvGradientEnabled(false);
  try {
    return { on, off: await valuesOn('wasm', () => stepGradients(c)), deferred, batchNormGrads };
  } finally {
    setBatchNormConvGradientEnabled(true);
  }
}

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

describe('a one-channel convolution\'s filter gradient from the deferred batch norm gradient', () => {
  const applies: BlockCase[] = [
    { name: "hwr-net's first block (28x28, 5x5, 32 filters)", input: [28, 28, 1], kernelSize: 5, filters: 32 },
    { name: 'a 3x3 filter on 12x10, 8 filters', input: [12, 10, 1], kernelSize: 3, filters: 8 },
    { name: 'a 2x4 filter on 9x11, 16 filters', input: [9, 11, 1], kernelSize: [2, 4], filters: 16 },
  ];
  for (const c of applies) {
    it(`${c.name}: every gradient within 1e-4 of the cpu backend and 2e-5 of the path switched off`, async () => {
      const { on, off, deferred, batchNormGrads } = await onAndOff(c);
      expect(deferred).toBe(true);
      expect(batchNormGrads).toBe(1);
      const cpu = await valuesOn('cpu', () => stepGradients(c));
      await setupBackend({ backend: 'wasm' });
      on.forEach((v, i) => {
        expectClose(v, cpu[i]!, `${c.name}, output ${i} against cpu`, 1e-4);
        expectClose(v, off[i]!, `${c.name}, output ${i} against the path off`, 2e-5);
      });
      // Only the first convolution's filter gradient is computed another way; everything else is the same kernels.
      on.forEach((v, i) => { if (i !== 1) expect(Array.from(v)).toEqual(Array.from(off[i]!)); });
    });
  }

  const leftAlone: BlockCase[] = [
    { name: 'a convolution with a bias', input: [12, 12, 1], kernelSize: 3, filters: 8, useBias: true },
    { name: "'same' padding", input: [12, 12, 1], kernelSize: 3, filters: 8, padding: 'same' },
    { name: 'stride 2', input: [13, 13, 1], kernelSize: 3, filters: 8, strides: 2 },
    { name: 'two input channels', input: [12, 12, 2], kernelSize: 3, filters: 8 },
    { name: 'filters not a multiple of 8', input: [12, 12, 1], kernelSize: 3, filters: 4 },
  ];
  for (const c of leftAlone) {
    it(`leaves ${c.name} to Conv2DBackpropFilter: bit-identical to the path switched off`, async () => {
      const { on, off, deferred, batchNormGrads } = await onAndOff(c);
      expect(deferred).toBe(false);
      expect(batchNormGrads).toBe(1); // not deferred, so not run again
      on.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(off[i]!)));
    });
  }

  it('writes dx as before where tfjs-core checks every kernel output for NaN (CHECK_COMPUTATION_FOR_ERRORS)', async () => {
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', true);
    try {
      const { deferred, batchNormGrads } = await onAndOff({ name: 'checked', input: [12, 10, 1], kernelSize: 3, filters: 8 });
      expect(deferred).toBe(false);
      expect(batchNormGrads).toBe(1);
    } finally {
      tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
    }
  });

  it('fills the deferred gradient where the convolution\'s input gradient is needed too (a layer before it)', async () => {
    const c: BlockCase = { name: 'conv after conv', input: [14, 14, 1], kernelSize: 3, filters: 8, convBefore: true };
    const { on, off, batchNormGrads } = await onAndOff(c);
    expect(batchNormGrads).toBe(2); // deferred, then run in full for the input gradient
    const cpu = await valuesOn('cpu', () => stepGradients(c));
    await setupBackend({ backend: 'wasm' });
    on.forEach((v, i) => {
      expectClose(v, cpu[i]!, `output ${i} against cpu`, 1e-4);
      expectClose(v, off[i]!, `output ${i} against the path off`, 2e-5);
    });
  });
});

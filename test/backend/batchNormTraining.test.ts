/**
 * Batch norm in training as one forward and one backward kernel (src/backend/batchNormTraining.ts) against TF.js's own
 * path (tf.moments + tf.batchNorm and their gradients, which tfjs-layers runs) on the cpu backend, and the wasm
 * kernels (SIMD and JS fallback) against the cpu ones.
 *
 * Tolerance: max |fused - stock| <= 2e-5 * max(1, max |stock|) per output (all cases pass at 1e-5 too). Both compute in float32 but in different
 * orders (one-pass shifted variance with float64 sums against TF.js's mean, square and mean); an indexing or formula
 * error gives differences of order 1.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { batchNormReluPool, batchNormTraining, installBatchNormTraining, setBatchNormReluFusionEnabled, setBatchNormReluPoolFusionEnabled, setBatchNormTrainingEnabled, setMovingAveragesKernelEnabled } from '../../src/backend/batchNormTraining.ts';
import { BATCH_NORM_RELU_POOL } from '../../src/backend/kernels/BatchNormTraining.ts';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.ts';
import { compareBackends, expectClose, sizeOf, trainingOutputShapes, values } from '../fixtures/backends.ts';

const TOLERANCE = 2e-5;
const EPSILON = 1e-3;

/** TF.js's training batch norm as tfjs-layers runs it: [y, mean, variance]. */
function stockBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return [tf.batchNorm(x, mean, variance, beta, gamma, EPSILON), mean, variance];
}

const fusedBatchNorm = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor[] => batchNormTraining(x, gamma, beta, EPSILON);

/**
 * Outputs and gradients of `norm` for deterministic inputs of `shape` (x with mean `offset` per channel), with a
 * loss that weights y, mean and variance (so the statistics' gradients reach dx too):
 * [y, mean, variance, dx, dgamma, dbeta].
 */
function outputsAndGradients(norm: typeof stockBatchNorm, shape: number[], offset: number): tf.Tensor[] {
  const C = shape[shape.length - 1]!;
  const x = tf.add(tf.tensor(values(sizeOf(shape), 1).map((v) => 2 * v), shape), tf.tensor1d(values(C, 2).map((v) => offset * v)));
  const gamma = tf.tensor1d(values(C, 3).map((v) => 1 + 0.5 * v));
  const beta = tf.tensor1d(values(C, 4));
  const wy = tf.tensor(values(sizeOf(shape), 5), shape);
  const wm = tf.tensor1d(values(C, 6));
  const wv = tf.tensor1d(values(C, 7));
  const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar => {
    const [y, mean, variance] = norm(a, b, c) as [tf.Tensor, tf.Tensor, tf.Tensor];
    return tf.addN([tf.sum(tf.mul(y, wy)), tf.sum(tf.mul(mean, wm)), tf.sum(tf.mul(variance, wv))]) as tf.Scalar;
  };
  return [...norm(x, gamma, beta), ...tf.grads(loss)([x, gamma, beta])];
}

/** Outputs and gradients of the y-only loss (the layer's case: the statistics feed only the moving averages). */
function gradientsOfY(norm: typeof stockBatchNorm, shape: number[]): tf.Tensor[] {
  const C = shape[shape.length - 1]!;
  const x = tf.tensor(values(sizeOf(shape), 11), shape);
  const gamma = tf.tensor1d(values(C, 12).map((v) => 1 + 0.5 * v));
  const beta = tf.tensor1d(values(C, 13));
  const wy = tf.tensor(values(sizeOf(shape), 14), shape);
  return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(norm(a, b, c)[0]!, wy)) as tf.Scalar)([x, gamma, beta]);
}

const shapes = [[4, 6, 5, 8], [7, 12], [3, 5, 5, 3], [2, 3, 3, 128], [64, 6, 6, 32], [1, 1, 1, 4], [9, 5]];
const outputNames = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];

describe('fused training batch norm against TF.js (cpu backend)', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'cpu' });
    installBatchNormTraining();
  });

  for (const shape of shapes) {
    for (const offset of [0, 30]) {
      it(`forward and all gradients, x ${JSON.stringify(shape)}, channel means up to ${offset}`, () => {
        tf.tidy(() => {
          const fused = outputsAndGradients(fusedBatchNorm, shape, offset);
          const stock = outputsAndGradients(stockBatchNorm, shape, offset);
          fused.forEach((t, i) => {
            expect(t.shape, outputNames[i]).toEqual(stock[i]!.shape);
            expectClose(t.dataSync(), stock[i]!.dataSync(), `${outputNames[i]}`, TOLERANCE);
          });
        });
      });
    }
  }

  it('a constant channel: variance 0, y = beta, finite gradients', () => {
    tf.tidy(() => {
      const x = tf.concat([tf.fill([6, 1], 3.5), tf.tensor2d(values(18, 21), [6, 3])], 1);
      const gamma = tf.ones([4]);
      const beta = tf.tensor1d([0.25, 0, 0, 0]);
      const [y, mean, variance] = batchNormTraining(x, gamma, beta, EPSILON);
      const [stockY] = stockBatchNorm(x, gamma, beta);
      expect(Array.from(y!.slice([0, 0], [6, 1]).dataSync())).toEqual(new Array(6).fill(0.25));
      expect(mean!.dataSync()[0]).toBeCloseTo(3.5, 6);
      expect(variance!.dataSync()[0]).toBe(0);
      expectClose(y!.dataSync(), stockY!.dataSync(), 'y', TOLERANCE);
    });
  });

  it('the BatchNormalization layer in training: same output, moving averages and weight gradients as tfjs-layers', () => {
    const results = [true, false].map((fast) => {
      setBatchNormTrainingEnabled(fast);
      try {
        const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: EPSILON });
        const input = tf.tensor4d(values(3 * 4 * 4 * 8, 31).map((v) => 3 * v + 1), [3, 4, 4, 8]);
        const wy = tf.tensor4d(values(3 * 4 * 4 * 8, 32), [3, 4, 4, 8]);
        layer.build(input.shape);
        layer.setWeights([tf.tensor1d(values(8, 33).map((v) => 1 + v / 2)), tf.tensor1d(values(8, 34)), tf.zeros([8]), tf.ones([8])]);
        const trainable = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, wy)) as tf.Scalar, trainable);
        const y = layer.apply(input, { training: true }) as tf.Tensor; // a second step: the moving averages move again
        const inference = layer.apply(input) as tf.Tensor;
        const out = [value, y, inference, ...layer.getWeights(), ...trainable.map((v) => grads[v.name]!)].map((t) => t.dataSync());
        const names = layer.weights.map((w) => w.name);
        return { out, names, config: layer.getConfig() };
      } finally {
        setBatchNormTrainingEnabled(true);
      }
    });
    const [fast, stock] = results as [typeof results[0], typeof results[0]];
    const baseName = (n: string) => n.replace(/_\d+$/, '');
    expect(fast.names.map(baseName)).toEqual(stock.names.map(baseName));
    expect({ ...fast.config, name: '' }).toEqual({ ...stock.config, name: '' });
    const labels = ['loss', 'y (step 2)', 'inference', 'gamma', 'beta', 'moving mean', 'moving variance', 'dgamma', 'dbeta'];
    fast.out.forEach((v, i) => expectClose(v, stock.out[i]!, labels[i]!, TOLERANCE));
  });

  it('inference (training false) runs tfjs-layers own path: bit-identical', () => {
    const layer = tf.layers.batchNormalization({});
    const input = tf.tensor2d(values(5 * 8, 41), [5, 8]);
    layer.build(input.shape);
    layer.setWeights([tf.tensor1d(values(8, 42)), tf.tensor1d(values(8, 43)), tf.tensor1d(values(8, 44)), tf.tensor1d(values(8, 45).map((v) => 1 + v / 2))]);
    const fast = (layer.apply(input, { training: false }) as tf.Tensor).dataSync();
    setBatchNormTrainingEnabled(false);
    const stock = (layer.apply(input, { training: false }) as tf.Tensor).dataSync();
    setBatchNormTrainingEnabled(true);
    expect(Array.from(fast)).toEqual(Array.from(stock));
  });
});

describe('fused training batch norm on wasm against cpu', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  for (const shape of shapes) {
    it(`SIMD${shape[shape.length - 1]! % 4 ? ' (JS fallback: C % 4 != 0)' : ''}: forward and all gradients, x ${JSON.stringify(shape)}`, async () => {
      await compareBackends(`x ${shape}`, () => outputsAndGradients(fusedBatchNorm, shape, 30), TOLERANCE);
      await compareBackends(`x ${shape}, y only`, () => gradientsOfY(fusedBatchNorm, shape), TOLERANCE);
    });
  }

  it('without the SIMD module (JS loops on the wasm heap): forward and all gradients', async () => {
    setSimdKernelsEnabled(false);
    try {
      await compareBackends('x [4, 6, 5, 8]', () => outputsAndGradients(fusedBatchNorm, [4, 6, 5, 8], 30), TOLERANCE);
    } finally {
      setSimdKernelsEnabled(true);
    }
  });
});

describe('moving averages of the training batch norm in one kernel (HwrMovingAverages)', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`bit-identical to tfjs-layers' Sub, Multiply, Sub over three training steps (${backend})`, async () => {
      await setupBackend({ backend });
      const run = (kernel: boolean) => {
        setMovingAveragesKernelEnabled(kernel);
        try {
          const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: EPSILON });
          const input = tf.tensor4d(values(3 * 4 * 4 * 8, 81).map((v) => 3 * v + 1), [3, 4, 4, 8]);
          layer.build(input.shape);
          for (let step = 0; step < 3; step++) tf.dispose(layer.apply(tf.mul(input, step + 1), { training: true }) as tf.Tensor);
          return layer.getWeights().slice(2).map((w) => Array.from(w.dataSync()));
        } finally {
          setMovingAveragesKernelEnabled(true);
        }
      };
      const kernel = run(true);
      const stock = run(false);
      expect(kernel[0]).not.toEqual(Array.from({ length: 8 }, () => 0)); // the statistics moved
      expect(kernel).toEqual(stock);
    });
  }
});

describe('a ReLU fused into the training batch norm (session 22)', () => {
  /** y-only loss through relu: [y, dx, dgamma, dbeta], fused (one kernel) or apart (batch norm, then tf.relu). */
  function reluCase(fused: boolean, shape: number[]): Float32Array[] {
    return tf.tidy(() => {
      const C = shape[shape.length - 1]!;
      const x = tf.tensor(values(sizeOf(shape), 21), shape);
      const gamma = tf.tensor1d(values(C, 22).map((v) => 1 + 0.5 * v));
      const beta = tf.tensor1d(values(C, 23).map((v) => 0.3 * v));
      const wy = tf.tensor(values(sizeOf(shape), 24), shape);
      const forward = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor =>
        fused ? batchNormTraining(a, b, c, EPSILON, true)[0] : tf.relu(batchNormTraining(a, b, c, EPSILON)[0]);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(forward(a, b, c), wy)) as tf.Scalar)([x, gamma, beta]);
      return [forward(x, gamma, beta), ...grads].map((t) => t.dataSync() as Float32Array);
    });
  }

  for (const [backend, simd] of [['wasm', true], ['wasm', false], ['cpu', false]] as const) {
    it(`forward and gradients bit-identical to the batch norm and the ReLU apart (${backend}${backend === 'wasm' ? (simd ? ', SIMD' : ', JS loops') : ''})`, async () => {
      await setupBackend({ backend });
      setSimdKernelsEnabled(simd);
      try {
        for (const shape of [[4, 6, 5, 8], [64, 6, 6, 32], [9, 12], [3, 3, 3, 5]]) {
          const fused = reluCase(true, shape);
          const apart = reluCase(false, shape);
          expect(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0), `${shape}: y has zeros and positives`).toBe(true);
          fused.forEach((values, i) => expect(Array.from(values), `${shape}: ${['y', 'dx', 'dgamma', 'dbeta'][i]}`).toEqual(Array.from(apart[i]!)));
        }
      } finally {
        setSimdKernelsEnabled(true);
      }
    });
  }

  it('hwr-net trains to the same weights with and without the fusion, and only a batch norm read by a plain ReLU alone fuses', async () => {
    await setupBackend({ backend: 'wasm' });
    const { getArchitecture } = await import('../../src/models/index.ts');
    const train = (fuse: boolean): number[][] => {
      setBatchNormReluFusionEnabled(fuse);
      setBatchNormReluPoolFusionEnabled(false); // this compares the ReLU fusion alone (the pooling one sums in another order)
      try {
        return tf.tidy(() => {
          const model = getArchitecture('hwr-net').create({ classes: 10, seed: 3 });
          const optimizer = tf.train.adam(0.01);
          const xs = tf.tensor4d(values(16 * 28 * 28, 31).map((v) => Math.abs(v)), [16, 28, 28, 1]);
          const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32'), 10).toFloat();
          for (let step = 0; step < 3; step++) {
            optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
          }
          return model.getWeights().map((w) => Array.from(w.dataSync()));
        });
      } finally {
        setBatchNormReluFusionEnabled(true);
        setBatchNormReluPoolFusionEnabled(true);
      }
    };
    expect(train(true)).toEqual(train(false));
    // A batch norm called outside a model (no outbound node) or read by something else keeps its own output.
    const layer = tf.layers.batchNormalization({ epsilon: EPSILON });
    const x = tf.tensor2d(values(40, 41), [5, 8]);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    expect(Array.from(y.dataSync()).some((v) => v < 0)).toBe(true);
    const input = tf.input({ shape: [8] });
    const norm = tf.layers.batchNormalization({ epsilon: EPSILON });
    const normed = norm.apply(input) as tf.SymbolicTensor;
    const twoReaders = tf.model({ inputs: input, outputs: [tf.layers.reLU().apply(normed) as tf.SymbolicTensor, tf.layers.dense({ units: 2 }).apply(normed) as tf.SymbolicTensor] });
    const outputs = twoReaders.apply(x, { training: true }) as tf.Tensor[];
    expect(Array.from(outputs[0]!.dataSync()).every((v) => v >= 0)).toBe(true);
    tf.dispose([x, y, ...outputs]);
  });
});

describe('batch norm, ReLU and 2x2 max pooling as one kernel pair in training (session 24)', () => {
  /**
   * The y-only loss through the pooled output: [pooled, mean, variance, dx, dgamma, dbeta], fused (HwrBatchNormReluPool)
   * or apart (the batch norm with its fused ReLU, then tf.maxPool 2x2 stride 2 'valid', as hwr-net ran before).
   */
  function poolCase(fused: boolean, shape: [number, number, number, number], seed: number, ties: boolean): Float32Array[] {
    return tf.tidy(() => {
      const C = shape[3];
      // With `ties`, x on a coarse grid: many windows hold equal maxima, and many whole windows are <= 0 after the ReLU.
      const x = tf.tensor(values(sizeOf(shape), seed).map((v) => (ties ? Math.round(v * 2) / 2 : v)), shape);
      const gamma = tf.tensor1d(values(C, seed + 1).map((v) => 1 + 0.5 * v));
      const beta = tf.tensor1d(values(C, seed + 2).map((v) => 0.3 * v));
      const pooledShape = [shape[0], shape[1] / 2, shape[2] / 2, C];
      const w = tf.tensor(values(sizeOf(pooledShape), seed + 3), pooledShape);
      const forward = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor[] => {
        if (fused) return batchNormReluPool(a, b, c, EPSILON);
        const [y, mean, variance] = batchNormTraining(a, b, c, EPSILON, true);
        return [tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid'), mean!, variance!];
      };
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(forward(a, b, c)[0]!, w)) as tf.Scalar)([x, gamma, beta]);
      return [...forward(x, gamma, beta), ...grads].map((t) => t.dataSync() as Float32Array);
    });
  }

  const cases: Array<{ shape: [number, number, number, number]; ties: boolean }> = [
    { shape: [64, 24, 24, 32], ties: false }, // hwr-net's first block
    { shape: [64, 10, 10, 64], ties: true }, // its second, with ties
    { shape: [3, 2, 4, 4], ties: false },
    { shape: [2, 8, 6, 12], ties: true },
  ];

  it('on wasm: the pooled output, mean and variance bit-identical to the kernels apart; dx, dgamma, dbeta within float32 rounding', async () => {
    await setupBackend({ backend: 'wasm' });
    for (const { shape, ties } of cases) {
      const fused = poolCase(true, shape, 51, ties);
      const apart = poolCase(false, shape, 51, ties);
      const label = `${shape}${ties ? ' (ties)' : ''}`;
      expect(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0), `${label}: pooled has zeros and positives`).toBe(true);
      for (let i = 0; i < 3; i++) expect(Array.from(fused[i]!), `${label}: ${['pooled', 'mean', 'variance'][i]}`).toEqual(Array.from(apart[i]!));
      for (let i = 3; i < 6; i++) expectClose(fused[i]!, apart[i]!, `${label}: ${['dx', 'dgamma', 'dbeta'][i - 3]}`, TOLERANCE);
    }
  });

  it('matches the cpu backend running the three layers apart', async () => {
    for (const { shape, ties } of cases.slice(1)) {
      await setupBackend({ backend: 'wasm' });
      const fused = poolCase(true, shape, 61, ties);
      await setupBackend({ backend: 'cpu' });
      const apart = poolCase(false, shape, 61, ties);
      fused.forEach((v, i) => expectClose(v, apart[i]!, `${shape}: ${['pooled', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'][i]}`, TOLERANCE));
    }
    await setupBackend({ backend: 'wasm' });
  });

  it('refuses what it does not cover (odd height, C % 4 != 0, the cpu backend) with an error naming the input', async () => {
    await setupBackend({ backend: 'wasm' });
    const run = (shape: [number, number, number, number]) => () => tf.tidy(() => batchNormReluPool(tf.ones(shape), tf.ones([shape[3]]), tf.zeros([shape[3]]), EPSILON));
    expect(run([2, 5, 4, 8])).toThrow(/HwrBatchNormReluPool: not applicable to x \[2,5,4,8\]/);
    expect(run([2, 4, 4, 6])).toThrow(/not applicable to x \[2,4,4,6\]/);
    await setupBackend({ backend: 'cpu' });
    expect(run([2, 4, 4, 8])).toThrow();
    await setupBackend({ backend: 'wasm' });
  });

  it('hwr-net in training: the two pooled blocks fuse, the others keep their kernels; the output is bit-identical and the weight gradients agree', async () => {
    await setupBackend({ backend: 'wasm' });
    const { getArchitecture } = await import('../../src/models/index.ts');
    const xs = tf.tensor4d(values(16 * 28 * 28, 71).map((v) => Math.abs(v)), [16, 28, 28, 1]);
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32'), 10).toFloat();
    // A fresh model per call: the same weights and the same dropout masks (SeededDropout counts its own calls).
    const step = (fuse: boolean) => {
      setBatchNormReluPoolFusionEnabled(fuse);
      const model = getArchitecture('hwr-net').create({ classes: 10, seed: 3 });
      try {
        let output: Float32Array | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const y = model.apply(xs, { training: true }) as tf.Tensor;
          output = tf.keep(y.clone()).dataSync() as Float32Array;
          return tf.losses.softmaxCrossEntropy(ys, y) as tf.Scalar;
        });
        const result = { output: output!, loss: value.dataSync()[0]!, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array])) };
        tf.dispose([value, ...Object.values(grads)]);
        return { ...result, grads: Object.fromEntries(Object.entries(result.grads).map(([k, g], i) => [`${i}:${k.replace(/\d+/g, '')}`, g])) };
      } finally {
        setBatchNormReluPoolFusionEnabled(true);
        model.dispose();
      }
    };
    const profile = await tf.profile(() => { step(true); });
    const calls = (name: string) => profile.kernels.filter((k) => k.name === name).length;
    expect(calls(BATCH_NORM_RELU_POOL)).toBe(2); // blocks 1 and 2 (24x24, 10x10)
    expect(calls('MaxPool')).toBe(0);
    expect(calls('HwrBatchNormTrain')).toBe(2); // block 3 (no pooling after it) and the dense layer's batch norm
    // Dropout masks are per call: both calls below draw the same ones (SeededDropout counts calls per layer).
    const fused = step(true);
    const apart = step(false);
    expect(Array.from(fused.output)).toEqual(Array.from(apart.output));
    expect(Object.keys(fused.grads)).toEqual(Object.keys(apart.grads));
    for (const [name, g] of Object.entries(apart.grads)) expectClose(fused.grads[name]!, g, `gradient of ${name}`, 1e-4);
    tf.dispose([xs, ys]);
  });

  it('a ReLU whose output is also a model output (not an outbound node) keeps its own output: no pooling fused into it', async () => {
    await setupBackend({ backend: 'wasm' });
    const input = tf.input({ shape: [8, 8, 4] });
    const bn = tf.layers.batchNormalization().apply(input) as tf.SymbolicTensor;
    const relu = tf.layers.reLU().apply(bn) as tf.SymbolicTensor;
    const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(relu)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [relu, pooled] });
    const x = tf.tensor4d(values(2 * 8 * 8 * 4, 97), [2, 8, 8, 4]);
    expect(trainingOutputShapes(model, x)).toEqual([[2, 8, 8, 4], [2, 64]]);
    tf.dispose(x);
    model.dispose();
  });
});

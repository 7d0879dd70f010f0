/**
 * The fused Adam update (src/backend/adam.ts) against tfjs-core's AdamOptimizer ops: bit-identical variables, moments
 * and optimizer weights after several steps, on the cpu backend and on wasm (SIMD, and the JS loop without it),
 * for sizes with and without a SIMD remainder.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { applyWeightedGradients, installFusedAdam, setFusedAdamEnabled } from '../../src/backend/adam.ts';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.ts';
import { values } from '../fixtures/backends.ts';

const shapes = [[3, 3, 4, 8], [7], [5, 3], [1]];

/** Final variable values and optimizer weights after `steps` Adam steps on a fixed quadratic-ish loss. */
async function train(fused: boolean, steps: number): Promise<Float32Array[]> {
  setFusedAdamEnabled(fused);
  const vars = shapes.map((s, i) => tf.variable(tf.tensor(values(s.reduce((a, b) => a * b, 1), 50 + i), s)));
  const targets = shapes.map((s, i) => tf.tensor(values(s.reduce((a, b) => a * b, 1), 60 + i).map((v) => 3 * v), s));
  const optimizer = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
  const loss = () => tf.addN(vars.map((v, i) => tf.sum(tf.mul(tf.square(tf.sub(v, targets[i]!)), tf.add(tf.abs(v), 0.5))))) as tf.Scalar;
  const kernels = (await tf.profile(() => { optimizer.minimize(loss); })).kernels.map((k) => k.name);
  expect(kernels.filter((k) => k === 'HwrAdamUpdate')).toHaveLength(fused ? shapes.length : 0);
  for (let step = 1; step < steps; step++) optimizer.minimize(loss);
  const weights = await optimizer.getWeights();
  const out = [...vars.map((v) => v.dataSync() as Float32Array), ...weights.map((w) => w.tensor.dataSync() as Float32Array)];
  tf.dispose([...vars, ...targets]);
  optimizer.dispose();
  return out;
}

async function expectSameTraining(): Promise<void> {
  const fused = await train(true, 6);
  const stock = await train(false, 6);
  expect(fused).toHaveLength(stock.length);
  fused.forEach((f, i) => expect(Array.from(f), `tensor ${i}`).toEqual(Array.from(stock[i]!)));
}

describe('fused Adam update: bit-identical to tfjs-core AdamOptimizer', () => {
  afterAll(() => setFusedAdamEnabled(true));

  it('cpu backend', async () => {
    await setupBackend({ backend: 'cpu' });
    installFusedAdam();
    await expectSameTraining();
  });

  it('wasm backend, SIMD kernel', async () => {
    await setupBackend({ backend: 'wasm' });
    await expectSameTraining();
  });

  it('wasm backend, JS loop (no kernels.wasm)', async () => {
    await setupBackend({ backend: 'wasm' });
    setSimdKernelsEnabled(false);
    try {
      await expectSameTraining();
    } finally {
      setSimdKernelsEnabled(true);
    }
  });
});

/**
 * Variables and optimizer weights after `steps` updates with the gradient `sum_k weights[k] * g_k` (fixed random
 * shard gradients per step): by `applyWeightedGradients` (`weighted` true) or by tfjs-core's mul and add, then
 * `applyGradients`.
 */
async function trainWeighted(weighted: boolean, weights: number[], steps: number, optimizer: tf.Optimizer): Promise<Float32Array[]> {
  const vars = shapes.map((s, i) => tf.variable(tf.tensor(values(s.reduce((a, b) => a * b, 1), 70 + i), s)));
  for (let step = 0; step < steps; step++) {
    const parts = weights.map((weight, k) => ({ weight, gradients: shapes.map((s, i) => tf.tensor(values(s.reduce((a, b) => a * b, 1), 100 * step + 10 * k + i), s)) }));
    if (weighted) applyWeightedGradients(optimizer, vars, parts);
    else {
      const sums = vars.map((_, i) => parts.slice(1).reduce((sum, part) => tf.add(sum, tf.mul(part.gradients[i]!, part.weight)), tf.mul(parts[0]!.gradients[i]!, parts[0]!.weight)));
      optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: sums[i]! })));
    }
    tf.dispose(parts.flatMap((part) => part.gradients));
  }
  const state = await optimizer.getWeights();
  const out = [...vars.map((v) => v.dataSync() as Float32Array), ...state.map((w) => w.tensor.dataSync() as Float32Array)];
  tf.dispose(vars);
  optimizer.dispose();
  return out;
}

describe('applyWeightedGradients (data-parallel shards): the same as summing with mul and add, then applying', () => {
  const cases: Array<{ weights: number[]; optimizer: () => tf.Optimizer; fusedKernels: boolean }> = [
    { weights: [0.5, 0.5], optimizer: () => tf.train.adam(0.01), fusedKernels: true },
    { weights: [33 / 65, 32 / 65], optimizer: () => tf.train.adam(0.003, 0.8, 0.99, 1e-6), fusedKernels: true },
    { weights: [0.4, 0.3, 0.3], optimizer: () => tf.train.adam(0.01), fusedKernels: false }, // three shards: summed first
    { weights: [0.5, 0.5], optimizer: () => tf.train.sgd(0.1), fusedKernels: false },
  ];
  for (const backend of ['cpu', 'wasm', 'wasm-js'] as const) {
    it(`${backend}: bit-identical for two and three shards, Adam and SGD`, async () => {
      await setupBackend({ backend: backend === 'cpu' ? 'cpu' : 'wasm' });
      installFusedAdam();
      setSimdKernelsEnabled(backend !== 'wasm-js');
      try {
        for (const { weights, optimizer, fusedKernels } of cases) {
          const profile = await tf.profile(async () => trainWeighted(true, weights, 4, optimizer()));
          const fused = profile.result as unknown as Float32Array[];
          // Two shards on Adam: the sum is made inside the Adam kernel (no Multiply of a gradient; Adam's own
          // beta powers are scalars).
          const gradientProducts = profile.kernels.filter((kernel) => kernel.name === 'Multiply' && kernel.inputShapes.some((shape) => (shape?.length ?? 0) > 0));
          expect(gradientProducts.length > 0, `${weights.join('/')}: gradient products`).toBe(!fusedKernels);
          const reference = await trainWeighted(false, weights, 4, optimizer());
          expect(fused).toHaveLength(reference.length);
          fused.forEach((f, i) => expect(Array.from(f), `${weights.join('/')} tensor ${i}`).toEqual(Array.from(reference[i]!)));
        }
      } finally {
        setSimdKernelsEnabled(true);
      }
    });
  }
});

/**
 * The fused Adam update (src/backend/adam.ts) against tfjs-core's AdamOptimizer ops: bit-identical variables, moments
 * and optimizer weights after several steps, on the cpu backend and on wasm (SIMD, and the JS loop without it),
 * for sizes with and without a SIMD remainder.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { installFusedAdam, setFusedAdamEnabled } from '../../src/backend/adam.ts';
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

/**
 * The fused categorical cross-entropy (src/backend/crossEntropy.ts, kernels in
 * src/backend/kernels/CategoricalCrossentropy.ts) against tfjs-layers' composite of the same loss on the cpu backend,
 * TF.js's reference: loss and gradient with respect to the probabilities, one-hot and soft targets, a probability
 * below the clip bound (its gradient is masked), rank 2 and 3, and hccr-vgg's [64, 3755]; on cpu and on wasm (SIMD
 * kernels and their JS fallback). Then a
 * compiled model: the loss runs the kernel, and three training steps follow those of tfjs-layers' loss.
 *
 * Tolerance: max |fused - composite| <= 1e-5 * max(1, max |composite|) (sums in float64 against float32: rounding
 * only; a wrong chain-rule term gives differences of order 1), and for the gradient also element by element,
 * |fused - composite| <= 1e-4 * max(1, |composite|) (a target class's gradient is ~1e4 times the others').
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { fusedCategoricalCrossentropy, setFusedCrossEntropyEnabled } from '../../src/backend/crossEntropy.ts';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.ts';
import { expectClose, sizeOf, values, valuesOn } from '../fixtures/backends.ts';

const TOLERANCE = 1e-5;
const ELEMENT_TOLERANCE = 1e-4;

/** Asserts |actual[i] - expected[i]| <= tolerance * max(1, |expected[i]|) for every i. */
function expectCloseEach(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, tolerance: number): void {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  expect(worst, `${label}: largest element-wise relative difference`).toBeLessThanOrEqual(tolerance);
}

/** tfjs-layers 4.22's categoricalCrossentropy (tfjs-layers/src/losses.ts, fromLogits false), op for op. */
function composite(target: tf.Tensor, output: tf.Tensor): tf.Tensor {
  const eps = tf.backend().epsilon();
  const p = tf.div(output, tf.sum(output, output.shape.length - 1, true));
  return tf.neg(tf.sum(tf.mul(tf.cast(target, 'float32'), tf.log(tf.clipByValue(p, eps, 1 - eps))), output.shape.length - 1));
}

type Case = { shape: number[]; soft: boolean; tiny: boolean };
const cases: Case[] = [
  { shape: [5, 7], soft: false, tiny: false },
  { shape: [5, 7], soft: true, tiny: false },
  { shape: [6, 9], soft: false, tiny: true },
  { shape: [2, 3, 4], soft: true, tiny: true },
  { shape: [64, 3755], soft: false, tiny: false },
];

/** Probabilities (softmax of random logits, unnormalized by a factor 1.3 so the rescaling matters) and targets. */
function inputs(c: Case): { target: tf.Tensor; output: tf.Tensor; weights: tf.Tensor } {
  const C = c.shape[c.shape.length - 1]!;
  const rows = sizeOf(c.shape) / C;
  const logits = values(sizeOf(c.shape), 51).map((v) => v * 4);
  const probs = tf.mul(tf.softmax(tf.tensor(logits, c.shape)), 1.3);
  const t = new Float32Array(sizeOf(c.shape));
  const raw = values(sizeOf(c.shape), 52);
  for (let i = 0; i < rows; i++) {
    if (c.soft) {
      let sum = 0;
      for (let j = 0; j < C; j++) sum += (t[i * C + j] = raw[i * C + j]! + 1);
      for (let j = 0; j < C; j++) t[i * C + j]! /= sum;
    } else {
      t[i * C + ((i * 7) % C)] = 1;
    }
  }
  let output = probs;
  if (c.tiny) {
    // Row 0's target class gets probability 1e-9 (below eps after rescaling: clipped, gradient masked).
    const p = probs.dataSync().slice();
    p[(0 * 7) % C] = 1e-9;
    output = tf.tensor(p, c.shape);
  }
  return { target: tf.tensor(t, c.shape), output, weights: tf.tensor(values(rows, 53), c.shape.slice(0, -1)) };
}

/** Loss and d(sum(loss * weights))/d(output) of `loss`. */
function lossAndGrad(loss: (t: tf.Tensor, o: tf.Tensor) => tf.Tensor, c: Case): tf.Tensor[] {
  const { target, output, weights } = inputs(c);
  const grad = tf.grad((o: tf.Tensor) => tf.sum(tf.mul(loss(target, o), weights)))(output);
  return [loss(target, output), grad];
}

describe('fused categorical cross-entropy', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });
  afterEach(() => setFusedCrossEntropyEnabled(true));

  for (const c of cases) {
    const name = `${c.shape}${c.soft ? ', soft targets' : ', one-hot'}${c.tiny ? ', a probability below eps' : ''}`;
    it(`loss and gradient match tfjs-layers' composite on cpu and wasm: ${name}`, async () => {
      const expected = await valuesOn('cpu', () => lossAndGrad(composite, c));
      // wasm with the SIMD kernels and with their JS fallback (no kernels.wasm).
      for (const [backend, simd] of [['cpu', true], ['wasm', true], ['wasm', false]] as const) {
        setSimdKernelsEnabled(simd);
        try {
          const label = `${backend}${simd ? '' : ' (JS)'}`;
          const actual = await valuesOn(backend, () => lossAndGrad(fusedCategoricalCrossentropy, c));
          expectClose(actual[0]!, expected[0]!, `${label} loss`, TOLERANCE);
          expectClose(actual[1]!, expected[1]!, `${label} gradient`, TOLERANCE);
          expectCloseEach(actual[1]!, expected[1]!, `${label} gradient`, ELEMENT_TOLERANCE);
        } finally {
          setSimdKernelsEnabled(true);
        }
      }
    });
  }

  it('a compiled model runs the kernel, and its training steps follow tfjs-layers\' loss', async () => {
    await setupBackend({ backend: 'wasm' });
    const train = async (fused: boolean): Promise<{ losses: number[]; kernels: string[] }> => {
      setFusedCrossEntropyEnabled(fused);
      const model = tf.sequential({
        layers: [tf.layers.dense({ inputShape: [12], units: 37, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })],
      });
      model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const x = tf.tensor2d(values(16 * 12, 61), [16, 12]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i * 5) % 37), 'int32'), 37).toFloat();
      const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
      const original = engine.runKernel;
      const kernels: string[] = [];
      engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
        kernels.push(name);
        return original.call(this, name, ...rest);
      };
      const losses: number[] = [];
      try {
        for (let step = 0; step < 3; step++) losses.push(((await model.trainOnBatch(x, y)) as number[])[0]!);
        losses.push((model.evaluate(x, y) as tf.Scalar[])[0]!.dataSync()[0]!);
      } finally {
        engine.runKernel = original;
      }
      tf.dispose([x, y]);
      model.dispose();
      return { losses, kernels };
    };
    const fused = await train(true);
    const stock = await train(false);
    expect(fused.kernels).toContain('HwrCategoricalCrossentropy');
    expect(fused.kernels).toContain('HwrCategoricalCrossentropyGrad');
    expect(stock.kernels).not.toContain('HwrCategoricalCrossentropy');
    expectClose(fused.losses, stock.losses, 'losses of 3 steps and an evaluation', TOLERANCE);
  });
});

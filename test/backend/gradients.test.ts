import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingGradients } from '../../src/backend/gradients/FusedBatchNorm_grad.ts';

/** The batch-norm formula written with primitive ops only: its gradient is the reference. */
function batchNormReference(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, tf.scalar(epsilon)))), scale), offset);
}

describe('FusedBatchNorm gradient without Tile', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerTrainingGradients();
  });

  for (const shape of [[2, 5, 4, 3], [7, 6], [1, 3, 3, 8]]) {
    it(`matches the primitive-op gradient for x of shape ${JSON.stringify(shape)}`, () => {
      const channels = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0, 2, 'float32', 1);
      const mean = tf.randomNormal([channels], 0, 1, 'float32', 2);
      const variance = tf.randomUniform([channels], 0.5, 2, 'float32', 3);
      const offset = tf.randomNormal([channels], 0, 1, 'float32', 4);
      const scale = tf.randomNormal([channels], 1, 0.5, 'float32', 5);
      const weights = tf.randomNormal(shape, 0, 1, 'float32', 6);
      const epsilon = 1e-3;
      const loss = (f: (...t: tf.Tensor[]) => tf.Tensor) => (...t: tf.Tensor[]) => tf.sum(tf.mul(f(...t), weights));
      const fused = tf.grads(loss((a, b, c, d, e) => tf.batchNorm(a, b, c, d, e, epsilon)))([x, mean, variance, offset, scale]);
      const reference = tf.grads(loss((a, b, c, d, e) => batchNormReference(a!, b!, c!, d!, e!, epsilon)))([x, mean, variance, offset, scale]);
      fused.forEach((g, i) => {
        const diff = tf.max(tf.abs(tf.sub(g, reference[i]!))).dataSync()[0]!;
        const magnitude = tf.max(tf.abs(reference[i]!)).dataSync()[0]!;
        expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, magnitude));
      });
    });
  }
});

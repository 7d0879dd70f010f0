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

describe('tf.fused.conv2d gradient, lazy per input (src/backend/gradients/FusedConv2D_grad.ts)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerTrainingGradients();
  });

  const cases = [
    { x: [2, 9, 9, 1], filter: [5, 5, 1, 4], strides: 1, pad: 'valid' as const, bias: false },
    { x: [3, 8, 7, 3], filter: [3, 3, 3, 6], strides: 2, pad: 'same' as const, bias: true },
  ];
  for (const c of cases) {
    it(`equals the gradients of tf.conv2d (+ bias) bit for bit, x ${c.x} filter ${c.filter}${c.bias ? ' with bias' : ''}`, () => {
      tf.tidy(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
        const filter = tf.randomNormal(c.filter, 0, 1, 'float32', 2);
        const bias = tf.randomNormal([c.filter[3]!], 0, 1, 'float32', 3);
        const inputs = c.bias ? [x, filter, bias] : [x, filter];
        const fused = tf.grads((a: tf.Tensor, b: tf.Tensor, d?: tf.Tensor) => tf.sum(tf.square(tf.fused.conv2d({
          x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: c.strides, pad: c.pad, bias: d,
        }))) as tf.Scalar)(inputs);
        const plain = tf.grads((a: tf.Tensor, b: tf.Tensor, d?: tf.Tensor) => {
          const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
          return tf.sum(tf.square(d ? tf.add(y, d) : y)) as tf.Scalar;
        })(inputs);
        expect(fused).toHaveLength(inputs.length);
        fused.forEach((g, i) => expect(Array.from(g.dataSync())).toEqual(Array.from(plain[i]!.dataSync())));
      });
    });
  }

  it('skips Conv2DBackpropInput when the input leads back to no variable (a first layer), runs it otherwise', async () => {
    const x = tf.randomNormal([2, 9, 9, 1], 0, 1, 'float32', 4);
    const w1 = tf.variable(tf.randomNormal([3, 3, 1, 4], 0, 1, 'float32', 5));
    const w2 = tf.variable(tf.randomNormal([3, 3, 4, 4], 0, 1, 'float32', 6));
    const kernelsRun = async (f: () => tf.Scalar, vars: tf.Variable[]) =>
      (await tf.profile(() => tf.variableGrads(f, vars).grads[vars[0]!.name]!)).kernels.map((k) => k.name);
    const conv = (input: tf.Tensor4D, w: tf.Variable) => tf.fused.conv2d({ x: input, filter: w as unknown as tf.Tensor4D, strides: 1, pad: 'same' });
    const one = await kernelsRun(() => tf.sum(conv(x as tf.Tensor4D, w1)) as tf.Scalar, [w1]);
    expect(one).toContain('Conv2DBackpropFilter');
    expect(one).not.toContain('Conv2DBackpropInput');
    const two = await kernelsRun(() => tf.sum(conv(conv(x as tf.Tensor4D, w1), w2)) as tf.Scalar, [w1, w2]);
    expect(two.filter((k) => k === 'Conv2DBackpropInput')).toHaveLength(1);
    tf.dispose([x, w1, w2]);
  });
});

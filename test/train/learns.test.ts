/**
 * End-to-end check that the wasm backend with the training kernels actually trains a conv net: a tiny
 * model learns to tell three synthetic stroke shapes apart (horizontal bar, vertical bar, diagonal) at
 * random positions with noise. Chance is 1/3. Global average pooling leaves the dense head no pixel
 * positions to work with, so the conv filters themselves must learn the orientations: with the filter
 * gradient zeroed the same run reaches only about 0.6 (measured).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';

const SIZE = 16;

/** Deterministic images [n, 16, 16, 1] and one-hot labels [n, 3]; `seed` picks the sample. */
function strokes(n: number, seed: number): { xs: tf.Tensor4D; ys: tf.Tensor2D; labels: number[] } {
  let s = seed >>> 0;
  const random = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pixels = new Float32Array(n * SIZE * SIZE);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    labels.push(label);
    const image = pixels.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
    for (let p = 0; p < image.length; p++) image[p] = random() * 0.3;
    const r = 3 + Math.floor(random() * 10);
    const c = 3 + Math.floor(random() * 10);
    for (let t = -3; t <= 3; t++) {
      const [y, x] = label === 0 ? [r, c + t] : label === 1 ? [r + t, c] : [r + t, c + t];
      image[y * SIZE + x] = 1;
    }
  }
  return {
    xs: tf.tensor4d(pixels, [n, SIZE, SIZE, 1]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 3) as tf.Tensor2D,
    labels,
  };
}

describe('training on the wasm backend', () => {
  beforeAll(async () => {
    expect(await setupBackend()).toBe('wasm');
  });

  it('a tiny conv net learns three stroke shapes well above chance', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [SIZE, SIZE, 1], filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    for (let step = 0; step < 40; step++) {
      const batch = strokes(30, 1000 + step);
      await model.trainOnBatch(batch.xs, batch.ys);
      tf.dispose([batch.xs, batch.ys]);
    }
    const test = strokes(150, 99);
    const predicted = tf.tidy(() => (model.predict(test.xs) as tf.Tensor).argMax(-1).dataSync());
    const accuracy = test.labels.filter((label, i) => predicted[i] === label).length / test.labels.length;
    tf.dispose([test.xs, test.ys]);
    model.dispose();
    expect(accuracy).toBeGreaterThan(0.9);
  });
});

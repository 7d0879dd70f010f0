/**
 * The wasm Slice for NHWC crops (src/backend/kernels/Slice.ts) against the cpu backend, TF.js's reference: the values
 * copied exactly, for the crops it takes and the slices it leaves to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { sizeOf, values } from '../fixtures/backends.ts';

type Shape4D = [number, number, number, number];

const cases: Array<{ shape: Shape4D; begin: number[]; size: number[]; dtype?: 'int32' }> = [
  { shape: [64, 13, 13, 32], begin: [0, 0, 0, 0], size: [64, 12, 12, 32] }, // the seed CNN's crop
  { shape: [3, 7, 9, 4], begin: [1, 2, 3, 0], size: [2, 4, 5, 4] },
  { shape: [2, 5, 5, 8], begin: [0, 1, 0, 0], size: [-1, 3, -1, -1] },
  { shape: [2, 5, 5, 8], begin: [0, 0, 0, 0], size: [1, 5, 5, 8] }, // contiguous: the stock kernel's subarray
  { shape: [2, 5, 5, 8], begin: [0, 1, 1, 2], size: [2, 3, 3, 4] }, // part of the last axis: the stock kernel
  { shape: [2, 4, 4, 3], begin: [0, 1, 1, 0], size: [2, 2, 2, 3], dtype: 'int32' },
  { shape: [2, 4, 4, 3], begin: [0, 1, 1, 0], size: [2, 0, 2, 3] },
];

describe('Slice on wasm', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
  });

  for (const c of cases) {
    it(`x ${c.shape}${c.dtype ? ` ${c.dtype}` : ''}, begin ${c.begin}, size ${c.size}: the cpu backend's values, exactly`, async () => {
      const run = () => {
        const data = values(sizeOf(c.shape), 11);
        const x = c.dtype === 'int32' ? tf.tensor4d(data.map((v) => Math.round(v * 100)), c.shape, 'int32') : tf.tensor4d(data, c.shape);
        const y = tf.slice(x, c.begin, c.size);
        const out = { shape: y.shape, values: Array.from(y.dataSync()) };
        tf.dispose([x, y]);
        return out;
      };
      const actual = run();
      await tf.setBackend('cpu');
      const expected = run();
      await tf.setBackend('wasm');
      expect(actual.shape).toEqual(expected.shape);
      expect(actual.values).toEqual(expected.values);
    });
  }
});

/**
 * SeededDropout's masks (src/models/seededDropout.ts): `dropoutMask`'s statistics and reproducibility, and the
 * layer's output and gradient in training (x * mask, dy * mask) on the wasm and cpu backends.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.ts';
import { DROPOUT_MASK, dropoutMask, SeededDropout, setHashedDropoutMasks } from '../../src/models/seededDropout.ts';

/** The mask by its definition, written out independently: kept where fmix32(key + i * golden) >= rate * 2^32 (float64). */
function referenceMask(size: number, rate: number, seed: number): Float32Array {
  const fmix = (h: number) => {
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const whole = Math.trunc(seed);
  const key = fmix((whole >>> 0) ^ fmix(Math.floor(whole / 2 ** 32) + 0x9e3779b9));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = fmix((key + Math.imul(i, 0x9e3779b9)) | 0) >= rate * 2 ** 32 ? 1 / Math.fround(1 - rate) : 0;
  return out;
}

const maskCases: Array<[number, number, number]> = [
  [1, 0.4, 0], [3, 0.4, 1], [7, 0.5, -5], [64 * 1152, 0.4, 123456], [64 * 128 + 3, 0.4, 2 ** 40 + 17], [1001, 0.1, 9],
  [999, 0, 4], [517, 0.9999999999, 2], [256, 1 - 2 ** -33, 5],
];

describe('dropoutMask', () => {
  it('drops about `rate` of the elements and scales the rest by 1 / (1 - rate), as float32', () => {
    for (const rate of [0.1, 0.4, 0.5]) {
      const mask = dropoutMask(200_000, rate, 12345);
      const keep = Math.fround(1 / Math.fround(1 - rate));
      expect(mask.every((v) => v === 0 || v === keep)).toBe(true);
      const dropped = mask.filter((v) => v === 0).length / mask.length;
      // Binomial standard deviation sqrt(rate (1 - rate) / n) < 0.0012: 5 of them.
      expect(Math.abs(dropped - rate)).toBeLessThan(0.006);
    }
  });

  it('is reproducible per seed, and masks of neighbouring seeds (steps) are unrelated', () => {
    const a = dropoutMask(10_000, 0.4, 7);
    expect(Array.from(dropoutMask(10_000, 0.4, 7))).toEqual(Array.from(a));
    for (const other of [8, 7 + 2 ** 32, 1_000_003 * 7]) {
      const b = dropoutMask(10_000, 0.4, other);
      const same = a.filter((v, i) => v === b[i]).length / a.length;
      // Independent masks agree on 0.4^2 + 0.6^2 = 52% of the elements.
      expect(Math.abs(same - 0.52)).toBeLessThan(0.03);
    }
  });

  it('keeps every element at rate 0 and a prefix of a longer mask is the shorter mask', () => {
    expect(dropoutMask(1000, 0, 3).every((v) => v === 1)).toBe(true);
    expect(Array.from(dropoutMask(100, 0.3, 3))).toEqual(Array.from(dropoutMask(1000, 0.3, 3).subarray(0, 100)));
  });
});

describe('the HwrDropoutMask kernel', () => {
  afterEach(() => setSimdKernelsEnabled(true));

  it('dropoutMask equals the mask by its definition', () => {
    for (const [size, rate, seed] of maskCases) expect(Array.from(dropoutMask(size, rate, seed))).toEqual(Array.from(referenceMask(size, rate, seed)));
  });

  for (const [backend, simd] of [['wasm', true], ['wasm', false], ['cpu', false]] as const) {
    it(`writes dropoutMask's values bit for bit (${backend}${backend === 'wasm' ? (simd ? ', SIMD' : ', JS on the heap') : ''})`, async () => {
      await setupBackend({ backend });
      setSimdKernelsEnabled(simd);
      for (const [size, rate, seed] of maskCases) {
        const shape = size % 64 === 0 ? [64, size / 64] : [size];
        const mask = tf.engine().runKernel(DROPOUT_MASK, {}, { shape, rate, seed }) as tf.Tensor;
        expect(mask.shape).toEqual(shape);
        expect(Array.from(await mask.data())).toEqual(Array.from(dropoutMask(size, rate, seed)));
        mask.dispose();
      }
    });
  }
});

describe('SeededDropout in training', () => {
  afterEach(() => setHashedDropoutMasks(true));

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`output x * mask and gradient dy * mask (${backend})`, async () => {
      await setupBackend({ backend });
      const layer = new SeededDropout({ rate: 0.4, seed: 99 });
      const x = tf.variable(tf.randomNormal([8, 300], 0, 1, 'float32', 5));
      const dy = tf.randomNormal([8, 300], 0, 1, 'float32', 6);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar, [x]);
      const mask = dropoutMask(8 * 300, 0.4, 99);
      const xs = x.dataSync();
      const ds = dy.dataSync();
      const expected = Array.from(ds, (d, i) => Math.fround(d * mask[i]!));
      expect(Array.from(grads[x.name]!.dataSync())).toEqual(expected);
      let loss = 0;
      for (let i = 0; i < xs.length; i++) loss += Math.fround(xs[i]! * mask[i]!) * ds[i]!;
      expect(value.dataSync()[0]!).toBeCloseTo(loss, 2);
      expect(layer.step).toBe(1);
      expect(Array.from((layer.apply(x) as tf.Tensor).dataSync())).toEqual(Array.from(xs)); // inference: identity
      tf.dispose([x, dy, value, grads[x.name]!]);
    });
  }

  it('setHashedDropoutMasks(false) restores tf.dropout masks', async () => {
    await setupBackend({ backend: 'cpu' });
    setHashedDropoutMasks(false);
    const layer = new SeededDropout({ rate: 0.4, seed: 42 });
    const x = tf.ones([4, 50]);
    const out = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    expect(Array.from(out)).toEqual(Array.from(tf.dropout(x, 0.4, undefined, 42).dataSync()));
    tf.dispose(x);
  });
});

/**
 * Winograd F(3x3, 3x3), F(5x5, 3x3) and F(6x6, 3x3) (src/backend/simd/winogradGeneric.ts): the matrices compute the
 * 1-D correlation exactly (float64, 1e-12), and the three operations match the cpu backend on random shapes, with
 * whole and partial tiles (tolerance 1e-4 relative to the largest |value|, the bound of test/backend/kernels.test.ts for F(4x4);
 * an indexing or matrix error gives differences of order 1).
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { forceWinogradTile, winogradTile } from '../../src/backend/simd/winograd.ts';
import { winogradMatrices } from '../../src/backend/simd/winogradGeneric.ts';
import { compareBackends, sizeOf, values } from '../fixtures/backends.ts';
import { readFileSync } from 'node:fs';
import { generateWinogradTransforms, WINOGRAD_TRANSFORMS_PATH } from '../../scripts/gen-winograd-transforms.ts';

describe('F(m x m, 3x3) matrices', () => {
  it('assembly/winogradTransforms.ts is what scripts/gen-winograd-transforms.ts generates from them', () => {
    expect(readFileSync(WINOGRAD_TRANSFORMS_PATH, 'utf8')).toBe(generateWinogradTransforms());
  });

  for (const m of [3, 5, 6] as const) {
    it(`F(${m}, 3): A^T [(G g) .* (B^T d)] is the correlation of d and g`, () => {
      const a = m + 2;
      const { BT, AT, G } = winogradMatrices(m);
      for (let trial = 0; trial < 5; trial++) {
        const d = values(a, 10 + trial);
        const g = values(3, 20 + trial);
        const Gg = Array.from({ length: a }, (_, t) => G[t * 3]! * g[0]! + G[t * 3 + 1]! * g[1]! + G[t * 3 + 2]! * g[2]!);
        const Bd = Array.from({ length: a }, (_, t) => Array.from(d).reduce((s, v, j) => s + BT[t * a + j]! * v, 0));
        for (let i = 0; i < m; i++) {
          const y = Gg.reduce((s, v, t) => s + AT[i * a + t]! * v * Bd[t]!, 0);
          expect(Math.abs(y - (d[i]! * g[0]! + d[i + 1]! * g[1]! + d[i + 2]! * g[2]!))).toBeLessThan(1e-12);
        }
      }
    });
  }
});

describe('F(3x3), F(5x5) and F(6x6) Winograd convolutions on wasm against cpu', () => {
  afterEach(() => forceWinogradTile(undefined));

  const cases: Array<{ m: 3 | 5 | 6; x: number[]; co: number; pad: 'valid' | 'same' }> = [
    { m: 5, x: [3, 12, 12, 8], co: 16, pad: 'valid' },
    { m: 5, x: [2, 10, 15, 16], co: 8, pad: 'same' },
    { m: 3, x: [4, 5, 5, 16], co: 24, pad: 'valid' },
    { m: 3, x: [2, 6, 9, 8], co: 8, pad: 'same' },
    { m: 3, x: [2, 13, 13, 8], co: 8, pad: 'valid' }, // 11x11: partial tiles
    { m: 6, x: [3, 13, 13, 16], co: 16, pad: 'valid' }, // the seed CNN's 11x11, partial tiles
    { m: 6, x: [2, 11, 12, 8], co: 24, pad: 'same' }, // 11x12: partial tiles down, full across
    { m: 6, x: [1, 8, 8, 8], co: 8, pad: 'valid' }, // 6x6: one full tile
  ];
  for (const c of cases) {
    it(`F(${c.m}x${c.m}): forward (+ bias + relu), input and filter gradients, x ${JSON.stringify(c.x)} -> ${c.co}, ${c.pad}`, async () => {
      const [B, H, W, Ci] = c.x as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo([B, H, W, Ci], [3, 3, Ci, c.co], 1, 1, c.pad);
      forceWinogradTile(c.m);
      expect(winogradTile(info, 'forward')).toBe(c.m);
      const dyShape = [B, info.outHeight, info.outWidth, c.co];
      await compareBackends(`F${c.m} ${c.x}`, () => {
        const x = tf.tensor4d(values(sizeOf(c.x), 1), c.x as [number, number, number, number]);
        const w = tf.tensor4d(values(9 * Ci * c.co, 2), [3, 3, Ci, c.co]);
        const bias = tf.tensor1d(values(c.co, 3));
        const dy = tf.tensor(values(sizeOf(dyShape), 4), dyShape);
        return [
          tf.conv2d(x, w, 1, c.pad),
          tf.fused.conv2d({ x, filter: w, bias, activation: 'relu', strides: 1, pad: c.pad }),
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }) as tf.Tensor,
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: c.pad, dataFormat: 'NHWC', filterShape: [3, 3, Ci, c.co] }) as tf.Tensor,
        ];
      }, 1e-4);
    });
  }

  it('F(3x3), F(5x5) and F(6x6) are not chosen where their tiles would pad the output more than F(4x4)', () => {
    const info = (size: number) => tf.backend_util.computeConv2DInfo([2, size + 2, size + 2, 32], [3, 3, 32, 64], 1, 1, 'valid');
    forceWinogradTile(5);
    expect(winogradTile(info(11), 'forward')).not.toBe(5); // 15 > 12
    for (const m of [3, 5, 6] as const) {
      forceWinogradTile(m);
      expect(winogradTile(info(32), 'forward')).not.toBe(m); // hccr-vgg's size: 33, 35, 36 > 32
      expect(winogradTile(info(16), 'forward')).not.toBe(m);
    }
  });
});

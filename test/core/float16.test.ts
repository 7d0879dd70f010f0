import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, roundToFloat16 } from '../../src/core/float16.ts';

describe('float16', () => {
  // Reference bit patterns from IEEE 754-2008 binary16 (e.g. the table in Wikipedia's "Half-precision floating-point format").
  const known: Array<[number, number]> = [
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [0.333251953125, 0x3555],
  ];

  it('encodes and decodes the reference values exactly', () => {
    const values = Float32Array.from(known.map(([v]) => v));
    expect(Array.from(float32ToFloat16(values))).toEqual(known.map(([, bits]) => bits));
    expect(Array.from(float16ToFloat32(Uint16Array.from(known.map(([, bits]) => bits))))).toEqual(known.map(([v]) => v));
  });

  it('decodes infinities and NaN', () => {
    const decoded = float16ToFloat32(Uint16Array.from([0x7c00, 0xfc00, 0x7e00]));
    expect(decoded[0]).toBe(Infinity);
    expect(decoded[1]).toBe(-Infinity);
    expect(Number.isNaN(decoded[2])).toBe(true);
  });

  it('rounds to the nearest half-precision value, within half a unit in the last place', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const rounded = roundToFloat16(values);
    for (let i = 0; i < values.length; i++) {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(values[i]!))) - 10);
      expect(Math.abs(rounded[i]! - values[i]!)).toBeLessThanOrEqual(ulp / 2 + 1e-12);
    }
  });
});

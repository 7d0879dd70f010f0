import { describe, expect, it } from 'vitest';
import { formatProbability } from '../../src/core/probabilityText.ts';

describe('formatProbability', () => {
  it('writes percentages with the asked decimals', () => {
    expect(formatProbability(0.9945)).toBe('99.45%');
    expect(formatProbability(0.5)).toBe('50.00%');
    expect(formatProbability(0.0003)).toBe('0.03%');
    expect(formatProbability(0.973, 1)).toBe('97.3%');
  });

  it('never rounds to a certainty or an impossibility: bounds instead of 100% and 0%', () => {
    expect(formatProbability(1)).toBe('>99.99%');
    expect(formatProbability(0.99999)).toBe('>99.99%');
    expect(formatProbability(0.99996, 1)).toBe('>99.9%');
    expect(formatProbability(0.9995, 1)).toBe('>99.9%');
    expect(formatProbability(0.999, 1)).toBe('99.9%');
    expect(formatProbability(0)).toBe('<0.01%');
    expect(formatProbability(3e-7)).toBe('<0.01%');
    expect(formatProbability(0.0004, 1)).toBe('<0.1%');
    expect(formatProbability(0.01, 0)).toBe('1%');
    expect(formatProbability(0.001, 0)).toBe('<1%');
  });

  it('refuses a bad number of decimals', () => {
    expect(() => formatProbability(0.5, -1)).toThrow(/decimals/);
    expect(() => formatProbability(0.5, 1.5)).toThrow(/decimals/);
  });
});

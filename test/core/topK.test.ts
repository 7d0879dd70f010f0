import { describe, expect, it } from 'vitest';
import { topKIndices } from '../../src/core/recognizer.ts';
import { createRng } from '../../src/data/augment.ts';

/** The reference: a full stable sort by value, largest first, lower index first among equals. */
function bySort(values: readonly number[], k: number): number[] {
  const order = values.map((_, i) => i);
  order.sort((a, b) => values[b]! - values[a]! || a - b);
  return order.slice(0, Math.max(0, Math.min(k, values.length)));
}

describe('topKIndices', () => {
  it('equals a full sort for random rows, with ties, any k', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rng.next() * 60);
      // Few distinct values, so ties are common.
      const values = Array.from({ length: n }, () => Math.floor(rng.next() * 8) / 8);
      for (const k of [0, 1, 3, 10, n, n + 5]) expect(topKIndices(values, k)).toEqual(bySort(values, k));
    }
  });

  it('handles 3,755 classes and keeps at most k', () => {
    const rng = createRng(3);
    const values = Float32Array.from({ length: 3755 }, () => rng.next());
    expect(topKIndices(values, 50)).toEqual(bySort(Array.from(values), 50));
    expect(topKIndices([], 5)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { evaluateStream, formatConfusionCells, mostConfusedPairs, type LabelledBatch } from '../../src/train/evaluate.ts';

const CLASSES = ['日', '目', '曰', '白', '自'];

/** A fake model: the probabilities of each "image" are given directly, the image's one pixel being its row index. */
function fakeModel(rows: number[][]) {
  return async (inputs: Float32Array, count: number) => {
    const out = new Float32Array(count * CLASSES.length);
    for (let i = 0; i < count; i++) out.set(rows[inputs[i]!]!, i * CLASSES.length);
    return out;
  };
}

describe('evaluateStream and mostConfusedPairs', () => {
  // Six images; rows are probabilities over the five classes.
  const rows = [
    [0.6, 0.3, 0.05, 0.03, 0.02], // 日, right
    [0.5, 0.4, 0.05, 0.03, 0.02], // 目 taken for 日 (rank 1: top-2)
    [0.7, 0.2, 0.05, 0.03, 0.02], // 目 taken for 日 again
    [0.1, 0.6, 0.1, 0.1, 0.1], // 日 taken for 目; 日's rank is 1 (ties with lower index rank first: 日 is index 0)
    [0.02, 0.03, 0.05, 0.3, 0.6], // 白 taken for 自
    [0.3, 0.25, 0.2, 0.15, 0.1], // 自, last: rank 4, only in top-5
  ];
  const labels = [0, 1, 1, 0, 3, 4];
  const batches = (): LabelledBatch[] => [
    { xs: new Float32Array([0, 1, 2, 3]), labels: labels.slice(0, 4), count: 4 },
    { xs: new Float32Array([4, 5]), labels: labels.slice(4), count: 2 },
  ];

  it('measures top-k accuracy from ranks, and keeps the confusion sparse', async () => {
    const evaluation = await evaluateStream(fakeModel(rows), batches(), CLASSES, { ks: [1, 2, 5] });
    expect(evaluation.count).toBe(6);
    expect(evaluation.topK).toEqual([
      { k: 1, accuracy: 1 / 6 },
      { k: 2, accuracy: 5 / 6 },
      { k: 5, accuracy: 1 },
    ]);
    expect(evaluation.cells).toEqual([
      { actual: 1, predicted: 0, count: 2 },
      { actual: 0, predicted: 0, count: 1 },
      { actual: 0, predicted: 1, count: 1 },
      { actual: 3, predicted: 4, count: 1 },
      { actual: 4, predicted: 0, count: 1 },
    ]);
    expect(formatConfusionCells(evaluation).split('\n').slice(0, 3)).toEqual(['actual\tpredicted\tcount', '目\t日\t2', '日\t日\t1']);
  });

  it('lists the most confused pairs both ways together, the more frequent direction first', async () => {
    const evaluation = await evaluateStream(fakeModel(rows), batches(), CLASSES, { ks: [1] });
    expect(mostConfusedPairs(evaluation, 2)).toEqual([
      { a: '目', b: '日', aAsB: 2, bAsA: 1, total: 3 },
      { a: '自', b: '日', aAsB: 1, bAsA: 0, total: 1 },
    ]);
    expect(mostConfusedPairs(evaluation)).toHaveLength(3);
  });

  it('refuses a label outside the classes', async () => {
    await expect(evaluateStream(fakeModel(rows), [{ xs: new Float32Array([0]), labels: [7], count: 1 }], CLASSES)).rejects.toThrow(/label 7/);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressCallback } from '../../src/train/callbacks.ts';

afterEach(() => vi.restoreAllMocks());

describe('ProgressCallback without a terminal', () => {
  it('prints a progress line every interval (batch, running loss and accuracy, ETA) and the epoch summary', async () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const lines: string[] = [];
    const progress = new ProgressCallback(10, 2, (line) => lines.push(line), false, 60);
    await progress.onEpochBegin(0);
    for (let batch = 0; batch < 10; batch++) {
      now += 25_000; // 25 s per batch of 64
      await progress.onBatchEnd(batch, { size: 64, loss: 2, acc: 0.5 });
    }
    await progress.onEpochEnd(0, { loss: 2, acc: 0.5 });
    // 60 s intervals: after batches 3 (75 s), 6 (150 s) and 8 (200 s: 50 s after 150 is not enough, 225 is): batches 3, 6, 9.
    const progressLines = lines.filter((l) => l.includes('batch'));
    expect(progressLines.length).toBe(3);
    expect(progressLines[0]).toBe('epoch 1/2: batch 3/10 | loss 2.0000 | acc 0.5000 | 3 img/s | ETA 2 min 55 s');
    expect(lines.at(-1)).toMatch(/^epoch 1\/2: loss 2\.0000 \| acc 0\.5000 \| 3 img\/s \| 250\.0 s$/);
  });

  it('prints only the summary with an interval of 0', async () => {
    const lines: string[] = [];
    const progress = new ProgressCallback(3, 1, (line) => lines.push(line), false, 0);
    await progress.onEpochBegin(0);
    for (let batch = 0; batch < 3; batch++) await progress.onBatchEnd(batch, { size: 8, loss: 1, acc: 1 });
    await progress.onEpochEnd(0, { loss: 1, acc: 1 });
    expect(lines.length).toBe(1);
  });
});

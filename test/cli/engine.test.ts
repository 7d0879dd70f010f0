/**
 * `hwr evaluate --engine`: ONNX Runtime and TF.js give the same report (accuracy, confusion matrix, rejection
 * figures, calibration error within 1e-4) on the first MNIST test images.
 */
import { describe, expect, it } from 'vitest';
import { runHwr } from '../fixtures/cli.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('cli-engine');

describe('hwr evaluate --engine', () => {
  it('onnx and tfjs report the same figures on 500 MNIST test images', async () => {
    const cache = await tempDir();
    const [onnx, tfjs] = await Promise.all([
      runHwr(['evaluate', '--json', '--limit', '500', '--engine', 'onnx'], { HWR_CACHE_DIR: cache }),
      runHwr(['evaluate', '--json', '--limit', '500', '--engine', 'tfjs']),
    ]);
    expect([onnx.code, tfjs.code, onnx.stderr, tfjs.stderr]).toEqual([0, 0, '', '']);
    const [a, b] = [JSON.parse(onnx.stdout), JSON.parse(tfjs.stdout)];
    expect(a.count).toBe(500);
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.top3Accuracy).toBe(b.top3Accuracy);
    expect(a.confusionMatrix).toEqual(b.confusionMatrix);
    expect(a.rejection.falseRejectionRate).toBe(b.rejection.falseRejectionRate);
    expect(a.rejection.negativeRejectionRate).toBe(b.rejection.negativeRejectionRate);
    expect(Math.abs(a.rejection.ece - b.rejection.ece)).toBeLessThan(1e-4);
  }, 60_000);
});

/**
 * `hwr export` as a user runs it: the file and its sidecar are written, the exported model is checked by its own
 * runtime, the written file runs on ONNX Runtime with the classes the sidecar lists, and bad flags get one line.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { armnnAvailable } from '../../src/export/armnn.ts';
import { readOnnxMetadata } from '../../src/export/onnx.ts';
import { readTfliteMetadata } from '../../src/export/tflite.ts';
import { runHwr } from '../fixtures/cli.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('cli-export');

describe('hwr export', () => {
  it('writes digits as ONNX with its sidecar, checked by ONNX Runtime against TF.js', async () => {
    const dir = await tempDir();
    const out = join(dir, 'digits.onnx');
    const run = await runHwr(['export', '--format', 'onnx', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^wrote .*digits\.onnx \(0\.97 MB, onnx, float32, 9 ops\) and digits\.onnx\.json$/m);
    expect(run.stdout).toMatch(/checked with ONNX Runtime 1\.\d+\.\d+ on 64 images: same top-1 as TF\.js for 64\/64 images/);
    const sidecar = JSON.parse(await readFile(`${out}.json`, 'utf8'));
    expect(sidecar).toMatchObject({
      format: 'hwr-exported-model',
      modelFormat: 'onnx',
      modelFile: 'digits.onnx',
      quantization: 'float32',
      input: { name: 'image', shape: ['batch', 28, 28, 1], layout: 'NHWC', dtype: 'float32', range: [0, 1] },
      output: { name: 'probabilities', shape: ['batch', 11] },
      preprocessing: { profile: 'mnist-com-v1' },
      rejectClass: 'none',
    });
    expect(sidecar.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none']);
    expect(sidecar.calibration.temperature).toBeGreaterThan(0);
    expect(sidecar.exportedBy.sourceWeightsSha256).toMatch(/^[0-9a-f]{64}$/);
    // The same JSON travels inside the model.
    expect(JSON.parse(readOnnxMetadata(await readFile(out), out).hwr!)).toEqual(sidecar);
  }, 90_000);

  it('int8 ONNX of the hanzi model: calibrated on synthetic characters, a quarter of the float32 size', async () => {
    const dir = await tempDir();
    const out = join(dir, 'h.onnx');
    const run = await runHwr(['export', '--model', 'hanzi', '--format', 'onnx', '--quantize', 'int8', '--calibration', '200', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('calibrated on 200 synthetic handwritten characters');
    const same = /same top-1 as TF\.js for (\d+)\/64 images/.exec(run.stdout);
    expect(Number(same?.[1])).toBeGreaterThanOrEqual(60);
    const bytes = await readFile(out);
    expect(bytes.length).toBeLessThan(1.6e6);
    expect(JSON.parse(readOnnxMetadata(bytes, out).hwr!).classes).toHaveLength(3755);
  }, 120_000);

  it.skipIf(armnnAvailable() !== null)('writes TFLite int8, checked by ArmNN', async () => {
    const dir = await tempDir();
    const out = join(dir, 'd.tflite');
    const run = await runHwr(['export', '--format', 'tflite', '--quantize', 'int8', '--calibration', '300', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('calibrated on 300 MNIST train images');
    expect(run.stdout).toMatch(/checked with ArmNN TFLite parser \(CpuRef\) on 64 images: same top-1 as TF\.js for 6\d\/64 images/);
    const sidecar = JSON.parse(await readFile(`${out}.json`, 'utf8'));
    expect(sidecar).toMatchObject({ modelFormat: 'tflite', quantization: 'int8', input: { shape: [1, 28, 28, 1] } });
    expect(JSON.parse(readTfliteMetadata(await readFile(out), out).hwr!)).toEqual(sidecar);
  }, 120_000);

  it('bad flags and models get one line naming the flag, and exit 1', async () => {
    const dir = await tempDir();
    const cases: Array<[string[], RegExp]> = [
      [['export', '--format', 'pb'], /^hwr: --format: expected onnx or tflite, got "pb"\n$/],
      [['export', '--format', 'onnx', '--quantize', 'int4'], /^hwr: --quantize: expected float16 or int8/],
      [['export', '--format', 'onnx', '--calibration-data', 'mnist'], /^hwr: --calibration-data: only with --quantize int8\n$/],
      [['export', '--format', 'onnx', '--model', 'no-such-model'], /^hwr: unknown model "no-such-model"/],
      [['export', '--format', 'onnx', '--quantize', 'int8', '--calibration-data', 'nope', '--out', join(dir, 'x.onnx')], /^hwr: --calibration-data: expected mnist, synth or hwdb:DIR, got "nope"\n$/],
    ];
    for (const [args, message] of cases) {
      const run = await runHwr(args);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.code).toBe(1);
    }
  }, 120_000);
});

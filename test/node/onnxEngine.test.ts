/**
 * ONNX Runtime as the Node engine: `onnxruntimeEngine` on bytes and files, `loadRecognizer` with `engine` onnx, tfjs
 * and auto (the same answers either way), and the ONNX form of a model folder (src/node/onnxCache.ts): generated
 * once into the cache and read back, a corrupt or mismatching cache file regenerated, the checksum following the
 * weights, the folder's own model.onnx used only when it was exported from these weights, an unwritable cache kept
 * in memory with one warning, and one clear error line for a broken folder.
 */
import { copyFile, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelMetadata } from '../../src/core/types.ts';
import { decodeImage } from '../../src/node/image.ts';
import { recordChecksums, saveModel } from '../../src/node/modelFiles.ts';
import { findOnnxForm, generateOnnxForm, MODEL_ONNX, modelWeightsSha256, onnxCachePath, onnxSourceChecksum } from '../../src/node/onnxCache.ts';
import { onnxruntimeEngine } from '../../src/node/onnxEngine.ts';
import { loadRecognizer, resolveModelDir } from '../../src/node/recognizer.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import { runHwr } from '../fixtures/cli.ts';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('onnx-engine');
const DIGITS = resolveModelDir('digits');

/** A copy of the shipped digit model in a fresh folder (model.json, weights.bin, metadata.json, SHA256SUMS). */
async function digitsCopy(): Promise<string> {
  const dir = await tempDir();
  for (const name of ['model.json', 'weights.bin', 'metadata.json', 'SHA256SUMS']) await copyFile(join(DIGITS, name), join(dir, name));
  return dir;
}

/** Loads `dir` with ONNX Runtime, the cache in `cache`, collecting warnings. */
async function loadOnnx(dir: string, cache: string, engine: 'onnx' | 'auto' = 'onnx') {
  const warnings: string[] = [];
  const recognizer = await loadRecognizer(dir, undefined, { engine, env: { HWR_CACHE_DIR: cache }, warn: (line) => warnings.push(line) });
  return { recognizer, warnings };
}

/** Deterministic inputs in [0, 1]: `count` images of `size` x `size`. */
function inputs(count: number, size: number): Float32Array {
  return Float32Array.from({ length: count * size * size }, (_, i) => ((i * 2654435761) % 997) / 997);
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

let digitImages: Array<{ label: string; png: Buffer }>;

beforeAll(async () => {
  await setupBackend();
  digitImages = await Promise.all((await mnistTestDigits(12)).map(async (digit) => ({ label: digit.label, png: await digitPng(digit) })));
});

describe('onnxruntimeEngine', () => {
  it('runs an ONNX model from bytes or a file, in batches, and refuses what is not one in one line naming the file', async () => {
    const dir = await digitsCopy();
    const cache = await tempDir();
    const { recognizer } = await loadOnnx(dir, cache);
    recognizer.dispose();
    const path = onnxCachePath(await modelWeightsSha256(dir), { HWR_CACHE_DIR: cache });
    const fromFile = await onnxruntimeEngine(path);
    const fromBytes = await onnxruntimeEngine(await readFile(path), { threads: 2 });
    expect(fromFile).toMatchObject({ name: 'onnxruntime', inputShape: [28, 28], classes: 11, inputName: 'image', outputName: 'probabilities' });
    const x = inputs(5, 28);
    const batch = await fromFile.run(x, 5);
    expect(batch).toHaveLength(55);
    const single = await fromBytes.run(x.subarray(28 * 28 * 2, 28 * 28 * 3), 1);
    expect(maxDiff(single, batch.subarray(22, 33))).toBeLessThan(1e-6);
    expect(await fromFile.run(new Float32Array(0), 0)).toHaveLength(0);
    fromFile.dispose();
    fromBytes.dispose();

    const garbage = join(dir, 'garbage.onnx');
    await writeFile(garbage, 'this is not a protobuf');
    const error = (await onnxruntimeEngine(garbage).then(() => null, (e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('BAD_MODEL');
    expect(error.message).toMatch(new RegExp(`^${garbage}: not a valid ONNX model: `));
    expect(error.message).not.toContain('\n');
    await expect(onnxruntimeEngine(join(dir, 'missing.onnx'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(onnxruntimeEngine(path, { threads: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('loadRecognizer engines', () => {
  for (const model of ['digits', 'hanzi']) {
    it(`${model}: ONNX Runtime and TF.js give the same probabilities (within 1e-4) and top-1`, async () => {
      const cache = await tempDir();
      const { recognizer: onnx, warnings } = await loadOnnx(model, cache, 'auto');
      const tfjs = await loadRecognizer(model, undefined, { engine: 'tfjs' });
      expect(warnings).toEqual([]);
      expect([onnx.engine, tfjs.engine]).toEqual(['onnxruntime', 'tfjs']);
      expect(onnx.model).toBeUndefined();
      expect(tfjs.model).toBeDefined();
      const [size] = onnx.metadata.inputShape;
      const x = inputs(6, size);
      const [a, b] = [await onnx.predictProbabilities(x, 6), await tfjs.predictProbabilities(x, 6)];
      expect(maxDiff(a, b)).toBeLessThan(1e-4);
      const classes = onnx.metadata.classes.length;
      for (let row = 0; row < 6; row++) {
        const top = (p: Float32Array) => p.subarray(row * classes, (row + 1) * classes).reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);
        expect(top(a)).toBe(top(b));
      }
      onnx.dispose();
      tfjs.dispose();
    }, 60_000);
  }

  it('digit images: the same labels, rejection, calibrated probabilities and topK with either engine', async () => {
    const cache = await tempDir();
    const { recognizer: onnx } = await loadOnnx('digits', cache);
    const tfjs = await loadRecognizer('digits', undefined, { engine: 'tfjs' });
    for (const { label, png } of digitImages) {
      const image = await decodeImage(png, 'digit.png');
      const [a, b] = [await onnx.recognize(image, { topK: 4 }), await tfjs.recognize(image, { topK: 4 })];
      expect(a.label).toBe(label);
      expect(a.label).toBe(b.label);
      expect(a.topK.map((c) => c.label)).toEqual(b.topK.map((c) => c.label));
      expect(maxDiff(Float32Array.from(a.probabilities), Float32Array.from(b.probabilities))).toBeLessThan(1e-4);
    }
    onnx.dispose();
    tfjs.dispose();
  });
});

describe('the ONNX form of a model folder', () => {
  it('is generated into the cache on first use, read back after (not regenerated), and regenerated when corrupt', async () => {
    const dir = await digitsCopy();
    const cache = await tempDir();
    const env = { HWR_CACHE_DIR: cache };
    const checksum = await modelWeightsSha256(dir);
    const path = onnxCachePath(checksum, env);
    expect(path).toBe(join(cache, 'onnx', `${checksum}.onnx`));
    expect(await findOnnxForm(dir, checksum, { env })).toBeNull();

    (await loadOnnx(dir, cache)).recognizer.dispose();
    expect(await onnxSourceChecksum(await readFile(path), path)).toBe(checksum);
    const past = new Date('2020-01-01T00:00:00Z');
    await utimes(path, past, past);
    const second = await loadOnnx(dir, cache);
    expect(second.warnings).toEqual([]);
    expect((await stat(path)).mtimeMs).toBe(past.getTime());
    expect((await findOnnxForm(dir, checksum, { env }))?.source).toBe('cache');
    second.recognizer.dispose();

    // Corrupt bytes under the right name: regenerated, and the recognizer still works.
    await writeFile(path, 'corrupt');
    const third = await loadOnnx(dir, cache);
    expect(third.recognizer.engine).toBe('onnxruntime');
    expect(await onnxSourceChecksum(await readFile(path), path)).toBe(checksum);
    third.recognizer.dispose();

    // A valid ONNX file whose embedded checksum is another model's: regenerated too.
    const hanziCache = await tempDir();
    (await loadOnnx('hanzi', hanziCache)).recognizer.dispose();
    const hanziChecksum = await modelWeightsSha256(resolveModelDir('hanzi'));
    await copyFile(onnxCachePath(hanziChecksum, { HWR_CACHE_DIR: hanziCache }), path);
    const fourth = await loadOnnx(dir, cache);
    expect(fourth.recognizer.engine).toBe('onnxruntime');
    expect(await onnxSourceChecksum(await readFile(path), path)).toBe(checksum);
    fourth.recognizer.dispose();
  }, 60_000);

  it('follows the weights: changed weights get another checksum and another cache file', async () => {
    const dir = await digitsCopy();
    const before = await modelWeightsSha256(dir);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(await modelWeightsSha256(DIGITS)).toBe(before);
    const weights = await readFile(join(dir, 'weights.bin'));
    new Float32Array(weights.buffer, weights.byteOffset, 4)[0]! += 0.5;
    await writeFile(join(dir, 'weights.bin'), weights);
    // SHA256SUMS still names the old bytes: refused, naming the file.
    await expect(modelWeightsSha256(dir)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('weights.bin') });
    await recordChecksums(dir, new Map([['weights.bin', weights]]));
    const after = await modelWeightsSha256(dir);
    expect(after).not.toBe(before);
    const cache = await tempDir();
    (await loadOnnx(dir, cache)).recognizer.dispose();
    await expect(stat(onnxCachePath(after, { HWR_CACHE_DIR: cache }))).resolves.toBeTruthy();
  }, 60_000);

  it('uses the folder\'s model.onnx exported from these weights, and ignores one from other weights with a warning', async () => {
    const dir = await digitsCopy();
    const scratch = await tempDir();
    const checksum = await modelWeightsSha256(dir);
    const exported = await generateOnnxForm(dir, JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as ModelMetadata, checksum, { env: { HWR_CACHE_DIR: scratch } });
    await writeFile(join(dir, MODEL_ONNX), exported.bytes);
    const cache = await tempDir();
    const matching = await loadOnnx(dir, cache);
    expect(matching.warnings).toEqual([]);
    expect(matching.recognizer.engine).toBe('onnxruntime');
    matching.recognizer.dispose();
    // The exported file was used: nothing was generated into the cache.
    await expect(stat(join(cache, 'onnx'))).rejects.toMatchObject({ code: 'ENOENT' });

    // model.onnx of other weights (the hanzi model's ONNX form): ignored, the cache is used instead.
    const hanziDir = resolveModelDir('hanzi');
    const hanzi = await generateOnnxForm(hanziDir, JSON.parse(await readFile(join(hanziDir, 'metadata.json'), 'utf8')) as ModelMetadata, await modelWeightsSha256(hanziDir), { env: { HWR_CACHE_DIR: scratch } });
    await writeFile(join(dir, MODEL_ONNX), hanzi.bytes);
    const other = await loadOnnx(dir, cache);
    expect(other.warnings).toHaveLength(1);
    expect(other.warnings[0]).toMatch(new RegExp(`^${join(dir, MODEL_ONNX)}: exported from other weights .*; ignored`));
    expect(other.recognizer.metadata.classes).toHaveLength(11);
    other.recognizer.dispose();
    await expect(stat(onnxCachePath(checksum, { HWR_CACHE_DIR: cache }))).resolves.toBeTruthy();
  }, 60_000);

  it('an unwritable cache is not an error: one warning, the ONNX form kept in memory', async () => {
    const dir = await digitsCopy();
    const blocker = join(await tempDir(), 'a-file');
    await writeFile(blocker, 'not a folder');
    const first = await loadOnnx(dir, blocker);
    expect(first.recognizer.engine).toBe('onnxruntime');
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toMatch(/cannot write the ONNX cache/);
    const second = await loadOnnx(dir, blocker);
    expect(second.warnings).toEqual([]);
    first.recognizer.dispose();
    second.recognizer.dispose();
  });
});

describe('engine choice and errors', () => {
  /** A folder with a model the exporter cannot lower (average pooling). */
  async function unsupportedModelDir(): Promise<string> {
    const dir = await tempDir();
    const model = tf.sequential({
      layers: [
        tf.layers.averagePooling2d({ inputShape: [28, 28, 1], poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 11, activation: 'softmax' }),
      ],
    });
    const metadata = JSON.parse(await readFile(join(DIGITS, 'metadata.json'), 'utf8')) as ModelMetadata;
    await saveModel(model, dir, { ...metadata, architecture: 'test-average-pooling' });
    model.dispose();
    return dir;
  }

  it('auto falls back to TF.js with one warning line saying why; onnx refuses with UNSUPPORTED_MODEL', async () => {
    const dir = await unsupportedModelDir();
    const cache = await tempDir();
    const { recognizer, warnings } = await loadOnnx(dir, cache, 'auto');
    expect(recognizer.engine).toBe('tfjs');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/AveragePooling2D.*running .* with TF\.js instead of ONNX Runtime$/);
    expect(warnings[0]).not.toContain('\n');
    recognizer.dispose();
    await expect(loadOnnx(dir, cache, 'onnx')).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL' });
    // TF.js still runs it.
    const tfjs = await loadRecognizer(dir, undefined, { engine: 'tfjs' });
    expect(tfjs.engine).toBe('tfjs');
    tfjs.dispose();
  });

  it('--engine onnx on a folder with a corrupt model.onnx and no weights.bin: one clear error line', async () => {
    const dir = await digitsCopy();
    await writeFile(join(dir, MODEL_ONNX), 'corrupt');
    await rm(join(dir, 'weights.bin'));
    const png = join(dir, 'seven.png');
    await writeFile(png, digitImages[0]!.png);
    const cache = await tempDir();
    const onnx = await runHwr(['predict', png, '--model', dir, '--engine', 'onnx'], { HWR_CACHE_DIR: cache });
    expect(onnx.code).toBe(1);
    expect(onnx.stdout).toBe('');
    expect(onnx.stderr).toBe(`hwr: ${join(dir, 'weights.bin')}: no such file (weights shard)\n`);
    const tfjs = await runHwr(['predict', png, '--model', dir, '--engine', 'tfjs']);
    expect(tfjs.code).toBe(1);
    expect(tfjs.stderr.trim().split('\n')).toHaveLength(1);
    expect(tfjs.stderr).toContain('weights.bin');
  }, 60_000);

  it('hwr predict --engine tfjs and --engine onnx print the same answers; a bad --engine is refused', async () => {
    const dir = await tempDir();
    const files = await Promise.all(digitImages.slice(0, 4).map(async ({ png }, i) => {
      const file = join(dir, `digit-${i}.png`);
      await writeFile(file, png);
      return file;
    }));
    const cache = await tempDir();
    const [onnx, tfjs] = await Promise.all([
      runHwr(['predict', ...files, '--json', '--engine', 'onnx'], { HWR_CACHE_DIR: cache }),
      runHwr(['predict', ...files, '--json', '--engine', 'tfjs']),
    ]);
    expect([onnx.code, tfjs.code]).toEqual([0, 0]);
    const [a, b] = [JSON.parse(onnx.stdout) as Array<{ label: string; probabilities: number[] }>, JSON.parse(tfjs.stdout) as Array<{ label: string; probabilities: number[] }>];
    expect(a.map((r) => r.label)).toEqual(b.map((r) => r.label));
    expect(a.map((r) => r.label)).toEqual(digitImages.slice(0, 4).map((d) => d.label));
    a.forEach((r, i) => expect(maxDiff(Float32Array.from(r.probabilities), Float32Array.from(b[i]!.probabilities))).toBeLessThan(1e-4));
    const bad = await runHwr(['predict', files[0]!, '--engine', 'gpu']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--engine.*gpu.*auto, onnx, tfjs/s);
  }, 60_000);
});

/**
 * Model folders carry SHA-256 checksums (`SHA256SUMS`, sha256sum's format): the shipped model verifies, and a
 * corrupt, garbage or mixed file is refused in one line naming the file and the reason, by every loader
 * (loadModel, readMetadata, the Node recognizer the CLI and the server use). Folders without SHA256SUMS still load.
 */
import { execFileSync } from 'node:child_process';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { hwr } from '../fixtures/cli.ts';
import { loadModel, parseChecksums, readMetadata, saveModel, sha256Hex, verifyFolder, writeMetadata } from '../../src/node/modelFiles.ts';
import { loadRecognizer, resolveModelDir } from '../../src/node/recognizer.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import type { ModelMetadata } from '../../src/core/types.ts';

const tempDir = useTempDirs('model-files');
const shipped = resolveModelDir('digits');

/** A copy of the shipped model folder (model files and SHA256SUMS only). */
async function shippedCopy(): Promise<string> {
  const dir = await tempDir();
  for (const name of ['model.json', 'weights.bin', 'metadata.json', 'SHA256SUMS']) await cp(join(shipped, name), join(dir, name));
  return dir;
}

/** Deterministic garbage of `length` bytes. */
function garbage(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** The message of the error `promise` rejects with, checked to be one line. */
async function errorLine(promise: Promise<unknown>): Promise<string> {
  const error = (await promise.then(
    () => null,
    (e: unknown) => e,
  )) as (Error & { code?: string }) | null;
  expect(error, 'expected a rejection').not.toBeNull();
  expect(error!.code).toBe('BAD_MODEL');
  expect(error!.message).not.toContain('\n');
  return error!.message;
}

beforeAll(async () => {
  await setupBackend();
});

describe('model folder checksums', () => {
  it('the shipped model lists model.json, weights.bin and metadata.json in SHA256SUMS, and they match', async () => {
    const checksums = await verifyFolder(shipped);
    expect(checksums && [...checksums.keys()].sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    for (const [name, hex] of checksums!) expect(sha256Hex(await readFile(join(shipped, name)))).toBe(hex);
  });

  it('refuses a garbage weights.bin of the right size, naming the file (loadModel and the Node recognizer)', async () => {
    const dir = await shippedCopy();
    const { size } = await stat(join(dir, 'weights.bin'));
    await writeFile(join(dir, 'weights.bin'), garbage(size));
    expect(await errorLine(loadModel(dir))).toMatch(/weights\.bin: SHA-256 .* does not match SHA256SUMS/);
    expect(await errorLine(loadRecognizer(dir))).toMatch(/weights\.bin: SHA-256 .* does not match SHA256SUMS/);
  });

  it('refuses garbage model.json and metadata.json, naming each', async () => {
    const dir = await shippedCopy();
    await writeFile(join(dir, 'model.json'), garbage(5000, 2));
    expect(await errorLine(loadModel(dir))).toMatch(/model\.json: SHA-256 .* does not match/);
    const other = await shippedCopy();
    await writeFile(join(other, 'metadata.json'), '{"name": "digits", "classes": ');
    expect(await errorLine(readMetadata(other))).toMatch(/metadata\.json: SHA-256 .* does not match/);
    expect(await errorLine(loadRecognizer(other))).toMatch(/metadata\.json: SHA-256/);
  });

  it('refuses a malformed SHA256SUMS and a file it does not list', async () => {
    const dir = await shippedCopy();
    await writeFile(join(dir, 'SHA256SUMS'), 'not a checksum line\n');
    expect(await errorLine(loadModel(dir))).toMatch(/SHA256SUMS: line 1 is not/);
    const lines = (await readFile(join(shipped, 'SHA256SUMS'), 'utf8')).split('\n').filter((line) => !line.endsWith('weights.bin'));
    await writeFile(join(dir, 'SHA256SUMS'), lines.join('\n'));
    expect(await errorLine(loadModel(dir))).toMatch(/weights\.bin: not listed in SHA256SUMS/);
  });

  it('still loads a folder written before checksums (no SHA256SUMS), and still refuses malformed files there', async () => {
    const dir = await shippedCopy();
    await rm(join(dir, 'SHA256SUMS'));
    const model = await loadModel(dir);
    expect(model.countParams()).toBe((await readMetadata(dir)).parameters);
    model.dispose();
    await writeFile(join(dir, 'model.json'), 'garbage');
    expect(await errorLine(loadModel(dir))).toMatch(/model\.json: not valid JSON/);
    const truncated = await shippedCopy();
    await rm(join(truncated, 'SHA256SUMS'));
    await writeFile(join(truncated, 'weights.bin'), (await readFile(join(shipped, 'weights.bin'))).subarray(0, 1000));
    expect(await errorLine(loadModel(truncated))).toMatch(/weights\.bin: 1000 bytes of weights, but model\.json declares \d+/);
  });

  it('saveModel writes SHA256SUMS in sha256sum format, and writeMetadata updates it', async () => {
    const dir = await tempDir();
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    const metadata = { name: 'tiny', classes: ['a', 'b'], inputShape: [1, 3, 1] } as unknown as ModelMetadata;
    await saveModel(model, dir, metadata);
    model.dispose();
    const checksums = parseChecksums(await readFile(join(dir, 'SHA256SUMS'), 'utf8'), 'SHA256SUMS');
    expect([...checksums.keys()].sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    let sha256sumAvailable = true;
    try {
      execFileSync('sha256sum', ['--version'], { stdio: 'ignore' });
    } catch {
      sha256sumAvailable = false;
    }
    if (sha256sumAvailable) expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' })).toMatch(/weights\.bin: OK/);
    await writeMetadata(dir, { ...metadata, name: 'renamed' });
    expect((await readMetadata(dir)).name).toBe('renamed');
    expect(await verifyFolder(dir)).not.toBeNull();
  });
});

describe('hwr commands on a corrupt model folder', () => {

  it('predict, evaluate and summary --model DIR refuse a garbage weights.bin of the right size in one line naming it', async () => {
    const dir = await shippedCopy();
    const { size } = await stat(join(dir, 'weights.bin'));
    await writeFile(join(dir, 'weights.bin'), garbage(size, 3));
    const image = join(dir, 'digit.png');
    await writeFile(image, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64'));
    for (const args of [['predict', image, '--model', dir], ['evaluate', '--model', dir, '--limit', '10'], ['summary', '--model', dir]]) {
      const run = await hwr(...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(/^hwr: .*weights\.bin: SHA-256 .* does not match SHA256SUMS/)]);
    }
  }, 120_000);
});


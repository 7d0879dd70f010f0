import { readdir, readlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHwrError } from '../../src/core/errors.ts';
import { writeGntFile, type GntImage } from '../../src/data/gnt.ts';
import { HwdbStream, hwdbClasses, hwdbFolderOf, hwdbSource, indexHwdbFolder, openHwdbTraining, validationWriters } from '../../src/data/hwdb.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('hwdb');
const CHARS = ['啊', '阿', '埃', '挨', '哎'];

/** A 12x10 sample of `char` whose dark block encodes the writer and the sample number, so every sample is unique. */
function sample(char: string, writer: number, n: number): GntImage {
  const pixels = new Uint8Array(12 * 10).fill(255);
  for (let x = 0; x <= (writer % 10); x++) pixels[x] = 0;
  for (let x = 0; x <= (n % 12); x++) pixels[9 * 12 + x] = 0;
  return { label: char, width: 12, height: 10, pixels };
}

/** Writers 1001-1010 (HWDB1.1's training range) and 1241-1242 (test), each writing every character `rounds` times. */
async function fixture(rounds = 2): Promise<string> {
  const dir = await tempDir();
  for (const writer of [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1241, 1242]) {
    const samples: GntImage[] = [];
    for (let r = 0; r < rounds; r++) CHARS.forEach((c, i) => samples.push(sample(c, writer, r * CHARS.length + i)));
    await writeGntFile(join(dir, `${writer}-c.gnt`), samples);
  }
  return dir;
}

/** A fingerprint of a sample as it leaves the stream: its label and the two coded rows. */
const key = (item: { pixels: Uint8Array; label: number }) => `${item.label}:${Array.from(item.pixels).join(',')}`;

describe('hwdb: data source names', () => {
  it('parses hwdb:DIR and records it with an absolute folder', () => {
    expect(hwdbFolderOf('hwdb:data/x')).toBe('data/x');
    expect(hwdbFolderOf('/data/mnist')).toBeNull();
    expect(hwdbFolderOf(null)).toBeNull();
    expect(hwdbSource('hwdb:/a/b')).toBe('hwdb:/a/b');
    expect(() => hwdbSource('hwdb:')).toThrow(/hwdb:DIR/);
  });
});

describe('indexHwdbFolder and classes', () => {
  it('counts samples and collects characters from the headers, in GB code order; or takes a named charset', async () => {
    const dir = await fixture();
    const index = await indexHwdbFolder(dir);
    expect(index.files).toHaveLength(12);
    expect(index.files.every((f) => f.count === 10)).toBe(true);
    expect(index.files.filter((f) => f.split === 'test').map((f) => f.writer)).toEqual(['1241-c', '1242-c']);
    expect(index.characters).toEqual(CHARS); // 0xB0A1 to 0xB0A5
    expect(hwdbClasses(index)).toEqual(CHARS);
    expect(hwdbClasses(index, 'gb2312-1')).toHaveLength(3755);
    expect(() => hwdbClasses(index, 'big5')).toThrow(/unknown "big5"/);
  });

  it('holds out whole training writers for validation, never test writers', async () => {
    const index = await indexHwdbFolder(await fixture());
    expect([...validationWriters(index, 0.1)]).toEqual(['1010-c']);
    expect([...validationWriters(index, 0.2)]).toEqual(['1005-c', '1010-c']);
    expect(validationWriters(index, 0).size).toBe(0);
  });
});

describe('HwdbStream', () => {
  it('the shuffle buffer bounds the samples held, whatever the data size, and every sample comes once per epoch', async () => {
    const small = await indexHwdbFolder(await fixture(2));
    const large = await indexHwdbFolder(await fixture(20)); // 10 times the data
    for (const index of [small, large]) {
      const stream = new HwdbStream({ index, classes: CHARS, size: 16, split: 'train', seed: 3, shuffleBuffer: 8, interleave: 3 });
      const seen: string[] = [];
      for await (const item of stream.items(0)) seen.push(key(item));
      const inFileOrder: string[] = [];
      for await (const item of stream.items(null)) inFileOrder.push(key(item));
      expect(seen).toHaveLength(stream.count);
      expect(seen.sort()).toEqual(inFileOrder.sort());
      expect(stream.maxHeld).toBe(8);
    }
    expect(new HwdbStream({ index: large, classes: CHARS, size: 16, split: 'train', seed: 3 }).count).toBe(10 * 100);
  });

  it('shuffles by seed and epoch: the same seed and epoch give the same order, another epoch another', async () => {
    const index = await indexHwdbFolder(await fixture(4));
    const order = async (seed: number, epoch: number) => {
      const keys: string[] = [];
      for await (const item of new HwdbStream({ index, classes: CHARS, size: 16, split: 'train', seed, shuffleBuffer: 16 }).items(epoch)) keys.push(key(item));
      return keys.join('|');
    };
    expect(await order(1, 0)).toBe(await order(1, 0));
    expect(await order(1, 1)).not.toBe(await order(1, 0));
    const inFileOrder: string[] = [];
    for await (const item of new HwdbStream({ index, classes: CHARS, size: 16, split: 'train', seed: 1 }).items(null)) inFileOrder.push(key(item));
    expect((await order(1, 0)).split('|').sort()).toEqual([...inFileOrder].sort());
  });

  it('builds batches on the fly, normalizes by the CJK profile, and applies --limit in file order', async () => {
    const index = await indexHwdbFolder(await fixture());
    const stream = new HwdbStream({ index, classes: CHARS, size: 16, split: 'test', seed: 1, limit: 15 });
    expect(stream.count).toBe(15);
    const batches = [];
    for await (const batch of stream.batches(null, 4)) batches.push(batch);
    expect(batches.map((b) => b.count)).toEqual([4, 4, 4, 3]);
    expect(batches[0]!.xs.length).toBe(4 * 16 * 16);
    expect(Array.from(batches[0]!.labels)).toEqual([0, 1, 2, 3]);
    expect(Math.max(...batches[0]!.xs)).toBe(1);
  });

  it('skips, counts and reports samples it cannot use: blank, a character outside the classes, corrupt', async () => {
    const dir = await tempDir();
    const blank: GntImage = { label: '啊', width: 4, height: 4, pixels: new Uint8Array(16).fill(255) };
    await writeGntFile(join(dir, '1241-c.gnt'), [sample('啊', 1, 0), blank, sample('座', 1, 1), sample('阿', 1, 2)]);
    await writeFile(join(dir, '1242-c.gnt'), new Uint8Array([1, 2, 3]));
    const warnings: string[] = [];
    const index = await indexHwdbFolder(dir, { skipCorrupt: true, onWarning: (line) => warnings.push(line) });
    const stream = new HwdbStream({ index, classes: ['啊', '阿'], size: 8, split: 'test', seed: 1, skipCorrupt: true, onWarning: (line) => warnings.push(line) });
    const labels: number[] = [];
    for await (const item of stream.items(null)) labels.push(item.label);
    expect(labels).toEqual([0, 1]);
    expect(stream.skipped).toBe(2);
    expect(warnings.join('\n')).toMatch(/1241-c\.gnt: sample at byte offset 130 \(啊\) is blank/);
    expect(warnings.join('\n')).toMatch(/1242-c\.gnt: corrupt GNT sample 0 at byte offset 0: truncated header: 3 of 10 bytes before the end of the file; skipped the rest of the file/);
  });
});

describe('openHwdbTraining', () => {
  it('splits by writer: training writers minus validation writers, validation in memory, test writers', async () => {
    const data = await openHwdbTraining({ dir: await fixture(), charset: null, size: 16, seed: 1, validationSplit: 0.1, limit: null });
    expect(data.classes).toEqual(CHARS);
    expect(data.train.count).toBe(90);
    expect(data.validation.count).toBe(10);
    expect(data.validation.images.length).toBe(10 * 16 * 16);
    expect(data.test.count).toBe(20);
    expect(data.description).toMatch(/90 training samples of 9 writers, 10 validation samples of 1 held-out writers, 20 test samples of 2 test writers/);
  });

  it('refuses a folder without test writers, in one line', async () => {
    const dir = await tempDir();
    await writeGntFile(join(dir, '1001-c.gnt'), [sample('啊', 1, 0), sample('阿', 1, 1)]);
    await writeGntFile(join(dir, '1002-c.gnt'), [sample('啊', 2, 0), sample('阿', 2, 1)]);
    await expect(openHwdbTraining({ dir, charset: null, size: 16, seed: 1, validationSplit: 0.1, limit: null })).rejects.toThrow(/no test samples/);
  });
});

/**
 * One GNT sample built byte by byte from the format description (u32 LE size, tag code first byte high, u16 LE
 * width, u16 LE height, pixels): a 12x10 image with one dark row, so the CJK profile finds ink.
 */
function sampleBytes(tag: [number, number], size = 10 + 12 * 10): number[] {
  const pixels = Array.from({ length: 12 * 10 }, (_, i) => (i >= 48 && i < 60 ? 0 : 255));
  return [size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24, tag[0], tag[1], 12, 0, 10, 0, ...pixels];
}
const A: [number, number] = [0xb0, 0xa1]; // 啊
const B: [number, number] = [0xb0, 0xa2]; // 阿
const NOT_GB: [number, number] = [0x41, 0x42]; // "AB": two ASCII letters, not one two-byte character

/** A folder of byte-built GNT files: training writers 1001-1003, test writer 1241, and `extra` files by name. */
async function corruptFixture(extra: Record<string, number[][]>): Promise<string> {
  const dir = await tempDir();
  for (const writer of ['1001-c', '1002-c', '1003-c', '1241-c']) await writeFile(join(dir, `${writer}.gnt`), new Uint8Array([A, B, A, B].flatMap((tag) => sampleBytes(tag))));
  for (const [name, samples] of Object.entries(extra)) await writeFile(join(dir, name), new Uint8Array(samples.flat()));
  return dir;
}

async function codeAndMessage(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isHwrError(error), `expected an HwrError, got ${String(error)}`).toBe(true);
  return error as { code: string; message: string };
}

describe('corrupt samples: an error by default, --skip-corrupt to warn and go on', () => {
  // 1242-c: a sample whose pixels stop half-way (the file ends); 1004-c: a tag code that is no character, then a
  // sound sample; 1005-c: a size field that disagrees with the sides (the framing is lost).
  const truncated = { '1242-c.gnt': [sampleBytes(A), sampleBytes(B).slice(0, 70)] };
  const badTag = { '1004-c.gnt': [sampleBytes(A), sampleBytes(NOT_GB), sampleBytes(B)] };
  const badSize = { '1005-c.gnt': [sampleBytes(A), sampleBytes(B, 999), sampleBytes(A)] };

  it('the index scan refuses a truncated sample, naming the file, the sample and its byte offset, in one line', async () => {
    const dir = await corruptFixture(truncated);
    const error = await codeAndMessage(indexHwdbFolder(dir));
    expect(error.code).toBe('CORRUPT_GNT');
    expect(error.message).toBe(`${join(dir, '1242-c.gnt')}: corrupt GNT sample 1 at byte offset 130: truncated pixels: 12x10 needs 120 bytes, the file has 60 (--skip-corrupt to skip corrupt samples with a warning)`);
    expect(error.message).not.toContain('\n');
  });

  it('the index scan refuses an undecodable tag code and a broken size field, at their byte offsets', async () => {
    const tag = await codeAndMessage(indexHwdbFolder(await corruptFixture(badTag)));
    expect(tag.message).toMatch(/1004-c\.gnt: corrupt GNT sample 1 at byte offset 130: tag code 0x4142 is not a GB18030 two-byte character/);
    const size = await codeAndMessage(indexHwdbFolder(await corruptFixture(badSize)));
    expect(size.message).toMatch(/1005-c\.gnt: corrupt GNT sample 1 at byte offset 130: size field 999 does not match 10 \+ width 12 x height 10 = 130/);
  });

  it('openHwdbTraining fails before reading any pixel; with skipCorrupt it reports each sample once, then the count', async () => {
    const dir = await corruptFixture({ ...truncated, ...badTag });
    expect((await codeAndMessage(openHwdbTraining({ dir, charset: null, size: 16, seed: 1, validationSplit: 0, limit: null }))).code).toBe('CORRUPT_GNT');
    const warnings: string[] = [];
    const data = await openHwdbTraining({ dir, charset: null, size: 16, seed: 1, validationSplit: 0, limit: null, skipCorrupt: true, onWarning: (line) => warnings.push(line) });
    expect(warnings).toEqual([
      `${join(dir, '1004-c.gnt')}: corrupt GNT sample 1 at byte offset 130: tag code 0x4142 is not a GB18030 two-byte character; skipped it`,
      `${join(dir, '1242-c.gnt')}: corrupt GNT sample 1 at byte offset 130: truncated pixels: 12x10 needs 120 bytes, the file has 60; skipped the rest of the file`,
      `${dir}: 2 corrupt samples skipped (--skip-corrupt)`,
    ]);
    expect(data.index.corrupt).toBe(2);
    expect(data.train.count).toBe(4 * 3 + 2); // the sound samples only: 1004-c keeps 2 of 3
    expect(data.test.count).toBe(4 + 1);
    expect(data.description).toMatch(/2 corrupt samples skipped/);
    // Two epochs of training and one test pass: every sound sample comes, the corrupt ones are counted but not reported again.
    for (const epoch of [0, 1]) {
      let n = 0;
      for await (const batch of data.train.batches(epoch, 4)) n += batch.count;
      expect(n).toBe(14);
    }
    let tested = 0;
    for await (const batch of data.test.batches(null, 4)) tested += batch.count;
    expect(tested).toBe(5);
    expect(data.train.corrupt).toBe(2); // 1004-c's sample, once per epoch
    expect(data.test.corrupt).toBe(1);
    expect(warnings).toHaveLength(3);
  });

  it('with skipCorrupt, a sample after a sound-framed corrupt one is read; after a broken framing the file rest is skipped', async () => {
    const dir = await corruptFixture({ ...badTag, ...badSize });
    const warnings: string[] = [];
    const index = await indexHwdbFolder(dir, { skipCorrupt: true, onWarning: (line) => warnings.push(line) });
    expect(Object.fromEntries(index.files.map((f) => [f.writer, [f.count, f.corruptOffsets]]))).toMatchObject({ '1004-c': [2, [130]], '1005-c': [1, [130]] });
    expect(warnings[1]).toMatch(/1005-c\.gnt: corrupt GNT sample 1 at byte offset 130: size field 999 .*; skipped the rest of the file$/);
    const labels: number[] = [];
    const stream = new HwdbStream({ index, classes: ['啊', '阿'], size: 16, split: 'train', only: new Set(['1004-c', '1005-c']), seed: 1, skipCorrupt: true, onWarning: (line) => warnings.push(line) });
    for await (const item of stream.items(null)) labels.push(item.label);
    expect(labels).toEqual([0, 1, 0]);
    expect([stream.skipped, stream.corrupt]).toEqual([2, 2]);
    expect(warnings).toHaveLength(2); // the index reported both; the stream does not repeat them
  });

  it('a stream that was not told to skip throws at a corrupt sample the index did not see (a file changed since)', async () => {
    const dir = await corruptFixture({});
    const index = await indexHwdbFolder(dir);
    await writeFile(join(dir, '1241-c.gnt'), new Uint8Array([...sampleBytes(A), ...sampleBytes(NOT_GB)]));
    const stream = new HwdbStream({ index, classes: ['啊', '阿'], size: 16, split: 'test', seed: 1 });
    const error = await codeAndMessage((async () => { for await (const _ of stream.items(null)); })());
    expect(error.message).toMatch(/1241-c\.gnt: corrupt GNT sample 1 at byte offset 130: tag code 0x4142/);
  });

  it('indexes only one split when asked (hwr evaluate reads the test writers; a corrupt training file does not stop it)', async () => {
    const dir = await corruptFixture(badSize);
    const index = await indexHwdbFolder(dir, { split: 'test' });
    expect(index.files.map((f) => f.writer)).toEqual(['1241-c']);
    expect((await codeAndMessage(indexHwdbFolder(dir))).code).toBe('CORRUPT_GNT');
  });

  it.skipIf(!existsSync('/proc/self/fd'))('an abandoned batches() generator holds no open file (no "Closing file descriptor on garbage collection")', async () => {
    const dir = await corruptFixture({});
    const openInDir = async () => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(dir)) n++;
      }
      return n;
    };
    const stream = new HwdbStream({ index: await indexHwdbFolder(dir), classes: ['啊', '阿'], size: 16, split: 'train', seed: 1, shuffleBuffer: 2, interleave: 3 });
    const batches = stream.batches(0, 2);
    expect((await batches.next()).value.count).toBe(2);
    // Dropped mid-pass, without return(): nothing of it may stay open.
    expect(await openInDir()).toBe(0);
    const inFileOrder = stream.batches(null, 3);
    await inFileOrder.next();
    expect(await openInDir()).toBe(0);
  });
});

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGntSample, listGntFiles, readGntFile, readGntFolder, splitOfWriter, writeGntFile, type GntImage, type GntSample } from '../../src/data/gnt.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('gnt');

/**
 * One GNT sample built byte by byte from the format description (not with the module under test):
 * u32 LE size, tag code first byte high, u16 LE width, u16 LE height, pixels.
 */
function sampleBytes(tag: [number, number], width: number, height: number, pixels: number[], size = 10 + width * height): number[] {
  return [
    size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24,
    tag[0], tag[1],
    width & 0xff, width >>> 8,
    height & 0xff, height >>> 8,
    ...pixels,
  ];
}

// 啊 is GB 0xB0A1, 阿 0xB0A2, 座 0xD7F9 (the last level-1 character).
const a = sampleBytes([0xb0, 0xa1], 3, 2, [255, 0, 255, 10, 20, 30]);
const b = sampleBytes([0xb0, 0xa2], 1, 1, [128]);
const c = sampleBytes([0xd7, 0xf9], 2, 3, [1, 2, 3, 4, 5, 6]);

async function fixture(name: string, ...samples: number[][]): Promise<string> {
  const path = join(await tempDir(), name);
  await writeFile(path, new Uint8Array(samples.flat()));
  return path;
}

async function collect(iterable: AsyncIterable<GntSample>): Promise<GntSample[]> {
  const out: GntSample[] = [];
  for await (const sample of iterable) out.push(sample);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, 'expected a rejection').toBeInstanceOf(Error);
  return error as Error & { code?: string };
}

describe('readGntFile', () => {
  it('reads byte-built samples: label, size, pixels, writer, file and offset', async () => {
    const path = await fixture('1001-c.gnt', a, b, c);
    const samples = await collect(readGntFile(path));
    expect(samples.map((s) => s.label)).toEqual(['啊', '阿', '座']);
    expect(samples.map((s) => s.tagCode)).toEqual([0xb0a1, 0xb0a2, 0xd7f9]);
    expect(samples.map((s) => [s.width, s.height])).toEqual([[3, 2], [1, 1], [2, 3]]);
    expect(Array.from(samples[0]!.pixels)).toEqual([255, 0, 255, 10, 20, 30]);
    expect(Array.from(samples[2]!.pixels)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(samples.map((s) => s.offset)).toEqual([0, 16, 27]);
    expect(samples.every((s) => s.writer === '1001-c' && s.file === path)).toBe(true);
  });

  it('streams through a read buffer smaller than a sample and gives each sample its own pixels', async () => {
    const big = sampleBytes([0xb0, 0xa1], 40, 30, Array.from({ length: 1200 }, (_, i) => i % 251));
    const path = await fixture('w.gnt', big, b, big);
    const samples = await collect(readGntFile(path, { bufferBytes: 64 }));
    expect(samples.map((s) => s.offset)).toEqual([0, 1210, 1221]);
    expect(Array.from(samples[0]!.pixels)).toEqual(big.slice(10));
    expect(Array.from(samples[2]!.pixels)).toEqual(big.slice(10));
    expect(samples[0]!.pixels.buffer).not.toBe(samples[2]!.pixels.buffer);
  });

  it('reads an empty file as no samples', async () => {
    expect(await collect(readGntFile(await fixture('empty.gnt')))).toEqual([]);
  });

  it('names the file and the byte offset of a truncated header', async () => {
    const path = await fixture('t.gnt', a, b.slice(0, 7));
    const error = await rejection(collect(readGntFile(path)));
    expect(error.code).toBe('CORRUPT_GNT');
    expect(error.message).toBe(`${path}: corrupt GNT sample 1 at byte offset 16: truncated header: 7 of 10 bytes before the end of the file`);
  });

  it('names the file and the byte offset of truncated pixels', async () => {
    const path = await fixture('t.gnt', a, b, c.slice(0, 13));
    const error = await rejection(collect(readGntFile(path)));
    expect(error.code).toBe('CORRUPT_GNT');
    expect(error.message).toMatch(/t\.gnt: corrupt GNT sample 2 at byte offset 27: truncated pixels: 2x3 needs 6 bytes, the file has 3$/);
  });

  it('rejects a size field that disagrees with width x height', async () => {
    const path = await fixture('s.gnt', a, sampleBytes([0xb0, 0xa2], 1, 1, [128], 99));
    const error = await rejection(collect(readGntFile(path)));
    expect(error.message).toMatch(/s\.gnt: corrupt GNT sample 1 at byte offset 16: size field 99 does not match 10 \+ width 1 x height 1 = 11/);
  });

  it('rejects an undecodable tag code and a zero-sized image', async () => {
    const badTag = await fixture('g.gnt', sampleBytes([0xff, 0xff], 1, 1, [0]));
    expect((await rejection(collect(readGntFile(badTag)))).message).toMatch(/offset 0: tag code 0xffff is not a GB18030 two-byte character/);
    const empty = await fixture('z.gnt', sampleBytes([0xb0, 0xa1], 0, 5, []));
    expect((await rejection(collect(readGntFile(empty)))).message).toMatch(/offset 0: empty image \(0x5\)/);
  });

  it('does not allocate what a garbage size field declares: a huge sample past the end is "truncated"', async () => {
    const path = await fixture('h.gnt', sampleBytes([0xb0, 0xa1], 65535, 65535, [1, 2, 3], 10 + 65535 * 65535));
    expect((await rejection(collect(readGntFile(path)))).message).toMatch(/truncated pixels: 65535x65535 needs 4294836225 bytes, the file has 3/);
  });

  it('with skipCorrupt, skips a bad sample whose framing is sound and the rest of a file whose framing is not', async () => {
    const warnings: string[] = [];
    const badTag = sampleBytes([0xff, 0xff], 1, 1, [0]);
    const resumable = await fixture('r.gnt', a, badTag, c);
    const read = await collect(readGntFile(resumable, { skipCorrupt: true, onWarning: (m) => warnings.push(m) }));
    expect(read.map((s) => s.label)).toEqual(['啊', '座']);
    expect(warnings).toEqual([`${resumable}: corrupt GNT sample 1 at byte offset 16: tag code 0xffff is not a GB18030 two-byte character; skipped it`]);

    warnings.length = 0;
    const broken = await fixture('x.gnt', a, sampleBytes([0xb0, 0xa2], 1, 1, [128], 5), c);
    const rest = await collect(readGntFile(broken, { skipCorrupt: true, onWarning: (m) => warnings.push(m) }));
    expect(rest.map((s) => s.label)).toEqual(['啊']);
    expect(warnings[0]).toMatch(/x\.gnt: corrupt GNT sample 1 at byte offset 16: size field 5 .*; skipped the rest of the file$/);
  });

  it('says which file is missing', async () => {
    const error = await rejection(collect(readGntFile(join(await tempDir(), 'nope.gnt'))));
    expect(error.code).toBe('FILE_NOT_FOUND');
    expect(error.message).toMatch(/nope\.gnt: no such file/);
  });
});

describe('writeGntFile', () => {
  const images: GntImage[] = [
    { label: '啊', width: 3, height: 2, pixels: new Uint8Array([255, 0, 255, 10, 20, 30]) },
    { label: '阿', width: 1, height: 1, pixels: new Uint8Array([128]) },
    { label: '座', width: 2, height: 3, pixels: new Uint8Array([1, 2, 3, 4, 5, 6]) },
  ];

  it('writes exactly the bytes of the format description', async () => {
    const path = join(await tempDir(), 'out', '1241-c.gnt');
    expect(await writeGntFile(path, images)).toEqual({ count: 3, bytes: a.length + b.length + c.length });
    expect(Array.from(await readFile(path))).toEqual([...a, ...b, ...c]);
  });

  it('round-trips through the reader, from an async source too', async () => {
    const path = join(await tempDir(), 'w.gnt');
    async function* generate(): AsyncGenerator<GntImage> {
      yield* images;
    }
    await writeGntFile(path, generate());
    const read = await collect(readGntFile(path));
    expect(read.map(({ label, width, height, pixels }) => ({ label, width, height, pixels }))).toEqual(images);
  });

  it('leaves no file and no temporary file when a sample cannot be encoded', async () => {
    const dir = await tempDir();
    const bad = [images[0]!, { label: 'A', width: 1, height: 1, pixels: new Uint8Array([0]) }];
    const error = await rejection(writeGntFile(join(dir, 'bad.gnt'), bad));
    expect(error.code).toBe('BAD_ARGUMENT');
    expect(error.message).toMatch(/GNT sample "A": the label has no two-byte GBK code/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('checks sizes when encoding', () => {
    expect(() => encodeGntSample({ label: '啊', width: 2, height: 2, pixels: new Uint8Array(3) })).toThrow(/2x2 needs 4 pixels, got 3/);
    expect(() => encodeGntSample({ label: '啊', width: 70000, height: 1, pixels: new Uint8Array(70000) })).toThrow(/width 70000 is not an integer in 1-65535/);
  });
});

describe('writers and splits', () => {
  it("follows HWDB1.1's convention: 1001-1240 train, 1241-1300 test", () => {
    expect(['1001-c', '1240-c', '1241-c', '1300-c', '1300'].map(splitOfWriter)).toEqual(['train', 'train', 'test', 'test', 'test']);
  });

  it('splits other writers by a stable hash, about one in five to test', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `synth-s1-w${String(i).padStart(4, '0')}`);
    const tests = names.filter((n) => splitOfWriter(n) === 'test').length;
    expect(tests).toBeGreaterThan(150);
    expect(tests).toBeLessThan(250);
    expect(names.map(splitOfWriter)).toEqual(names.map(splitOfWriter));
  });

  it('reads a folder by split, writer by writer, never mixing a writer into both halves', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '1001-c.gnt'), new Uint8Array(a));
    await writeFile(join(dir, '1241-c.gnt'), new Uint8Array([...b, ...c]));
    await writeFile(join(dir, 'notes.txt'), 'not a gnt file');
    expect((await listGntFiles(dir)).map((f) => [f.writer, f.split])).toEqual([['1001-c', 'train'], ['1241-c', 'test']]);
    expect((await collect(readGntFolder(dir, { split: 'train' }))).map((s) => s.label)).toEqual(['啊']);
    expect((await collect(readGntFolder(dir, { split: 'test' }))).map((s) => `${s.writer}:${s.label}`)).toEqual(['1241-c:阿', '1241-c:座']);
    expect(await collect(readGntFolder(dir))).toHaveLength(3);
  });

  it('says when a folder has no .gnt files', async () => {
    const error = await rejection(collect(readGntFolder(await tempDir())));
    expect(error.code).toBe('FILE_NOT_FOUND');
    expect(error.message).toMatch(/no \.gnt files/);
  });
});

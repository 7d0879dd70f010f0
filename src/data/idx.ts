/**
 * Reader for the IDX file format of MNIST and its relatives (EMNIST, Fashion-MNIST, KMNIST).
 *
 * Format (Y. LeCun, C. Cortes, C. Burges, "THE MNIST DATABASE of handwritten digits",
 * yann.lecun.com/exdb/mnist, section "FILE FORMATS FOR THE MNIST DATABASE"):
 *
 *   byte 0-1  0x00 0x00
 *   byte 2    type code: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte 3    number of dimensions
 *   then      one big-endian int32 per dimension (its size)
 *   then      the data, row-major (last dimension changes fastest), big-endian for multi-byte types
 *
 * Label files have magic 0x00000801 (2049: uint8, 1 dim), image files 0x00000803 (2051: uint8, 3 dims).
 *
 * This module imports nothing Node-only, so it runs in the browser as well. Parsing is synchronous and
 * does not decompress: gzip-compressed bytes (`.gz` files, which is how most mirrors ship IDX) are
 * rejected with a clear error. Decompress first: in Node `readIdxFile` in `src/data/mnist.ts` does it
 * with `node:zlib`; in the browser (or anywhere) `gunzip` below uses the standard `DecompressionStream`.
 */

import { hwrError } from '../core/errors.ts';

/** Magic number of an IDX label file: uint8 data, 1 dimension `[count]`. */
export const IDX_MAGIC_LABELS = 0x00000801;

/** Magic number of an IDX image file: uint8 data, 3 dimensions `[count, rows, cols]`. */
export const IDX_MAGIC_IMAGES = 0x00000803;

/** Names of the IDX type codes, for error messages. Only 0x08 (uint8) is supported. */
const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/**
 * Encodes unsigned bytes as an IDX file (the inverse of `parseIdx` for type 0x08): magic `0x0800 + dims.length`,
 * one big-endian int32 per dimension, then the data.
 * @param data row-major bytes, `product(dims)` of them
 * @param dims the sizes, e.g. `[count, 28, 28]` for images or `[count]` for labels
 * @returns the file's bytes
 * @throws HwrError `BAD_ARGUMENT` when `data.length` is not the product of `dims` or a size is not an integer >= 0
 */
export function encodeIdx(data: Uint8Array, dims: readonly number[]): Uint8Array {
  if (dims.length < 1 || dims.length > 255 || dims.some((d) => !Number.isInteger(d) || d < 0 || d > 0x7fffffff)) {
    throw hwrError('BAD_ARGUMENT', `encodeIdx: expected 1-255 sizes, each an integer >= 0, got [${dims.join(', ')}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw hwrError('BAD_ARGUMENT', `encodeIdx: expected ${count} bytes for [${dims.join(', ')}], got ${data.length}`);
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, 0x0800 + dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const bytes = new Uint8Array(header.byteLength + data.length);
  bytes.set(new Uint8Array(header.buffer), 0);
  bytes.set(data, header.byteLength);
  return bytes;
}

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  /** Dimension sizes from the header, outermost first, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /**
   * The data, row-major, `product(dims)` bytes: a view into the input bytes (no copy),
   * so it shares their buffer and its `byteOffset` is the header length.
   */
  data: Uint8Array;
}

/** The contents of an IDX image file. */
export interface IdxImages {
  /** Number of images. */
  count: number;
  /** Image height in px (28 for MNIST). */
  rows: number;
  /** Image width in px (28 for MNIST). */
  cols: number;
  /**
   * `[count, rows, cols]` uint8, row-major, top row first; for MNIST 0 = background, 255 = ink.
   * A view into the input bytes (no copy).
   */
  pixels: Uint8Array;
}

/** The contents of an IDX label file. */
export interface IdxLabels {
  /** Number of labels. */
  count: number;
  /** `[count]` uint8 class indices (0-9 for MNIST). A view into the input bytes (no copy). */
  labels: Uint8Array;
}

/** True when `bytes` start with the gzip magic number 1f 8b (RFC 1952, section 2.3.1). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip bytes with the standard `DecompressionStream` (browsers, Node >= 18, Deno),
 * so it needs no dependency. Bytes that are not gzip are returned unchanged.
 *
 * @param bytes  file contents, gzip-compressed or not
 * @param name   file name or URL, used in error messages
 * @returns the decompressed bytes
 * @throws HwrError `CORRUPT_IDX` when the gzip stream is damaged or truncated
 */
export async function gunzip(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw hwrError('CORRUPT_IDX', `${name}: cannot decompress gzip data (${(error as Error).message})`, error);
  }
}

/**
 * Parses an IDX file of unsigned bytes (type code 0x08), whatever its number of dimensions.
 *
 * @param bytes  the whole file, uncompressed
 * @param name   file name, used in error messages
 * @returns the dimension sizes and a view of the data (no copy)
 * @throws HwrError `CORRUPT_IDX` (message starts with `name`) when: the bytes are gzip-compressed;
 *   the file is shorter than its header; the first two bytes are not zero; the type code is not 0x08;
 *   there are no dimensions; a dimension size is negative; or the data length differs from
 *   `product(dims)` ("truncated: expected N bytes of data, found M", or "M bytes after the data").
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (isGzip(bytes)) {
    throw hwrError('CORRUPT_IDX', `${name}: gzip-compressed; decompress it first (gunzip() or readIdxFile())`);
  }
  if (bytes.length < 4) {
    throw hwrError('CORRUPT_IDX', `${name}: ${bytes.length} bytes, too short for the 4-byte IDX magic number`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw hwrError('CORRUPT_IDX', `${name}: not an IDX file (magic number ${hex(bytes, 0, 4)} does not start with 00 00)`);
  }
  const typeCode = bytes[2]!;
  if (typeCode !== 0x08) {
    const typeName = TYPE_NAMES[typeCode];
    throw hwrError(
      'CORRUPT_IDX',
      typeName === undefined
        ? `${name}: unknown IDX type code 0x${typeCode.toString(16).padStart(2, '0')}`
        : `${name}: IDX type code 0x${typeCode.toString(16).padStart(2, '0')} (${typeName}) is not supported; only 0x08 (unsigned byte)`,
    );
  }
  const rank = bytes[3]!;
  if (rank === 0) throw hwrError('CORRUPT_IDX', `${name}: IDX header declares 0 dimensions`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw hwrError(
      'CORRUPT_IDX',
      `${name}: truncated header: ${rank} dimensions need ${headerLength} header bytes, found ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let expected = 1;
  for (let i = 0; i < rank; i++) {
    const size = view.getInt32(4 + 4 * i, false);
    if (size < 0) throw hwrError('CORRUPT_IDX', `${name}: dimension ${i} has negative size ${size}`);
    dims.push(size);
    expected *= size;
  }
  const found = bytes.length - headerLength;
  if (found < expected) {
    throw hwrError('CORRUPT_IDX', `${name}: truncated: expected ${expected} bytes of data, found ${found}`);
  }
  if (found > expected) {
    throw hwrError(
      'CORRUPT_IDX',
      `${name}: ${found - expected} unexpected bytes after the data (dims [${dims.join(', ')}] need ${expected} bytes, found ${found})`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/**
 * Parses an IDX image file: magic 0x00000803 (2051), dims `[count, rows, cols]`.
 *
 * @param bytes  the whole file, uncompressed
 * @param name   file name, used in error messages
 * @returns count, rows, cols and the `[count, rows, cols]` uint8 pixels (a view, no copy)
 * @throws HwrError `CORRUPT_IDX` for everything `parseIdx` rejects, and when the magic number is not 2051
 */
export function parseIdxImages(bytes: Uint8Array, name: string): IdxImages {
  expectMagic(bytes, name, IDX_MAGIC_IMAGES, 'image');
  const { dims, data } = parseIdx(bytes, name);
  return { count: dims[0]!, rows: dims[1]!, cols: dims[2]!, pixels: data };
}

/**
 * Parses an IDX label file: magic 0x00000801 (2049), dims `[count]`.
 *
 * @param bytes  the whole file, uncompressed
 * @param name   file name, used in error messages
 * @returns count and the `[count]` uint8 labels (a view, no copy)
 * @throws HwrError `CORRUPT_IDX` for everything `parseIdx` rejects, and when the magic number is not 2049
 */
export function parseIdxLabels(bytes: Uint8Array, name: string): IdxLabels {
  expectMagic(bytes, name, IDX_MAGIC_LABELS, 'label');
  const { dims, data } = parseIdx(bytes, name);
  return { count: dims[0]!, labels: data };
}

/** Throws unless `bytes` start with `magic`; gzip gets parseIdx's clearer message. */
function expectMagic(bytes: Uint8Array, name: string, magic: number, kind: string): void {
  if (isGzip(bytes)) parseIdx(bytes, name);
  const found = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false) : -1;
  if (found !== magic) {
    const what = found === -1 ? `${bytes.length} bytes, too short for a magic number` : `magic number ${found} (${hex(bytes, 0, 4)})`;
    throw hwrError('CORRUPT_IDX', `${name}: not an IDX ${kind} file: ${what}, expected ${magic} (0x${magic.toString(16).padStart(8, '0')})`);
  }
}

/** `bytes[start..end)` as space-separated hex pairs, e.g. `00 00 08 03`. */
function hex(bytes: Uint8Array, start: number, end: number): string {
  return Array.from(bytes.subarray(start, end), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Converts uint8 pixels (0 = background, 255 = ink, as IDX image files store them) to float32 in [0, 1],
 * the model input scale. Same length and layout as the input (e.g. `[count, rows, cols]`).
 */
export function toUnitFloat(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255;
  return out;
}

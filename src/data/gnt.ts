/**
 * Reader and writer for CASIA's GNT format: the offline isolated-character files of HWDB1.0-1.2 and the
 * ICDAR 2013 competition (C.-L. Liu, F. Yin, D.-H. Wang, Q.-F. Wang, "CASIA Online and Offline Chinese
 * Handwriting Databases", ICDAR 2011; format as described on CASIA's database page).
 *
 * A `.gnt` file is samples back to back, no file header. One sample:
 *
 *   bytes 0-3   sample size in bytes, uint32 little-endian, header included (= 10 + width * height)
 *   bytes 4-5   tag code: the character's GB2312/GBK code, first byte high (0xB0A1 is 啊)
 *   bytes 6-7   width in px, uint16 little-endian
 *   bytes 8-9   height in px, uint16 little-endian
 *   then        width * height bytes of gray, row-major, top row first; 255 is background (paper)
 *
 * One file holds one writer's samples, and the file name (without `.gnt`) names the writer: HWDB1.1 has
 * writers 1001-1300 (`1001-c.gnt`, ...), 1001-1240 for training and 1241-1300 for testing. Data is split by
 * writer, never by sample, so no test writer's style is seen in training (`splitOfWriter`).
 *
 * Reading streams sample by sample through a bounded buffer: a file is never read whole, and no file stays open
 * between samples.
 * Writing is atomic (a temporary file in the same folder, fsync, rename). Node-only (node:fs).
 */

import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hwrError, isHwrError } from '../core/errors.ts';
import { writeFileAtomicWith } from '../node/files.ts';
import { decodeGbCode, gbCodeOf } from './charset.ts';

/** Bytes of a GNT sample header: size (4), tag code (2), width (2), height (2). */
export const GNT_HEADER_BYTES = 10;

/** The fields of a GNT sample header, as stored (nothing checked). */
export interface GntHeader {
  /** The size field: bytes of the whole sample, header included (sound when `10 + width * height`). */
  size: number;
  /** GB code of the character, first byte high. */
  tagCode: number;
  width: number;
  height: number;
}

/**
 * Decodes a sample header (little-endian sizes, the tag code's bytes in file order).
 * @param header at least `GNT_HEADER_BYTES` bytes; only the first 10 are read
 */
export function parseGntHeader(header: Uint8Array): GntHeader {
  const view = new DataView(header.buffer, header.byteOffset, GNT_HEADER_BYTES);
  return { size: view.getUint32(0, true), tagCode: header[4]! * 256 + header[5]!, width: view.getUint16(6, true), height: view.getUint16(8, true) };
}

/** One character image as a GNT file stores it. */
export interface GntImage {
  /** The character, e.g. `啊`. */
  label: string;
  /** Width in px, 1-65535. */
  width: number;
  /** Height in px, 1-65535. */
  height: number;
  /** `[height, width]` uint8 gray, row-major, top row first; 255 = background (paper), darker = ink. */
  pixels: Uint8Array;
}

/** One sample read from a GNT file, with where it came from. */
export interface GntSample extends GntImage {
  /** The raw two-byte tag code, first byte high (0xB0A1 for 啊). */
  tagCode: number;
  /** The writer: the file name without `.gnt`, e.g. `1001-c`. */
  writer: string;
  /** Path of the file, as given to the reader. */
  file: string;
  /** Byte offset of the sample's first byte (its size field) in the file. */
  offset: number;
}

/** Options of the GNT readers. */
export interface ReadGntOptions {
  /**
   * When true, a corrupt sample is reported to `onWarning` and reading goes on: at the next sample when the
   * sample's framing (its size field) is consistent, otherwise (or for a truncated sample) with the next file.
   * Default false: the first corrupt sample throws.
   */
  skipCorrupt?: boolean;
  /**
   * Receives one line per skipped sample or file rest (with `skipCorrupt`), and the byte offset of that sample.
   * Default: nothing.
   */
  onWarning?: (message: string, offset: number) => void;
  /** Read buffer size in bytes (>= 64 KiB is sensible). A larger sample gets a buffer of its own. Default 1 MiB. */
  bufferBytes?: number;
}

/** Which half of a writer-split a writer belongs to. */
export type WriterSplit = 'train' | 'test';

/** Options of `readGntFolder`. */
export interface ReadGntFolderOptions extends ReadGntOptions {
  /** Read only the writers of this half (`splitOfWriter`), or all. Default `all`. */
  split?: WriterSplit | 'all';
}

/**
 * The split a writer belongs to. HWDB1.1's convention for writer numbers 1001-1300 (the leading number of the
 * file name, as in `1001-c`): 1001-1240 train, 1241-1300 test. Any other name (synthetic writers, other
 * databases) is assigned by a stable hash (FNV-1a, 32 bits) of the name: test when the hash modulo 5 is 0, about
 * 20% of writers, the same proportion as HWDB1.1 (60 of 300).
 *
 * @param writer  the file name without `.gnt`
 */
export function splitOfWriter(writer: string): WriterSplit {
  const number = /^(\d+)/.exec(writer);
  if (number) {
    const n = Number(number[1]);
    if (n >= 1001 && n <= 1240) return 'train';
    if (n >= 1241 && n <= 1300) return 'test';
  }
  let hash = 0x811c9dc5;
  for (let i = 0; i < writer.length; i++) {
    hash ^= writer.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 5 === 0 ? 'test' : 'train';
}

/** The writer named by a GNT file path: its base name without `.gnt` (any case). */
export function writerOfFile(path: string): string {
  return basename(path).replace(/\.gnt$/i, '');
}

/**
 * Encodes one sample in GNT form.
 *
 * @returns `10 + width * height` bytes
 * @throws HwrError `BAD_ARGUMENT` when the label has no two-byte GBK code, a side is not an integer in
 *   1-65535, or `pixels` is not `width * height` bytes
 */
export function encodeGntSample(image: GntImage): Uint8Array {
  const { label, width, height, pixels } = image;
  const code = gbCodeOf(label);
  if (code === undefined) throw hwrError('BAD_ARGUMENT', `GNT sample "${label}": the label has no two-byte GBK code`);
  for (const [name, side] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(side) || side < 1 || side > 0xffff) {
      throw hwrError('BAD_ARGUMENT', `GNT sample "${label}": ${name} ${side} is not an integer in 1-65535`);
    }
  }
  if (pixels.length !== width * height) {
    throw hwrError('BAD_ARGUMENT', `GNT sample "${label}": ${width}x${height} needs ${width * height} pixels, got ${pixels.length}`);
  }
  const bytes = new Uint8Array(GNT_HEADER_BYTES + pixels.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  bytes[4] = code >>> 8;
  bytes[5] = code & 0xff;
  view.setUint16(6, width, true);
  view.setUint16(8, height, true);
  bytes.set(pixels, GNT_HEADER_BYTES);
  return bytes;
}

/**
 * Writes samples to a GNT file atomically: they stream into `.<name>.<random>.tmp` in the same folder
 * (buffered, so memory stays bounded whatever the count), which is fsynced and renamed over `path` at the end.
 * On any error the temporary file is removed and `path` is left as it was. Creates the folder if missing.
 *
 * @param path     destination, e.g. `out/1001-c.gnt` (the base name is the writer)
 * @param samples  images in file order, sync or async iterable
 * @returns the number of samples written and the file size in bytes
 * @throws HwrError `BAD_ARGUMENT` from `encodeGntSample`; Node's file errors
 */
export async function writeGntFile(path: string, samples: Iterable<GntImage> | AsyncIterable<GntImage>): Promise<{ count: number; bytes: number }> {
  const chunkBytes = 1 << 20;
  return writeFileAtomicWith(path, async (handle) => {
    let count = 0;
    let bytes = 0;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      await handle.write(Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    for await (const sample of samples) {
      const encoded = encodeGntSample(sample);
      pending.push(encoded);
      pendingBytes += encoded.length;
      bytes += encoded.length;
      count++;
      if (pendingBytes >= chunkBytes) await flush();
    }
    await flush();
    return { count, bytes };
  });
}

/**
 * Reads forward through a file with one reusable buffer; `take(n)` returns a view valid until the next call.
 * The file is opened for each refill of the buffer and closed in the same call (in a `finally`), so no handle is
 * held between calls: a reader, or a generator built on it, may be dropped at any point without leaking a file
 * descriptor to the garbage collector. One open per `bufferBytes` read costs nothing next to the read itself.
 */
class BufferedFileReader {
  private buffer: Uint8Array;
  private start = 0;
  private end = 0;
  /** File position of `buffer[end]`. */
  private filePosition = 0;

  constructor(
    private readonly path: string,
    bufferBytes: number,
  ) {
    this.buffer = new Uint8Array(bufferBytes);
  }

  /** File offset of the next unread byte. */
  get position(): number {
    return this.filePosition - (this.end - this.start);
  }

  /** Moves to a later file offset, dropping buffered bytes before it. */
  skipTo(offset: number): void {
    const ahead = offset - this.position;
    if (ahead <= this.end - this.start) {
      this.start += ahead;
    } else {
      this.start = this.end = 0;
      this.filePosition = offset;
    }
  }

  /** Up to `n` bytes (fewer only at the end of the file), as a view into the buffer. */
  async take(n: number): Promise<Uint8Array> {
    if (this.end - this.start < n) {
      if (n > this.buffer.length) {
        const bigger = new Uint8Array(n);
        bigger.set(this.buffer.subarray(this.start, this.end));
        this.buffer = bigger;
      } else {
        this.buffer.copyWithin(0, this.start, this.end);
      }
      this.end -= this.start;
      this.start = 0;
      const handle = await open(this.path, 'r');
      try {
        while (this.end < n) {
          const { bytesRead } = await handle.read(this.buffer, this.end, this.buffer.length - this.end, this.filePosition);
          if (bytesRead === 0) break;
          this.end += bytesRead;
          this.filePosition += bytesRead;
        }
      } finally {
        await handle.close();
      }
    }
    const length = Math.min(n, this.end - this.start);
    const view = this.buffer.subarray(this.start, this.start + length);
    this.start += length;
    return view;
  }
}

/** What is wrong with a sample, and whether the samples after it can still be found (`resumable`). */
export interface GntSampleProblem {
  reason: string;
  /**
   * True when the sample's framing is sound (its size field matches its sides and it lies inside the file), so the
   * next sample starts at `offset + size`; false when the rest of the file cannot be trusted.
   */
  resumable: boolean;
}

/**
 * Checks one sample from its header alone, as the reader and the header-only index scan both do: a whole header;
 * a size field equal to `10 + width * height`; width and height >= 1; the whole sample inside the file; a tag code
 * that decodes to one character (GB18030).
 *
 * @param header     the bytes at `offset` (fewer than 10 when the file ends there)
 * @param offset     byte offset of the sample in the file
 * @param fileBytes  size of the file in bytes
 * @returns null for a sound sample
 */
export function gntSampleProblem(header: Uint8Array, offset: number, fileBytes: number): GntSampleProblem | null {
  if (header.length < GNT_HEADER_BYTES) {
    return { reason: `truncated header: ${header.length} of ${GNT_HEADER_BYTES} bytes before the end of the file`, resumable: false };
  }
  const { size, tagCode, width, height } = parseGntHeader(header);
  const expected = GNT_HEADER_BYTES + width * height;
  if (size !== expected) return { reason: `size field ${size} does not match 10 + width ${width} x height ${height} = ${expected}`, resumable: false };
  if (width === 0 || height === 0) return { reason: `empty image (${width}x${height})`, resumable: true };
  if (offset + size > fileBytes) {
    return { reason: `truncated pixels: ${width}x${height} needs ${width * height} bytes, the file has ${fileBytes - offset - GNT_HEADER_BYTES}`, resumable: false };
  }
  if (decodeGbCode(tagCode) === undefined) return { reason: `tag code 0x${tagCode.toString(16).padStart(4, '0')} is not a GB18030 two-byte character`, resumable: true };
  return null;
}

/**
 * The one-line message of a corrupt sample, the same from the reader and from the index scan.
 * @param index  the sample's position in the file, from 0
 */
export function corruptGntMessage(file: string, index: number, offset: number, reason: string): string {
  return `${file}: corrupt GNT sample ${index} at byte offset ${offset}: ${reason}`;
}

/** A corrupt sample; `resumable` when the reader can go on at the next sample (the framing was sound). */
function corrupt(file: string, offset: number, problem: GntSampleProblem, index: number): Error {
  const error = hwrError('CORRUPT_GNT', corruptGntMessage(file, index, offset, problem.reason));
  (error as Error & { resumable?: boolean }).resumable = problem.resumable;
  return error;
}

/**
 * Streams the samples of one GNT file, in file order. Only one sample (plus the read buffer) is in memory at a
 * time; each yielded sample owns its `pixels` (a copy).
 *
 * Checks per sample: a header of 10 bytes; a size field equal to `10 + width * height`; width and height >= 1;
 * a tag code that decodes to one character (GB18030); and the whole sample inside the file.
 *
 * @param path     a `.gnt` file; its base name without `.gnt` is the writer
 * @param options  `skipCorrupt` (warn and go on), `onWarning`, `bufferBytes`
 * @throws HwrError `CORRUPT_GNT`, message `<file>: corrupt GNT sample <i> at byte offset <n>: <reason>`
 *   (reasons: truncated header, truncated pixels, size field mismatch, zero width or height, undecodable tag
 *   code); `FILE_NOT_FOUND` when the file is missing; other file errors as Node reports them
 */
export async function* readGntFile(path: string, options: ReadGntOptions = {}): AsyncGenerator<GntSample> {
  const writer = writerOfFile(path);
  let fileBytes: number;
  try {
    fileBytes = (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw hwrError('FILE_NOT_FOUND', `${path}: no such file`, error);
    throw error;
  }
  // No file handle lives across a `yield` (see BufferedFileReader): an abandoned reader leaves nothing open.
  const reader = new BufferedFileReader(path, options.bufferBytes ?? 1 << 20);
  for (let index = 0; reader.position < fileBytes; index++) {
    const offset = reader.position;
    try {
      const header = await reader.take(GNT_HEADER_BYTES);
      const problem = gntSampleProblem(header, offset, fileBytes);
      if (problem) {
        // A sample whose framing is sound is skipped whole, so that the reader stands at the next one.
        if (problem.resumable) reader.skipTo(offset + parseGntHeader(header).size);
        throw corrupt(path, offset, problem, index);
      }
      const { tagCode, width, height } = parseGntHeader(header);
      const label = decodeGbCode(tagCode)!;
      const pixels = (await reader.take(width * height)).slice();
      yield { label, tagCode, width, height, pixels, writer, file: path, offset };
    } catch (error) {
      const resumable = (error as { resumable?: boolean }).resumable;
      if (!options.skipCorrupt || !isHwrError(error) || resumable === undefined) throw error;
      if (resumable) {
        // The reader already stands at the end of the bad sample: go on with the next one.
        options.onWarning?.(`${error.message}; skipped it`, offset);
      } else {
        options.onWarning?.(`${error.message}; skipped the rest of the file`, offset);
        return;
      }
    }
  }
}

/**
 * The `.gnt` files of a folder (not recursive), sorted by name, each with its writer and split.
 *
 * @throws HwrError `FILE_NOT_FOUND` when the folder is missing or has no `.gnt` file
 */
export async function listGntFiles(dir: string): Promise<{ file: string; writer: string; split: WriterSplit }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw hwrError('FILE_NOT_FOUND', `${dir}: no such folder`, error);
    throw error;
  }
  const files = names.filter((name) => /\.gnt$/i.test(name)).sort();
  if (files.length === 0) throw hwrError('FILE_NOT_FOUND', `${dir}: no .gnt files`);
  return files.map((name) => {
    const writer = writerOfFile(name);
    return { file: join(dir, name), writer, split: splitOfWriter(writer) };
  });
}

/**
 * Streams the samples of every `.gnt` file in a folder, file by file in name order, optionally only one split's
 * writers (see `splitOfWriter`). Same checks, errors and memory bound as `readGntFile`.
 *
 * @param dir      folder of `.gnt` files (e.g. HWDB1.1's train and test files together)
 * @param options  `split`, `skipCorrupt`, `onWarning`, `bufferBytes`
 */
export async function* readGntFolder(dir: string, options: ReadGntFolderOptions = {}): AsyncGenerator<GntSample> {
  const split = options.split ?? 'all';
  for (const entry of await listGntFiles(dir)) {
    if (split !== 'all' && entry.split !== split) continue;
    yield* readGntFile(entry.file, options);
  }
}

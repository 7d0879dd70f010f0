/**
 * Image files to pixels, and pixels to PNG, with sharp (libvips). Node only.
 *
 * Uploaded and user-supplied files are untrusted: the header is read first and an image with too many pixels
 * is refused before any pixel is decoded (a 100 kB PNG can claim 100000x100000 pixels: a decompression bomb),
 * truncated or corrupt files are errors rather than half-grey images, and every error names the input.
 */

import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { hwrError, isHwrError } from '../core/errors.ts';
import type { PixelBuffer } from '../core/types.ts';

/** Default `maxPixels`: 50 megapixels, more than any phone photo (a 12 MP photo is 4032x3024). */
export const DEFAULT_MAX_PIXELS = 50e6;

/** Default `maxBytes` of `decodeImageFile`: 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** SVGs are rasterized so that their longer side is this many px, whatever size they declare. */
export const SVG_LONG_SIDE = 512;

/** Formats accepted, as sharp's `metadata().format` names them (`heif` covers AVIF). */
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'svg', 'heif']);

/** Options of `decodeImage`. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (width x height, of the first frame). Default 50e6. */
  maxPixels?: number;
}

/** Options of `decodeImageFile`. */
export interface DecodeFileOptions extends DecodeOptions {
  /** Refuse files larger than this many bytes without reading them. Default 256 MiB. */
  maxBytes?: number;
}

/**
 * Decodes an image file's bytes to RGBA pixels.
 *
 * Accepts PNG, JPEG, WebP, GIF (first frame), TIFF (first page), AVIF and SVG (rasterized so the longer side is
 * `SVG_LONG_SIDE` px, transparent where nothing is drawn). Applies the EXIF orientation, so a phone photo taken
 * sideways comes out upright. Converts to 8-bit sRGB with an alpha channel (opaque if the file has none).
 *
 * The header is read first (`sharp().metadata()`, no pixel decoding) and the pixel count checked against
 * `maxPixels`; sharp's own `limitInputPixels` is set to the same limit as a second guard. Decoding uses
 * `failOn: 'error'`, so a truncated or corrupt file is an error (libvips's default for sharp is `'warning'`,
 * which also rejects files that only have harmless warnings, e.g. extraneous bytes in some cameras' JPEGs).
 *
 * @param bytes The file's contents.
 * @param name Names the input in error messages (a file name, `upload`, ...).
 * @param options See `DecodeOptions`.
 * @returns RGBA pixels, `width * height * 4` bytes, alpha not premultiplied.
 * @throws HwrError `EMPTY_IMAGE` "<name>: file is empty";
 *   `NOT_AN_IMAGE` "<name>: not an image (unsupported or unrecognized format)";
 *   `CORRUPT_IMAGE` "<name>: corrupt or truncated image (<decoder's reason>)";
 *   `IMAGE_TOO_LARGE` "<name>: image is 100000x100000 = 10000 megapixels, over the 50 megapixel limit";
 *   `BAD_ARGUMENT` for a `maxPixels` that is not a positive number.
 */
export async function decodeImage(bytes: Uint8Array | Buffer, name: string, options: DecodeOptions = {}): Promise<PixelBuffer> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels >= 1)) throw hwrError('BAD_ARGUMENT', `maxPixels must be a positive number, got ${maxPixels}`);
  if (bytes.length === 0) throw hwrError('EMPTY_IMAGE', `${name}: file is empty`);
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const header = await readHeader(input, name);
  const density = header.format === 'svg' ? svgDensity(header.width, header.height) : undefined;
  const scale = density === undefined ? 1 : density / 72;
  const width = Math.round(header.width * scale);
  const height = Math.round((header.pageHeight ?? header.height) * scale);
  if (width * height > maxPixels) {
    throw hwrError(
      'IMAGE_TOO_LARGE',
      `${name}: image is ${width}x${height} = ${formatMegapixels(width * height)} megapixels, over the ${formatMegapixels(maxPixels)} megapixel limit`,
    );
  }

  try {
    const { data, info } = await sharp(input, {
      failOn: 'error',
      limitInputPixels: Math.floor(maxPixels),
      autoOrient: true,
      pages: 1,
      page: 0,
      ...(density === undefined ? {} : { density }),
    })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4 || data.length !== info.width * info.height * 4) {
      throw new Error(`decoded to ${info.channels} channels of ${info.width}x${info.height}, expected RGBA`);
    }
    return { width: info.width, height: info.height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw decoderError(error, name);
  }
}

/**
 * Reads an image file and decodes it (see `decodeImage`).
 *
 * @param path File to read; error messages name it as given.
 * @param options See `DecodeFileOptions`.
 * @returns RGBA pixels.
 * @throws HwrError `FILE_NOT_FOUND` "<path>: no such file"; `BAD_ARGUMENT` "<path>: is a directory, not an image file"
 *   (or not a regular file, or not readable); `IMAGE_TOO_LARGE` "<path>: file is 300 MiB, over the 256 MiB limit"; and everything `decodeImage` throws.
 */
export async function decodeImageFile(path: string, options: DecodeFileOptions = {}): Promise<PixelBuffer> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let size: number;
  try {
    const stats = await stat(path);
    if (stats.isDirectory()) throw hwrError('BAD_ARGUMENT', `${path}: is a directory, not an image file`);
    if (!stats.isFile()) throw hwrError('BAD_ARGUMENT', `${path}: not a regular file`);
    size = stats.size;
  } catch (error) {
    throw fileError(error, path);
  }
  if (size > maxBytes) {
    throw hwrError('IMAGE_TOO_LARGE', `${path}: file is ${formatSize(size)}, over the ${formatSize(maxBytes)} limit`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileError(error, path);
  }
  return decodeImage(bytes, path, options);
}

/**
 * Encodes RGBA pixels as a PNG (for `hwr predict --save-processed` and the server's processed-image data URL).
 *
 * @param image RGBA pixels, `width * height * 4` bytes.
 * @returns The PNG file's bytes (8-bit RGBA).
 * @throws HwrError `BAD_ARGUMENT` when the buffer's size does not match `width * height * 4`.
 */
export async function encodePng(image: PixelBuffer): Promise<Buffer> {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || data.length !== width * height * 4) {
    throw hwrError('BAD_ARGUMENT', `cannot encode PNG: expected ${width}x${height}x4 bytes of RGBA, got ${data.length}`);
  }
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return sharp(raw, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface Header {
  format: string;
  width: number;
  height: number;
  pageHeight?: number;
}

/** Reads format and size from the header only. Pixel limits are off here: the caller checks the size itself, to say what it is. */
async function readHeader(input: Buffer, name: string): Promise<Header> {
  let metadata: Metadata;
  try {
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decoderError(error, name);
  }
  if (!ACCEPTED_FORMATS.has(metadata.format)) {
    throw hwrError('NOT_AN_IMAGE', `${name}: not an image (unsupported or unrecognized format: ${metadata.format})`);
  }
  if (!(metadata.width > 0 && metadata.height > 0)) {
    throw hwrError('CORRUPT_IMAGE', `${name}: corrupt image (header gives no size)`);
  }
  return { format: metadata.format, width: metadata.width, height: metadata.height, pageHeight: metadata.pageHeight };
}

/** Density (DPI) at which an SVG of `width` x `height` px at 72 DPI renders with its longer side `SVG_LONG_SIDE` px. */
function svgDensity(width: number, height: number): number {
  return Math.min(100000, Math.max(1, (72 * SVG_LONG_SIDE) / Math.max(width, height)));
}

/** Maps a sharp/libvips error to an `HwrError` naming the input; the decoder's first line is kept as the reason. */
function decoderError(error: unknown, name: string): Error {
  if (isHwrError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const reason = message.split('\n')[0]!.replace(/:\s*$/, '').trim();
  if (/unsupported image format/i.test(message)) {
    return hwrError('NOT_AN_IMAGE', `${name}: not an image (unsupported or unrecognized format)`, error);
  }
  if (/exceeds pixel limit/i.test(message)) {
    return hwrError('IMAGE_TOO_LARGE', `${name}: image is over the pixel limit (${reason})`, error);
  }
  return hwrError('CORRUPT_IMAGE', `${name}: corrupt or truncated image (${reason})`, error);
}

/** Maps a Node file-system error to an `HwrError` naming the path. */
function fileError(error: unknown, path: string): Error {
  if (isHwrError(error)) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return hwrError('FILE_NOT_FOUND', `${path}: no such file`, error);
  if (code === 'EISDIR') return hwrError('BAD_ARGUMENT', `${path}: is a directory, not an image file`, error);
  if (code === 'EACCES' || code === 'EPERM') return hwrError('BAD_ARGUMENT', `${path}: permission denied`, error);
  const message = error instanceof Error ? error.message : String(error);
  return hwrError('BAD_ARGUMENT', `${path}: cannot read (${message})`, error);
}

/** 10000000000 -> "10000", 12192768 -> "12.2", 50000000 -> "50". */
function formatMegapixels(pixels: number): string {
  return String(Math.round(pixels / 1e5) / 10);
}

/** 2048 -> "2048 bytes", 268435456 -> "256 MiB" (one decimal). */
function formatSize(bytes: number): string {
  return bytes < 2 ** 20 ? `${bytes} bytes` : `${Math.round((bytes * 10) / 2 ** 20) / 10} MiB`;
}

/**
 * Image files to pixels, and pixels to PNG, with sharp (libvips). Node only.
 *
 * Uploaded and user-supplied files are untrusted: the header is read first and an image with too many pixels
 * is refused before any pixel is decoded (a 100 kB PNG can claim 100000x100000 pixels: a decompression bomb),
 * truncated or corrupt files are errors rather than half-grey images, and every error names the input.
 */

import { readFile, stat } from 'node:fs/promises';
import { imageSize } from 'image-size';
import sharp, { type FailOnOptions, type Metadata } from 'sharp';
import { hwrError, isHwrError } from '../core/errors.ts';
import type { PixelBuffer } from '../core/types.ts';
import { fileReadError } from './files.ts';

/** Default `maxPixels`: 50 megapixels, more than any phone photo (a 12 MP photo is 4032x3024). */
export const DEFAULT_MAX_PIXELS = 50e6;

/** Default `maxBytes` of `decodeImageFile`: 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** SVGs are rasterized so that their longer side is this many px, whatever size they declare. */
export const SVG_LONG_SIDE = 512;

/**
 * Default `maxSide` of `decodeImage`: larger images are downscaled in libvips to this longer side (px).
 * Preprocessing fits the ink into 20x20 px, so 1024 px keeps a digit that fills a tenth of the picture
 * at 100 px, while JavaScript never walks more than 1 megapixel of a 50 megapixel photo.
 */
export const DEFAULT_MAX_SIDE = 1024;

/** Formats accepted, as sharp's `metadata().format` names them (`heif` covers AVIF). */
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'svg', 'heif']);

/** Options of `decodeImage`. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (width x height, of the first frame). Default 50e6. */
  maxPixels?: number;
  /**
   * Downscale (in libvips, aspect ratio kept, never enlarging) so that neither side is longer than this many px.
   * Default `DEFAULT_MAX_SIDE` (1024); `Infinity` keeps the full size.
   */
  maxSide?: number;
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
 * sideways comes out upright. Downscales in libvips to `maxSide` (default 1024 px) before any pixel reaches
 * JavaScript. Converts to 8-bit sRGB with an alpha channel (opaque if the file has none).
 *
 * The header is read first (`sharp().metadata()`, no pixel decoding) and the pixel count checked against
 * `maxPixels`; sharp's own `limitInputPixels` is set to the same limit as a second guard. A header libvips
 * refuses (libpng stops at 1,000,000 px a side, libjpeg at 65500) is read again with `image-size`, so a file
 * that declares 2147483647x2147483647 is IMAGE_TOO_LARGE, not CORRUPT_IMAGE.
 *
 * Strictness (what counts as corrupt): libvips's `failOn: 'error'` for every format, which refuses a file cut
 * inside its pixel data; for JPEG `failOn: 'warning'`, which also refuses corrupt entropy-coded data
 * ("premature end of data segment", "extraneous bytes before marker": libjpeg only warns and fills in grey);
 * and two framing checks libvips does not make: a PNG must end with a complete IEND chunk with every chunk
 * before it whole (`pngFramingProblem`), a GIF with its trailer byte after whole blocks (`gifFramingProblem`).
 * Bytes after a PNG's IEND, a JPEG's EOI or a GIF's trailer are ignored, as browsers ignore them.
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

  const header = await readHeader(input, name, maxPixels);
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

  const framing = header.format === 'png' ? pngFramingProblem(input) : header.format === 'gif' ? gifFramingProblem(input) : null;
  if (framing) throw hwrError('CORRUPT_IMAGE', `${name}: corrupt or truncated image (${framing})`);
  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  if (!(maxSide >= 1)) throw hwrError('BAD_ARGUMENT', `maxSide must be a positive number of px, got ${maxSide}`);
  const failOn: FailOnOptions = header.format === 'jpeg' ? 'warning' : 'error';

  try {
    let pipeline = sharp(input, {
      failOn,
      limitInputPixels: Math.floor(maxPixels),
      autoOrient: true,
      pages: 1,
      page: 0,
      ...(density === undefined ? {} : { density }),
    });
    if (Math.max(width, height) > maxSide) {
      const side = Math.floor(maxSide);
      pipeline = pipeline.resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true });
    }
    const { data, info } = await pipeline
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
    throw fileReadError(error, path, 'an image file');
  }
  if (size > maxBytes) {
    throw hwrError('IMAGE_TOO_LARGE', `${path}: file is ${formatSize(size)}, over the ${formatSize(maxBytes)} limit`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileReadError(error, path, 'an image file');
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

/**
 * Reads format and size from the header only. Pixel limits are off here: the caller checks the size itself, to say
 * what it is. When libvips refuses the header, `image-size` reads the declared size: over `maxPixels` is
 * IMAGE_TOO_LARGE, anything else keeps libvips's CORRUPT_IMAGE.
 */
async function readHeader(input: Buffer, name: string, maxPixels: number): Promise<Header> {
  let metadata: Metadata;
  try {
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    const declared = declaredSize(input);
    if (declared && declared.width * declared.height > maxPixels) {
      throw hwrError(
        'IMAGE_TOO_LARGE',
        `${name}: image is ${declared.width}x${declared.height} = ${formatMegapixels(declared.width * declared.height)} megapixels ` +
          `(from its header), over the ${formatMegapixels(maxPixels)} megapixel limit`,
        error,
      );
    }
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

/**
 * Width and height as the header declares them (`image-size`, any 32-bit value), or `null` when it cannot say.
 * image-size 2.1 reads a view's whole underlying ArrayBuffer, not just the view: a small Buffer sliced from Node's
 * shared pool could be read with its neighbours' bytes (3 zero bytes taken for a 65535x32767 TGA). It gets a copy
 * in its own memory.
 */
function declaredSize(input: Buffer): { width: number; height: number } | null {
  try {
    const own = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input : new Uint8Array(input);
    const { width, height } = imageSize(own);
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null;
  }
}

/**
 * Why a PNG's chunk sequence is cut short, or `null` when it is whole: every chunk (length, type, data, CRC;
 * PNG specification, 3rd edition, section 5.3) must fit in the file, up to and including IEND.
 * libpng stops reading after the last IDAT and does not notice a missing or cut IEND. CRCs are libpng's job.
 */
export function pngFramingProblem(bytes: Uint8Array): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8; // after the signature
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const end = offset + 12 + length;
    if (end > bytes.length) return `the ${type} chunk is cut off at byte ${bytes.length}`;
    if (type === 'IEND') return null;
    offset = end;
  }
  return 'the file ends without an IEND chunk';
}

/**
 * Why a GIF's block sequence is cut short or malformed, or `null` when it reaches the trailer byte 0x3B:
 * header, logical screen descriptor and colour table, then extension (0x21) and image (0x2C) blocks, each ending
 * in a zero-length sub-block (GIF89a specification, sections 17 to 27). libvips decodes the first frame and does
 * not look at the rest.
 */
export function gifFramingProblem(bytes: Uint8Array): string | null {
  const colourTableBytes = (packed: number): number => (packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0);
  let offset = 13 + colourTableBytes(bytes[10] ?? 0);
  const skipSubBlocks = (): boolean => {
    for (;;) {
      if (offset >= bytes.length) return false;
      const size = bytes[offset++]!;
      if (size === 0) return true;
      offset += size;
    }
  };
  while (offset < bytes.length) {
    const introducer = bytes[offset++]!;
    if (introducer === 0x3b) return null;
    if (introducer === 0x21) {
      offset += 1; // extension label
    } else if (introducer === 0x2c) {
      offset += 9; // image descriptor: position, size, packed fields
      offset += colourTableBytes(bytes[offset - 1] ?? 0) + 1; // local colour table, LZW minimum code size
    } else {
      return `unexpected block 0x${introducer.toString(16).padStart(2, '0')} at byte ${offset - 1}`;
    }
    if (!skipSubBlocks()) return `a block is cut off at byte ${bytes.length}`;
  }
  return 'the file ends without the GIF trailer';
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

/** 10000000000 -> "10000", 12192768 -> "12.2", 50000000 -> "50". */
function formatMegapixels(pixels: number): string {
  return String(Math.round(pixels / 1e5) / 10);
}

/** 2048 -> "2048 bytes", 268435456 -> "256 MiB" (one decimal). */
function formatSize(bytes: number): string {
  return bytes < 2 ** 20 ? `${bytes} bytes` : `${Math.round((bytes * 10) / 2 ** 20) / 10} MiB`;
}

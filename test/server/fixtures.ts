/**
 * Test images for the server and e2e tests, made on the fly: real MNIST test digits as PNGs,
 * blank and broken images, and PNGs whose header claims (or really has) more pixels than allowed.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { loadMnist } from '../../src/data/mnist.ts';

/** One MNIST test digit: its label and its 28x28 pixels (0 = background, 255 = ink). */
export interface MnistDigit {
  label: string;
  index: number;
  pixels: Uint8Array;
}

/** The first `count` MNIST test digits (7, 2, 1, 0, 4, 1, 4, 9, 5, 9, ...). */
export async function mnistTestDigits(count: number): Promise<MnistDigit[]> {
  const { test } = await loadMnist({ limit: count });
  return Array.from({ length: test.count }, (_, index) => ({
    label: String(test.labels[index]),
    index,
    pixels: test.images.slice(index * 784, (index + 1) * 784),
  }));
}

/**
 * An MNIST digit as a PNG the way a user would upload it: dark ink on white paper, scaled up `scale` times,
 * with a white margin of `margin` px. A "scan" of the digit, not the 28x28 original.
 */
export async function digitPng(digit: MnistDigit, scale = 10, margin = 40): Promise<Buffer> {
  const inverted = Buffer.from(digit.pixels.map((value) => 255 - value));
  return sharp(inverted, { raw: { width: 28, height: 28, channels: 1 } })
    .resize(28 * scale, 28 * scale, { kernel: 'cubic' })
    .extend({ top: margin, bottom: margin, left: margin, right: margin, background: '#ffffff' })
    .png()
    .toBuffer();
}

/** A white PNG with no ink at all. */
export function blankPng(width = 120, height = 120): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).png().toBuffer();
}

/** The same image as a JPEG (quality 90). */
export function toJpeg(png: Buffer): Promise<Buffer> {
  return sharp(png).jpeg({ quality: 90 }).toBuffer();
}

/** CRC-32 as PNG chunks use it (ISO 3309), bitwise. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * An 8-bit greyscale PNG of `width` x `height`, all black, built by hand.
 * With `rows` < height only that many rows of pixel data follow the header: a small file whose
 * header claims a huge image (a decompression bomb's header).
 */
export function hugePng(width: number, height: number, rows = height): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, adaptive filter, no interlace
  const scanlines = Buffer.alloc((width + 1) * rows); // each row: filter byte 0, then zeros
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** `data:image/png;base64,...` of some bytes. */
export function dataUrl(bytes: Buffer, type = 'image/png'): string {
  return `data:${type};base64,${bytes.toString('base64')}`;
}

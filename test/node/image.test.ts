import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PIXELS, SVG_LONG_SIDE, decodeImage, decodeImageFile, encodePng } from '../../src/node/image.ts';
import type { PixelBuffer } from '../../src/core/types.ts';
import { pngDeclaring } from '../fixtures/brokenImages.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

// ---------------------------------------------------------------------------------------------
// Test images, made here with sharp

const WIDTH = 40;
const HEIGHT = 30;

/** RGBA 40x30: left half black, right half white, opaque; the top-left 10x10 corner fully transparent. */
function testPattern(): Buffer {
  const data = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const level = x < WIDTH / 2 ? 0 : 255;
      const alpha = x < 10 && y < 10 ? 0 : 255;
      data.set([level, level, level, alpha], 4 * (y * WIDTH + x));
    }
  }
  return data;
}

const RAW = { raw: { width: WIDTH, height: HEIGHT, channels: 4 as const } };

function pixel(image: PixelBuffer, x: number, y: number): number[] {
  const i = 4 * (y * image.width + x);
  return Array.from(image.data.subarray(i, i + 4));
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected a rejection');
}

// ---------------------------------------------------------------------------------------------

describe('decodeImage', () => {
  it('decodes PNG exactly, alpha included', async () => {
    const png = await sharp(testPattern(), RAW).png().toBuffer();
    const image = await decodeImage(png, 'pattern.png');
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    expect(image.data.length).toBe(WIDTH * HEIGHT * 4);
    expect(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length).equals(testPattern())).toBe(true);
    expect(pixel(image, 0, 0)[3]).toBe(0);
    expect(pixel(image, 15, 20)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 30, 20)).toEqual([255, 255, 255, 255]);
  });

  it('decodes JPEG to opaque RGBA', async () => {
    const jpeg = await sharp(testPattern(), RAW).flatten({ background: '#ffffff' }).jpeg({ quality: 95 }).toBuffer();
    const image = await decodeImage(jpeg, 'pattern.jpg');
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    expect(pixel(image, 15, 20)[0]).toBeLessThan(20);
    expect(pixel(image, 30, 20)[0]).toBeGreaterThan(235);
    expect(pixel(image, 30, 20)[3]).toBe(255);
  });

  it('decodes lossless WebP exactly', async () => {
    const webp = await sharp(testPattern(), RAW).webp({ lossless: true }).toBuffer();
    const image = await decodeImage(webp, 'pattern.webp');
    expect(pixel(image, 0, 0)[3]).toBe(0);
    expect(pixel(image, 15, 20)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 30, 20)).toEqual([255, 255, 255, 255]);
  });

  it('decodes the first frame of an animated GIF', async () => {
    // Two 40x30 frames stacked: black, then white.
    const frames = Buffer.concat([Buffer.alloc(WIDTH * HEIGHT * 3, 0), Buffer.alloc(WIDTH * HEIGHT * 3, 255)]);
    const gif = await sharp(frames, { raw: { width: WIDTH, height: 2 * HEIGHT, channels: 3, pageHeight: HEIGHT } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const image = await decodeImage(gif, 'two-frames.gif');
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    expect(pixel(image, 20, 15)).toEqual([0, 0, 0, 255]);
  });

  it('decodes TIFF exactly', async () => {
    // sharp's TIFF writer stores RGB only (it drops the alpha band), so the decoded image is opaque.
    const tiff = await sharp(testPattern(), RAW).tiff().toBuffer();
    const image = await decodeImage(tiff, 'pattern.tiff');
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    expect(pixel(image, 15, 20)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 30, 20)).toEqual([255, 255, 255, 255]);
  });

  it(`rasterizes SVG with its longer side ${SVG_LONG_SIDE} px, transparent where nothing is drawn`, async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect x="0" y="0" width="10" height="10" fill="#000"/></svg>';
    const image = await decodeImage(Buffer.from(svg), 'drawing.svg');
    expect([image.width, image.height]).toEqual([SVG_LONG_SIDE, SVG_LONG_SIDE / 2]);
    expect(pixel(image, 100, 100)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 400, 100)[3]).toBe(0);
  });

  it('converts 16-bit greyscale to 8-bit RGBA', async () => {
    const grey = Buffer.alloc(WIDTH * HEIGHT, 200);
    const png16 = await sharp(grey, { raw: { width: WIDTH, height: HEIGHT, channels: 1 } }).png().toColourspace('grey16').toBuffer();
    const image = await decodeImage(png16, 'grey16.png');
    expect(image.data.length).toBe(WIDTH * HEIGHT * 4);
    expect(pixel(image, 5, 5)).toEqual([200, 200, 200, 255]);
  });

  it('applies the EXIF orientation', async () => {
    // Stored 40x30, tagged "rotate 90 clockwise to display" (orientation 6): shown 30x40.
    const jpeg = await sharp(testPattern(), RAW).flatten({ background: '#ffffff' }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const image = await decodeImage(jpeg, 'sideways.jpg');
    expect([image.width, image.height]).toEqual([HEIGHT, WIDTH]);
    // The stored left (black) half is on top after rotating clockwise.
    expect(pixel(image, 15, 5)[0]).toBeLessThan(20);
    expect(pixel(image, 15, 35)[0]).toBeGreaterThan(235);
  });

  it('accepts a Uint8Array as well as a Buffer', async () => {
    const png = await sharp(testPattern(), RAW).png().toBuffer();
    const image = await decodeImage(new Uint8Array(png), 'pattern.png');
    expect(pixel(image, 30, 20)).toEqual([255, 255, 255, 255]);
  });

  it('refuses empty input: EMPTY_IMAGE', async () => {
    expect(await rejection(decodeImage(new Uint8Array(0), 'empty.png'))).toEqual({ code: 'EMPTY_IMAGE', message: 'empty.png: file is empty' });
  });

  it('refuses text: NOT_AN_IMAGE', async () => {
    expect(await rejection(decodeImage(Buffer.from('just some text\n'), 'notes.txt'))).toEqual({
      code: 'NOT_AN_IMAGE',
      message: 'notes.txt: not an image (unsupported or unrecognized format)',
    });
    expect((await rejection(decodeImage(Buffer.from('<?xml version="1.0"?><note>hi</note>'), 'note.xml'))).code).toBe('NOT_AN_IMAGE');
  });

  it('refuses a truncated PNG: CORRUPT_IMAGE', async () => {
    const noise = Buffer.alloc(200 * 150 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const png = await sharp(noise, { raw: { width: 200, height: 150, channels: 3 } }).png().toBuffer();
    const truncated = png.subarray(0, Math.floor(png.length * 0.7));
    const error = await rejection(decodeImage(truncated, 'cut.png'));
    expect(error.code).toBe('CORRUPT_IMAGE');
    expect(error.message).toMatch(/^cut\.png: corrupt or truncated image/);
    // Cut inside the header: still CORRUPT_IMAGE, naming the file.
    expect((await rejection(decodeImage(png.subarray(0, 20), 'stub.png'))).code).toBe('CORRUPT_IMAGE');
  });

  it('refuses a truncated JPEG: CORRUPT_IMAGE', async () => {
    const noise = Buffer.alloc(200 * 150 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const jpeg = await sharp(noise, { raw: { width: 200, height: 150, channels: 3 } }).jpeg().toBuffer();
    expect((await rejection(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.7)), 'cut.jpg'))).code).toBe('CORRUPT_IMAGE');
  });

  it('refuses a PNG whose header claims 100000x100000 pixels before decoding it: IMAGE_TOO_LARGE', async () => {
    const bomb = pngDeclaring(100000, 100000);
    expect(bomb.length).toBeLessThan(100);
    expect(await rejection(decodeImage(bomb, 'bomb.png'))).toEqual({
      code: 'IMAGE_TOO_LARGE',
      message: 'bomb.png: image is 100000x100000 = 10000 megapixels, over the 50 megapixel limit',
    });
    expect(DEFAULT_MAX_PIXELS).toBe(50e6);
  });

  it('honours maxPixels', async () => {
    const png = await sharp(testPattern(), RAW).png().toBuffer(); // 1200 px
    expect((await rejection(decodeImage(png, 'small.png', { maxPixels: 1000 }))).code).toBe('IMAGE_TOO_LARGE');
    await expect(decodeImage(png, 'small.png', { maxPixels: 1200 })).resolves.toBeDefined();
  });
});

describe('decodeImageFile', () => {
  const tempDir = useTempDirs('image');
  let folder: string;
  beforeAll(async () => {
    folder = await tempDir();
  });

  it('reads and decodes a file', async () => {
    const path = join(folder, 'pattern.png');
    await writeFile(path, await sharp(testPattern(), RAW).png().toBuffer());
    const image = await decodeImageFile(path);
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
  });

  it('refuses a missing file: FILE_NOT_FOUND', async () => {
    const path = join(folder, 'missing.png');
    expect(await rejection(decodeImageFile(path))).toEqual({ code: 'FILE_NOT_FOUND', message: `${path}: no such file` });
  });

  it('refuses a directory with a clear message', async () => {
    expect(await rejection(decodeImageFile(folder))).toEqual({ code: 'BAD_ARGUMENT', message: `${folder}: is a directory, not an image file` });
  });

  it('refuses a zero-byte file: EMPTY_IMAGE', async () => {
    const path = join(folder, 'zero.png');
    await writeFile(path, Buffer.alloc(0));
    expect(await rejection(decodeImageFile(path))).toEqual({ code: 'EMPTY_IMAGE', message: `${path}: file is empty` });
  });

  it('refuses a text file: NOT_AN_IMAGE', async () => {
    const path = join(folder, 'readme.png');
    await writeFile(path, 'this is not a PNG\n');
    expect(await rejection(decodeImageFile(path))).toEqual({
      code: 'NOT_AN_IMAGE',
      message: `${path}: not an image (unsupported or unrecognized format)`,
    });
  });

  it('refuses a file over maxBytes without reading it', async () => {
    const path = join(folder, 'big.png');
    await writeFile(path, Buffer.alloc(2048));
    expect(await rejection(decodeImageFile(path, { maxBytes: 1024 }))).toEqual({
      code: 'IMAGE_TOO_LARGE',
      message: `${path}: file is 2048 bytes, over the 1024 bytes limit`,
    });
  });
});

describe('encodePng', () => {
  it('round-trips RGBA pixels', async () => {
    const image: PixelBuffer = { width: WIDTH, height: HEIGHT, data: new Uint8ClampedArray(testPattern()) };
    const png = await encodePng(image);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const back = await decodeImage(png, 'round-trip.png');
    expect(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.length).equals(testPattern())).toBe(true);
  });

  it('rejects a buffer of the wrong size', async () => {
    expect((await rejection(encodePng({ width: 2, height: 2, data: new Uint8Array(3) }))).code).toBe('BAD_ARGUMENT');
  });
});

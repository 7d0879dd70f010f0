/**
 * How strict decoding is (issue 8, defect 6): files built byte by byte that libvips decodes without complaint
 * although they are cut or corrupt, and headers that declare more pixels than libvips can even describe.
 * Each must be refused with the README's code: CORRUPT_IMAGE (HTTP 422) or IMAGE_TOO_LARGE (HTTP 413).
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_SIDE, decodeImage } from '../../src/node/image.ts';
import { corruptImages, hugeHeaderImages, smallDrawing } from '../fixtures/brokenImages.ts';

async function codeOf(bytes: Buffer, name: string): Promise<string> {
  try {
    await decodeImage(bytes, name);
  } catch (error) {
    expect((error as Error).message.startsWith(`${name}: `)).toBe(true);
    return (error as { code: string }).code;
  }
  return 'decoded';
}

describe('decodeImage strictness', () => {
  let drawing: Buffer;
  beforeAll(async () => {
    drawing = await smallDrawing();
  });

  it('still decodes the intact PNG, GIF and JPEG the broken files are made from', async () => {
    for (const format of ['png', 'gif', 'jpeg'] as const) {
      const bytes = await sharp(drawing).toFormat(format).toBuffer();
      expect(await codeOf(bytes, `drawing.${format}`)).toBe('decoded');
    }
  });

  it('refuses cut and corrupt files that libvips decodes without an error: CORRUPT_IMAGE', async () => {
    const cases = await corruptImages(drawing);
    expect(Object.keys(cases)).toHaveLength(5);
    for (const [name, bytes] of Object.entries(cases)) expect({ name, code: await codeOf(bytes, name) }).toEqual({ name, code: 'CORRUPT_IMAGE' });
  });

  it('refuses headers declaring more pixels than libvips reads (2^31-1 squared, 2^32-1 wide, 65535 squared): IMAGE_TOO_LARGE', async () => {
    for (const [name, bytes] of Object.entries(await hugeHeaderImages(drawing))) {
      expect({ name, code: await codeOf(bytes, name) }).toEqual({ name, code: 'IMAGE_TOO_LARGE' });
    }
    const [name, bytes] = Object.entries(await hugeHeaderImages(drawing))[0]!;
    await expect(decodeImage(bytes, name)).rejects.toThrow(/2147483647x2147483647 .* over the 50 megapixel limit/);
  });

  it(`downscales in libvips so that neither side exceeds ${DEFAULT_MAX_SIDE} px, keeping the aspect ratio`, async () => {
    const wide = await sharp({ create: { width: 3000, height: 1500, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const image = await decodeImage(wide, 'wide.png');
    expect([image.width, image.height]).toEqual([DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE / 2]);
    const full = await decodeImage(wide, 'wide.png', { maxSide: Infinity });
    expect([full.width, full.height]).toEqual([3000, 1500]);
  });
});

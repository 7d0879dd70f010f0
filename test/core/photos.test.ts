/**
 * Photos of paper through the shared preprocessing and the shipped model (issue 8, defect 12): uneven light
 * (a gradient, a shadow, a vignette), ruled and squared paper, thin and thick pens, noise and JPEG artefacts,
 * from the synthetic photos of test/fixtures/photos.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { centerInField, detectPolarity, fitToBox, inkBoundingBox, preprocessDigit, toGrayscale, toInk } from '../../src/core/preprocess.ts';
import { estimateStrokeWidth } from '../../src/core/strokes.ts';
import type { PixelBuffer } from '../../src/core/types.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';
import { NAMED_PHOTOS, photoSet, renderPhoto, renderPhotoPixels } from '../fixtures/photos.ts';

let recognizer: Recognizer;
let mnist: MnistDigit[];

beforeAll(async () => {
  recognizer = await loadRecognizer();
  mnist = await mnistTestDigits(120);
});

/** The shipped model's reading of an image: its label, or the error code. */
async function read(image: PixelBuffer, name: string): Promise<string> {
  try {
    return (await recognizer.recognize(image, { name })).label ?? 'rejected';
  } catch (error) {
    return `error ${(error as { code?: string }).code}`;
  }
}

/** The preprocessing as it was before lighting, ruling and stroke-width normalization: the plain MNIST steps. */
function plainMnistSteps(image: PixelBuffer): Float32Array {
  const gray = toGrayscale(image);
  const ink = toInk(gray, detectPolarity(gray));
  const box = inkBoundingBox(ink, image.width, image.height);
  return centerInField(fitToBox(ink, image.width, image.height, box, 20), 28).data;
}

describe('photos of paper', () => {
  for (const photo of NAMED_PHOTOS) {
    it(`reads the ${photo.name}`, async () => {
      expect(await read(await renderPhoto(photo.spec), photo.name)).toBe(String(photo.label));
    });
  }

  it('reads at least 90% of 50 varied photos (every lighting, paper, pen, ink, noise and JPEG quality)', async () => {
    const photos = photoSet(50, mnist, 1);
    const wrong: string[] = [];
    for (const photo of photos) {
      const label = await read(await renderPhoto(photo.spec), photo.name);
      if (label !== String(photo.label)) wrong.push(`${photo.name} read as ${label}`);
    }
    expect(wrong.length, wrong.join('\n')).toBeLessThanOrEqual(5);
  });

  it('keeps the digit, not the light, in the box: the gradient 8 is boxed around the 8', async () => {
    const { spec } = NAMED_PHOTOS.find((p) => p.name === 'gradient 8')!;
    const result = preprocessDigit(await renderPhoto(spec));
    // The 8 is 90 px tall (0.3 of 300) and about 70 px wide; the darkening right half of the page must not count.
    expect(result.boundingBox.height).toBeLessThan(110);
    expect(result.boundingBox.width).toBeLessThan(90);
  });

  it('erases ruled and squared lines: the box is the digit, and the field holds no line', async () => {
    for (const paper of ['ruled', 'squared'] as const) {
      const plain = preprocessDigit(renderPhotoPixels({ label: 3, pen: 3, seed: 21 }));
      const lined = preprocessDigit(renderPhotoPixels({ label: 3, pen: 3, seed: 21, paper }));
      for (const side of ['x', 'y', 'width', 'height'] as const) {
        expect(Math.abs(lined.boundingBox[side] - plain.boundingBox[side]), `${paper}: box ${side}`).toBeLessThanOrEqual(3);
      }
      let difference = 0;
      for (let i = 0; i < 784; i++) difference += Math.abs(lined.input[i]! - plain.input[i]!);
      // A box a pixel or two larger resamples the digit slightly differently; a line left in would cost far more.
      expect(difference / 784, paper).toBeLessThan(0.08);
    }
  });

  it('widens a hairline pen to MNIST-like strokes (about 2 px in the 20 px box)', async () => {
    const { spec } = NAMED_PHOTOS.find((p) => p.name === 'thin 7')!;
    const result = preprocessDigit(await renderPhoto(spec));
    const width = estimateStrokeWidth(result.input, 28, 28).width;
    expect(width).toBeGreaterThan(1.5);
    expect(width).toBeLessThan(3);
  });

  it('thins a marker to at most MNIST-thick strokes', () => {
    const image = renderPhotoPixels({ label: 7, pen: 14, size: 200, digitHeight: 0.6, seed: 3 });
    expect(estimateStrokeWidth(preprocessDigit(image).input, 28, 28).width).toBeLessThanOrEqual(6.3);
  });

  it('leaves clean input exactly as the plain MNIST steps make it: MNIST digits, and pen strokes on white', () => {
    for (const digit of mnist.slice(0, 50)) {
      const data = new Uint8ClampedArray(784 * 4);
      digit.pixels.forEach((v, i) => data.set([v, v, v, 255], 4 * i));
      const image = { width: 28, height: 28, data };
      expect(Array.from(preprocessDigit(image).input), `MNIST test #${digit.index}`).toEqual(Array.from(plainMnistSteps(image)));
    }
    for (let label = 0; label <= 9; label++) {
      // About the handwriting pad's pen (0.065 of a 280 px canvas), on evenly lit paper, without noise.
      const image = renderPhotoPixels({ label, pen: 9, size: 280, noise: 0, seed: label });
      expect(Array.from(preprocessDigit(image).input), `drawn ${label}`).toEqual(Array.from(plainMnistSteps(image)));
    }
  });
});

describe('large photos', () => {
  it('works on a 2000x2000 photo at 500x500 and reports the box in source px', () => {
    const large = renderPhotoPixels({ label: 4, size: 2000, pen: 24, lighting: 'gradient', seed: 4 });
    const small = renderPhotoPixels({ label: 4, size: 1000, pen: 12, lighting: 'gradient', seed: 4 });
    const a = preprocessDigit(large);
    const b = preprocessDigit(small);
    for (const side of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(a.boundingBox[side] - 2 * b.boundingBox[side]), side).toBeLessThanOrEqual(4);
    let difference = 0;
    for (let i = 0; i < 784; i++) difference += Math.abs(a.input[i]! - b.input[i]!);
    expect(difference / 784).toBeLessThan(0.03);
  });
});

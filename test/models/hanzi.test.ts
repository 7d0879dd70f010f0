/**
 * The model shipped in models/hanzi: the 3,755 characters of GB 2312 level 1, trained on synthetic handwriting only.
 * It loads by name with no training or download, its metadata tells the truth (classes, profile, figures), it stays
 * within the 10 MB, and it reads synthetic writers it never saw (another seed) and clean characters drawn
 * from stroke medians, as the page sends them.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderInk } from '../../src/core/ink.ts';
import type { PixelBuffer } from '../../src/core/types.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { createRng, shuffledIndices } from '../../src/data/augment.ts';
import { charsetByName } from '../../src/data/charset.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { syntheticWriter, writeCharacters } from '../../src/data/synth/synthesize.ts';
import type { Ink } from '../../src/core/ink.ts';
import { loadRecognizer, resolveModelDir } from '../../src/node/recognizer.ts';

/** Gray (255 = paper) to RGBA, as an image file or a canvas gives it. */
function grayToRgba(width: number, height: number, gray: Uint8Array, inkIsHigh: boolean): PixelBuffer {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < gray.length; i++) {
    const v = inkIsHigh ? 255 - gray[i]! : gray[i]!;
    data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = v;
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}

describe('shipped hanzi model (models/hanzi)', () => {
  const chars = charsetByName('gb2312-1');
  // A seeded sample of 200 characters of the 3,755.
  const sample = Array.from(shuffledIndices(chars.length, createRng(2024)).subarray(0, 200), (i) => chars[i]!);
  let recognizer: Recognizer;
  const references = new Map<string, Ink>();

  beforeAll(async () => {
    recognizer = await loadRecognizer('hanzi');
    for (const char of sample) references.set(char, await loadHanziInk(char));
  });
  afterAll(() => recognizer?.dispose());

  it('has the metadata of a GB 2312 level-1 model, trained on synthetic data, and stays under 10 MB in float16', async () => {
    const { metadata } = recognizer;
    expect(metadata.classes).toEqual([...chars]);
    expect(metadata.charset).toBe('gb2312-1');
    expect(metadata.inputShape).toEqual([64, 64, 1]);
    expect(metadata.preprocessing).toBe('cjk-fit-v1');
    expect(metadata.architecture).toBe('hccr-vgg');
    expect(metadata.parameters).toBeLessThanOrEqual(5_000_000);
    expect(metadata.trainingData).toMatch(/synth/);
    expect(metadata.command).toMatch(/^npx hwr train --model hccr-vgg /);
    expect(metadata.trainingSeconds).toBeGreaterThan(0);
    // The targets, as measured on the held-out synthetic test writers when it was trained.
    const topK = new Map(metadata.topKAccuracy!.map(({ k, accuracy }) => [k, accuracy]));
    expect(topK.get(1)).toBeGreaterThanOrEqual(0.95);
    expect(topK.get(10)).toBeGreaterThanOrEqual(0.995);
    const dir = resolveModelDir('hanzi');
    let bytes = 0;
    for (const file of ['model.json', 'weights.bin', 'metadata.json']) bytes += (await stat(join(dir, file))).size;
    expect(bytes).toBeLessThanOrEqual(10 * 1024 * 1024);
    // TF.js's weight quantization: float32 tensors stored as float16 (`quantization.dtype`).
    const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { quantization?: { dtype: string } }[] }[] };
    const stored = manifest.weightsManifest.flatMap((group) => group.weights.map((w) => w.quantization?.dtype ?? 'float32'));
    expect(new Set(stored)).toEqual(new Set(['float16']));
  });

  it('reads synthetic writers of another seed (never seen in training): at least 90% top-1 and 99% top-10 of 200 characters', async () => {
    let top1 = 0;
    let top10 = 0;
    const writer = syntheticWriter(777, 1);
    const images: PixelBuffer[] = [];
    for (const image of writeCharacters(sample, references, writer)) images.push(grayToRgba(image.width, image.height, image.pixels, false));
    const results = await recognizer.recognizeBatch(images, { topK: 10 });
    results.forEach((result, i) => {
      if (result instanceof Error) throw result;
      if (result.label === sample[i]) top1++;
      if (result.topK.some((c) => c.label === sample[i])) top10++;
    });
    expect(top1 / sample.length).toBeGreaterThanOrEqual(0.9);
    expect(top10 / sample.length).toBeGreaterThanOrEqual(0.99);
  });

  it('reads characters drawn from their stroke medians on a 300 px canvas (dark ink on white): at least 90% top-1', async () => {
    let top1 = 0;
    const images = sample.map((char) => {
      const gray = renderInk(references.get(char)!, { width: 300, height: 300, strokeWidth: 14, margin: 40 });
      return grayToRgba(300, 300, gray.data, true);
    });
    const results = await recognizer.recognizeBatch(images);
    results.forEach((result, i) => {
      if (result instanceof Error) throw result;
      if (result.label === sample[i]) top1++;
    });
    expect(top1 / sample.length).toBeGreaterThanOrEqual(0.9);
  });
});

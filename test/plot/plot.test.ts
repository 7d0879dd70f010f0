import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.ts';
import { renderTrainingCurves, renderTrainingCurvesSvg, trainingCurvesSpec, type EpochMetrics } from '../../src/plot/curves.ts';
import { renderSampleGrid, sampleGridLayout } from '../../src/plot/samples.ts';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function pngInfo(png: Buffer): Promise<{ width: number; height: number; channels: number }> {
  expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
  const { width, height, channels, format } = await sharp(png).metadata();
  expect(format).toBe('png');
  return { width: width!, height: height!, channels: channels! };
}

/** Mean brightness of a region of a PNG, 0-255. */
async function meanGray(png: Buffer, left: number, top: number, width: number, height: number): Promise<number> {
  const { data } = await sharp(png).extract({ left, top, width, height }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return data.reduce((a, b) => a + b, 0) / data.length;
}

/** Mean [r, g, b] of a region. */
async function meanRgb(png: Buffer, left: number, top: number, width: number, height: number): Promise<number[]> {
  const { data, info } = await sharp(png).extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sums[c]! += data[i + c]!;
  return sums.map((s) => s / (data.length / info.channels));
}

describe('renderSampleGrid', () => {
  it('renders a 3x4 grid of the expected size, dark ink on white', async () => {
    const { test } = await loadMnist({ limit: 12 });
    const options = { rows: 3, cols: 4, scale: 2, title: 'MNIST test' };
    const png = await renderSampleGrid(test.images, test.labels, options);
    await writeFile(join(tmpdir(), 'hwr-grid-3x4.png'), png);
    const layout = sampleGridLayout(options);
    // 12 px margins, cells of 56 + 2 * 6 px; cell height 6 + 56 + 4 + font 12 + 6.
    expect(layout).toMatchObject({ imagePx: 56, cellWidth: 68, fontSize: 12, cellHeight: 84, titleHeight: 34 });
    expect(await pngInfo(png)).toEqual({ width: 24 + 4 * 68, height: 24 + 34 + 3 * 84, channels: 3 });
    // Corner is white background; the first cell holds some dark ink.
    expect(await meanGray(png, 0, 0, 10, 10)).toBe(255);
    expect(await meanGray(png, 18, 12 + 34 + 6, 56, 56)).toBeLessThan(235);
  });

  it('defaults to a 10x10 grid and frames wrong predictions in red', async () => {
    const { train } = await loadMnist({ limit: 100 });
    const predictions = Array.from(train.labels);
    predictions[0] = (predictions[0]! + 1) % 10;
    const png = await renderSampleGrid(train.images, train.labels, { predictions, classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });
    await writeFile(join(tmpdir(), 'hwr-grid-10x10.png'), png);
    const layout = sampleGridLayout({ predictions });
    const info = await pngInfo(png);
    expect(info).toEqual({ width: layout.width, height: layout.height, channels: 3 });
    expect(info.width).toBe(24 + 10 * 68);
    // The red frame of the first cell: its top edge is at y = 12 + 6 - 1.
    const [r, g, b] = await meanRgb(png, 18, 17, 56, 1);
    expect(r!).toBeGreaterThan(150);
    expect(g!).toBeLessThan(120);
    expect(b!).toBeLessThan(120);
    // The second cell's frame is light grey, not red.
    const [r2, g2] = await meanRgb(png, 18 + 68, 17, 56, 1);
    expect(Math.abs(r2! - g2!)).toBeLessThan(10);
  });

  it('leaves cells empty when there are fewer samples, and rejects short inputs', async () => {
    const images = new Uint8Array(2 * 784).fill(255);
    const png = await renderSampleGrid(images, new Uint8Array([1, 2]), { rows: 2, cols: 2, scale: 1 });
    expect((await pngInfo(png)).width).toBe(24 + 2 * 40);
    await expect(renderSampleGrid(new Uint8Array(784), new Uint8Array([1, 2]), { rows: 1, cols: 2 })).rejects.toThrow(/images: 2 samples/);
    await expect(renderSampleGrid(images, new Uint8Array([1, 2]), { predictions: [1] })).rejects.toThrow(/predictions/);
    expect(() => sampleGridLayout({ scale: 1.5 })).toThrow(/scale/);
  });
});

describe('renderTrainingCurves', () => {
  const five: EpochMetrics[] = [1, 2, 3, 4, 5].map((epoch) => ({
    epoch,
    loss: 0.5 / epoch,
    accuracy: 0.9 + 0.015 * epoch,
    valLoss: 0.45 / epoch + 0.02,
    valAccuracy: 0.91 + 0.012 * epoch,
  }));

  /** The width and height attributes of the root <svg>. */
  function svgSize(svg: string): { width: number; height: number } {
    const match = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    expect(match).not.toBeNull();
    return { width: Number(match![1]), height: Number(match![2]) };
  }

  it('renders 5 epochs as a PNG twice the SVG size', async () => {
    const svg = await renderTrainingCurvesSvg(five, { title: 'test run' });
    expect(svg).toContain('test run');
    expect(svg).toContain('validation');
    const size = svgSize(svg);
    expect(size.width).toBeGreaterThan(640);
    expect(size.height).toBeGreaterThan(220);
    const png = await renderTrainingCurves(five, { title: 'test run' });
    await writeFile(join(tmpdir(), 'hwr-curves-5.png'), png);
    expect(await pngInfo(png)).toEqual({ width: 2 * size.width, height: 2 * size.height, channels: 3 });
  });

  it('renders a single epoch, and training metrics without validation', async () => {
    const one = [{ epoch: 1, loss: 0.3, accuracy: 0.91, valLoss: 0.2, valAccuracy: 0.94 }];
    const png = await renderTrainingCurves(one, { scale: 1 });
    await writeFile(join(tmpdir(), 'hwr-curves-1.png'), png);
    const info = await pngInfo(png);
    expect(info).toEqual({ ...svgSize(await renderTrainingCurvesSvg(one)), channels: 3 });
    const trainOnly = await renderTrainingCurvesSvg([{ epoch: 1, loss: 0.3, accuracy: 0.91 }]);
    expect(trainOnly).not.toContain('validation');
  });

  it('leaves out non-finite values and rejects an empty history', () => {
    const spec = trainingCurvesSpec([{ epoch: 1, loss: Number.NaN, accuracy: 0.5 }]) as { data: { values: unknown[] } };
    expect(spec.data.values).toEqual([{ epoch: 1, metric: 'accuracy', split: 'train', value: 0.5 }]);
    expect(() => trainingCurvesSpec([])).toThrow(/at least one epoch/);
  });
});

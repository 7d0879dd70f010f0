/**
 * A grid of labelled dataset samples as a PNG, like the 10x10 matplotlib grid that opens most MNIST tutorials:
 * each cell shows one image magnified (nearest neighbour, so the 28x28 pixels stay visible) with its label
 * under it; misrecognized samples are framed and labelled in red.
 *
 * Node-only (sharp). Pixels are drawn into a raw RGB buffer; the text is an SVG overlay that sharp
 * (librsvg) composites on top, in DejaVu Sans.
 */

import sharp from 'sharp';
import { hwrError } from '../core/errors.ts';

/** Options for `renderSampleGrid`. */
export interface SampleGridOptions {
  /** Grid rows. Default 10. */
  rows?: number;
  /** Grid columns. Default 10. */
  cols?: number;
  /** Label names indexed by label, e.g. `["0", ..., "9"]`. Default: the label number itself. */
  classNames?: readonly string[];
  /** Magnification: each source pixel becomes `scale` x `scale` px. Integer >= 1. Default 2. */
  scale?: number;
  /** Side of the square source images in px. Default 28. */
  imageSize?: number;
  /** Title drawn above the grid. */
  title?: string;
  /**
   * Predicted label per sample, same order as `labels`. Samples whose prediction differs from the label are
   * framed in red and captioned `label → prediction`; a line under the grid explains the red.
   */
  predictions?: readonly number[] | Uint8Array | Int32Array;
}

/** Pixel layout of a sample grid (all in px); `renderSampleGrid` returns a PNG exactly `width` x `height`. */
export interface SampleGridLayout {
  width: number;
  height: number;
  /** Side of one magnified image. */
  imagePx: number;
  cellWidth: number;
  cellHeight: number;
  fontSize: number;
  /** Height of the title band (0 without a title). */
  titleHeight: number;
  /** Height of the legend band under the grid (0 without predictions). */
  footerHeight: number;
}

const MARGIN = 12;
const GAP = 6;
const FONT_FAMILY = 'DejaVu Sans, sans-serif';
const INK = '#222222';
const WRONG = '#d62728';
const FRAME = '#e0e0e0';

/**
 * Computes the layout: cells are `imagePx + 2 * 6` px wide and `6 + imagePx + 4 + fontSize + 6` px high,
 * with a 12 px margin, a title band of `fontSize + 22` px when there is a title, and a legend band of
 * `fontSize + 10` px when there are predictions.
 *
 * @throws HwrError `BAD_ARGUMENT` when rows, cols, scale or imageSize are not positive integers
 */
export function sampleGridLayout(options: SampleGridOptions = {}): SampleGridLayout {
  const rows = options.rows ?? 10;
  const cols = options.cols ?? 10;
  const scale = options.scale ?? 2;
  const imageSize = options.imageSize ?? 28;
  for (const [name, value] of Object.entries({ rows, cols, scale, imageSize })) {
    if (!(Number.isInteger(value) && value >= 1)) throw hwrError('BAD_ARGUMENT', `${name}: expected a positive integer, got ${value}`);
  }
  const imagePx = imageSize * scale;
  const fontSize = Math.min(24, Math.max(11, Math.round(imagePx / 4.5)));
  const cellWidth = imagePx + 2 * GAP;
  const cellHeight = GAP + imagePx + 4 + fontSize + GAP;
  const titleHeight = options.title ? fontSize + 22 : 0;
  const footerHeight = options.predictions ? fontSize + 10 : 0;
  return {
    width: 2 * MARGIN + cols * cellWidth,
    height: 2 * MARGIN + titleHeight + rows * cellHeight + footerHeight,
    imagePx,
    cellWidth,
    cellHeight,
    fontSize,
    titleHeight,
    footerHeight,
  };
}

/**
 * Renders the first `rows * cols` samples (fewer if there are fewer labels) as a labelled grid,
 * row by row, dark ink on white (MNIST's 0 = background, 255 = ink is inverted for display).
 *
 * @param images   `[count, imageSize, imageSize]` uint8, 0 = background, 255 = ink
 * @param labels   `[count]` uint8 labels
 * @param options  grid shape, class names, magnification, title, predictions (see `SampleGridOptions`)
 * @returns PNG bytes, `sampleGridLayout(options).width` x `.height` px, RGB
 * @throws HwrError `BAD_ARGUMENT` when the options are invalid, `images` holds fewer than `count` images,
 *   or `predictions` is shorter than the samples shown
 */
export async function renderSampleGrid(images: Uint8Array, labels: Uint8Array, options: SampleGridOptions = {}): Promise<Buffer> {
  const layout = sampleGridLayout(options);
  const rows = options.rows ?? 10;
  const cols = options.cols ?? 10;
  const scale = options.scale ?? 2;
  const imageSize = options.imageSize ?? 28;
  const count = Math.min(rows * cols, labels.length);
  const pixelsPerImage = imageSize * imageSize;
  if (images.length < count * pixelsPerImage) {
    throw hwrError(
      'BAD_ARGUMENT',
      `images: ${count} samples of ${imageSize}x${imageSize} px need ${count * pixelsPerImage} bytes, got ${images.length}`,
    );
  }
  const { predictions } = options;
  if (predictions && predictions.length < count) {
    throw hwrError('BAD_ARGUMENT', `predictions: expected at least ${count} entries (one per sample shown), got ${predictions.length}`);
  }

  const { width, height, imagePx, cellWidth, cellHeight, fontSize, titleHeight } = layout;
  const canvas = Buffer.alloc(width * height * 3, 255);
  const svg: string[] = [];
  const gridTop = MARGIN + titleHeight;

  for (let i = 0; i < count; i++) {
    const left = MARGIN + (i % cols) * cellWidth + GAP;
    const top = gridTop + Math.floor(i / cols) * cellHeight + GAP;
    drawImage(canvas, width, images, i * pixelsPerImage, imageSize, scale, left, top);
    const label = labels[i]!;
    const predicted = predictions?.[i];
    const wrong = predicted !== undefined && predicted !== label;
    svg.push(
      `<rect x="${left - 0.5}" y="${top - 0.5}" width="${imagePx + 1}" height="${imagePx + 1}" fill="none" ` +
        (wrong ? `stroke="${WRONG}" stroke-width="2"/>` : `stroke="${FRAME}" stroke-width="1"/>`),
    );
    const caption = wrong ? `${nameOf(label, options.classNames)} → ${nameOf(predicted, options.classNames)}` : nameOf(label, options.classNames);
    svg.push(text(caption, left + imagePx / 2, top + imagePx + 4 + fontSize * 0.85, fontSize, wrong ? WRONG : INK, cellWidth - 4, wrong));
  }
  if (options.title) {
    svg.push(text(options.title, width / 2, MARGIN + fontSize + 6, fontSize + 4, INK, width - 2 * MARGIN, true));
  }
  if (predictions) {
    const wrongCount = Array.from({ length: count }, (_, i) => predictions[i] !== labels[i]).filter(Boolean).length;
    const legend = `${wrongCount} of ${count} misrecognized (red: label → prediction)`;
    svg.push(text(legend, width / 2, height - MARGIN - 2, fontSize, WRONG, width - 2 * MARGIN, false));
  }

  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT_FAMILY}">${svg.join('')}</svg>`;
  return sharp(canvas, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(overlay), top: 0, left: 0 }])
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Copies one image into the RGB canvas, inverted (ink dark) and magnified by pixel replication. */
function drawImage(canvas: Buffer, canvasWidth: number, images: Uint8Array, offset: number, size: number, scale: number, left: number, top: number): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const shade = 255 - images[offset + y * size + x]!;
      for (let dy = 0; dy < scale; dy++) {
        let p = ((top + y * scale + dy) * canvasWidth + left + x * scale) * 3;
        for (let dx = 0; dx < scale; dx++, p += 3) {
          canvas[p] = shade;
          canvas[p + 1] = shade;
          canvas[p + 2] = shade;
        }
      }
    }
  }
}

/** The display name of a label. */
function nameOf(label: number, classNames: readonly string[] | undefined): string {
  return classNames?.[label] ?? String(label);
}

/** A centred SVG text element, its font shrunk when its estimated width exceeds `maxWidth` (librsvg ignores textLength). */
function text(content: string, x: number, y: number, size: number, color: string, maxWidth: number, bold: boolean): string {
  // DejaVu Sans averages about 0.62 em per character (0.68 bold) on digits and lower case.
  const estimated = content.length * size * (bold ? 0.68 : 0.62);
  const fitted = estimated > maxWidth ? Math.max(6, Math.floor((size * maxWidth) / estimated)) : size;
  return (
    `<text x="${x}" y="${y}" font-size="${fitted}" fill="${color}" text-anchor="middle"` +
    `${bold ? ' font-weight="bold"' : ''}>${escapeXml(content)}</text>`
  );
}

/** Escapes text for SVG content. */
function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

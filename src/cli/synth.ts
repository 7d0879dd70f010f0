/**
 * `hwr synth`: synthetic handwritten characters from Make Me a Hanzi pen strokes (the hanzi-writer-data
 * package), one GNT file per synthetic writer, so that synthetic data takes the same path as CASIA's.
 */
import { join, resolve } from 'node:path';
import { hwrError } from '../core/errors.ts';
import { renderInk, type Ink } from '../core/ink.ts';
import { charsetByName } from '../data/charset.ts';
import { writeGntFile, type GntImage } from '../data/gnt.ts';
import { loadHanziInk } from '../data/synth/hanziStrokes.ts';
import { syntheticWriter, writeCharacters } from '../data/synth/synthesize.ts';
import { writeFileAtomic } from '../node/files.ts';
import { renderSampleGrid } from '../plot/samples.ts';

/** Flags of `hwr synth`. */
export interface SynthFlags {
  charset: string;
  /** Explicit characters instead of a charset (each must be in hanzi-writer-data and in GBK). */
  chars?: string;
  perClass: number;
  seed: number;
  out: string;
  /** Only the first N characters of the charset. */
  limit?: number;
  /** A PNG grid: per row one character, its reference strokes then the first writers' renditions. */
  preview?: string;
}

/** Rows (characters) and writer columns of the preview grid, at most. */
const PREVIEW_ROWS = 12;
const PREVIEW_WRITERS = 9;

/** `hwr synth`: writes `<out>/synth-s<seed>-w<NNN>.gnt` for writers 1..perClass, each with every character once. */
export async function synthCommand(flags: SynthFlags): Promise<void> {
  let chars = flags.chars !== undefined ? Array.from(new Set(Array.from(flags.chars.replace(/\s/g, '')))) : [...charsetByName(flags.charset)];
  if (chars.length === 0) throw hwrError('BAD_ARGUMENT', '--chars: no characters given');
  if (flags.limit !== undefined) chars = chars.slice(0, flags.limit);
  const out = resolve(flags.out);

  const loadStart = performance.now();
  const references = new Map<string, Ink>();
  for (const char of chars) references.set(char, await loadHanziInk(char));
  process.stdout.write(`loaded the strokes of ${chars.length} characters from hanzi-writer-data in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);

  const previewChars = chars.slice(0, PREVIEW_ROWS);
  const previewSamples: GntImage[][] = [];
  const start = performance.now();
  let total = 0;
  for (let index = 1; index <= flags.perClass; index++) {
    const writer = syntheticWriter(flags.seed, index);
    const path = join(out, `${writer.name}.gnt`);
    const kept: GntImage[] = [];
    const writerStart = performance.now();
    const samples = (function* () {
      for (const sample of writeCharacters(chars, references, writer)) {
        if (flags.preview && index <= PREVIEW_WRITERS && kept.length < previewChars.length) kept.push(sample);
        yield sample;
      }
    })();
    const { count, bytes } = await writeGntFile(path, samples);
    if (kept.length > 0) previewSamples.push(kept);
    total += count;
    const seconds = (performance.now() - writerStart) / 1000;
    process.stdout.write(`wrote ${path}: ${count} samples, ${(bytes / 1e6).toFixed(1)} MB, ${Math.round(count / seconds)} images/s\n`);
  }
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${total} images from ${flags.perClass} writers in ${seconds.toFixed(1)} s: ${Math.round(total / seconds)} images/s\n`);

  if (flags.preview) {
    await writePreview(flags.preview, previewChars, references, previewSamples);
    process.stdout.write(`wrote the preview grid ${flags.preview}\n`);
  }
}

/** The preview grid: one row per character, the reference strokes (plain, 3 px pen) then one column per writer. */
async function writePreview(file: string, chars: readonly string[], references: ReadonlyMap<string, Ink>, writers: readonly GntImage[][]): Promise<void> {
  const cell = 88;
  const cols = 1 + writers.length;
  const rows = chars.length;
  const images = new Uint8Array(rows * cols * cell * cell);
  const labels = new Uint8Array(rows * cols);
  chars.forEach((char, row) => {
    const reference = renderInk(references.get(char)!, { width: cell, height: cell, strokeWidth: 3, margin: 4 });
    images.set(reference.data, row * cols * cell * cell);
    labels[row * cols] = 0;
    writers.forEach((samples, w) => {
      const sample = samples[row];
      if (sample) pasteInverted(sample, images, (row * cols + 1 + w) * cell * cell, cell);
      labels[row * cols + 1 + w] = w + 1;
    });
  });
  const classNames = ['strokes', ...writers.map((_, w) => `w${w + 1}`)];
  const png = await renderSampleGrid(images, labels, { rows, cols, imageSize: cell, scale: 1, classNames, title: 'hwr synth: reference strokes, then one column per writer' });
  await writeFileAtomic(file, png);
}

/** Copies a GNT image (255 = paper) centred into a `cell` x `cell` ink image (255 = ink), downscaled by nearest neighbour if larger. */
function pasteInverted(sample: GntImage, target: Uint8Array, offset: number, cell: number): void {
  const factor = Math.max(1, sample.width / cell, sample.height / cell);
  const w = Math.floor(sample.width / factor);
  const h = Math.floor(sample.height / factor);
  const left = Math.floor((cell - w) / 2);
  const top = Math.floor((cell - h) / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const source = Math.floor(y * factor) * sample.width + Math.floor(x * factor);
      target[offset + (top + y) * cell + left + x] = 255 - sample.pixels[source]!;
    }
  }
}

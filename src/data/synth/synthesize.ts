/**
 * Synthetic handwritten character sets: each synthetic writer (a `WriterStyle` drawn once) writes every
 * character of a charset, rendered with the core ink renderer as gray images the way CASIA's GNT files store
 * them (cropped to the character with a small margin, 255 = paper), so that synthetic and real data go through
 * the same reader (`hwr synth` writes one GNT file per writer).
 *
 * Pure computation over reference ink; loading the references and writing files is the caller's job.
 */

import { hwrError } from '../../core/errors.ts';
import { inkBounds, renderInk, type Ink } from '../../core/ink.ts';
import { createRng, type Rng } from '../augment.ts';
import type { GntImage } from '../gnt.ts';
import type { ImageLineCharacter } from '../lines.ts';
import { gaussian, handwrite, randomWriterStyle, type WriterStyle } from './handwriting.ts';

/** One synthetic writer: its name (the GNT file's base name), style and random generator. */
export interface SyntheticWriter {
  /** `synth-s<seed>-w<index, 3 digits>`, e.g. `synth-s1-w001`. */
  name: string;
  style: WriterStyle;
  rng: Rng;
}

/**
 * The `index`-th writer (from 1) of a seed. Each writer has its own generator, seeded from `(seed, index)`, so a
 * writer's samples do not depend on how many writers are made or in which order.
 */
export function syntheticWriter(seed: number, index: number): SyntheticWriter {
  // Mixes seed and index into one 32-bit seed (the multipliers are odd constants from MurmurHash3's finalizer).
  let h = Math.imul(seed >>> 0, 0x85ebca6b) ^ Math.imul(index >>> 0, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  const rng = createRng(h >>> 0);
  return { name: `synth-s${seed}-w${String(index).padStart(3, '0')}`, style: randomWriterStyle(rng), rng };
}

/**
 * Renders ink as a GNT-style gray image: the character's bounding box scaled so that its longer side is about
 * the writer's `sizePx` (varying by a few %), a 2 px margin, pen width from the writer and the ink's pressure,
 * and coverage mapped to gray between 255 (paper) and the writer's `inkGray`.
 *
 * @param label  the character
 * @param ink    its strokes (any units, y down), with `pressure` per point
 * @returns `{ label, width, height, pixels }`, pixels `[height, width]` uint8, 255 = paper
 */
export function renderCharacter(label: string, ink: Ink, style: WriterStyle, rng: Rng): GntImage {
  const bounds = inkBounds(ink);
  const spanX = Math.max(1e-6, bounds.maxX - bounds.minX);
  const spanY = Math.max(1e-6, bounds.maxY - bounds.minY);
  const margin = 2;
  const longest = Math.max(12, Math.round(style.sizePx * (1 + gaussian(rng) * 0.05)));
  const inner = longest - 2 * margin;
  const scale = inner / Math.max(spanX, spanY);
  const width = Math.max(2 * margin + 1, Math.round(spanX * scale + style.penWidthPx) + 2 * margin);
  const height = Math.max(2 * margin + 1, Math.round(spanY * scale + style.penWidthPx) + 2 * margin);
  const coverage = renderInk(ink, { width, height, strokeWidth: style.penWidthPx, margin, usePressure: true });
  const pixels = new Uint8Array(width * height);
  const depth = 255 - style.inkGray;
  for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - Math.round((coverage.data[i]! * depth) / 255);
  return { label, width, height, pixels };
}

/**
 * A character for a composed image line (`composeImageLine`, ../lines.ts): drawn as `renderCharacter` draws it (pen,
 * pressure, gray, the writer's size), centred in a square cell of the writer's size so that flat characters (一) keep
 * their place at mid-height. Used by bench/lines.ts (Chinese image lines) and scripts/train-hanzi-segments.ts.
 * @returns `{ label, image, width, height }`: `image` `[height * width]` float32 ink coverage in [0, 1] (1 = full ink)
 */
export function renderLineCell(label: string, ink: Ink, style: WriterStyle, rng: Rng): ImageLineCharacter {
  const gray = renderCharacter(label, ink, style, rng);
  const side = Math.max(gray.height, Math.round(style.sizePx * (1 + gaussian(rng) * 0.02)));
  const top = Math.floor((side - gray.height) / 2);
  const image = new Float32Array(side * gray.width);
  for (let y = 0; y < gray.height; y++) for (let x = 0; x < gray.width; x++) image[(top + y) * gray.width + x] = 1 - gray.pixels[y * gray.width + x]! / 255;
  return { label, image, width: gray.width, height: side };
}

/**
 * One writer's rendition of every character, in charset order.
 *
 * @param chars       the characters, e.g. `gb2312Level1()`
 * @param references  reference ink per character (e.g. `loadHanziInk`); every char must be present
 * @param writer      `syntheticWriter(seed, index)`; its generator advances
 * @throws HwrError `BAD_ARGUMENT` when a character has no reference ink
 */
export function* writeCharacters(chars: readonly string[], references: ReadonlyMap<string, Ink>, writer: SyntheticWriter): Generator<GntImage> {
  for (const char of chars) {
    const reference = references.get(char);
    if (!reference) throw hwrError('BAD_ARGUMENT', `writeCharacters: no reference ink for "${char}"`);
    yield renderCharacter(char, handwrite(reference, writer.style, writer.rng), writer.style, writer.rng);
  }
}

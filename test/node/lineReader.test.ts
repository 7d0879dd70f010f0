/**
 * The line reader's pair model in Node (src/node/lineReader.ts): the shipped `digit-segments` is found for `digits` by its
 * metadata (`pairsFor`), loads, and reads touching digits that the character model alone reads as one; no pair model
 * is found for a model nothing names; the shipped `hanzi-segments` verifier (whole / part / several) is found for
 * `hanzi`, verifies against its checksums, and tells a whole character from its left part and from two characters.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentClasses, verifierClass } from '../../src/core/line/pairs.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import { segmentPreprocessorFor, type InkCrop } from '../../src/core/preprocessing.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { createRng } from '../../src/data/augment.ts';
import type { ImageLineCharacter } from '../../src/data/lines.ts';
import { handwrite } from '../../src/data/synth/handwriting.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { renderLineCell, syntheticWriter } from '../../src/data/synth/synthesize.ts';
import { findPairModelDir, loadPairRecognizer } from '../../src/node/lineReader.ts';
import { readMetadata, verifyFolder } from '../../src/node/modelFiles.ts';
import { loadRecognizer, SHIPPED_MODELS_DIR } from '../../src/node/recognizer.ts';
import { digitLine, HELD_OUT_WRITER_SEED } from '../fixtures/lines.ts';

/** A touching 81 (MNIST test digits, `digitLine` seed 1): the 1 slants under the 8, and the reader without a pair model reads "8". */
const PAIR_TEXT = '81';
const PAIR_SEED = 1;

describe('pair models for the line reader', () => {
  let digits: Recognizer;
  let pairs: Recognizer | null;
  beforeAll(async () => {
    digits = await loadRecognizer('digits', undefined, { engine: 'tfjs' });
    pairs = await loadPairRecognizer(digits, { engine: 'tfjs' });
  }, 60_000);
  afterAll(() => digits?.dispose());

  it('finds and loads the shipped digit-segments model for digits, by its metadata', async () => {
    expect(await findPairModelDir('digits')).toBe(join(SHIPPED_MODELS_DIR, 'digit-segments'));
    expect(pairs).not.toBeNull();
    const { metadata } = pairs!;
    expect(metadata.pairsFor).toBe('digits');
    // A segment model: the pairs 00..99, none, and the character model's digits.
    expect(metadata.classes).toHaveLength(111);
    expect(metadata.classes.slice(0, 3)).toEqual(['00', '01', '02']);
    expect(metadata.classes[100]).toBe('none');
    expect(metadata.classes.slice(101)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(segmentClasses(metadata.classes, digits.metadata.classes)?.size).toBe(10);
    // A plain pair model (no single-character class) is no segment model.
    expect(segmentClasses(['00', '01', 'none'], ['0', '1'])).toBeNull();
    expect(metadata.inputShape).toEqual(digits.metadata.inputShape);
    // Loaded once: a second call shares it.
    expect(await loadPairRecognizer(digits, { engine: 'tfjs' })).toBe(pairs);
  });

  it('finds none for a model no pair model serves, nor in a folder without models', async () => {
    expect(await findPairModelDir('letters')).toBeNull();
    const empty = await mkdtemp(join(tmpdir(), 'hwr-pairs-'));
    try {
      expect(await findPairModelDir('digits', empty)).toBeNull();
      expect(await findPairModelDir('digits', join(empty, 'missing'))).toBeNull();
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('reads a touching pair as two characters, each with its own box', async () => {
    const line = await digitLine(PAIR_TEXT, PAIR_SEED, { touchingShare: 1, overlappingShare: 0 });
    expect(line.touching.every(Boolean)).toBe(true);
    const reading = await readLine(digits, { image: line.image }, { pairs: pairs! });
    expect(reading.text).toBe(PAIR_TEXT);
    expect(reading.characters).toHaveLength(PAIR_TEXT.length);
    for (const c of reading.characters) {
      expect(c.probability).toBeGreaterThan(0);
      expect(c.alternatives[0]!.probability).toBeGreaterThanOrEqual(c.alternatives.at(-1)!.probability);
    }
    const boxes = reading.characters.map((c) => c.box);
    for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.x).toBeGreaterThanOrEqual(boxes[i - 1]!.x);
  }, 60_000);

  it('reads lines with many touching digits better with the segment model than without (no fewer characters right)', async () => {
    const texts = ['4179', '90817', '316257', '8023', '71184', '592063', '1377', '66019'];
    let editsWith = 0;
    let editsWithout = 0;
    let rightWith = 0;
    for (const [i, text] of texts.entries()) {
      const line = await digitLine(text, 40 + i, { touchingShare: 0.6, overlappingShare: 0.1 });
      const withModel = (await readLine(digits, { image: line.image }, { pairs: pairs! })).text;
      const without = (await readLine(digits, { image: line.image })).text;
      editsWith += distance(text, withModel);
      editsWithout += distance(text, without);
      if (withModel === text) rightWith++;
    }
    expect(editsWith).toBeLessThanOrEqual(editsWithout);
    expect(rightWith).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

describe('the shipped hanzi segment verifier (models/hanzi-segments)', () => {
  it('is found for hanzi by its metadata, verifies against its SHA256SUMS, and is a small verifier of the cjk profile', async () => {
    const dir = join(SHIPPED_MODELS_DIR, 'hanzi-segments');
    expect(await findPairModelDir('hanzi')).toBe(dir);
    const checksums = await verifyFolder(dir);
    expect([...checksums!.keys()].sort()).toEqual(expect.arrayContaining(['metadata.json', 'model.json', 'weights.bin']));
    const metadata = await readMetadata(dir); // checked against SHA256SUMS
    expect(metadata).toMatchObject({ name: 'hanzi-segments', pairsFor: 'hanzi', classes: ['whole', 'part', 'several'], preprocessing: 'cjk-fit-v1', architecture: 'hwr-net' });
    expect(verifierClass(metadata.classes)).toBe(0);
    expect(metadata.inputShape[0]).toBe(metadata.inputShape[1]);
    expect(metadata.command).toMatch(/^npx tsx scripts\/train-hanzi-segments\.ts /);
    expect(metadata.testAccuracy).toBeGreaterThan(0.8);
    expect((await stat(join(dir, 'weights.bin'))).size).toBeLessThan(1024 * 1024);
  });

  it('loads for the hanzi model and says a whole character is whole more than its left part or two characters together', async () => {
    const verifier = await loadPairRecognizer({ metadata: { name: 'hanzi' } as Recognizer['metadata'] }, { engine: 'tfjs' });
    expect(verifier).not.toBeNull();
    const prepare = segmentPreprocessorFor(verifier!.metadata);
    const { style } = syntheticWriter(HELD_OUT_WRITER_SEED, 7);
    const rng = createRng(7);
    const cells: ImageLineCharacter[] = [];
    for (const char of '碳嘛林他确语福境') cells.push(renderLineCell(char, handwrite(await loadHanziInk(char), style, rng), style, rng));
    /** A crop of columns [x0, x1) of cells a (and b beside it). */
    const crop = (a: ImageLineCharacter, x0: number, x1: number, b?: ImageLineCharacter): InkCrop => {
      const width = x1 - x0 + (b?.width ?? 0);
      const height = Math.max(a.height, b?.height ?? 0);
      const data = new Float32Array(width * height);
      for (let y = 0; y < a.height; y++) for (let x = x0; x < x1; x++) data[y * width + x - x0] = a.image[y * a.width + x]!;
      if (b) for (let y = 0; y < b.height; y++) for (let x = 0; x < b.width; x++) data[y * width + x1 - x0 + x] = b.image[y * b.width + x]!;
      return { data, width, height };
    };
    const inputs = cells.flatMap((c, i) => [crop(c, 0, c.width), crop(c, 0, Math.round(0.4 * c.width)), crop(c, 0, c.width, cells[(i + 1) % cells.length])]).map(prepare);
    const [side] = verifier!.metadata.inputShape;
    const joined = new Float32Array(inputs.length * side * side);
    inputs.forEach((input, k) => joined.set(input, k * side * side));
    const p = await verifier!.predictProbabilities(joined, inputs.length);
    let right = 0;
    for (let i = 0; i < cells.length; i++) {
      const [whole, part, several] = [0, 1, 2].map((j) => p[(3 * i + j) * 3]!);
      if (whole > part && whole > several) right++;
    }
    expect(right).toBeGreaterThanOrEqual(6); // of 8
  }, 60_000);
});

/** Levenshtein distance (edits) between two strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The line reader's pair model in Node (src/node/lineReader.ts): the shipped `digit-segments` is found for `digits` by its
 * metadata (`pairsFor`), loads, and reads touching digits that the character model alone reads as one; no pair model
 * is found for a model nothing names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentClasses } from '../../src/core/line/pairs.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { findPairModelDir, loadPairRecognizer } from '../../src/node/lineReader.ts';
import { loadRecognizer, SHIPPED_MODELS_DIR } from '../../src/node/recognizer.ts';
import { digitLine } from '../fixtures/lines.ts';

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
    expect(await findPairModelDir('hanzi')).toBeNull();
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

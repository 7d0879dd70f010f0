/**
 * The line reader's pair model in Node (src/node/lineReader.ts): the shipped `digit-pairs` is found for `digits` by its
 * metadata (`pairsFor`), loads, and reads touching digits that the character model alone reads as one; no pair model
 * is found for a model nothing names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('finds and loads the shipped digit-pairs model for digits, by its metadata', async () => {
    expect(await findPairModelDir('digits')).toBe(join(SHIPPED_MODELS_DIR, 'digit-pairs'));
    expect(pairs).not.toBeNull();
    const { metadata } = pairs!;
    expect(metadata.pairsFor).toBe('digits');
    expect(metadata.classes).toHaveLength(101);
    expect(metadata.classes.slice(0, 3)).toEqual(['00', '01', '02']);
    expect(metadata.classes.at(-1)).toBe('none');
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
});

/**
 * Constraints on a line's text (src/core/line/constraints.ts): patterns and word lists as automata stepped character
 * by character, bad patterns refused with BAD_ARGUMENT naming the option; punctuation read from a segment's shape
 * (src/core/line/punctuation.ts); and a pattern through `readLine` on a composed line with the shipped digits model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileConstraint, compilePattern, compileWords, type TextAutomaton } from '../../src/core/line/constraints.ts';
import { punctuationScore, segmentShape, SHAPE_PUNCTUATION } from '../../src/core/line/punctuation.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { digitLine } from '../fixtures/lines.ts';

/** Whether the automaton accepts the whole text. */
function accepts(automaton: TextAutomaton, text: string): boolean {
  let state = automaton.initial;
  for (const char of text) state = automaton.step(state, char);
  return automaton.accepts(state);
}

/** Whether `text` is a prefix some accepted text starts with (the automaton is not dead after it). */
function viable(automaton: TextAutomaton, text: string): boolean {
  let state = automaton.initial;
  for (const char of text) state = automaton.step(state, char);
  return state >= 0;
}

describe('compilePattern', () => {
  it('matches the whole text (anchored), with or without ^ and $', () => {
    for (const source of ['\\d{3}-\\d{4}', '^\\d{3}-\\d{4}$']) {
      const phone = compilePattern(source);
      expect(accepts(phone, '555-1234')).toBe(true);
      expect(accepts(phone, '555-12345')).toBe(false);
      expect(accepts(phone, 'x555-1234')).toBe(false);
      expect(viable(phone, '555-')).toBe(true);
      expect(viable(phone, '5555')).toBe(false);
    }
  });

  it('takes a RegExp with its flags', () => {
    const word = compilePattern(/ab+c/i);
    expect(accepts(word, 'ABBc')).toBe(true);
    expect(accepts(word, 'ac')).toBe(false);
  });

  it('says which punctuation it ever reads', () => {
    const date = compilePattern('\\d{4}-\\d{2}-\\d{2}');
    expect(date.mentions('-')).toBe(true);
    expect(date.mentions('/')).toBe(false);
    expect(date.mentions(' ')).toBe(false);
  });

  it('refuses a malformed pattern, a lookaround, a backreference and a blow-up, naming the option', () => {
    for (const bad of ['\\d+(', '(?=1)\\d', '(\\d+)\\1', '(((\\d{0,9}){0,9}){0,9}){0,9}']) {
      expect(() => compilePattern(bad)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^pattern: /) }));
    }
  });

  it('caches compiled patterns by their source', () => {
    expect(compilePattern('\\d{2}:\\d{2}')).toBe(compilePattern('\\d{2}:\\d{2}'));
  });
});

describe('compileWords', () => {
  const words = compileWords(['cat', 'car', 'dog']);
  it('accepts one word or several separated by single spaces', () => {
    expect(accepts(words, 'cat')).toBe(true);
    expect(accepts(words, 'dog car')).toBe(true);
    expect(accepts(words, 'ca')).toBe(false);
    expect(accepts(words, 'cat  dog')).toBe(false);
    expect(accepts(words, 'cow')).toBe(false);
    expect(viable(words, 'do')).toBe(true);
    expect(viable(words, 'dx')).toBe(false);
  });

  it('refuses an empty list or empty words, naming the option', () => {
    for (const bad of [[], [''], ['ok', ' ']]) {
      expect(() => compileWords(bad)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^words: /) }));
    }
  });

  it('combines with a pattern: both must hold', () => {
    const both = compileConstraint('[a-z]{3}( [a-z]{3})*', ['cat', 'dog', 'mouse'])!;
    expect(accepts(both, 'cat dog')).toBe(true);
    expect(accepts(both, 'mouse')).toBe(false);
    expect(compileConstraint(undefined, undefined)).toBeUndefined();
  });
});

describe('punctuation from shape', () => {
  const line = { charHeight: 40, baseline: 50 };
  /** A crop with ink on the given pixels. */
  const crop = (width: number, height: number, inked: (x: number, y: number) => boolean) => {
    const data = new Float32Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = inked(x, y) ? 1 : 0;
    return { data, width, height };
  };
  const best = (shape: ReturnType<typeof segmentShape>) => [...SHAPE_PUNCTUATION].sort((a, b) => punctuationScore(b, shape) - punctuationScore(a, shape))[0];

  it('reads a short flat stroke at mid-height as a dash', () => {
    const shape = segmentShape({ x0: 0, x1: 20, y0: 28, y1: 32 }, line, crop(21, 5, () => true));
    expect(best(shape)).toBe('-');
    expect(punctuationScore('-', shape)).toBeGreaterThan(-0.5);
  });

  it('reads a small dot on the baseline as a full stop, and one reaching below it as a comma', () => {
    expect(best(segmentShape({ x0: 0, x1: 5, y0: 45, y1: 50 }, line, crop(6, 6, () => true)))).toBe('.');
    expect(best(segmentShape({ x0: 0, x1: 5, y0: 44, y1: 56 }, line, crop(6, 13, (x, y) => Math.abs(x - (5 - y / 2.6)) < 2)))).toBe(',');
  });

  it('reads a tall stroke rising to the right as a slash, and two stacked dots as a colon', () => {
    expect(best(segmentShape({ x0: 0, x1: 20, y0: 10, y1: 50 }, line, crop(21, 41, (x, y) => Math.abs(x - (20 - y / 2)) < 2)))).toBe('/');
    expect(best(segmentShape({ x0: 0, x1: 5, y0: 30, y1: 50 }, line, crop(6, 21, (_, y) => y < 6 || y > 14)))).toBe(':');
  });

  it('finds no dash in a full-height character', () => {
    const shape = segmentShape({ x0: 0, x1: 20, y0: 10, y1: 50 }, line, crop(21, 41, () => true));
    expect(punctuationScore('-', shape)).toBeLessThan(-10);
  });
});

describe('readLine with a pattern (shipped digits model)', () => {
  let recognizer: Recognizer;
  beforeAll(async () => {
    recognizer = await loadRecognizer('digits', undefined, { warn: () => {} });
  });
  afterAll(() => recognizer?.dispose());

  it('reads a dash the model has no class for where the pattern needs one', async () => {
    const { image } = await digitLine('555-0193', 3, { touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(recognizer, { image }, { pattern: '\\d{3}-\\d{4}' });
    expect(reading.text).toBe('555-0193');
    expect(reading.constraintMet).toBe(true);
    expect(reading.characters[3]!.text).toBe('-');
  });

  it('gives the best unconstrained reading with constraintMet false when no path matches', async () => {
    const { image } = await digitLine('2024', 4, { touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(recognizer, { image }, { pattern: '[a-z]+' });
    expect(reading.constraintMet).toBe(false);
    expect(reading.text).toBe('2024');
  });

  it('throws BAD_ARGUMENT for a bad pattern before reading', async () => {
    const { image } = await digitLine('12', 5);
    await expect(readLine(recognizer, { image }, { pattern: '(\\d' })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^pattern: /) });
  });
});

/**
 * `readLine` (src/core/line/readLine.ts) with the shipped models on real composed lines (test/fixtures/lines.ts):
 * the fast per-profile path gives a single character the same answer as `recognize` / `recognizeInk`; clean lines of
 * MNIST test digits (images) and of written digits (ink) are read exactly, with boxes in the input's coordinates;
 * a hanzi line; spaces; errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentImageLine } from '../../src/core/line/imageSegments.ts';
import { MAX_LINE_PIECES, readLine } from '../../src/core/line/readLine.ts';
import { REJECTED_CHARACTER } from '../../src/core/line/types.ts';
import { renderInk } from '../../src/core/ink.ts';
import { inkPenWidthFor, segmentPreprocessorFor } from '../../src/core/preprocessing.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { createRng } from '../../src/data/augment.ts';
import { composeImageLine } from '../../src/data/lines.ts';
import { LETTERS } from '../../src/data/negatives.ts';
import { inkToPixels, renderStrokes } from '../../src/data/strokes.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { mnistTestDigits } from '../fixtures/images.ts';
import { digitInkLine, digitLine, hanziInkLine, readableTestDigits } from '../fixtures/lines.ts';

let digits: Recognizer;
let hanzi: Recognizer;

beforeAll(async () => {
  digits = await loadRecognizer('digits', undefined, { warn: () => {} });
  hanzi = await loadRecognizer('hanzi', undefined, { warn: () => {} });
});
afterAll(() => {
  digits?.dispose();
  hanzi?.dispose();
});

/** The most probable label of one row of probabilities. */
const argmax = (recognizer: Recognizer, row: Float32Array) => recognizer.metadata.classes[row.indexOf(Math.max(...row))]!;

describe('the fast per-profile path', () => {
  it('gives 200 MNIST test digits (as dark-on-light images) the labels recognize gives them', async () => {
    const samples = await mnistTestDigits(200);
    const prepare = segmentPreprocessorFor(digits.metadata);
    const agree = await Promise.all(
      samples.map(async (digit) => {
        const image = inkToPixels(Float32Array.from(digit.pixels, (v) => v / 255), 28, 28);
        const layout = segmentImageLine(image, 'digit');
        const input = prepare(layout.crop(0, layout.primitives.length - 1));
        const fast = argmax(digits, await digits.predictProbabilities(input, 1));
        const full = await digits.recognize(image);
        return fast === (full.label ?? digits.metadata.rejectClass);
      }),
    );
    expect(agree.filter(Boolean).length).toBeGreaterThanOrEqual(198);
  });

  it('gives written hanzi and digits (ink) the labels recognizeInk gives them', async () => {
    for (const [recognizer, line, size] of [
      [hanzi, await hanziInkLine('意织元姿狂免斥狐盈佣', 3), 64],
      [digits, digitInkLine('0123456789', 3), 56],
    ] as const) {
      const prepare = segmentPreprocessorFor(recognizer.metadata);
      const pen = inkPenWidthFor(recognizer.metadata);
      let agree = 0;
      for (const { start, end } of line.strokeRanges) {
        const ink = { strokes: line.ink.strokes.slice(start, end) };
        const margin = Math.round(size / 16);
        const picture = renderInk(ink, { width: size, height: size, strokeWidth: Math.max(0.5, (pen * (size - 2 * margin)) / (1 + pen)), margin });
        const fast = argmax(recognizer, await recognizer.predictProbabilities(prepare({ data: Float32Array.from(picture.data, (v) => v / 255), width: size, height: size }), 1));
        if (fast === (await recognizer.recognizeInk(ink)).label) agree++;
      }
      expect(agree).toBeGreaterThanOrEqual(line.strokeRanges.length - 1);
    }
  });

  it('reads single MNIST digits as one character with the label recognize gives (at least 97 of 100)', async () => {
    const samples = await mnistTestDigits(100);
    let agree = 0;
    for (const digit of samples) {
      const image = inkToPixels(Float32Array.from(digit.pixels, (v) => v / 255), 28, 28);
      const full = await digits.recognize(image);
      if ((await readLine(digits, { image })).text === (full.label ?? REJECTED_CHARACTER)) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(97);
  });
});

describe('readLine on composed lines', () => {
  it('reads clean lines of MNIST test digits exactly, each box on its digit', async () => {
    for (const [text, seed] of [
      ['4096', 1],
      ['31415926', 2],
      ['2718281828', 3],
    ] as const) {
      const line = await digitLine(text, seed, { touchingShare: 0, overlappingShare: 0 });
      const reading = await readLine(digits, { image: line.image });
      expect(reading.text).toBe(text);
      expect(reading.characters).toHaveLength(text.length);
      reading.characters.forEach((c, i) => {
        const truth = line.boxes[i]!;
        expect(Math.abs(c.box.x - truth.x)).toBeLessThanOrEqual(3);
        expect(Math.abs(c.box.x + c.box.width - (truth.x + truth.width))).toBeLessThanOrEqual(3);
        expect(c.alternatives[0]!.label).toBe(text[i]);
        expect(c.strokes).toBeUndefined();
      });
      expect(reading.confidence).toBeGreaterThan(0);
      expect(reading.confidence).toBeLessThanOrEqual(1);
      expect(reading.timings.totalMs).toBeGreaterThan(0);
    }
  });

  it('reads lines of MNIST digits with touching pairs (cut where the ink meets)', async () => {
    for (const seed of [11, 17, 18]) {
      const line = await digitLine('80512', seed, { touchingShare: 0.5, overlappingShare: 0 });
      expect(line.touching.filter(Boolean).length).toBeGreaterThanOrEqual(2);
      expect((await readLine(digits, { image: line.image })).text).toBe('80512');
    }
  });

  it('reads written digit lines (ink) exactly, with the strokes of each character', async () => {
    for (const [text, seed] of [
      // Seeds whose characters the model reads right one by one (seeds 1 and 2 of 20261130 write a 6 and a 1 it misreads alone).
      ['20261130', 3],
      ['5551234', 3],
    ] as const) {
      const line = digitInkLine(text, seed, { touchingShare: 0, overlappingShare: 0 });
      const reading = await readLine(digits, { ink: line.ink });
      expect(reading.text).toBe(text);
      reading.characters.forEach((c, i) => {
        const { start, end } = line.strokeRanges[i]!;
        expect(c.strokes).toEqual(Array.from({ length: end - start }, (_, k) => start + k));
        expect(c.box.x).toBeCloseTo(line.boxes[i]!.x, 6);
      });
    }
  });

  it('reads a hanzi line written by a held-out writer', async () => {
    const line = await hanziInkLine('中文识别', 5, { touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(hanzi, { ink: line.ink });
    expect(reading.text).toBe('中文识别');
    expect(reading.characters[0]!.alternatives).toHaveLength(10);
  });

  it('reads a hanzi line by its pitch: a left-hand part joined to the character before it is too wide (睫眺, not 醒兆)', async () => {
    // Without the pitch pass (LINE_READER_TUNING.SQUARE_PITCH_COST 0) this line read 醒兆御嘲诱摆搜: 睫 with the 目
    // of 眺 as one wide character, the rest of 眺 as another.
    const line = await hanziInkLine('睫眺御嘲诱摆搜', 8);
    const reading = await readLine(hanzi, { ink: line.ink });
    expect(reading.text).toBe('睫眺御嘲诱摆搜');
    reading.characters.forEach((c, i) => expect(c.strokes).toEqual(Array.from({ length: line.strokeRanges[i]!.end - line.strokeRanges[i]!.start }, (_, k) => line.strokeRanges[i]!.start + k)));
  });

  it('puts a space at a word gap', async () => {
    const line = await digitLine('12 34', 7, { touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(digits, { image: line.image });
    expect(reading.text).toBe('12 34');
    expect(reading.characters.map((c) => c.spaceBefore === true)).toEqual([false, false, true, false]);
  });

  it('marks a letter between digits as rejected instead of forcing it into digits', async () => {
    const pool = await readableTestDigits();
    const digit = (label: string) => ({ label, image: pool.get(label)![0]!, width: 28, height: 28 });
    const letter = { label: 'P', image: renderStrokes(LETTERS['P']!, 28, 2.6), width: 28, height: 28 };
    const line = composeImageLine([digit('1'), letter, digit('2')], createRng(3), { scale: 2, margin: 16, touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(digits, { image: line.image });
    expect(reading.text).toBe(`1${REJECTED_CHARACTER}2`);
    expect(reading.characters[1]).toMatchObject({ text: null, reason: 'not a digit' });
    expect(reading.characters[1]!.alternatives[0]!.label).toBe(digits.metadata.rejectClass);
  });

  it('honours topK', async () => {
    const line = await digitLine('77', 8, { touchingShare: 0, overlappingShare: 0 });
    const reading = await readLine(digits, { image: line.image }, { topK: 5 });
    expect(reading.characters.every((c) => c.alternatives.length === 5)).toBe(true);
  });
});

describe('readLine errors', () => {
  it('throws NO_INK for a blank image and for ink without points, naming the input', async () => {
    const blank = inkToPixels(new Float32Array(200 * 50), 200, 50);
    await expect(readLine(digits, { image: blank }, { name: 'blank.png' })).rejects.toMatchObject({ code: 'NO_INK', message: expect.stringContaining('blank.png') });
    await expect(readLine(digits, { ink: { strokes: [[]] } })).rejects.toMatchObject({ code: 'NO_INK' });
  });

  it('throws BAD_ARGUMENT for a bad topK, beamWidth or input', async () => {
    const ink = { strokes: [[{ x: 0, y: 0 }, { x: 0, y: 10 }]] };
    await expect(readLine(digits, { ink }, { topK: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^topK/) });
    await expect(readLine(digits, { ink }, { beamWidth: 0.5 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^beamWidth/) });
    await expect(readLine(digits, {} as never)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('refuses at once a line of more than MAX_LINE_PIECES pieces (1,000 one-stroke pieces took 10-14 s to read)', async () => {
    const strokes = Array.from({ length: MAX_LINE_PIECES + 1 }, (_, i) => [{ x: i * 30, y: 0 }, { x: i * 30 + 2, y: 40 }]);
    await expect(readLine(digits, { ink: { strokes } }, { name: 'long.json' })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
      message: expect.stringMatching(/^long\.json: the line falls into 401 pieces/),
    });
  });
});

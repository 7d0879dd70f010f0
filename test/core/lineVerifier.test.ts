/**
 * The line reader's segment verifier hook (src/core/line/pairs.ts `verifierClass`, `PAIR_TUNING.VERIFIER_WEIGHT`): a
 * model served as `ReadLineOptions.pairs` whose classes are kinds of candidate (`whole`, `part`, `several`) adds its
 * weighted log p(whole) to every character option, so it can turn a split into a merge; it gives no pair edges, and
 * for ink it is asked only while `VERIFIER_INK_WEIGHT` is above 0. A tiny fake verifier (a rule on the candidate's input, no
 * network) over the shipped digits model shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAIR_TUNING, verifierClass, WHOLE_CLASS } from '../../src/core/line/pairs.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { digitInkLine, digitLine } from '../fixtures/lines.ts';

let digits: Recognizer;
beforeAll(async () => {
  digits = await loadRecognizer('digits', undefined, { engine: 'tfjs', warn: () => {} });
}, 60_000);
afterAll(() => digits?.dispose());

/**
 * A fake verifier with the digits model's input profile: a candidate whose ink spans more than `minColumns` of the
 * input's columns is `whole` (p 0.98), a narrower one `part` (p(whole) 1e-9). Counts the candidates it was asked about.
 */
function fakeVerifier(minColumns: number): Recognizer & { asked: number } {
  const [height, width] = digits.metadata.inputShape;
  const fake = {
    asked: 0,
    metadata: { ...digits.metadata, name: 'fake-verifier', classes: ['whole', 'part', 'several'], pairsFor: 'digits', rejectClass: undefined },
    async predictProbabilities(inputs: Float32Array, count: number): Promise<Float32Array> {
      fake.asked += count;
      const out = new Float32Array(count * 3);
      for (let k = 0; k < count; k++) {
        let columns = 0;
        for (let x = 0; x < width; x++) {
          let inked = false;
          for (let y = 0; y < height && !inked; y++) inked = inputs[k * height * width + y * width + x]! > 0.3;
          if (inked) columns++;
        }
        const whole = columns > minColumns ? 0.98 : 1e-9;
        out.set([whole, (1 - whole) / 2, (1 - whole) / 2], k * 3);
      }
      return out;
    },
  };
  return fake as unknown as Recognizer & { asked: number };
}

describe('a segment verifier in readLine', () => {
  it('is recognized by its classes: a whole class and no two-character class', () => {
    expect(verifierClass(['whole', 'part', 'several'])).toBe(0);
    expect(verifierClass(['part', WHOLE_CLASS])).toBe(1);
    expect(verifierClass(['00', '01', 'none', '0', '1'])).toBeNull(); // digit-segments: a segment model, not a verifier
    expect(verifierClass(['00', 'whole'])).toBeNull();
    expect(verifierClass(['part', 'several'])).toBeNull();
  });

  it('turns a split into a merge when it calls the pieces parts and their union whole', async () => {
    const line = await digitLine('11', 3, { touchingShare: 0, overlappingShare: 0 });
    const plain = await readLine(digits, { image: line.image });
    expect(plain.text).toBe('11');
    const verifier = fakeVerifier(8); // the 1s span 4 and 7 of 28 columns, the two together 9
    const verified = await readLine(digits, { image: line.image }, { pairs: verifier });
    expect(verifier.asked).toBeGreaterThan(0);
    expect(verified.characters).toHaveLength(1); // the two narrow 1s (parts) read as one whole character
    expect(verified.characters[0]!.box.width).toBeGreaterThan(Math.max(...plain.characters.map((c) => c.box.width)));
  }, 60_000);

  it('leaves a reading alone when it calls every candidate whole; on ink it is asked only at an ink weight above 0', async () => {
    const line = await digitLine('4179', 5, { touchingShare: 0, overlappingShare: 0 });
    const plain = await readLine(digits, { image: line.image });
    const always = fakeVerifier(-1);
    expect((await readLine(digits, { image: line.image }, { pairs: always })).text).toBe(plain.text);
    const ink = digitInkLine('4179', 5);
    const inkPlain = (await readLine(digits, { ink: ink.ink })).text;
    const saved = PAIR_TUNING.VERIFIER_INK_WEIGHT;
    try {
      PAIR_TUNING.VERIFIER_INK_WEIGHT = 0;
      const unasked = fakeVerifier(8);
      expect((await readLine(digits, { ink: ink.ink }, { pairs: unasked })).text).toBe(inkPlain);
      expect(unasked.asked).toBe(0);
      PAIR_TUNING.VERIFIER_INK_WEIGHT = 1;
      const asked = fakeVerifier(-1);
      expect((await readLine(digits, { ink: ink.ink }, { pairs: asked })).text).toBe(inkPlain);
      expect(asked.asked).toBeGreaterThan(0);
    } finally {
      PAIR_TUNING.VERIFIER_INK_WEIGHT = saved;
    }
  }, 60_000);
});

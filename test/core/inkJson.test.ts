import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { INK_LIMITS, inkImage, inkToJson, parseInk, renderInk } from '../../src/core/ink.ts';
import { inkImageFor, inkPenWidthFor, preprocessorFor } from '../../src/core/preprocessing.ts';

const code = (run: () => unknown): { code?: string; message: string } => {
  try {
    run();
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected an error');
};

describe('parseInk', () => {
  it('turns [x, y, t?] points into ink points, keeping t where given and the surface size', () => {
    const ink = parseInk({ strokes: [[[1, 2], [3, 4, 5]], [[6, 7, 8]]], width: 300, height: 200, extra: 'ignored' }, 'body.ink');
    expect(ink).toEqual({ strokes: [[{ x: 1, y: 2 }, { x: 3, y: 4, t: 5 }], [{ x: 6, y: 7, t: 8 }]], width: 300, height: 200 });
    expect(inkToJson(ink)).toEqual({ strokes: [[[1, 2], [3, 4, 5]], [[6, 7, 8]]], width: 300, height: 200 });
  });

  it('rejects malformed ink with BAD_INK naming the field and the reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /body\.ink: expected an object/],
      [[], /body\.ink: expected an object/],
      [{}, /body\.ink\.strokes: expected an array of strokes/],
      [{ strokes: 'abc' }, /body\.ink\.strokes: expected an array of strokes, got string/],
      [{ strokes: [5] }, /body\.ink\.strokes\[0\]: expected a stroke/],
      [{ strokes: [[[1]]] }, /body\.ink\.strokes\[0\]\[0\]: expected a point/],
      [{ strokes: [[[1, 'NaN']]] }, /strokes\[0\]\[0\]: y must be a finite number/],
      [{ strokes: [[[1, 2], [Infinity, 2]]] }, /strokes\[0\]\[1\]: x must be a finite number/],
      [{ strokes: [[[1, 2, 'soon']]] }, /t must be a finite number of ms/],
      [{ strokes: [[[1e9, 2]]] }, /x = 1000000000 is beyond the limit/],
      [{ strokes: [[[1, 2]]], width: -3 }, /body\.ink\.width: expected a number > 0/],
      [{ strokes: [[[1, 2]]], height: '10' }, /body\.ink\.height: expected a number > 0/],
    ];
    for (const [value, message] of cases) {
      const error = code(() => parseInk(value, 'body.ink'));
      expect(error.code, JSON.stringify(value)).toBe('BAD_INK');
      expect(error.message).toMatch(message);
    }
  });

  it('answers NO_INK for strokes without points', () => {
    expect(code(() => parseInk({ strokes: [] }, 'ink')).code).toBe('NO_INK');
    expect(code(() => parseInk({ strokes: [[], []] }, 'ink')).code).toBe('NO_INK');
  });

  it('bounds the number of strokes and points', () => {
    const manyStrokes = { strokes: Array.from({ length: INK_LIMITS.maxStrokes + 1 }, () => [[0, 0]]) };
    expect(code(() => parseInk(manyStrokes, 'ink')).message).toMatch(/strokes, more than the limit/);
    const manyPoints = { strokes: [Array.from({ length: INK_LIMITS.maxPoints + 1 }, (_, i) => [i, i])] };
    expect(code(() => parseInk(manyPoints, 'ink')).message).toMatch(/more than the limit of 20000 points/);
  });
});

describe('inkImage', () => {
  const seven = { strokes: [[{ x: 10, y: 10 }, { x: 60, y: 10 }, { x: 35, y: 90 }]] };

  it('draws black ink on white RGBA, opaque, the box fitted with a margin of 1/16', () => {
    const image = inkImage(seven);
    expect([image.width, image.height, image.data.length]).toEqual([128, 128, 128 * 128 * 4]);
    let top = 128;
    let bottom = -1;
    for (let i = 0; i < 128 * 128; i++) {
      const [r, g, b, a] = image.data.subarray(4 * i, 4 * i + 4);
      expect(r === g && g === b && a === 255).toBe(true);
      if (r! < 128) {
        top = Math.min(top, Math.floor(i / 128));
        bottom = Math.max(bottom, Math.floor(i / 128));
      }
    }
    expect(top).toBeGreaterThanOrEqual(8);
    expect(bottom).toBeLessThanOrEqual(119);
    expect(bottom - top).toBeGreaterThan(100);
  });

  it('does not depend on the unit or the offset of the ink', () => {
    const scaled = { strokes: seven.strokes.map((s) => s.map((p) => ({ x: p.x * 37.5 - 4000, y: p.y * 37.5 + 12 }))) };
    expect(Buffer.from(inkImage(scaled).data).equals(Buffer.from(inkImage(seven).data))).toBe(true);
  });

  it('draws a wider pen for a larger penWidth, and the model metadata picks the width', () => {
    const ink = (image: { data: Uint8ClampedArray }): number => image.data.filter((v, i) => i % 4 === 0 && v < 128).length;
    expect(ink(inkImage(seven, { penWidth: 0.2 }))).toBeGreaterThan(1.4 * ink(inkImage(seven, { penWidth: 0.1 })));
    expect(inkPenWidthFor({ preprocessing: 'mnist-com-v2' })).toBe(0.12);
    expect(inkPenWidthFor({ preprocessing: 'cjk-fit-v1' })).toBe(0.05);
    expect(inkPenWidthFor({ preprocessing: 'cjk-fit-v1', inkPenWidth: 0.08 })).toBe(0.08);
    expect(inkImageFor(seven, { preprocessing: 'mnist-com-v2', inkPenWidth: 0.2 }).data).toEqual(inkImage(seven, { penWidth: 0.2 }).data);
  });

  it('gives the same bytes on every run (pinned by a SHA-256; the browser test compares the same hash)', () => {
    const digest = createHash('sha256').update(inkImage(seven).data).digest('hex');
    expect(digest).toBe(createHash('sha256').update(inkImage(structuredClone(seven)).data).digest('hex'));
    expect(renderInk(seven, { width: 28, height: 28 }).data.length).toBe(784);
  });

  it('is read as dark ink on light paper even where the ink covers most of the picture (a dense scribble)', () => {
    // 13 passes of a zigzag with a thick pen: most pixels are ink, which a majority vote would take for the paper.
    const zigzag = { strokes: [Array.from({ length: 27 }, (_, i) => ({ x: i % 2 === 0 ? 0 : 100, y: (i * 100) / 26 }))] };
    const picture = inkImage(zigzag, { penWidth: 0.2 });
    expect(picture.polarity).toBe('dark-on-light');
    expect(picture.data.filter((v, i) => i % 4 === 0 && v < 128).length).toBeGreaterThan(0.5 * 128 * 128);
    for (const metadata of [{ name: 'digits', preprocessing: 'mnist-com-v2', inputShape: [28, 28, 1] as [number, number, number] }, { name: 'hanzi', preprocessing: 'cjk-fit-v1', inputShape: [64, 64, 1] as [number, number, number] }]) {
      const input = preprocessorFor(metadata)(inkImageFor(zigzag, { ...metadata, inkPenWidth: 0.2 }), 'zigzag');
      const mean = input.reduce((sum, v) => sum + v, 0) / input.length;
      expect(mean, metadata.name).toBeGreaterThan(0.25); // ink = 1: the scribble, not the paper
    }
  });

  it('refuses a pen width outside (0, 1)', () => {
    expect(code(() => inkImage(seven, { penWidth: 0 })).code).toBe('BAD_ARGUMENT');
    expect(code(() => inkImage(seven, { penWidth: 1.5 })).code).toBe('BAD_ARGUMENT');
  });
});

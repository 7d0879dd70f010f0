import { describe, expect, it } from 'vitest';
import { emptyInkDataset, INK_DATASET_LIMITS, parseInkDataset, readInkDataset, sampleInk, serializeInkDataset, type InkDataset } from '../../src/data/inkDataset.ts';

function dataset(): InkDataset {
  const d = emptyInkDataset('hylian', ['a', 'hylian-b', 'ф']);
  d.samples.push(
    { label: 'a', writer: 'me', strokes: [[[0, 0, 0], [10, 5, 16]], [[3, 3]]], id: 'x1' },
    { label: 'hylian-b', strokes: [[[1.5, -2], [4, 8]]] },
    { label: 'ф', strokes: [[[0, 0]]] },
  );
  d.pictures = { a: 'data:image/png;base64,iVBORw0KGgo=' };
  (d as Record<string, unknown>).futureField = { kept: true };
  return d;
}

const errorOf = (run: () => unknown): { code?: string; message: string } => {
  try {
    run();
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected an error');
};

describe('hwr-ink-dataset', () => {
  it('round-trips through its file text, keeping unknown fields', () => {
    const original = dataset();
    const text = serializeInkDataset(original);
    expect(JSON.parse(text)).toEqual(original);
    expect(readInkDataset(text, 'hylian.json')).toEqual(original);
    // One sample per line: readable and diffable.
    expect(text.split('\n').filter((line) => line.includes('"label"'))).toHaveLength(3);
  });

  it('round-trips an empty dataset', () => {
    const empty = emptyInkDataset('new', ['x', 'y']);
    expect(readInkDataset(serializeInkDataset(empty), 'new.json')).toEqual(empty);
  });

  it('gives a sample as ink points, with t where present', () => {
    expect(sampleInk(dataset().samples[0]!)).toEqual({ strokes: [[{ x: 0, y: 0, t: 0 }, { x: 10, y: 5, t: 16 }], [{ x: 3, y: 3 }]] });
  });

  it('rejects invalid files with BAD_DATASET naming the file, the field and the reason', () => {
    const cases: Array<[(d: Record<string, any>) => unknown, RegExp]> = [
      [(d) => ((d.format = 'other'), d), /format must be "hwr-ink-dataset"/],
      [(d) => ((d.version = 2), d), /version 2 is not supported/],
      [(d) => ((d.script = ''), d), /script must be a non-empty string/],
      [(d) => ((d.classes = []), d), /classes must be a non-empty array/],
      [(d) => ((d.classes = ['a', 'a']), d), /classes\[1\] "a" is listed twice/],
      [(d) => ((d.classes = ['a', 7]), d), /classes\[1\] must be a non-empty string/],
      [(d) => ((d.classes = ['x'.repeat(65)]), d), /classes\[0\] is 65 characters long/],
      [(d) => ((d.samples = {}), d), /samples must be an array/],
      [(d) => ((d.samples[1].label = 'z'), d), /samples\[1\]\.label "z" is not one of the classes/],
      [(d) => ((d.samples[0].writer = 3), d), /samples\[0\]\.writer must be a non-empty string/],
      [(d) => ((d.samples[2].strokes = [[[0, null]]]), d), /samples\[2\]\.strokes\[0\]\[0\]: y must be a finite number/],
      [(d) => ((d.samples[2].strokes = []), d), /samples\[2\]\.strokes: no stroke has a point/],
      [(d) => ((d.samples[0] = 'a'), d), /samples\[0\] must be an object/],
      [(d) => ((d.pictures = { q: 'data:image/png;base64,AA' }), d), /pictures\["q"\] is not one of the classes/],
      [(d) => ((d.pictures = { a: 'http://example.com/a.png' }), d), /pictures\["a"\] must be a data:image/],
      [() => [], /expected a JSON object/],
    ];
    for (const [mutate, message] of cases) {
      const error = errorOf(() => parseInkDataset(mutate(structuredClone(dataset()) as Record<string, any>), 'my.json'));
      expect(error.code).toBe('BAD_DATASET');
      expect(error.message).toMatch(/^my\.json: /);
      expect(error.message).toMatch(message);
    }
  });

  it('rejects text that is not JSON, and samples over the size limits', () => {
    expect(errorOf(() => readInkDataset('{"format":', 'cut.json')).message).toMatch(/^cut\.json: not JSON/);
    const big = dataset();
    big.samples[0]!.strokes = [Array.from({ length: INK_DATASET_LIMITS.maxPointsPerSample + 1 }, (_, i): [number, number] => [i, 0])];
    expect(errorOf(() => parseInkDataset(big, 'big.json')).message).toMatch(/samples\[0\]\.strokes: more than the limit of 5000 points/);
  });
});

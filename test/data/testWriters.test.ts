import { describe, expect, it } from 'vitest';
import type { Ink } from '../../src/core/ink.ts';
import { glyphInk, INVENTED_ALPHABET, LATIN_LOWERCASE } from '../../src/data/plotterFonts.ts';
import { displacementAt, elasticField, testRandom, testWriter, testWriterDataset, writeTestSample } from '../../src/data/testWriters.ts';
import { loadPlotterFont } from '../../src/node/plotterFonts.ts';

const latin = loadPlotterFont('futural');
const symbols = loadPlotterFont(INVENTED_ALPHABET.font);
const glyphs: Ink[] = [...LATIN_LOWERCASE.map((c) => glyphInk(latin, c)), ...INVENTED_ALPHABET.chars.map((c) => glyphInk(symbols, c))];

/** Largest side of a glyph's box. */
function glyphSize(ink: Ink): number {
  const points = ink.strokes.flat();
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  return Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
}

/** Distance from a point to the nearest segment (or dot) of the glyph. */
function distanceToGlyph(ink: Ink, x: number, y: number): number {
  let best = Infinity;
  for (const stroke of ink.strokes) {
    if (stroke.length === 1) best = Math.min(best, Math.hypot(x - stroke[0]!.x, y - stroke[0]!.y));
    for (let i = 1; i < stroke.length; i++) {
      const a = stroke[i - 1]!;
      const b = stroke[i]!;
      const [dx, dy] = [b.x - a.x, b.y - a.y];
      const f = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy || 1)));
      best = Math.min(best, Math.hypot(x - a.x - f * dx, y - a.y - f * dy));
    }
  }
  return best;
}

describe('test writers (the independent generator of bench/teach.ts)', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(testWriter(401)).toEqual(testWriter(401));
    expect(testWriter(401).shear).not.toBe(testWriter(402).shear);
    const a = writeTestSample(glyphs[0]!, testWriter(403), testRandom(6));
    const b = writeTestSample(glyphs[0]!, testWriter(403), testRandom(6));
    expect(a).toEqual(b);
    const c = writeTestSample(glyphs[0]!, testWriter(403), testRandom(7));
    expect(c).not.toEqual(a);
  });

  it('keeps the stroke count of every glyph, and every stroke has points', () => {
    const random = testRandom(1);
    for (let seed = 401; seed <= 408; seed++) {
      const writer = testWriter(seed);
      for (const glyph of glyphs) {
        const ink = writeTestSample(glyph, writer, random);
        expect(ink.strokes.length).toBe(glyph.strokes.length);
        for (const stroke of ink.strokes) expect(stroke.length).toBeGreaterThan(0);
      }
    }
  });

  it('bounds the elastic displacement by alpha', () => {
    const field = elasticField(testRandom(3), 0.2, 0.08);
    let largest = 0;
    for (let u = -0.1; u <= 1.1; u += 0.01) for (let v = -0.1; v <= 1.1; v += 0.01) largest = Math.max(largest, Math.hypot(...displacementAt(field, u, v)));
    expect(largest).toBeLessThanOrEqual(0.08 + 1e-12);
    expect(largest).toBeGreaterThan(0.04); // clearly visible: the largest displacement is reached near a grid point
    expect(() => elasticField(testRandom(3), 0, 0.1)).toThrow(/sigma/);
  });

  it('keeps every written point near the glyph (within 0.45 glyph sizes) and the ink visibly changed', () => {
    const random = testRandom(2);
    let changed = 0;
    for (let seed = 401; seed <= 408; seed++) {
      const writer = testWriter(seed);
      for (const glyph of glyphs) {
        const size = glyphSize(glyph);
        const ink = writeTestSample(glyph, writer, random);
        let far = 0;
        for (const p of ink.strokes.flat()) far = Math.max(far, distanceToGlyph(glyph, p.x, p.y) / size);
        expect(far).toBeLessThan(0.45);
        if (far > 0.03) changed++;
      }
    }
    expect(changed).toBeGreaterThan(0.9 * 8 * glyphs.length);
  });

  it('writes a dataset with the writers, labels and per-writer ids', () => {
    const dataset = testWriterDataset(glyphs.slice(0, 3), [testWriter(401), testWriter(402)], { script: 'latin', labels: ['a', 'b', 'c'], samplesPerClass: 2, seed: 6, idPrefix: 'futural' });
    expect(dataset.samples).toHaveLength(12);
    expect(dataset.samples.map((s) => s.writer)).toEqual([...Array(6).fill('futural/hand401'), ...Array(6).fill('futural/hand402')]);
    expect(dataset.samples.slice(0, 6).map((s) => s.label)).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(() => testWriterDataset(glyphs.slice(0, 3), [testWriter(401)], { script: 'x', labels: ['a'], samplesPerClass: 1, seed: 1 })).toThrow(/labels/);
  });
});

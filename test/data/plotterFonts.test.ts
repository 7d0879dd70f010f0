import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inkBounds } from '../../src/core/ink.ts';
import { readInkDataset } from '../../src/data/inkDataset.ts';
import {
  INVENTED_ALPHABET,
  GLYPH_UNITS,
  LATIN_LOWERCASE,
  pathToStrokes,
  plotterWriter,
  simplifyStroke,
  svgFont,
  writeSample,
  writerDataset,
} from '../../src/data/plotterFonts.ts';
import { createRng } from '../../src/data/augment.ts';
import { loadPlotterFont } from '../../src/node/plotterFonts.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('pathToStrokes', () => {
  it('splits subpaths into strokes and reads implicit line-tos', () => {
    expect(pathToStrokes('M4,1 L4,22 M0,0 L1,1 2,0', 'p')).toEqual([
      [{ x: 4, y: 1 }, { x: 4, y: 22 }],
      [{ x: 0, y: 0 }, { x: 1, y: 1 }, { x: 2, y: 0 }],
    ]);
  });

  it('repeats a command for further numbers', () => {
    expect(pathToStrokes('M0 0 v1 .5 h2', 'p')).toEqual([[{ x: 0, y: 0 }, { x: 0, y: 1 }, { x: 0, y: 1.5 }, { x: 2, y: 1.5 }]]);
  });

  it('reads relative commands, H, V and Z, and numbers without separators', () => {
    expect(pathToStrokes('m1 1h2v2l-2.5.5z', 'p')).toEqual([
      [{ x: 1, y: 1 }, { x: 3, y: 1 }, { x: 3, y: 3 }, { x: 0.5, y: 3.5 }, { x: 1, y: 1 }],
    ]);
  });

  it('flattens cubic and quadratic curves through their end points', () => {
    const [cubic] = pathToStrokes('M0 0 C0 10 10 10 10 0', 'p', { curveSteps: 4 });
    expect(cubic).toHaveLength(5);
    expect(cubic![2]).toEqual({ x: 5, y: 7.5 }); // the Bezier's midpoint
    expect(cubic![4]).toEqual({ x: 10, y: 0 });
    const [quadratic] = pathToStrokes('M0 0 Q5 10 10 0 T20 0', 'p', { curveSteps: 2 });
    expect(quadratic).toEqual([{ x: 0, y: 0 }, { x: 5, y: 5 }, { x: 10, y: 0 }, { x: 15, y: -5 }, { x: 20, y: 0 }]);
  });

  it('flattens an arc onto its circle', () => {
    const [half] = pathToStrokes('M0 0 A5 5 0 0 1 10 0', 'p');
    for (const p of half!) expect(Math.hypot(p.x - 5, p.y)).toBeCloseTo(5, 9);
    expect(half![half!.length - 1]).toEqual({ x: 10, y: 0 });
    // sweep 1 in y-down coordinates goes through negative y (clockwise on screen)
    expect(Math.min(...half!.map((p) => p.y))).toBeCloseTo(-5, 6);
  });

  it('names the path in errors', () => {
    expect(() => pathToStrokes('M0 0 L1', 'font x glyph "a"')).toThrow(/font x glyph "a": path command L needs 2 numbers/);
    expect(() => pathToStrokes('M0 0 K4', 'g')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => pathToStrokes('3 4', 'g')).toThrow(/a number \(3\) where a command is expected/);
  });
});

describe('plotter fonts', () => {
  it('reads Hershey glyphs at their codes: l is one vertical stroke, o one closed stroke', () => {
    const sans = loadPlotterFont('futural');
    expect(sans.name).toBe('Sans 1-stroke');
    const l = sans.glyphs.get('l')!;
    expect(l.strokes).toHaveLength(1);
    const bounds = inkBounds(l);
    expect(bounds.minX).toBe(bounds.maxX);
    expect(bounds.maxY - bounds.minY).toBeGreaterThan(GLYPH_UNITS / 2);
    const o = sans.glyphs.get('o')!.strokes;
    expect(o).toHaveLength(1);
    expect(o[0]![0]).toEqual(o[0]![o[0]!.length - 1]);
    // y down: the dot of i is above its stem
    const i = sans.glyphs.get('i')!.strokes;
    expect(Math.max(...i[0]!.map((p) => p.y))).toBeLessThan(Math.min(...i[1]!.map((p) => p.y)));
  });

  it('reads SVG fonts, flipped to y down', () => {
    const font = loadPlotterFont('EMSReadability');
    const l = font.glyphs.get('l')!;
    expect(l.strokes).toHaveLength(1);
    // the descender of p goes below the baseline: larger y than the bottom of its bowl's x-height letters
    const p = inkBounds(font.glyphs.get('p')!);
    const x = inkBounds(font.glyphs.get('x')!);
    expect(p.maxY).toBeGreaterThan(x.maxY + 100);
    expect(p.minY).toBeCloseTo(x.minY, -2);
  });

  it('decodes XML references in SVG font glyphs and names the font in errors', () => {
    const text = '<font><font-face ascent="800" descent="-200"/><glyph unicode="&#x22;" d="M 0 800 L 0 0"/><glyph unicode="&amp;" d="M 0 0 L 10 0"/></font>';
    const font = svgFont('tiny', text);
    expect([...font.glyphs.keys()]).toEqual(['"', '&']);
    expect(font.glyphs.get('"')!.strokes[0]).toEqual([{ x: 0, y: 0 }, { x: 0, y: 819.2 }]);
    expect(() => svgFont('broken', '<font></font>')).toThrow(/SVG font broken: no <font-face>/);
  });

  it('has every symbol of the evaluation scripts', () => {
    for (const key of ['futural', 'timesr', 'timesi', 'scripts', 'EMSReadability', 'EMSTech', 'EMSAllure']) {
      const font = loadPlotterFont(key);
      for (const char of LATIN_LOWERCASE) expect(font.glyphs.has(char), `${key} ${char}`).toBe(true);
    }
    const symbolic = loadPlotterFont(INVENTED_ALPHABET.font);
    for (const char of INVENTED_ALPHABET.chars) expect(symbolic.glyphs.has(char), char).toBe(true);
    expect(new Set(INVENTED_ALPHABET.labels).size).toBe(26);
  });
});

describe('generated writers', () => {
  it('write the same ink for the same seeds, and different ink for other seeds', () => {
    const font = loadPlotterFont('futural');
    const a = writeSample(plotterWriter(font, 5), 'g', createRng(9));
    expect(writeSample(plotterWriter(font, 5), 'g', createRng(9))).toEqual(a);
    expect(writeSample(plotterWriter(font, 6), 'g', createRng(9))).not.toEqual(a);
    expect(writeSample(plotterWriter(font, 5), 'g', createRng(10))).not.toEqual(a);
    expect(() => writeSample(plotterWriter(font, 5), '€', createRng(1))).toThrow(/font futural: no glyph for "€"/);
  });

  it('fill a valid dataset, writer by writer and class by class', () => {
    const font = loadPlotterFont('futural');
    const writers = [plotterWriter(font, 1), plotterWriter(loadPlotterFont('timesr'), 2)];
    const dataset = writerDataset(writers, ['a', 'b'], { script: 'ab', labels: ['A', 'B'], samplesPerClass: 3, seed: 4, decimals: 0, simplifyTolerance: 2 });
    expect(dataset.samples.map((s) => `${s.writer}:${s.label}`)).toEqual([
      ...Array(3).fill('futural/1:A'),
      ...Array(3).fill('futural/1:B'),
      ...Array(3).fill('timesr/2:A'),
      ...Array(3).fill('timesr/2:B'),
    ]);
    for (const sample of dataset.samples) for (const stroke of sample.strokes) for (const point of stroke) expect(point.every(Number.isInteger)).toBe(true);
    expect(readInkDataset(JSON.stringify(dataset), 'ab')).toEqual(dataset);
    expect(writerDataset(writers, ['a', 'b'], { script: 'ab', labels: ['A', 'B'], samplesPerClass: 3, seed: 4, decimals: 0, simplifyTolerance: 2 })).toEqual(dataset);
  });

  it('simplify strokes within the tolerance, keeping the ends', () => {
    const stroke = [0, 1, 2, 3, 4].map((x) => ({ x, y: x === 2 ? 0.1 : 0 }));
    expect(simplifyStroke(stroke, 0.5)).toEqual([stroke[0], stroke[4]]);
    expect(simplifyStroke(stroke, 0.05)).toEqual([stroke[0], stroke[2], stroke[4]]);
    expect(simplifyStroke(stroke, 0)).toBe(stroke);
  });
});

describe('example datasets', () => {
  it.each([
    ['docs/examples/latin-5.json', 26, 130],
    ['docs/examples/symbols-5.json', 26, 130],
    ['test/fixtures/ink/tiny.json', 3, 15],
  ])('%s is a valid hwr-ink-dataset under 200 KB', (path, classes, samples) => {
    const text = readFileSync(join(ROOT, path), 'utf8');
    expect(text.length).toBeLessThan(200_000);
    const dataset = readInkDataset(text, path);
    expect(dataset.classes).toHaveLength(classes);
    expect(dataset.samples).toHaveLength(samples);
  });
});

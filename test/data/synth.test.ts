import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { synthCommand } from '../../src/cli/synth.ts';
import { inkBounds } from '../../src/core/ink.ts';
import { gb2312Level1 } from '../../src/data/charset.ts';
import { readGntFile, type GntSample } from '../../src/data/gnt.ts';
import { handwrite } from '../../src/data/synth/handwriting.ts';
import { hanziDataDir, loadHanziInk, mediansToInk } from '../../src/data/synth/hanziStrokes.ts';
import { renderCharacter, syntheticWriter, writeCharacters } from '../../src/data/synth/synthesize.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('synth');

async function collect(iterable: AsyncIterable<GntSample>): Promise<GntSample[]> {
  const out: GntSample[] = [];
  for await (const sample of iterable) out.push(sample);
  return out;
}

describe('hanzi-writer-data strokes', () => {
  it('flips the package y-up box (top 900, bottom -124) to y down (0 to 1024)', () => {
    expect(mediansToInk([[[0, 900], [1024, -124]]])).toEqual({ strokes: [[{ x: 0, y: 0 }, { x: 1024, y: 1024 }]] });
  });

  it('loads 永 as its 5 strokes in the y-down box', async () => {
    const ink = await loadHanziInk('永');
    expect(ink.strokes).toHaveLength(5);
    const bounds = inkBounds(ink);
    expect(bounds.minX).toBeGreaterThanOrEqual(0);
    expect(bounds.maxX).toBeLessThanOrEqual(1024);
    expect(bounds.minY).toBeGreaterThanOrEqual(0);
    expect(bounds.maxY).toBeLessThanOrEqual(1024);
    // The first stroke of 永 is the dot at the top.
    const firstStrokeY = Math.max(...ink.strokes[0]!.map((p) => p.y));
    expect(firstStrokeY).toBeLessThan((bounds.minY + bounds.maxY) / 2);
  });

  it('has every GB 2312 level-1 character', async () => {
    const files = new Set(await readdir(hanziDataDir()));
    expect(gb2312Level1().filter((c) => !files.has(`${c}.json`))).toEqual([]);
  });

  it('names a character it has no strokes for', async () => {
    await expect(loadHanziInk('A')).rejects.toThrow(/"A" \(U\+41\): hanzi-writer-data has no strokes for it/);
  });
});

describe('synthetic writers', () => {
  it('give the same ink and pixels for the same seed and writer, and different ones otherwise', async () => {
    const reference = await loadHanziInk('我');
    const make = (seed: number, index: number) => {
      const writer = syntheticWriter(seed, index);
      const ink = handwrite(reference, writer.style, writer.rng);
      return { writer, ink, image: renderCharacter('我', ink, writer.style, writer.rng) };
    };
    const a = make(7, 1);
    const b = make(7, 1);
    expect(b.ink).toEqual(a.ink);
    expect(b.image).toEqual(a.image);
    expect(a.writer.name).toBe('synth-s7-w001');
    expect(make(7, 2).image.pixels).not.toEqual(a.image.pixels);
    expect(make(8, 1).image.pixels).not.toEqual(a.image.pixels);
  });

  it('write ink with pressure and non-decreasing times, at most as many strokes as the reference', async () => {
    const reference = await loadHanziInk('我');
    for (let index = 1; index <= 6; index++) {
      const writer = syntheticWriter(3, index);
      const ink = handwrite(reference, writer.style, writer.rng);
      expect(ink.strokes.length).toBeGreaterThan(0);
      expect(ink.strokes.length).toBeLessThanOrEqual(reference.strokes.length);
      const points = ink.strokes.flat();
      expect(points.every((p) => p.pressure !== undefined && p.pressure > 0 && p.pressure <= 1)).toBe(true);
      expect(points.every((p, i) => i === 0 || p.t! >= points[i - 1]!.t!)).toBe(true);
    }
  });

  it('render GNT-style images: paper 255 at the border, ink no darker than the writer’s ink, longest side about the writer’s size', async () => {
    const reference = await loadHanziInk('国');
    const writer = syntheticWriter(1, 4);
    const image = renderCharacter('国', handwrite(reference, writer.style, writer.rng), writer.style, writer.rng);
    expect(image.pixels).toHaveLength(image.width * image.height);
    expect(image.pixels[0]).toBe(255);
    expect(image.pixels[image.pixels.length - 1]).toBe(255);
    expect(Math.min(...image.pixels)).toBeGreaterThanOrEqual(writer.style.inkGray);
    expect(Math.min(...image.pixels)).toBeLessThan(128);
    const longest = Math.max(image.width, image.height);
    expect(longest).toBeGreaterThan(writer.style.sizePx * 0.8);
    expect(longest).toBeLessThan(writer.style.sizePx * 1.25);
  });

  it('keep a writer’s samples independent of the other writers and in charset order', async () => {
    const chars = ['的', '是'];
    const references = new Map([['的', await loadHanziInk('的')], ['是', await loadHanziInk('是')]]);
    const samples = [...writeCharacters(chars, references, syntheticWriter(2, 3))];
    expect(samples.map((s) => s.label)).toEqual(chars);
    expect(() => [...writeCharacters(['不'], references, syntheticWriter(2, 3))]).toThrow(/no reference ink for "不"/);
  });
});

describe('hwr synth', () => {
  it('writes one GNT file per writer that the GNT reader reads back, identical for the same seed', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const out = await tempDir();
      const preview = join(out, 'preview.png');
      await synthCommand({ charset: 'gb2312-1', limit: 3, perClass: 2, seed: 5, out: join(out, 'a'), preview });
      await synthCommand({ charset: 'gb2312-1', limit: 3, perClass: 2, seed: 5, out: join(out, 'b') });
      const files = (await readdir(join(out, 'a'))).sort();
      expect(files).toEqual(['synth-s5-w001.gnt', 'synth-s5-w002.gnt']);
      for (const file of files) {
        const samples = await collect(readGntFile(join(out, 'a', file)));
        expect(samples.map((s) => s.label)).toEqual(['啊', '阿', '埃']);
        expect(samples[0]!.writer).toBe(file.replace('.gnt', ''));
        expect(await readFile(join(out, 'b', file))).toEqual(await readFile(join(out, 'a', file)));
      }
      expect((await stat(preview)).size).toBeGreaterThan(1000);
      const png = await readFile(preview);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('takes explicit characters and refuses unknown charsets and characters without strokes', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const out = await tempDir();
      await synthCommand({ charset: 'gb2312-1', chars: '永 永我', perClass: 1, seed: 1, out });
      expect((await collect(readGntFile(join(out, 'synth-s1-w001.gnt')))).map((s) => s.label)).toEqual(['永', '我']);
      await expect(synthCommand({ charset: 'big5', perClass: 1, seed: 1, out })).rejects.toThrow(/charset: unknown "big5"/);
      await expect(synthCommand({ charset: 'gb2312-1', chars: 'xy', perClass: 1, seed: 1, out })).rejects.toThrow(/"x" \(U\+78\): hanzi-writer-data has no strokes/);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

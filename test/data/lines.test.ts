import { describe, expect, it } from 'vitest';
import { HwrError } from '../../src/core/errors.ts';
import type { Ink } from '../../src/core/ink.ts';
import { createRng } from '../../src/data/augment.ts';
import { composeImageLine, composeInkLine, type ImageLine, type ImageLineCharacter, type InkLine } from '../../src/data/lines.ts';
import { digitLine, digitLineInk, digitLineShape, hanziInkLine } from '../fixtures/lines.ts';

/** A 28x28 ring (one connected piece of ink), radius `r` px, like an MNIST 0. */
function ring(r = 8): Float32Array {
  const image = new Float32Array(28 * 28);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const d = Math.hypot(x - 13.5, y - 13.5);
      image[y * 28 + x] = Math.max(0, Math.min(1, 1.5 - Math.abs(d - r)));
    }
  }
  return image;
}

/** A 28x28 vertical bar 3 px wide, a short 1 (rows 9 to 23). */
function bar(): Float32Array {
  const image = new Float32Array(28 * 28);
  for (let y = 9; y < 24; y++) for (let x = 12; x < 15; x++) image[y * 28 + x] = 1;
  return image;
}

/** A 28x28 7: a bar on top and a stroke down to the lower left, leaving room under the bar's right end. */
function seven(): Float32Array {
  const image = new Float32Array(28 * 28);
  for (let y = 4; y < 7; y++) for (let x = 4; x < 26; x++) image[y * 28 + x] = 1;
  for (let y = 4; y < 24; y++) {
    const x0 = Math.round(16 - ((y - 4) * 8) / 20);
    for (let x = x0 - 2; x <= x0; x++) image[y * 28 + x] = 1;
  }
  return image;
}

const chars = (text: string): ImageLineCharacter[] =>
  [...text].map((label) => ({ label, image: label === '1' ? bar() : label === '7' ? seven() : ring(), width: 28, height: 28 }));

/** The 8-connected pieces of ink (gray <= 255 * (1 - 0.3)) of a line image. */
function inkPieces(line: ImageLine): number {
  const { width, height, data } = line.image;
  const ink = (i: number): boolean => data[4 * i]! <= 255 * 0.7;
  const seen = new Uint8Array(width * height);
  let pieces = 0;
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !ink(start)) continue;
    pieces++;
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          const j = ny * width + nx;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height || seen[j] || !ink(j)) continue;
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
  }
  return pieces;
}

/** A circle of ink (one stroke), radius 300 in a 1024 box, with or without times. */
function circleInk(withTimes: boolean): Ink {
  const stroke = Array.from({ length: 41 }, (_, i) => ({
    x: 512 + 300 * Math.cos((i / 40) * 2 * Math.PI),
    y: 512 + 300 * Math.sin((i / 40) * 2 * Math.PI),
    ...(withTimes ? { t: 1000 + i * 10 } : {}),
  }));
  return { strokes: [stroke, [{ x: 512, y: 100 }, { x: 512, y: 900 }]] };
}

const inkChars = (count: number) => Array.from({ length: count }, (_, i) => ({ label: String(i % 10), ink: circleInk(i % 2 === 0) }));

/** Smallest distance between the points of two groups of strokes. */
function closest(a: Ink['strokes'], b: Ink['strokes']): number {
  let best = Infinity;
  for (const p of a.flat()) for (const q of b.flat()) best = Math.min(best, Math.hypot(p.x - q.x, p.y - q.y));
  return best;
}

describe('composeImageLine', () => {
  it('gives the same line for the same seed and another for another seed', () => {
    const a = composeImageLine(chars('0101 10'), createRng(7));
    const b = composeImageLine(chars('0101 10'), createRng(7));
    const c = composeImageLine(chars('0101 10'), createRng(8));
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(a.boxes).toEqual(b.boxes);
    expect(Buffer.from(a.image.data).equals(Buffer.from(c.image.data))).toBe(false);
  });

  it('answers the labels as text, one box per drawn character, dark ink on opaque light paper', () => {
    const line = composeImageLine(chars('10 01'), createRng(1), { margin: 5 });
    expect(line.text).toBe('10 01');
    expect(line.boxes).toHaveLength(4);
    expect(line.touching).toHaveLength(3);
    expect(line.image.data.length).toBe(line.image.width * line.image.height * 4);
    expect(line.image.polarity).toBe('dark-on-light');
    for (let i = 3; i < line.image.data.length; i += 4) expect(line.image.data[i]).toBe(255);
    // Left to right, and a word gap wider than the others.
    const gaps = line.boxes.slice(1).map((box, i) => box.x - (line.boxes[i]!.x + line.boxes[i]!.width));
    expect(gaps[1]).toBeGreaterThan(Math.max(gaps[0]!, gaps[2]!));
  });

  it('boxes hold all the ink, tightly', () => {
    const line = composeImageLine(chars('0110100'), createRng(3), { touchingShare: 0.3, overlappingShare: 0.3, scale: 1.5 });
    const { width, height, data } = line.image;
    const inside = (x: number, y: number): boolean => line.boxes.some((b) => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (data[4 * (y * width + x)]! < 255) expect(inside(x, y)).toBe(true);
    for (const box of line.boxes) {
      const dark = (x: number, y: number): boolean => data[4 * (y * width + x)]! < 255;
      const column = (x: number): boolean => Array.from({ length: box.height }, (_, k) => dark(x, box.y + k)).some(Boolean);
      const row = (y: number): boolean => Array.from({ length: box.width }, (_, k) => dark(box.x + k, y)).some(Boolean);
      expect(column(box.x) && column(box.x + box.width - 1) && row(box.y) && row(box.y + box.height - 1)).toBe(true);
    }
  });

  it('owners name, for every inked pixel, a character whose box holds it; every character owns ink', () => {
    const line = composeImageLine(chars('0110100'), createRng(3), { touchingShare: 0.5, overlappingShare: 0.3, scale: 1.5 });
    const { width, height, data } = line.image;
    expect(line.owners).toHaveLength(width * height);
    const owned = new Array<number>(line.boxes.length).fill(0);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const owner = line.owners[y * width + x]!;
        if (data[4 * (y * width + x)]! < 255) expect(owner).toBeGreaterThanOrEqual(0);
        if (owner < 0) continue;
        const box = line.boxes[owner]!;
        expect(x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height).toBe(true);
        owned[owner]!++;
      }
    }
    for (const n of owned) expect(n).toBeGreaterThan(20);
  });

  it('touching pairs really touch: all touching is one piece of ink, none touching is one piece per character', () => {
    const touching = composeImageLine(chars('0100110'), createRng(5), { touchingShare: 1, overlappingShare: 0 });
    expect(touching.touching).toEqual([true, true, true, true, true, true]);
    expect(inkPieces(touching)).toBe(1);
    const apart = composeImageLine(chars('0100110'), createRng(5), { touchingShare: 0, overlappingShare: 0 });
    expect(apart.touching.every((t) => !t)).toBe(true);
    expect(apart.overlapping.every((t) => !t)).toBe(true);
    expect(inkPieces(apart)).toBe(7);
  });

  it('overlapping pairs keep their ink apart', () => {
    const line = composeImageLine(chars('7171717171'), createRng(2), { touchingShare: 0, overlappingShare: 1 });
    expect(line.touching.every((t) => !t)).toBe(true);
    expect(inkPieces(line)).toBe(10);
    // A 1 tucks under the 7's bar (unless the drifting baseline lifts it to the bar): their boxes overlap in x.
    expect(line.overlapping.filter((o, i) => o && i % 2 === 0).length).toBeGreaterThanOrEqual(3);
  });

  it('varies sizes within the asked range', () => {
    const line = composeImageLine(chars('0'.repeat(30)), createRng(4), { sizeVariation: 0.15, scale: 2 });
    const heights = line.boxes.map((b) => b.height);
    // A ring of radius 8 spans about 19 px, 38 at scale 2; +-15% and a pixel of antialiasing either way.
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(Math.floor(38 * 0.85) - 2);
    expect(Math.max(...heights)).toBeLessThanOrEqual(Math.ceil(38 * 1.15) + 2);
    expect(Math.max(...heights) - Math.min(...heights)).toBeGreaterThan(4);
  });

  it('rejects bad options and bad characters with BAD_ARGUMENT', () => {
    const bad = (run: () => unknown) => expect(run).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }) as HwrError);
    bad(() => composeImageLine(chars('01'), createRng(1), { touchingShare: 1.5 }));
    bad(() => composeImageLine(chars('01'), createRng(1), { touchingShare: 0.6, overlappingShare: 0.6 }));
    bad(() => composeImageLine(chars('01'), createRng(1), { scale: 0 }));
    bad(() => composeImageLine(chars('  '), createRng(1)));
    bad(() => composeImageLine([{ label: '0', image: new Float32Array(10), width: 28, height: 28 }], createRng(1)));
    bad(() => composeImageLine([{ label: '0', image: new Float32Array(784), width: 28, height: 28 }], createRng(1)));
  });
});

describe('composeInkLine', () => {
  it('gives the same ink for the same seed', () => {
    const a = composeInkLine(inkChars(5), createRng(9));
    const b = composeInkLine(inkChars(5), createRng(9));
    expect(a).toEqual(b);
    expect(composeInkLine(inkChars(5), createRng(10)).ink).not.toEqual(a.ink);
  });

  it('keeps the writing order: stroke ranges per character, boxes holding their strokes, times increasing', () => {
    const line: InkLine = composeInkLine([...inkChars(3), { label: ' ', ink: { strokes: [] } }, ...inkChars(2)], createRng(2), { height: 50 });
    expect(line.text).toBe('012 01');
    expect(line.strokeRanges).toEqual([0, 2, 4, 6, 8].map((start) => ({ start, end: start + 2 })));
    expect(line.ink.strokes).toHaveLength(10);
    line.strokeRanges.forEach(({ start, end }, i) => {
      const box = line.boxes[i]!;
      for (const p of line.ink.strokes.slice(start, end).flat()) {
        expect(p.x).toBeGreaterThanOrEqual(box.x - 1e-9);
        expect(p.x).toBeLessThanOrEqual(box.x + box.width + 1e-9);
        expect(p.y).toBeGreaterThanOrEqual(box.y - 1e-9);
        expect(p.y).toBeLessThanOrEqual(box.y + box.height + 1e-9);
      }
    });
    const times = line.ink.strokes.flat().map((p) => p.t!);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
    expect(times[0]).toBe(0);
    for (let i = 1; i < line.boxes.length; i++) expect(line.boxes[i]!.x).toBeGreaterThan(line.boxes[i - 1]!.x);
    // Inside the margin and the stated size.
    for (const p of line.ink.strokes.flat()) {
      expect(p.x).toBeGreaterThanOrEqual(10 - 1e-9);
      expect(p.x).toBeLessThanOrEqual(line.ink.width! - 10 + 1e-9);
    }
  });

  it('touching pairs come within a pen width, apart pairs do not', () => {
    const touching = composeInkLine(inkChars(6), createRng(3), { touchingShare: 1, overlappingShare: 0, penWidth: 4 });
    expect(touching.touching.every(Boolean)).toBe(true);
    const apart = composeInkLine(inkChars(6), createRng(3), { touchingShare: 0, overlappingShare: 0, penWidth: 4 });
    expect(apart.touching.some(Boolean)).toBe(false);
    for (let i = 0; i + 1 < 6; i++) {
      const strokesOf = (line: InkLine, k: number) => line.ink.strokes.slice(line.strokeRanges[k]!.start, line.strokeRanges[k]!.end);
      expect(closest(strokesOf(touching, i), strokesOf(touching, i + 1))).toBeLessThanOrEqual(8); // vertices; the traces meet within 4
      expect(closest(strokesOf(apart, i), strokesOf(apart, i + 1))).toBeGreaterThan(4);
    }
  });

  it('rejects characters without points and bad options with BAD_ARGUMENT', () => {
    const bad = (run: () => unknown) => expect(run).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }) as HwrError);
    bad(() => composeInkLine([{ label: '1', ink: { strokes: [[]] } }], createRng(1)));
    bad(() => composeInkLine(inkChars(2), createRng(1), { height: -1 }));
    bad(() => composeInkLine(inkChars(2), createRng(1), { spacing: [0.5, 0.1] }));
  });
});

describe('line fixtures', () => {
  it('digit lines: the asked text, one box per character, ink and unit shapes', async () => {
    const line = await digitLine('2024-01-02', 1);
    expect(line.text).toBe('2024-01-02');
    expect(line.boxes).toHaveLength(10);
    expect((await digitLine('2024-01-02', 1)).image.data).toEqual(line.image.data);
    const ink = digitLineInk('123 456', 2);
    expect(ink.strokes.length).toBeGreaterThanOrEqual(6);
    expect(ink.strokes.every((s) => s.every((p) => p.length === 3))).toBe(true);
    const shape = digitLineShape('314159');
    const xs = shape.flat().map((p) => p.x);
    expect(Math.min(...xs)).toBeGreaterThan(0.05);
    expect(Math.max(...xs)).toBeLessThan(0.95);
  });

  it('hanzi lines: held-out writer, one stroke range per character', async () => {
    const line = await hanziInkLine('中国人', 4);
    expect(line.text).toBe('中国人');
    expect(line.strokeRanges).toHaveLength(3);
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fitInk, inkBounds, renderInk, type GrayImage, type Ink } from '../../src/core/ink.ts';

/** Rows and columns that hold any ink. */
function inkBox(image: GrayImage): { top: number; bottom: number; left: number; right: number } {
  let top = Infinity;
  let bottom = -1;
  let left = Infinity;
  let right = -1;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[y * image.width + x]! > 0) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  return { top, bottom, left, right };
}

const at = (image: GrayImage, x: number, y: number): number => image.data[y * image.width + x]!;

// A "7": a top bar and a diagonal, in y-down units of any scale.
const seven: Ink = {
  strokes: [
    [{ x: 10, y: 10 }, { x: 50, y: 10 }, { x: 30, y: 70 }],
  ],
};

describe('renderInk', () => {
  it('draws a horizontal stroke across the middle: full ink on its centre line, partial at the edges, none off it', () => {
    // Pen 2.5 px wide; 20 - 2 * 2 (margin) - 2.5 (pen) = 13.5 px for the line: x from 3.25 to 16.75, y = 4.5.
    const image = renderInk({ strokes: [[{ x: 0, y: 5 }, { x: 100, y: 5 }]] }, { width: 20, height: 9, strokeWidth: 2.5, margin: 2 });
    expect(image.width).toBe(20);
    expect(image.height).toBe(9);
    expect(image.data).toHaveLength(180);
    for (let x = 2; x <= 17; x++) expect(at(image, x, 4)).toBe(255);
    // Rows 3 and 5 have their centres 1 px from the line: coverage 1.25 + 0.5 - 1 = 0.75, 191 of 255.
    for (let x = 4; x <= 15; x++) (expect(at(image, x, 3)).toBe(191), expect(at(image, x, 5)).toBe(191));
    // Rows 2 and 6 are 2 px away: no ink. Nothing in the 2 px margin.
    for (let x = 0; x < 20; x++) for (const y of [0, 1, 2, 6, 7, 8]) expect(at(image, x, y)).toBe(0);
    expect(inkBox(image)).toEqual({ top: 3, bottom: 5, left: 2, right: 17 });
  });

  it('fits the bounding box with its aspect kept, centred, inside the margin', () => {
    const tall: Ink = { strokes: [[{ x: 0, y: 0 }, { x: 0, y: 300 }], [{ x: -50, y: 150 }, { x: 50, y: 150 }]] };
    const image = renderInk(tall, { width: 40, height: 40, strokeWidth: 2, margin: 4 });
    const box = inkBox(image);
    expect(box.top).toBeGreaterThanOrEqual(4);
    expect(box.bottom).toBeLessThanOrEqual(35);
    expect(box.bottom - box.top).toBeGreaterThan(28);
    // 100 wide vs 300 tall: about a third of the height.
    expect(box.right - box.left).toBeGreaterThan(9);
    expect(box.right - box.left).toBeLessThan(14);
    expect(box.left + box.right).toBe(39); // centred
  });

  it('places ink as fitInk says and scales the same at any coordinate offset', () => {
    const fit = fitInk(inkBounds(seven), 28, 28, 4, 2);
    expect(fit.scale).toBeCloseTo(18 / 60);
    const shifted: Ink = { strokes: seven.strokes.map((s) => s.map((p) => ({ x: p.x + 1000, y: p.y - 500 }))) };
    expect(renderInk(shifted, { width: 28, height: 28 })).toEqual(renderInk(seven, { width: 28, height: 28 }));
  });

  it('draws a single point as a round dot in the centre', () => {
    const image = renderInk({ strokes: [[{ x: 3, y: 3 }]] }, { width: 11, height: 11, strokeWidth: 5 });
    expect(at(image, 5, 5)).toBe(255);
    expect(at(image, 5, 3)).toBe(255);
    expect(at(image, 3, 3)).toBeLessThan(255); // corner of the square is outside the disc's full part
    expect(at(image, 0, 0)).toBe(0);
    expect(inkBox(image)).toEqual({ top: 3, bottom: 7, left: 3, right: 7 }); // radius 2.5 around (5.5, 5.5)
  });

  it('with usePressure, draws a high-pressure stroke wider than a light one', () => {
    const line = (pressure: number): Ink => ({ strokes: [[{ x: 0, y: 0, pressure }, { x: 100, y: 0, pressure }]] });
    const inked = (image: GrayImage): number => image.data.reduce((sum, v) => sum + v, 0);
    const options = { width: 40, height: 20, strokeWidth: 4, usePressure: true };
    const heavy = inked(renderInk(line(0.9), options));
    const normal = inked(renderInk(line(0.5), options));
    const light = inked(renderInk(line(0.2), options));
    expect(heavy).toBeGreaterThan(normal);
    expect(normal).toBeGreaterThan(light);
    // Pressure 0.5 (or none) is the nominal width.
    expect(renderInk(line(0.5), options)).toEqual(renderInk({ strokes: [[{ x: 0, y: 0 }, { x: 100, y: 0 }]] }, options));
    expect(renderInk({ strokes: [[{ x: 0, y: 0 }, { x: 100, y: 0 }]] }, { ...options, usePressure: false })).toEqual(renderInk(line(0.9), { ...options, usePressure: false }));
  });

  it('does not darken joints and crossings twice: coverage is the maximum, not a sum', () => {
    const cross: Ink = { strokes: [[{ x: 0, y: 50 }, { x: 100, y: 50 }], [{ x: 50, y: 0 }, { x: 50, y: 100 }]] };
    const image = renderInk(cross, { width: 21, height: 21, strokeWidth: 2 });
    expect(Math.max(...image.data)).toBe(255);
    expect(at(image, 10, 10)).toBe(255);
  });

  it('gives the same bytes on every run (pinned by a SHA-256 of a rendering)', () => {
    const render = (): GrayImage => renderInk(seven, { width: 28, height: 28, strokeWidth: 2.5, margin: 3 });
    const first = render();
    expect(render()).toEqual(first);
    // Only IEEE-754 +, -, *, / and sqrt: the same in every JavaScript engine. A change here is a change of the renderer.
    expect(createHash('sha256').update(first.data).digest('hex')).toBe('e576d0477470b7c63bbf328cbefc53f9d2901de00a63cd615538324fa74eefad');
  });

  it('refuses bad sizes, bad coordinates and empty ink with errors naming them', () => {
    expect(() => renderInk(seven, { width: 0, height: 5 })).toThrow(/renderInk: width: expected a positive integer, got 0/);
    expect(() => renderInk(seven, { width: 5, height: 2.5 })).toThrow(/height: expected a positive integer/);
    expect(() => renderInk(seven, { width: 5, height: 5, strokeWidth: 0 })).toThrow(/strokeWidth: expected a positive number/);
    expect(() => renderInk(seven, { width: 5, height: 5, margin: -1 })).toThrow(/margin: expected a number >= 0/);
    expect(() => renderInk({ strokes: [[{ x: 0, y: 0 }], [{ x: 1, y: Number.NaN }]] }, { width: 5, height: 5 })).toThrow(
      /ink: stroke 1 point 0 has a non-finite coordinate/,
    );
    let error: unknown;
    try {
      renderInk({ strokes: [[], []] }, { width: 5, height: 5 });
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('NO_INK');
  });
});

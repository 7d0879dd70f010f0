import { describe, expect, it } from 'vitest';
import { removeRulingLines } from '../../src/core/ruling.ts';

/** A 100x100 ink map with horizontal rules of strength 0.3 every 20 px (rows 10, 30, ...) and, optionally, vertical ones. */
function ruled(vertical: boolean): Float32Array {
  const ink = new Float32Array(100 * 100);
  for (let y = 10; y < 100; y += 20) ink.fill(0.3, y * 100, y * 100 + 100);
  if (vertical) for (let x = 10; x < 100; x += 20) for (let y = 0; y < 100; y++) ink[y * 100 + x] = 0.3;
  return ink;
}

describe('removeRulingLines', () => {
  it('erases ruled lines but keeps a stroke that crosses them', () => {
    const ink = ruled(false);
    for (let y = 20; y < 80; y++) ink.fill(1, y * 100 + 48, y * 100 + 51); // a vertical stroke, 3 px wide
    expect(removeRulingLines(ink, 100, 100, 0.1)).toEqual({ horizontal: 5, vertical: 0 });
    expect(ink[10 * 100 + 5]).toBe(0);
    expect(ink[30 * 100 + 90]).toBe(0);
    for (let y = 20; y < 80; y++) expect(ink[y * 100 + 49], `row ${y}`).toBe(1);
  });

  it('erases a grid, its crossings included', () => {
    const ink = ruled(true);
    expect(removeRulingLines(ink, 100, 100, 0.1)).toEqual({ horizontal: 5, vertical: 5 });
    expect(ink.every((v) => v === 0)).toBe(true);
  });

  it("keeps a pen stroke written along a light rule (a 7's bar on the line)", () => {
    const ink = ruled(false);
    ink.fill(1, 30 * 100 + 30, 30 * 100 + 70);
    removeRulingLines(ink, 100, 100, 0.1);
    expect(ink[30 * 100 + 50]).toBe(1);
    expect(ink[30 * 100 + 10]).toBe(0);
  });

  it('leaves a digit alone: a 7 whose bar spans 70% of the width, and a thick stroke', () => {
    const ink = new Float32Array(100 * 100);
    for (let y = 20; y < 24; y++) ink.fill(1, y * 100 + 15, y * 100 + 85);
    for (let y = 24; y < 85; y++) ink.fill(1, y * 100 + 60 - Math.round((y - 24) / 3), y * 100 + 64 - Math.round((y - 24) / 3));
    for (let y = 88; y < 98; y++) ink.fill(1, y * 100, y * 100 + 100); // 10 px thick, edge to edge: a stroke, not a rule
    const before = Float32Array.from(ink);
    expect(removeRulingLines(ink, 100, 100, 0.1)).toEqual({ horizontal: 0, vertical: 0 });
    expect(ink).toEqual(before);
  });
});

import { describe, expect, it } from 'vitest';
import { preprocessorFor } from '../../src/core/preprocessing.ts';
import { createRng } from '../../src/data/augment.ts';
import { augmentOutlineGlyph, faceName, LATIN_OUTLINE_CHARS, LATIN_OUTLINE_FACES, OUTLINE_SIZE, renderLatinOutlineGlyphs } from '../../scripts/latinOutlineFonts.ts';

describe('Latin letters from outline fonts (glyph base --latin-fonts)', () => {
  it('lists a-z and capitals that differ from their lowercase letter, and distinct faces', () => {
    expect(LATIN_OUTLINE_CHARS.slice(0, 26).join('')).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(new Set(LATIN_OUTLINE_CHARS).size).toBe(LATIN_OUTLINE_CHARS.length);
    expect(LATIN_OUTLINE_CHARS).not.toContain('O');
    expect(new Set(LATIN_OUTLINE_FACES.map(faceName)).size).toBe(LATIN_OUTLINE_FACES.length);
    expect(faceName({ family: 'DejaVu Sans', style: 'oblique', weight: 'bold' })).toBe('DejaVu Sans oblique bold');
  });

  it('renders ink maps (3 thicknesses per face) that the mnist profile reads, and augments them deterministically', async () => {
    const faces = LATIN_OUTLINE_FACES.slice(0, 2);
    const maps = await renderLatinOutlineGlyphs(faces, ['a', 'g']);
    const a = maps.get('a')!;
    expect(a).toHaveLength(faces.length * 3);
    for (const map of a) {
      expect(map).toHaveLength(OUTLINE_SIZE * OUTLINE_SIZE);
      expect(Math.max(...map)).toBeGreaterThan(0.9);
      expect(Math.min(...map)).toBeGreaterThanOrEqual(0);
    }
    // A thicker outline holds more ink; two faces draw the letter differently.
    const mass = (m: Float32Array): number => m.reduce((s, v) => s + v, 0);
    expect(mass(a[1]!)).toBeGreaterThan(mass(a[0]!));
    expect(mass(a[2]!)).toBeGreaterThan(mass(a[1]!));
    expect(Array.from(a[0]!)).not.toEqual(Array.from(a[3]!));
    const one = augmentOutlineGlyph(a[0]!, createRng(7));
    const two = augmentOutlineGlyph(a[0]!, createRng(7));
    expect(one.width).toBe(OUTLINE_SIZE);
    expect(one.data).toHaveLength(OUTLINE_SIZE * OUTLINE_SIZE * 4);
    expect(Array.from(one.data)).toEqual(Array.from(two.data));
    expect(Array.from(one.data)).not.toEqual(Array.from(augmentOutlineGlyph(a[0]!, createRng(8)).data));
    const input = preprocessorFor({ name: 'test', preprocessing: 'mnist-com-v1', inputShape: [28, 28, 1] })(one, 'a');
    expect(input).toHaveLength(784);
    expect(Math.max(...input)).toBeGreaterThan(0.5);
  });
});

import { describe, expect, it } from 'vitest';
import { charsetByName, decodeGbCode, gb2312Level1, gbCodeOf } from '../../src/data/charset.ts';

describe('GB 2312 level 1', () => {
  it('has exactly 3,755 distinct hanzi, from 啊 (0xB0A1) to 座 (0xD7F9), in code order', () => {
    const chars = gb2312Level1();
    expect(chars).toHaveLength(3755);
    expect(new Set(chars).size).toBe(3755);
    expect(chars[0]).toBe('啊');
    expect(chars[93]).toBe('剥'); // 0xB0FE, the last cell of row 16
    expect(chars[94]).toBe('薄'); // 0xB1A1, row 17
    expect(chars[3754]).toBe('座');
    // All in the CJK Unified Ideographs block.
    expect(chars.every((c) => c.length === 1 && c.charCodeAt(0) >= 0x4e00 && c.charCodeAt(0) <= 0x9fff)).toBe(true);
  });

  it('is what charsetByName("gb2312-1") returns; unknown names are refused with the known ones', () => {
    expect(charsetByName('gb2312-1')).toBe(gb2312Level1());
    expect(() => charsetByName('gb2312-2')).toThrow(/charset: unknown "gb2312-2"; known: gb2312-1/);
  });
});

describe('GB codes', () => {
  it('decode and encode two-byte codes, first byte high', () => {
    expect(decodeGbCode(0xb0a1)).toBe('啊');
    expect(decodeGbCode(0xd7f9)).toBe('座');
    expect(gbCodeOf('啊')).toBe(0xb0a1);
    expect(gbCodeOf('座')).toBe(0xd7f9);
    // GBK beyond GB 2312: 丂 is 0x8140.
    expect(gbCodeOf('丂')).toBe(0x8140);
    expect(decodeGbCode(0x8140)).toBe('丂');
  });

  it('round-trips every level-1 character', () => {
    for (const char of gb2312Level1()) expect(decodeGbCode(gbCodeOf(char)!)).toBe(char);
  });

  it('has no code for ASCII or characters outside GBK, and no character for invalid codes', () => {
    expect(gbCodeOf('A')).toBeUndefined();
    expect(gbCodeOf('😀')).toBeUndefined();
    expect(decodeGbCode(0xffff)).toBeUndefined();
    expect(decodeGbCode(0x0041)).toBeUndefined();
  });
});

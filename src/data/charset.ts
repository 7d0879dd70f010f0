/**
 * Character sets (the classes of a recognizer) and GB codes, computed from the encoding standard rather than
 * pasted as a list.
 *
 * GB 2312-80 arranges its characters in 94 rows ("qu") of 94 cells ("wei"); in the EUC-CN/GBK byte form a
 * character is the two bytes `0xA0 + row`, `0xA0 + cell`. Level 1 (the 3,755 most common hanzi, ordered by
 * pinyin) fills rows 16 to 55, that is 0xB0A1 to 0xD7F9: rows 16-54 have all 94 cells, row 55 ends at cell 89
 * (39 x 94 + 89 = 3,755). Level 2 (3,008 hanzi, by radical) is rows 56-87. CASIA's HWDB1.x and most Chinese
 * handwriting benchmarks use level 1 as their 3,755 classes.
 *
 * Decoding uses the WHATWG `TextDecoder('gb18030')` (a superset of GB 2312 and GBK), available in browsers and
 * in Node builds with full ICU (the default). This module imports nothing Node-only.
 */

import { hwrError } from '../core/errors.ts';

/** Names of the character sets `charsetByName` knows. */
export const CHARSET_NAMES = ['gb2312-1'] as const;

/** A character set name, e.g. `gb2312-1` (GB 2312 level 1). */
export type CharsetName = (typeof CHARSET_NAMES)[number];

let level1: readonly string[] | undefined;
let gbkCodes: Map<string, number> | undefined;
let decoder: TextDecoder | undefined;
const decodedCodes = new Map<number, string | undefined>();

/** A fatal GB18030 decoder (one, reused); throws a clear error where the runtime lacks it (Node built without ICU). */
function gb18030Decoder(): TextDecoder {
  try {
    decoder ??= new TextDecoder('gb18030', { fatal: true });
    return decoder;
  } catch (error) {
    throw hwrError('BAD_ARGUMENT', `TextDecoder: this runtime cannot decode gb18030 (a Node build without full ICU?): ${(error as Error).message}`, error);
  }
}

/**
 * The 3,755 characters of GB 2312 level 1 (rows 16-55, 0xB0A1-0xD7F9), in code order (by pinyin), each a
 * one-character string. Computed by decoding every code with `TextDecoder('gb18030')`; cached.
 *
 * @returns a frozen array of exactly 3,755 distinct strings; index = class index
 */
export function gb2312Level1(): readonly string[] {
  if (level1) return level1;
  const bytes: number[] = [];
  for (let row = 16; row <= 55; row++) {
    const lastCell = row === 55 ? 89 : 94;
    for (let cell = 1; cell <= lastCell; cell++) bytes.push(0xa0 + row, 0xa0 + cell);
  }
  const chars = Array.from(gb18030Decoder().decode(new Uint8Array(bytes)));
  if (chars.length !== bytes.length / 2 || new Set(chars).size !== chars.length) {
    throw hwrError('BAD_ARGUMENT', `gb2312Level1: decoding gave ${chars.length} characters (${new Set(chars).size} distinct), expected ${bytes.length / 2}`);
  }
  level1 = Object.freeze(chars);
  return level1;
}

/**
 * The characters of a named set, in class order.
 *
 * @param name  `gb2312-1`: GB 2312 level 1, 3,755 hanzi
 * @throws HwrError `BAD_ARGUMENT` for an unknown name (the message lists the known ones)
 */
export function charsetByName(name: string): readonly string[] {
  if (name === 'gb2312-1') return gb2312Level1();
  throw hwrError('BAD_ARGUMENT', `charset: unknown "${name}"; known: ${CHARSET_NAMES.join(', ')}`);
}

/**
 * Decodes a two-byte GB code (first byte high, as CASIA's GNT tag code) to its character.
 *
 * @param code  `byte0 * 256 + byte1`, e.g. 0xB0A1 for 啊
 * @returns the character, or `undefined` when the two bytes are not a valid two-byte GB18030 character
 */
export function decodeGbCode(code: number): string | undefined {
  if (decodedCodes.has(code)) return decodedCodes.get(code);
  const gb = gb18030Decoder();
  let char: string | undefined;
  try {
    const text = gb.decode(new Uint8Array([(code >>> 8) & 0xff, code & 0xff]));
    char = Array.from(text).length === 1 ? text : undefined;
  } catch {
    char = undefined;
  }
  decodedCodes.set(code, char);
  return char;
}

/**
 * The two-byte GBK code of a character (first byte high): the inverse of `decodeGbCode` over GBK's two-byte
 * range (lead 0x81-0xFE, trail 0x40-0x7E and 0x80-0xFE, 23,940 codes). The table is built once, on first use,
 * by decoding that whole range.
 *
 * @param char  one character, e.g. 啊
 * @returns its code, e.g. 0xB0A1, or `undefined` when GBK has no two-byte code for it (ASCII, emoji, ...)
 */
export function gbCodeOf(char: string): number | undefined {
  if (!gbkCodes) {
    const gb = gb18030Decoder();
    const table = new Map<string, number>();
    const pair = new Uint8Array(2);
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        pair[0] = lead;
        pair[1] = trail;
        const text = gb.decode(pair);
        if (!table.has(text)) table.set(text, lead * 256 + trail);
      }
    }
    gbkCodes = table;
  }
  return gbkCodes.get(char);
}

/**
 * Pen strokes of Chinese characters from the `hanzi-writer-data` npm package (data of the Make Me a Hanzi
 * project, github.com/skishore/makemeahanzi, Arphic Public License: see node_modules/hanzi-writer-data/ARPHICPL.TXT).
 *
 * The package has one JSON file per character, `<char>.json`: `{ strokes: [SVG path of each stroke's outline],
 * medians: [[[x, y], ...] per stroke], radStrokes? }`, strokes in standard stroke order. Coordinates are in a
 * 1024 x 1024 box with **y pointing up**: the box's upper-left corner is (0, 900) and its lower-right (1024, -124).
 * We use the medians (each stroke's centre line, as a pen would trace it) and flip them to our ink convention,
 * y down: `(x, 900 - y)`, so the box becomes (0, 0)-(1024, 1024).
 *
 * Node-only (reads the package's files).
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hwrError } from '../../core/errors.ts';
import type { Ink } from '../../core/ink.ts';

/** Side of the Make Me a Hanzi coordinate box, in its units. */
export const HANZI_BOX = 1024;

/** The y of the box's top edge in the package's y-up coordinates. */
const TOP_Y = 900;

let packageDir: string | undefined;

/** The folder of the installed `hanzi-writer-data` package. */
export function hanziDataDir(): string {
  packageDir ??= dirname(createRequire(import.meta.url).resolve('hanzi-writer-data/package.json'));
  return packageDir;
}

/**
 * Converts the package's medians to ink: one stroke per median, points `(x, 900 - y)` (y down, box 0-1024).
 *
 * @param medians  `[stroke][point][x, y]` in the package's y-up box
 */
export function mediansToInk(medians: readonly (readonly (readonly [number, number])[])[]): Ink {
  return { strokes: medians.map((median) => median.map(([x, y]) => ({ x, y: TOP_Y - y }))) };
}

/**
 * Loads a character's stroke medians as ink (y down, in the 1024-unit box).
 *
 * @param char  one character, e.g. `永`
 * @throws HwrError `BAD_ARGUMENT` when the package has no data for `char`, or its file is not the expected JSON
 */
export async function loadHanziInk(char: string): Promise<Ink> {
  const path = join(hanziDataDir(), `${char}.json`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw hwrError('BAD_ARGUMENT', `"${char}" (U+${char.codePointAt(0)!.toString(16).toUpperCase()}): hanzi-writer-data has no strokes for it`, error);
    }
    throw error;
  }
  let medians: unknown;
  try {
    medians = (JSON.parse(text) as { medians?: unknown }).medians;
  } catch (error) {
    throw hwrError('BAD_ARGUMENT', `${path}: not JSON (${(error as Error).message})`, error);
  }
  const valid =
    Array.isArray(medians) &&
    medians.length > 0 &&
    medians.every((m) => Array.isArray(m) && m.length > 0 && m.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)));
  if (!valid) throw hwrError('BAD_ARGUMENT', `${path}: "medians" is not a non-empty list of [x, y] point lists`);
  return mediansToInk(medians as [number, number][][]);
}

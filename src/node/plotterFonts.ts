/**
 * Reads the single-stroke plotter fonts of the `hersheytext` package (a devDependency: the teach-a-script
 * evaluation, the example datasets and the tests use them; the toolkit itself never does) into `PlotterFont`s
 * (src/data/plotterFonts.ts).
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hwrError } from '../core/errors.ts';
import { hersheyJsonFont, svgFont, type HersheyJsonFont, type PlotterFont } from '../data/plotterFonts.ts';

/** The hersheytext package's folder. @throws HwrError `FILE_NOT_FOUND` when the package is not installed */
function hersheytextDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('hersheytext/package.json'));
  } catch (error) {
    throw hwrError('FILE_NOT_FOUND', 'hersheytext: the package is not installed (it is a devDependency: npm ci without --omit=dev)', error);
  }
}

let hersheyJson: Record<string, HersheyJsonFont> | undefined;

/**
 * A font by key: a Hershey font of `hersheytext.json` (`futural`, `timesr`, `timesi`, `scripts`, `cursive`,
 * `astrology`, `meteorology`, `music`, `symbolic`, ...) or an SVG font of `svg_fonts/` by file name without
 * `.svg` (`EMSReadability`, `EMSTech`, `EMSAllure`, `HersheySans1`, ...).
 *
 * @throws HwrError `FILE_NOT_FOUND` when hersheytext is missing or has no such font (the message lists the keys)
 */
export function loadPlotterFont(key: string): PlotterFont {
  const dir = hersheytextDir();
  hersheyJson ??= JSON.parse(readFileSync(join(dir, 'hersheytext.json'), 'utf8')) as Record<string, HersheyJsonFont>;
  const font = hersheyJson[key];
  if (font) return hersheyJsonFont(key, font);
  let text: string;
  try {
    text = readFileSync(join(dir, 'svg_fonts', `${key}.svg`), 'utf8');
  } catch (error) {
    throw hwrError('FILE_NOT_FOUND', `plotter font ${key}: not in hersheytext.json (${Object.keys(hersheyJson).join(', ')}) nor svg_fonts/${key}.svg`, error);
  }
  return svgFont(key, text);
}

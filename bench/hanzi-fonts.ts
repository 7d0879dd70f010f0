/**
 * How the shipped hanzi model (trained on synthetic handwriting only) reads printed characters in fonts it never
 * saw: N seeded characters of GB 2312 level 1, each rendered by librsvg (through sharp) at 150 px in a 200 px white
 * square with a system font, then `recognize` with the top 10. A probe of styles outside the training data, not a
 * test: it needs the fonts (Debian: fonts-arphic-ukai for Kai, fonts-wqy-microhei for a sans-serif Hei).
 *
 *   npx tsx bench/hanzi-fonts.ts [--n 300] [--font "AR PL UKai CN"] [--font "WenQuanYi Micro Hei"]
 *
 * Prints one line per font: top-1 and top-10. A font that is missing falls back to another (fontconfig), so check
 * `fc-list` first.
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createRng, shuffledIndices } from '../src/data/augment.ts';
import { gb2312Level1 } from '../src/data/charset.ts';
import { loadRecognizer } from '../src/node/recognizer.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '300' }, font: { type: 'string', multiple: true } } });
const n = Number(values.n);
if (!Number.isInteger(n) || n < 1) throw new Error(`--n: expected a positive integer, got ${values.n}`);
const fonts = values.font ?? ['AR PL UKai CN', 'WenQuanYi Micro Hei'];
const chars = gb2312Level1();
const sample = Array.from(shuffledIndices(chars.length, createRng(99)).subarray(0, n), (i) => chars[i]!);
const recognizer = await loadRecognizer('hanzi');
for (const font of fonts) {
  let top1 = 0;
  let top10 = 0;
  for (const char of sample) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="white"/><text x="100" y="160" font-family="${font}" font-size="150" text-anchor="middle" fill="black">${char}</text></svg>`;
    const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const result = await recognizer.recognize({ width: info.width, height: info.height, data });
    if (result.label === char) top1++;
    if (result.topK.some((c) => c.label === char)) top10++;
  }
  console.log(`${font}: top-1 ${((100 * top1) / n).toFixed(1)}%, top-10 ${((100 * top10) / n).toFixed(1)}% of ${n} characters`);
}
recognizer.dispose();

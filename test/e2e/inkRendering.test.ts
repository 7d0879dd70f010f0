/**
 * Ink renders to the same bytes in Chromium as in Node: the core's `inkImage` and each preprocessing profile
 * (`inkImageFor` + `preprocessorFor`, the path from ink to a model input that the page, the server, the CLI and
 * training share) run in a browser page from an esbuild bundle of the core modules, and the SHA-256 digests of
 * their outputs are compared with Node's on inks of different sizes, units and shapes (hanzi medians, a dot, a line).
 *
 * Skipped, with a message, when /usr/bin/chromium is absent.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ink } from '../../src/core/ink.ts';
import { inkImage } from '../../src/core/ink.ts';
import { inkImageFor, preprocessorFor } from '../../src/core/preprocessing.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/e2e/inkRendering skipped: no Chromium at ${CHROMIUM}`);

/** The profiles compared: digits' MNIST profile at 28 px and the CJK profile at 64 px. */
const MODELS = [
  { name: 'digits', preprocessing: 'mnist-com-v2', inputShape: [28, 28, 1] as [number, number, number] },
  { name: 'hanzi', preprocessing: 'cjk-fit-v1', inputShape: [64, 64, 1] as [number, number, number] },
];

/** The browser side: the same computations; the bytes come back to Node to be hashed (about:blank has no Web Crypto). */
const BROWSER_ENTRY = `
import { inkImage } from './src/core/ink.ts';
import { inkImageFor, preprocessorFor } from './src/core/preprocessing.ts';
window.renderBytes = (inks, models) =>
  inks.map((ink) => [Array.from(inkImage(ink).data), ...models.map((m) => Array.from(new Uint8Array(preprocessorFor(m)(inkImageFor(ink, m), 'ink').buffer)))]);`;

function nodeDigests(inks: Ink[]): string[][] {
  const hex = (bytes: Uint8Array | Uint8ClampedArray): string => createHash('sha256').update(bytes).digest('hex');
  return inks.map((ink) => [hex(inkImage(ink).data), ...MODELS.map((m) => hex(new Uint8Array(preprocessorFor(m)(inkImageFor(ink, m), 'ink').buffer)))]);
}

describe.skipIf(!hasChromium)('ink rendering in Chromium and in Node', () => {
  let browser: Browser;
  let bundle: string;

  beforeAll(async () => {
    const result = await build({
      stdin: { contents: BROWSER_ENTRY, resolveDir: fileURLToPath(new URL('../../', import.meta.url)), loader: 'ts' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
    });
    bundle = result.outputFiles[0]!.text;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('gives the same picture and the same model inputs, byte for byte', async () => {
    const hanzi = await Promise.all(['永', '我', '的'].map((char) => loadHanziInk(char)));
    const inks: Ink[] = [
      ...hanzi,
      { strokes: [[{ x: 10.25, y: 10 }, { x: 61.7, y: 10.5, t: 16 }, { x: 35.1, y: 90.3, t: 40 }]] },
      { strokes: [[{ x: 0.001, y: 0.002 }, { x: 0.0031, y: 0.0004 }], [{ x: 0.002, y: 0.003 }]] },
      { strokes: [[{ x: 5, y: 5 }]] },
      { strokes: [[{ x: -300, y: 40 }, { x: 900, y: 40 }]] },
      { strokes: [Array.from({ length: 120 }, (_, i) => ({ x: 500 + 300 * Math.cos(i / 17), y: 400 + 250 * Math.sin(i / 11) }))] },
    ];
    const page = await browser.newPage();
    await page.addScriptTag({ content: bundle });
    const browserBytes = await page.evaluate(([i, m]) => (window as unknown as { renderBytes: (a: unknown, b: unknown) => number[][][] }).renderBytes(i, m), [inks, MODELS] as const);
    const hex = (bytes: number[]): string => createHash('sha256').update(Uint8Array.from(bytes)).digest('hex');
    expect(browserBytes.map((row) => row.map(hex))).toEqual(nodeDigests(inks));
  });
});

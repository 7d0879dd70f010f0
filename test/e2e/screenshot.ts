/**
 * Takes the README's screenshots, served by the real server:
 * - docs/screenshot.png: the handwriting pad with a recognized digit;
 * - docs/screenshot-hanzi.png: 中文 mode with two characters composed and a third written, its candidates shown
 *   (characters written by replaying their stroke medians from hanzi-writer-data; a candidate is picked when it is
 *   the character written, else the top one, so the text is right with a trained model);
 * - docs/screenshot-teach.png: teach mode: a script of five runes (ᚠ ᚢ ᚦ ᚨ ᛉ, labelled by their names) created, 5
 *   samples of each drawn with seeded variations, trained in the browser with the page's default recipe, and a new
 *   ᚦ (thurisaz) recognized.
 * - docs/screenshot-line.png: Line mode: an 8-digit number (`digitLineShape('20491735', 4)`, MNIST-styled digits
 *   composed by test/fixtures/lines.ts) written by mouse, read in the browser, its boxes over the ink, the
 *   alternatives of one character open.
 * Run: `npm run screenshot` (needs /usr/bin/chromium; builds the web app first when stale);
 * `npm run screenshot -- digits`, `-- hanzi`, `-- teach` or `-- line` takes one of them.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { buildServer } from '../../src/server/server.ts';
import { digitLineShape } from '../fixtures/lines.ts';
import { drawWithMouse, inkToShape, predict, shownCandidates, waitForAnswer, type Placement, type Shape } from './drawing.ts';
import { lineAspect, waitForReading, writeOnLine } from './lineDrawing.ts';

/** A handwritten-looking "2": a hook on top, a diagonal, and a base stroke with a slight upturn. */
function two(): Shape {
  const hook = Array.from({ length: 28 }, (_, i) => {
    const angle = Math.PI * (1.08 + (i / 27) * 1.05);
    return { x: 0.5 + 0.19 * Math.cos(angle), y: 0.37 + 0.17 * Math.sin(angle) };
  });
  const last = hook[hook.length - 1]!;
  return [[...hook, { x: last.x - 0.04, y: last.y + 0.14 }, { x: 0.42, y: 0.64 }, { x: 0.3, y: 0.79 }, { x: 0.5, y: 0.775 }, { x: 0.74, y: 0.79 }]];
}

const docs = fileURLToPath(new URL('../../docs/', import.meta.url));
const wanted: string[] = process.argv.slice(2).filter((arg) => ['digits', 'hanzi', 'teach', 'line'].includes(arg));
const takes = (name: string): boolean => wanted.length === 0 || wanted.includes(name);

async function digitsScreenshot(browser: Browser, url: string): Promise<string> {
  const page = await browser.newPage({ viewport: { width: 1040, height: 760 }, deviceScaleFactor: 1.5 });
  await page.goto(url);
  await drawWithMouse(page, two());
  const label = await predict(page);
  await page.getByTestId('mode').selectOption('server');
  await page.waitForFunction(() => document.querySelector('#timing-server')?.textContent?.includes('ms'));
  await page.getByTestId('mode').selectOption('browser');
  await page.waitForFunction(() => document.body.dataset.busy === undefined);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: `${docs}screenshot.png`, fullPage: true });
  await page.close();
  return `recognized ${label}; wrote ${docs}screenshot.png`;
}

async function hanziScreenshot(browser: Browser, url: string): Promise<string> {
  const page = await browser.newPage({ viewport: { width: 1040, height: 820 }, deviceScaleFactor: 1.5 });
  await page.goto(url);
  await page.getByTestId('script').selectOption('hanzi');
  await page.waitForFunction(() => document.getElementById('model-progress')?.dataset.state === 'done', undefined, { timeout: 120_000 });
  const inBox: Placement = { left: 0.08, top: 0.08, scale: 0.84 };
  for (const char of ['手', '写']) {
    await drawWithMouse(page, inkToShape(await loadHanziInk(char)), inBox);
    await waitForAnswer(page);
    const candidates = await shownCandidates(page);
    await page.keyboard.press(String(Math.max(0, candidates.findIndex((candidate) => candidate.label === char)) + 1));
  }
  await drawWithMouse(page, inkToShape(await loadHanziInk('字')), inBox);
  await waitForAnswer(page);
  const candidates = (await shownCandidates(page)).map((candidate) => candidate.label).join('');
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: `${docs}screenshot-hanzi.png`, fullPage: true });
  await page.close();
  return `wrote 字, candidates ${candidates}; wrote ${docs}screenshot-hanzi.png`;
}

/** Five Elder Futhark runes (ᚠ ᚢ ᚦ ᚨ ᛉ) as strokes in a unit square, by their names (Chromium's fonts lack the runes). */
const RUNES: Record<string, Shape> = {
  fehu: [[{ x: 0.38, y: 0.15 }, { x: 0.38, y: 0.85 }], [{ x: 0.38, y: 0.36 }, { x: 0.66, y: 0.16 }], [{ x: 0.38, y: 0.56 }, { x: 0.66, y: 0.36 }]],
  uruz: [[{ x: 0.32, y: 0.85 }, { x: 0.32, y: 0.15 }, { x: 0.68, y: 0.36 }, { x: 0.68, y: 0.85 }]],
  thurisaz: [[{ x: 0.36, y: 0.15 }, { x: 0.36, y: 0.85 }], [{ x: 0.36, y: 0.3 }, { x: 0.66, y: 0.5 }, { x: 0.36, y: 0.7 }]],
  ansuz: [[{ x: 0.38, y: 0.15 }, { x: 0.38, y: 0.85 }], [{ x: 0.38, y: 0.16 }, { x: 0.66, y: 0.36 }], [{ x: 0.38, y: 0.36 }, { x: 0.66, y: 0.56 }]],
  algiz: [[{ x: 0.5, y: 0.15 }, { x: 0.5, y: 0.85 }], [{ x: 0.5, y: 0.46 }, { x: 0.26, y: 0.16 }], [{ x: 0.5, y: 0.46 }, { x: 0.74, y: 0.16 }]],
};

/** A shape as a hand draws it again: shifted, scaled and slanted a little, each point nudged (seeded, `seed` > 0). */
function vary(shape: Shape, seed: number): Shape {
  let state = seed;
  const random = (): number => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647 - 0.5;
  };
  const scale = 1 + 0.16 * random();
  const slant = 0.16 * random();
  const dx = 0.08 * random();
  const dy = 0.08 * random();
  return shape.map((stroke) => stroke.map((point) => {
    const x = 0.5 + (point.x - 0.5) * scale + (0.5 - point.y) * slant + dx + 0.015 * random();
    const y = 0.5 + (point.y - 0.5) * scale + dy + 0.015 * random();
    return { x, y };
  }));
}

async function teachScreenshot(browser: Browser, url: string): Promise<string> {
  const page = await browser.newPage({ viewport: { width: 1040, height: 900 }, deviceScaleFactor: 1.5 });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.getByTestId('script').selectOption('new');
  await page.getByTestId('teach-name').fill('futhark');
  await page.getByTestId('teach-symbols').fill(Object.keys(RUNES).join(' '));
  await page.getByTestId('teach-create-button').click();
  await page.waitForFunction(() => document.body.dataset.teach === 'collect');
  let seed = 1;
  for (const shape of Object.values(RUNES)) {
    for (let sample = 0; sample < 5; sample++) {
      await page.getByTestId('pad').scrollIntoViewIfNeeded();
      await drawWithMouse(page, vary(shape, seed++));
      await page.getByTestId('teach-add').click();
    }
  }
  const started = Date.now();
  await page.getByTestId('teach-train').click();
  await page.waitForFunction(() => ['done', 'failed', 'cancelled'].includes(document.body.dataset.training ?? ''), undefined, { timeout: 600_000 });
  const trained = await page.getByTestId('teach-training-text').textContent();
  await page.getByTestId('pad').scrollIntoViewIfNeeded();
  await drawWithMouse(page, vary(RUNES.thurisaz!, 1000));
  const label = await predict(page);
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${docs}screenshot-teach.png`, fullPage: true });
  await page.close();
  return `trained in ${((Date.now() - started) / 1000).toFixed(0)} s (${trained}); recognized a new thurisaz as ${label}; wrote ${docs}screenshot-teach.png`;
}

/** The number written in Line mode's screenshot, and the seed of its composition. */
const LINE_TEXT = '20491735';
const LINE_SEED = 4;

async function lineScreenshot(browser: Browser, url: string): Promise<string> {
  const page = await browser.newPage({ viewport: { width: 1040, height: 820 }, deviceScaleFactor: 1.5 });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.getByTestId('view-line').click();
  await writeOnLine(page, digitLineShape(LINE_TEXT, LINE_SEED, await lineAspect(page)));
  const text = await waitForReading(page);
  // Show the alternatives of one character, as after a tap on it.
  await page.locator('#line-characters .line-char').nth(3).click();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: `${docs}screenshot-line.png`, fullPage: true });
  await page.close();
  return `wrote ${LINE_TEXT}, read ${text}; wrote ${docs}screenshot-line.png`;
}

await ensureWebBuild();
const server = buildServer({ webRoot: fileURLToPath(new URL('../../web-dist/', import.meta.url)) });
await server.listen({ port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  mkdirSync(docs, { recursive: true });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`;
  if (takes('digits')) console.log(await digitsScreenshot(browser, url));
  if (takes('hanzi')) console.log(await hanziScreenshot(browser, url));
  if (takes('teach')) console.log(await teachScreenshot(browser, url));
  if (takes('line')) console.log(await lineScreenshot(browser, url));
} finally {
  await browser.close();
  await server.close();
}

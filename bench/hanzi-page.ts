/**
 * Recognition of Chinese characters written in the page, as a user's pen would: in headless Chromium on the static
 * build (no server), N characters of GB 2312 level 1 (a seeded random sample) are written by replaying their stroke
 * medians (hanzi-writer-data, `loadHanziInk`) as mouse pointer events in 中文 mode's writing box, and the page's
 * candidates after the last stroke are compared with the character written.
 *
 *   npx tsx bench/hanzi-page.ts [--n 300] [--seed 1] [--model-dir models/hanzi]
 *
 * Prints one JSON line: `top1` and `top10` (fractions of the N characters whose candidates start with, or include,
 * the character), `workerMedianMs` (median time of the last stroke's recognition in the page's Web Worker:
 * preprocessing of the pad's 280x280 drawing to the model's input plus the model, as the worker reports it),
 * `roundTripMedianMs` (the same seen from the page: rendering the strokes, transfer to the worker and back),
 * the model's name, N, the seed and the wall-clock seconds. `--model-dir` builds the app with another model folder
 * (`HWR_WEB_HANZI_MODEL_DIR`). Needs /usr/bin/chromium.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createRng } from '../src/data/augment.ts';
import { gb2312Level1 } from '../src/data/charset.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { ensureWebBuild } from '../src/server/ensureWebBuild.ts';
import { drawWithMouseQuickly, inkToShape, shownCandidates, waitForAnswer, type Placement } from '../test/e2e/drawing.ts';
import { serveStatic } from '../test/e2e/staticServer.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    'model-dir': { type: 'string' },
  },
});
const count = Number(values.n);
const seed = Number(values.seed);
if (!Number.isInteger(count) || count < 1) throw new Error(`--n: expected a positive integer, got ${values.n}`);

/** As test/e2e/hanzi.test.ts writes: the 1024-unit field with a writer's margin. */
const IN_BOX: Placement = { left: 0.06, top: 0.06, scale: 0.88 };

/** `count` distinct characters of `pool`, drawn with a seeded generator (partial Fisher-Yates). */
function sample(pool: readonly string[], size: number, rngSeed: number): string[] {
  const rng = createRng(rngSeed);
  const items = [...pool];
  const n = Math.min(size, items.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(items.length - i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items.slice(0, n);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const started = performance.now();
if (values['model-dir']) process.env.HWR_WEB_HANZI_MODEL_DIR = values['model-dir'];
await ensureWebBuild(undefined, { force: Boolean(values['model-dir']) });
const host = await serveStatic(fileURLToPath(new URL('../web-dist/', import.meta.url)), '/');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(host.url);
  await page.getByTestId('script').selectOption('hanzi');
  await page.waitForFunction(() => document.getElementById('model-progress')?.dataset.state === 'done', undefined, { timeout: 120_000 });
  const model = (await page.locator('#model-info').textContent()) ?? '';
  const cdp = await page.context().newCDPSession(page);
  const characters = sample(gb2312Level1(), count, seed);
  let top1 = 0;
  let top10 = 0;
  const workerMs: number[] = [];
  const roundTripMs: number[] = [];
  for (const char of characters) {
    const shape = inkToShape(await loadHanziInk(char));
    await drawWithMouseQuickly(page, cdp, shape, IN_BOX);
    await waitForAnswer(page);
    const strokes = Number(await page.getByTestId('pad').getAttribute('data-strokes'));
    if (strokes !== shape.length) throw new Error(`${char}: the pad has ${strokes} strokes, ${shape.length} were written`);
    const candidates = (await shownCandidates(page)).map((candidate) => candidate.label);
    if (candidates[0] === char) top1++;
    if (candidates.includes(char)) top10++;
    const timing = await page.locator('#timing-browser').evaluate((element) => ({ ...(element as HTMLElement).dataset }));
    workerMs.push(Number(timing.preprocessMs) + Number(timing.inferenceMs));
    roundTripMs.push(Number(timing.totalMs));
    await page.keyboard.press('Escape');
  }
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(JSON.stringify({
    bench: 'hanzi-page',
    model: /“([^”]+)”/.exec(model)?.[1] ?? null,
    characters: characters.length,
    seed,
    top1: top1 / characters.length,
    top10: top10 / characters.length,
    workerMedianMs: Number(median(workerMs).toFixed(2)),
    roundTripMedianMs: Number(median(roundTripMs).toFixed(2)),
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  }));
} finally {
  await browser.close();
  await host.close();
}

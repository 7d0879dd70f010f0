/**
 * End-to-end tests of teach mode in Chromium (playwright-core, Debian's /usr/bin/chromium), on the static build
 * (no server): create a 3-symbol script, draw 5 samples of each by pointer events (three clearly different shapes,
 * each with small variations), redo one, train in the browser's worker, recognize a new sample of each; the
 * downloaded model folder read by Node's `loadRecognizer` (what `hwr predict --model DIR` runs); export, delete and
 * import the dataset, a malformed import's error, and a reload that keeps the script. Then "Wrong? pick the right
 * one" and "Improve" on the shipped digits model, and "Reset to the original model".
 *
 * Training runs the page's `?teach-recipe=` small recipe (few augmented variants and epochs) so that the file stays
 * well under a minute on two cores; the full recipe is measured by bench/teach.ts.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readInkDataset, sampleInk, type InkDataset } from '../../src/data/inkDataset.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { drawWithMouseQuickly, waitForAnswer, type Shape, type UnitPoint } from './drawing.ts';
import { serveStatic, type StaticServer } from './staticServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEB_DIST = fileURLToPath(new URL('../../web-dist/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
/** A small training run: augmented variants per sample, head epochs, fine-tune epochs. */
const RECIPE = '20,2,1';

if (!hasChromium) {
  console.warn(`test/e2e/teach skipped: no Chromium at ${CHROMIUM} (install the Debian package "chromium" to run the browser tests)`);
}

/** Points around an ellipse, as a pen draws a ring. */
function ring(cx: number, cy: number, rx: number, ry: number): UnitPoint[] {
  return Array.from({ length: 31 }, (_, i) => ({ x: cx + rx * Math.cos((i / 30) * 2 * Math.PI), y: cy + ry * Math.sin((i / 30) * 2 * Math.PI) }));
}

/** Three clearly different symbols, each drawn with a variation `v` (about ±0.05 of the pad). */
const SYMBOLS: Record<'ring' | 'cross' | 'bar', (v: number) => Shape> = {
  ring: (v) => [ring(0.5, 0.5, 0.25 + v, 0.3 - v)],
  cross: (v) => [[{ x: 0.25 + v, y: 0.25 }, { x: 0.75, y: 0.75 - v }], [{ x: 0.75 - v, y: 0.25 }, { x: 0.25, y: 0.75 + v }]],
  bar: (v) => [[{ x: 0.5 + v, y: 0.2 }, { x: 0.5 - v, y: 0.8 }]],
};
const LABELS = Object.keys(SYMBOLS) as Array<keyof typeof SYMBOLS>;
const VARIATIONS = [0, 0.03, -0.03, 0.05, -0.05];

/**
 * Draws a shape on the pad with the mouse (every pointer event, sent through the DevTools protocol without a round
 * trip each), scrolled into view first (the teach panel makes the page tall).
 */
async function draw(page: Page, shape: Shape): Promise<void> {
  await page.getByTestId('pad').scrollIntoViewIfNeeded();
  await drawWithMouseQuickly(page, await page.context().newCDPSession(page), shape);
}

/** Clears the pad, draws `shape`, clicks Predict and returns the label shown. */
async function recognize(page: Page, shape: Shape): Promise<string> {
  await page.getByTestId('clear').click();
  await draw(page, shape);
  await page.getByTestId('predict').click();
  await waitForAnswer(page);
  return (await page.getByTestId('prediction').textContent()) ?? '';
}

/** Clicks `button` and returns the downloaded file's bytes and name. */
async function downloadOf(page: Page, testId: string): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: await readFile(path) };
}

describe.skipIf(!hasChromium)('teach mode in Chromium', () => {
  let host: StaticServer;
  let browser: Browser;
  let scratch: string;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureWebBuild();
    host = await serveStatic(WEB_DIST, '/hwr/');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    scratch = await mkdtemp(join(tmpdir(), 'hwr-teach-'));
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function openPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${host.url}?teach-recipe=${RECIPE}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    return page;
  }

  it('creates a script, collects 5 samples of 3 symbols, trains, recognizes, downloads, exports, imports and survives a reload', async () => {
    const page = await openPage();

    // Create: a name and three symbols.
    await page.getByTestId('script').selectOption('new');
    await expect.poll(() => page.evaluate(() => document.body.dataset.teach)).toBe('create');
    await page.getByTestId('teach-name').fill('shapes');
    await page.getByTestId('teach-symbols').fill(LABELS.join(' '));
    await page.getByTestId('teach-create-button').click();
    await page.waitForFunction(() => document.body.dataset.teach === 'collect');
    expect(await page.getByTestId('script').inputValue()).toBe('taught:shapes');
    expect(await page.getByTestId('teach-prompt').textContent()).toBe('Draw “ring”: sample 1 of 5');

    // A picture to copy from, beside the pad: kept (scaled down, as PNG) with the dataset.
    const picture = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } })
      .composite([{ input: Buffer.from('<svg width="300" height="300"><circle cx="150" cy="150" r="100" stroke="black" stroke-width="20" fill="none"/></svg>') }])
      .png().toBuffer();
    await page.getByTestId('teach-picture').setInputFiles({ name: 'ring.png', mimeType: 'image/png', buffer: picture });
    await page.waitForFunction(() => (document.getElementById('teach-reference-image') as HTMLImageElement).src.startsWith('data:image/png'));
    expect(await page.getByTestId('teach-reference').isVisible()).toBe(true);

    // Five samples of each, symbol by symbol: the prompt moves on by itself.
    for (const label of LABELS) {
      for (const v of VARIATIONS) {
        expect(await page.getByTestId('teach-prompt').getAttribute('data-symbol')).toBe(label);
        const before = Number(await page.evaluate(() => document.body.dataset.samples));
        await draw(page, SYMBOLS[label](v));
        await page.getByTestId('teach-add').click();
        await page.waitForFunction((count) => Number(document.body.dataset.samples) === count + 1, before);
      }
    }
    await expect.poll(() => page.locator('#teach-progress-text').textContent()).toBe('15 of 15 samples');
    expect(await page.locator('[data-testid="teach-grid"] canvas.thumb').count()).toBe(15);

    // Redo a bad sample: delete the second "cross", and the prompt asks for it again; Enter adds it.
    await page.locator('.symbol-row[data-label="cross"] .thumb-remove').nth(1).click();
    await page.waitForFunction(() => document.body.dataset.samples === '14');
    expect(await page.getByTestId('teach-prompt').textContent()).toBe('Draw “cross”: sample 5 of 5');
    await draw(page, SYMBOLS.cross(0.04));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.samples === '15');

    // Cancel stops a run: no model.
    await page.getByTestId('teach-train').click();
    await page.waitForFunction(() => document.body.dataset.training === 'running');
    await page.getByTestId('teach-cancel').click();
    await page.waitForFunction(() => document.body.dataset.training === 'cancelled', undefined, { timeout: 30_000 });
    expect(await page.getByTestId('teach-training-text').textContent()).toBe('Training cancelled.');
    expect(await page.evaluate(() => document.body.dataset.taughtModel)).toBe('none');

    // Train: progress, then a usable model and the final one, which recognizes new samples.
    await page.getByTestId('teach-train').click();
    await page.waitForFunction(() => document.body.dataset.training === 'running');
    await page.waitForFunction(() => document.body.dataset.training !== undefined);
    await page.waitForFunction(() => ['done', 'failed', 'cancelled'].includes(document.body.dataset.training ?? ''), undefined, { timeout: 120_000 });
    expect(await page.getByTestId('teach-training-text').textContent()).toMatch(/^Done/);
    expect(await page.evaluate(() => document.body.dataset.training)).toBe('done');
    expect(await page.evaluate(() => [document.body.dataset.teach, document.body.dataset.taughtModel])).toEqual(['recognize', 'final']);
    for (const label of LABELS) expect(await recognize(page, SYMBOLS[label](0.02))).toBe(label);
    const bars = await page.getByTestId('probabilities').evaluate((list) => Array.from(list.children, (item) => (item as HTMLElement).dataset.label));
    expect(bars).toEqual(LABELS);

    // The model folder, zipped: what `hwr predict --model DIR` loads reads the symbols too.
    const zip = await downloadOf(page, 'teach-download');
    expect(zip.name).toBe('shapes-model.zip');
    const files = unzipSync(new Uint8Array(zip.bytes));
    expect(Object.keys(files).sort()).toEqual(['shapes/SHA256SUMS', 'shapes/metadata.json', 'shapes/model.json', 'shapes/weights.bin']);
    const modelDir = join(scratch, 'shapes');
    await mkdir(modelDir, { recursive: true });
    for (const [path, bytes] of Object.entries(files)) await writeFile(join(scratch, path), bytes);

    // The dataset file: every sample, with the pad's times.
    const exported = await downloadOf(page, 'teach-export');
    expect(exported.name).toBe('shapes.hwr-ink.json');
    const dataset: InkDataset = readInkDataset(exported.bytes.toString('utf8'), exported.name);
    expect(dataset.script).toBe('shapes');
    expect(dataset.classes).toEqual(LABELS);
    expect(dataset.samples).toHaveLength(15);
    expect(Object.keys(dataset.pictures ?? {})).toEqual(['ring']);
    expect((await sharp(Buffer.from(dataset.pictures!.ring!.split(',')[1]!, 'base64')).metadata()).width).toBe(160);
    const stroke = dataset.samples[0]!.strokes[0]!;
    expect(stroke.every((point) => point.length === 3)).toBe(true);
    expect(stroke.every((point, i) => i === 0 || point[2]! >= stroke[i - 1]![2]!)).toBe(true);

    const recognizer = await loadRecognizer(modelDir);
    try {
      for (const sample of dataset.samples.filter((_, i) => i % 5 === 0)) {
        expect((await recognizer.recognizeInk(sampleInk(sample))).label).toBe(sample.label);
      }
    } finally {
      recognizer.dispose();
    }

    // A reload keeps the script, its samples and its model.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.waitForFunction(() => document.body.dataset.taughtModel === 'final');
    expect(await page.getByTestId('script').inputValue()).toBe('taught:shapes');
    expect(await page.evaluate(() => document.body.dataset.samples)).toBe('15');
    await page.getByTestId('teach-recognize').click();
    expect(await recognize(page, SYMBOLS.bar(-0.02))).toBe('bar');

    // Correct and improve: the shown drawing joins the personal samples as "bar"; Improve fine-tunes the taught
    // model on the drawn and corrected samples, shows before/after on the corrected ones, and Reset goes back.
    await page.getByTestId('correct-label').selectOption('bar');
    await page.getByTestId('correct-add').click();
    await page.waitForFunction(() => document.body.dataset.personal === '1');
    expect(await page.getByTestId('personal-count').textContent()).toBe('1 corrected sample collected.');
    await page.getByTestId('improve-button').click();
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.improving ?? ''), undefined, { timeout: 120_000 });
    const improved = page.getByTestId('improve-result');
    expect(await improved.textContent()).toMatch(/^Improved: on your 1 sample, 100% correct before, 100% after\.$/);
    expect(await page.getByTestId('reset-model').isVisible()).toBe(true);
    expect(await recognize(page, SYMBOLS.ring(0.02))).toBe('ring');
    await page.getByTestId('reset-model').click();
    await expect.poll(() => improved.textContent()).toBe('Back to the original model.');
    expect(await page.getByTestId('reset-model').isVisible()).toBe(false);
    expect(await recognize(page, SYMBOLS.cross(0.02))).toBe('cross');

    // Delete it, then import the exported file: the same script again.
    await page.getByTestId('teach-delete').click();
    await page.waitForFunction(() => document.body.dataset.script === 'digits');
    expect(await page.locator('[data-testid="script"] option[value="taught:shapes"]').count()).toBe(0);
    await page.getByTestId('script').selectOption('new');
    const malformed = JSON.stringify({ ...dataset, samples: [{ label: 'star', strokes: [[[0, 0]]] }] });
    await page.getByTestId('teach-import').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(malformed) });
    await expect.poll(() => page.getByTestId('teach-error').textContent()).toMatch(/^Import failed: broken\.json: .*star/);
    await page.getByTestId('teach-import').setInputFiles({ name: 'not-json.json', mimeType: 'application/json', buffer: Buffer.from('{"format": "hwr-ink-') });
    await expect.poll(() => page.getByTestId('teach-error').textContent()).toMatch(/^Import failed: not-json\.json/);
    expect(await page.locator('[data-testid="script"] option[data-taught]').count()).toBe(0); // nothing half-imported
    await page.getByTestId('teach-import').setInputFiles({ name: exported.name, mimeType: 'application/json', buffer: exported.bytes });
    await page.waitForFunction(() => document.body.dataset.script === 'taught:shapes' && document.body.dataset.samples === '15');
    expect(await page.evaluate(() => [document.body.dataset.teach, document.body.dataset.taughtModel])).toEqual(['collect', 'none']);
    expect(await page.getByTestId('teach-prompt').getAttribute('data-symbol')).toBe('ring');
    expect(await page.locator('#teach-reference-image').getAttribute('src')).toBe(dataset.pictures!.ring);
  }, 240_000);

  it('collects corrections for the shipped digits model: the classes listed, the count kept across a reload', async () => {
    const page = await openPage();
    await page.getByTestId('script').selectOption('digits');
    await page.waitForFunction(() => document.getElementById('improve')?.hidden === false, undefined, { timeout: 60_000 });
    expect(await page.locator('[data-testid="correct-label"] option').evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value)))
      .toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none']);
    expect(await page.locator('[data-testid="correct-label"] option[value="none"]').textContent()).toBe('not a digit');
    // A tall, thin "1", corrected to 1 whatever the model said, twice with a variation.
    for (const [index, v] of [0, 0.04].entries()) {
      await page.getByTestId('clear').click();
      await draw(page, [[{ x: 0.45 + v, y: 0.25 }, { x: 0.52, y: 0.18 }, { x: 0.52 - v, y: 0.82 }]]);
      await page.getByTestId('predict').click();
      await waitForAnswer(page);
      await page.getByTestId('correct-label').selectOption('1');
      await page.getByTestId('correct-add').click();
      await page.waitForFunction((count) => document.body.dataset.personal === String(count), index + 1);
    }
    expect(await page.getByTestId('personal-count').textContent()).toBe('2 corrected samples collected.');
    expect(await page.getByTestId('improve-button').isEnabled()).toBe(true);
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.personal === '2', undefined, { timeout: 60_000 });
  }, 120_000);
});

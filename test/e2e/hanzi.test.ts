/**
 * End-to-end tests of the pad's 中文 mode in Chromium (playwright-core, Debian's /usr/bin/chromium), on the static
 * build (no hwr server) unless a test says otherwise: the script switch and its memory across visits, the hanzi model
 * loaded only when 中文 is chosen (with its progress, then from the browser's cache), writing characters by replaying
 * their stroke medians (hanzi-writer-data, `loadHanziInk`) with pointer events, the candidates after every stroke,
 * picking by click, tap and number key, the composed text and Copy, Undo and Backspace, a 360 px touch screen, and
 * server mode asking for `model=hanzi`.
 *
 * The mechanics hold for any model with the hanzi model's shape, the untrained placeholder included. One test checks
 * accuracy: the intended character among the candidates, and picked. It needs the trained model in models/hanzi
 * and fails with the placeholder, whose candidates are random.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { buildServer } from '../../src/server/server.ts';
import {
  drawWithMouse, drawWithTouch, inkToShape, shownCandidates, shownProbabilities, shownProcessedPixels, waitForAnswer, type Placement, type Shape,
} from './drawing.ts';
import { serveStatic, type StaticServer } from './staticServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEB_DIST = fileURLToPath(new URL('../../web-dist/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
/** The three characters written; all of GB 2312 level 1. */
const WORD = ['中', '文', '字'] as const;
/** Where a character goes in the writing box: Make Me a Hanzi's 1024-unit field, with a margin a writer leaves. */
const IN_BOX: Placement = { left: 0.06, top: 0.06, scale: 0.88 };

if (!hasChromium) {
  console.warn(`test/e2e/hanzi skipped: no Chromium at ${CHROMIUM} (install the Debian package "chromium" to run the browser tests)`);
}

describe.skipIf(!hasChromium)('the pad in 中文 mode, in Chromium', () => {
  let host: StaticServer;
  let browser: Browser;
  const shapes = new Map<string, Shape>();
  const contexts: BrowserContext[] = [];
  const afterEachChecks: Array<() => void> = [];

  beforeAll(async () => {
    await ensureWebBuild();
    host = await serveStatic(WEB_DIST, '/hwr/');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    for (const char of WORD) shapes.set(char, inkToShape(await loadHanziInk(char)));
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    for (const check of afterEachChecks.splice(0)) check();
  });

  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  /** A fresh browser context (empty storage and cache); `phone` gives a 360x740 touch screen. */
  async function newContext(options: { phone?: boolean } = {}): Promise<BrowserContext> {
    const context = await browser.newContext(options.phone
      ? { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1100, height: 820 } });
    contexts.push(context);
    return context;
  }

  /** Opens the page in `context` (a new one by default), failing the test on any page error. */
  async function openPad(options: { context?: BrowserContext; phone?: boolean; url?: string } = {}): Promise<Page> {
    const context = options.context ?? await newContext(options);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(options.url ?? host.url);
    await page.getByTestId('pad').waitFor();
    afterEachChecks.push(() => expect(errors).toEqual([]));
    return page;
  }

  /** Chooses 中文 and waits until the in-browser hanzi model has loaded. */
  async function chooseHanzi(page: Page): Promise<void> {
    await page.getByTestId('script').selectOption('hanzi');
    await waitForHanziModel(page);
  }

  async function waitForHanziModel(page: Page): Promise<void> {
    await expect.poll(() => page.getByTestId('model-progress').getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    await expect.poll(() => page.locator('#model-info').textContent(), { timeout: 30_000 }).toMatch(/3,755 characters.*in your browser/);
  }

  /** Writes stroke `index` of `char` with the mouse and waits for the answer to the drawing so far. */
  async function writeStroke(page: Page, char: string, index: number): Promise<void> {
    await drawWithMouse(page, [shapes.get(char)![index]!], IN_BOX);
    await waitForAnswer(page);
  }

  /**
   * Writes `char` stroke by stroke, checking after each stroke that ten candidates of the model are shown, most
   * probable first. @returns the final candidates.
   */
  async function writeCharacter(page: Page, char: string): Promise<Array<{ label: string; probability: number }>> {
    const strokes = shapes.get(char)!;
    let candidates: Array<{ label: string; probability: number }> = [];
    for (let index = 0; index < strokes.length; index++) {
      await writeStroke(page, char, index);
      expect(await page.getByTestId('pad').getAttribute('data-strokes')).toBe(String(index + 1));
      candidates = await shownCandidates(page);
      expect(candidates, `candidates after stroke ${index + 1} of ${char}`).toHaveLength(10);
      expect(new Set(candidates.map((candidate) => candidate.label)).size).toBe(10);
      const probabilities = candidates.map((candidate) => candidate.probability);
      expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
    }
    return candidates;
  }

  async function text(page: Page): Promise<string> {
    return page.getByTestId('text').inputValue();
  }

  it('loads the hanzi model only when 中文 is chosen, shows its progress, and takes it from the browser\'s cache next time (TF.js weights)', async () => {
    const context = await newContext();
    const hanziRequests: string[] = [];
    context.on('request', (request) => {
      if (request.url().includes('/models/hanzi/')) hanziRequests.push(request.url().replace(/.*\/models\/hanzi\//, ''));
    });
    const page = await openPad({ context, url: `${host.url}?engine=tfjs` });
    expect(await page.getByTestId('script').inputValue()).toBe('digits');
    await expect.poll(() => page.locator('#model-info').textContent(), { timeout: 30_000 }).toMatch(/in your browser/);
    expect(hanziRequests).toEqual([]);

    // Every state the progress indicator shows, recorded in the page as it changes.
    await page.getByTestId('model-progress').evaluate((box) => {
      const seen: Array<{ visible: boolean; loaded: number; total: number }> = ((window as unknown as { progressSeen: typeof seen }).progressSeen = []);
      new MutationObserver(() => seen.push({ visible: !(box as HTMLElement).hidden, loaded: Number((box as HTMLElement).dataset.loaded), total: Number((box as HTMLElement).dataset.total) }))
        .observe(box, { attributes: true });
    });
    // A copy of an older model's weights in the cache (another SHA-256, same URL), and a damaged copy under this
    // model's key: neither is used, and both are gone once the weights have been fetched again.
    const weightsUrl = new URL('models/hanzi/weights.bin', host.url).href;
    const sums = await (await fetch(new URL('models/hanzi/SHA256SUMS', host.url))).text();
    const currentKey = `${weightsUrl}?sha256=${/^([0-9a-f]{64}) [ *]weights\.bin$/m.exec(sums)![1]}`;
    await page.evaluate(async ([old, damaged]) => {
      const cache = await caches.open('hwr-models-v1');
      await cache.put(old!, new Response('weights of an older model'));
      await cache.put(damaged!, new Response('damaged'));
    }, [`${weightsUrl}?sha256=${'0'.repeat(64)}`, currentKey]);
    await page.getByTestId('script').selectOption('hanzi');
    await waitForHanziModel(page);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: Array<{ visible: boolean; loaded: number; total: number }> }).progressSeen);
    expect(seen.some((state) => state.visible && state.total > 0 && state.loaded < state.total)).toBe(true);
    const progress = page.getByTestId('model-progress');
    const total = Number(await progress.getAttribute('data-total'));
    expect(total).toBeGreaterThan(1_000_000); // the weights: ~2.7 MB of float16
    expect(Number(await progress.getAttribute('data-loaded'))).toBe(total);
    expect(await progress.getAttribute('data-cached')).toBe('false');
    expect(await progress.isHidden()).toBe(true);
    expect(hanziRequests).toContain('weights.bin');
    const cached = await page.evaluate(async () => (await (await caches.open('hwr-models-v1')).keys()).map((key) => key.url));
    expect(cached.filter((url) => url.includes('/models/hanzi/'))).toEqual([expect.stringMatching(/\/models\/hanzi\/weights\.bin\?sha256=[0-9a-f]{64}$/)]);

    // Remembered across visits; the weights come from the cache, not the network.
    hanziRequests.length = 0;
    await page.reload();
    expect(await page.getByTestId('script').inputValue()).toBe('hanzi');
    await waitForHanziModel(page);
    expect(await progress.getAttribute('data-cached')).toBe('true');
    expect(Number(await progress.getAttribute('data-loaded'))).toBe(total);
    expect(hanziRequests).not.toContain('weights.bin');
    expect(hanziRequests).toEqual(expect.arrayContaining(['SHA256SUMS', 'model.json', 'metadata.json']));

    // And back: digits, remembered too.
    await page.getByTestId('script').selectOption('digits');
    await page.reload();
    expect(await page.getByTestId('script').inputValue()).toBe('digits');
    expect(await page.getByTestId('candidates').isVisible()).toBe(false);
  });

  it('on ONNX Runtime Web (the default), fetches the hanzi model.onnx once, when 中文 is chosen, and from the cache after a reload', async () => {
    const context = await newContext();
    const hanziRequests: string[] = [];
    context.on('request', (request) => {
      if (request.url().includes('/models/hanzi/')) hanziRequests.push(request.url().replace(/.*\/models\/hanzi\//, ''));
    });
    const page = await openPad({ context });
    await expect.poll(() => page.locator('#model-info').textContent(), { timeout: 30_000 }).toMatch(/in your browser/);
    expect(hanziRequests).toEqual([]);
    await page.getByTestId('script').selectOption('hanzi');
    await waitForHanziModel(page);
    expect(await page.locator('#model-info').getAttribute('data-engine')).toBe('onnxruntime-web');
    expect(hanziRequests).toContain('model.onnx');
    expect(hanziRequests).not.toContain('weights.bin');
    const cached = await page.evaluate(async () => (await (await caches.open('hwr-models-v1')).keys()).map((key) => key.url));
    expect(cached.filter((url) => url.includes('/models/hanzi/'))).toEqual([expect.stringMatching(/\/models\/hanzi\/model\.onnx\?sha256=[0-9a-f]{64}$/)]);
    hanziRequests.length = 0;
    await page.reload();
    await waitForHanziModel(page);
    expect(await page.getByTestId('model-progress').getAttribute('data-cached')).toBe('true');
    expect(hanziRequests).not.toContain('model.onnx');
  });

  it('writes three characters from their stroke medians, with candidates after every stroke, picked by click and by number key', async () => {
    const context = await newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await openPad({ context });
    await chooseHanzi(page);
    expect(await page.getByTestId('text').isVisible()).toBe(true);

    const picked: string[] = [];
    for (const [position, char] of WORD.entries()) {
      const candidates = await writeCharacter(page, char);
      // The model's 64x64 input is shown, and the top candidate announced.
      expect(await page.getByTestId('processed').evaluate((canvas) => [(canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height])).toEqual([64, 64]);
      expect(await page.locator('#processed-caption').textContent()).toBe('What the model saw (64×64)');
      expect(await page.locator('#announcer').textContent()).toMatch(new RegExp(`^Top candidate ${candidates[0]!.label}, .* sure, in the browser\\.`));
      expect(await page.getByTestId('prediction').textContent()).toBe(candidates[0]!.label);
      // The results panel has a bar per candidate, the top one highlighted.
      const bars = await shownProbabilities(page);
      expect(bars.map(({ label, probability }) => ({ label, probability }))).toEqual(candidates);
      expect(bars.filter((bar) => bar.top).map((bar) => bar.label)).toEqual([candidates[0]!.label]);
      // The intended character when the model offers it (the trained model does), else the first candidate.
      const index = Math.max(0, candidates.findIndex((candidate) => candidate.label === char));
      if (position === 1) await page.keyboard.press(String((index + 1) % 10));
      else await page.locator(`[data-testid="candidates"] button[data-index="${index}"]`).click();
      picked.push(candidates[index]!.label);
      expect(await text(page)).toBe(picked.join(''));
      // The pad is cleared for the next character.
      expect(await page.getByTestId('pad').getAttribute('data-strokes')).toBe('0');
      expect(await shownCandidates(page)).toEqual([]);
      expect(await page.locator('#announcer').textContent()).toBe(`Wrote ${picked.at(-1)}.`);
    }
    expect(Array.from(await text(page))).toHaveLength(3);

    await page.getByTestId('copy').click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(picked.join(''));
    expect(await page.getByTestId('copy').getAttribute('data-state')).toBe('copied');
  });

  it('Undo removes the last stroke and recognizes again; Backspace undoes strokes, then deletes characters from an empty pad', async () => {
    const page = await openPad();
    await chooseHanzi(page);
    await writeCharacter(page, '中');
    await page.keyboard.press('1');
    const first = await text(page);
    expect(Array.from(first)).toHaveLength(1);

    await writeStroke(page, '文', 0);
    await writeStroke(page, '文', 1);
    const recognized = Number(await page.evaluate(() => document.body.dataset.recognized));
    await page.getByTestId('undo').click();
    await waitForAnswer(page);
    expect(await page.getByTestId('pad').getAttribute('data-strokes')).toBe('1');
    expect(Number(await page.evaluate(() => document.body.dataset.recognized))).toBeGreaterThan(recognized);
    expect(await shownCandidates(page)).toHaveLength(10);

    // Backspace with ink undoes a stroke; the text is untouched until the pad is empty.
    await page.keyboard.press('Backspace');
    expect(await page.getByTestId('pad').getAttribute('data-strokes')).toBe('0');
    expect(await shownCandidates(page)).toEqual([]);
    expect(await text(page)).toBe(first);
    await page.keyboard.press('Backspace');
    expect(await text(page)).toBe('');
    await page.keyboard.press('Backspace'); // nothing left: no error
    expect(await text(page)).toBe('');

    // The text field is the user's too: digits and Backspace typed there stay text, not picks.
    await page.getByTestId('text').fill('你好');
    await page.getByTestId('text').press('End');
    await page.keyboard.type('12');
    await page.keyboard.press('Backspace');
    expect(await text(page)).toBe('你好1');
    // The Delete button does what Backspace does in an empty pad, for touch screens.
    await page.getByTestId('backspace').click();
    expect(await text(page)).toBe('你好');
  });

  it('works on a 360 px touch screen without horizontal scrolling: touch strokes, candidates tapped', async () => {
    const page = await openPad({ phone: true });
    await chooseHanzi(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const pad = (await page.getByTestId('pad').boundingBox())!;
    expect(pad.width).toBeGreaterThan(280);
    expect(pad.x + pad.width).toBeLessThanOrEqual(360);
    const cdp = await page.context().newCDPSession(page);
    await drawWithTouch(page, cdp, shapes.get('中')!, IN_BOX);
    await waitForAnswer(page);
    const candidates = await shownCandidates(page);
    expect(candidates).toHaveLength(10);
    for (const button of await page.locator('[data-testid="candidates"] button').all()) {
      const box = (await button.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(360);
      expect(box.height).toBeGreaterThanOrEqual(44); // a finger's target
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.locator('[data-testid="candidates"] button[data-index="2"]').tap();
    expect(await text(page)).toBe(candidates[2]!.label);
    expect(await shownCandidates(page)).toEqual([]);
  });

  it('on the server, asks for model=hanzi: the same 64x64 input and candidates as in the browser, and the answer\'s candidates shown', async () => {
    const server: FastifyInstance = buildServer({ webRoot: WEB_DIST });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const page = await openPad({ url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/` });
      await chooseHanzi(page);
      await expect.poll(() => page.locator('#mode option[value="server"]').evaluate((option) => (option as HTMLOptionElement).disabled)).toBe(false);
      await drawWithMouse(page, shapes.get('字')!, IN_BOX);
      await waitForAnswer(page);
      const inBrowser = { candidates: await shownCandidates(page), pixels: await shownProcessedPixels(page) };
      await page.getByTestId('mode').selectOption('server');
      await waitForAnswer(page);
      await expect.poll(() => page.locator('#announcer').textContent(), { timeout: 60_000 }).toMatch(/on the server\./);
      const onServer = { candidates: await shownCandidates(page), pixels: await shownProcessedPixels(page) };
      await expect.poll(() => page.locator('#model-info').textContent(), { timeout: 30_000 }).toMatch(/3,755 characters.*on the server/);
      expect(onServer.pixels).toHaveLength(64 * 64);
      expect(Math.max(...inBrowser.pixels.map((level, i) => Math.abs(level - onServer.pixels[i]!)))).toBeLessThanOrEqual(1);
      expect(onServer.candidates.map((candidate) => candidate.label)).toEqual(inBrowser.candidates.map((candidate) => candidate.label));
      await page.getByTestId('clear').click();

      // The page reads the documented answer: candidates, model and ms (no probabilities for a large vocabulary).
      const bodies: Array<Record<string, unknown>> = [];
      const candidates = ['中', '申', '串', '甲', '由', '电', '叶', '虫', '巾', '口'].map((label, i) => ({ label, probability: 0.5 / 2 ** i }));
      const processed = await page.evaluate(() => {
        const canvas = document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 64;
        return canvas.toDataURL('image/png');
      });
      await page.route('**/api/predict', async (route) => {
        bodies.push(route.request().postDataJSON() as Record<string, unknown>);
        await route.fulfill({ json: { label: '中', probability: 0.5, candidates, model: 'hanzi', processed, ms: 7.5 } });
      });
      await drawWithMouse(page, shapes.get('中')!, IN_BOX);
      await waitForAnswer(page);
      expect(bodies.length).toBeGreaterThan(0);
      // The pad's ink (InkJson), which the server draws with inkImageFor as the browser does; no picture.
      expect(bodies.every((body) => body.model === 'hanzi' && body.topK === 10 && Array.isArray((body.ink as { strokes?: unknown } | undefined)?.strokes) && body.image === undefined)).toBe(true);
      expect((await shownCandidates(page)).map((candidate) => candidate.label)).toEqual(candidates.map((candidate) => candidate.label));
      expect(await page.getByTestId('prediction').textContent()).toBe('中');
      expect(await page.locator('#announcer').textContent()).toMatch(/^Top candidate 中, 50\.0% sure, on the server\./);
      await page.keyboard.press('0');
      expect(await text(page)).toBe('口');
    } finally {
      await server.close();
    }
  });

  // Needs the trained model in models/hanzi: with the untrained placeholder the intended characters are not among
  // the (random) candidates, and this test fails.
  it('offers the intended character among the candidates and composes 中文字 (the trained model)', async () => {
    const page = await openPad();
    await chooseHanzi(page);
    for (const [position, char] of WORD.entries()) {
      const candidates = await writeCharacter(page, char);
      const index = candidates.findIndex((candidate) => candidate.label === char);
      expect(index, `${char} among the candidates ${candidates.map((candidate) => candidate.label).join('')}`).toBeGreaterThanOrEqual(0);
      if (position === 1) await page.keyboard.press(String((index + 1) % 10));
      else await page.locator(`[data-testid="candidates"] button[data-label="${char}"]`).click();
    }
    expect(await text(page)).toBe(WORD.join(''));
  });
});

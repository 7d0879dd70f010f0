/**
 * End-to-end tests of the handwriting pad in Chromium (playwright-core, Debian's /usr/bin/chromium):
 * drawing with the mouse and with touch, recognition in the browser and on the server, Undo and Clear and
 * their shortcuts, a phone-sized viewport, digits drawn small in a corner vs large in the middle, the same
 * 28x28 input in the browser and on the server, and the static build working with no server behind it.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent. Uses the shipped model (models/digits) or the
 * model folder in `HWR_MODEL`, for the server and for the built web app alike.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { buildServer } from '../../src/server/server.ts';
import { mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';
import {
  SHAPES, drawWithMouse, drawWithTouch, predict, recognizeWith, shownProbabilities, shownProcessedPixels, traceMnist,
} from './drawing.ts';
import { serveStatic, type StaticServer } from './staticServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const MODEL = process.env.HWR_MODEL ?? 'digits';
const WEB_DIST = fileURLToPath(new URL('../../web-dist/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium) {
  console.warn(`test/e2e skipped: no Chromium at ${CHROMIUM} (install the Debian package "chromium" to run the browser tests)`);
}

describe.skipIf(!hasChromium)('handwriting pad in Chromium', () => {
  let server: FastifyInstance;
  let serverUrl: string;
  let browser: Browser;
  let digits: MnistDigit[];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (process.env.HWR_MODEL) process.env.HWR_WEB_MODEL_DIR = process.env.HWR_MODEL;
    await ensureWebBuild(undefined, { force: Boolean(process.env.HWR_MODEL) });
    server = buildServer({ model: MODEL, webRoot: WEB_DIST });
    await server.listen({ port: 0, host: '127.0.0.1' });
    serverUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    digits = await mnistTestDigits(8); // labels 7, 2, 1, 0, 4, 1, 4, 9
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens the page in a fresh context; `phone` gives a 360x740 touch screen. */
  async function openPad(url = serverUrl, options: { phone?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext(options.phone
      ? { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1100, height: 820 } });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.getByTestId('pad').waitFor();
    // Page errors would be bugs; fail loudly at the end of the test that hit them.
    afterEachChecks.push(() => expect(errors).toEqual([]));
    return page;
  }
  const afterEachChecks: Array<() => void> = [];
  afterEach(() => {
    for (const check of afterEachChecks.splice(0)) check();
  });

  async function setMode(page: Page, mode: 'browser' | 'server'): Promise<void> {
    await page.getByTestId('mode').selectOption(mode);
  }

  it('recognizes MNIST test digits traced with the mouse, in the browser', async () => {
    const page = await openPad();
    expect(await page.getByTestId('mode').inputValue()).toBe('browser');
    for (const digit of digits.slice(0, 5)) {
      await drawWithMouse(page, traceMnist(digit));
      expect(await predict(page), `MNIST test image ${digit.index}`).toBe(digit.label);
      await page.getByTestId('clear').click();
    }
  });

  it('shows all ten probabilities with the top one highlighted, and the 28x28 input', async () => {
    const page = await openPad();
    await drawWithMouse(page, traceMnist(digits[0]!));
    const label = await predict(page);
    const bars = await shownProbabilities(page);
    expect(bars.map((bar) => bar.label)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(bars.reduce((sum, bar) => sum + bar.probability, 0)).toBeCloseTo(1, 3);
    const top = bars.filter((bar) => bar.top);
    expect(top).toHaveLength(1);
    expect(top[0]!.label).toBe(label);
    expect(top[0]!.probability).toBe(Math.max(...bars.map((bar) => bar.probability)));
    const pixels = await shownProcessedPixels(page);
    expect(pixels).toHaveLength(28 * 28);
    expect(Math.max(...pixels)).toBeGreaterThan(200); // white ink on black, like MNIST
    expect(pixels[0]).toBe(0);
  });

  it('recognizes simple strokes: a 1, a 7 and a 0', async () => {
    const page = await openPad();
    for (const [name, expected] of [['one', '1'], ['seven', '7'], ['zero', '0']] as const) {
      await drawWithMouse(page, SHAPES[name]);
      expect(await predict(page), name).toBe(expected);
      await page.getByTestId('clear').click();
    }
  });

  it('recognizes as you draw, without pressing Predict', async () => {
    const page = await openPad();
    const label = await recognizeWith(page, () => drawWithMouse(page, SHAPES.seven));
    expect(label).toBe('7');
  });

  it('recognizes on the server, and says which mode answered', async () => {
    const page = await openPad();
    await setMode(page, 'server');
    for (const digit of digits.slice(0, 3)) {
      await drawWithMouse(page, traceMnist(digit));
      expect(await predict(page), `MNIST test image ${digit.index}`).toBe(digit.label);
      await page.getByTestId('clear').click();
    }
    await expect.poll(() => page.locator('#timing-server').textContent()).toMatch(/ms/);
  });

  it('Undo removes the last stroke and Clear empties the pad; Ctrl+Z, Escape and Enter do the same', async () => {
    const page = await openPad();
    const [stem, bar] = [SHAPES.one, [[{ x: 0.3, y: 0.18 }, { x: 0.52, y: 0.18 }]]];
    // A "1" whose top gets a bar turns into a "7"; undoing the bar gives the "1" back.
    await drawWithMouse(page, [[{ x: 0.52, y: 0.18 }, { x: 0.52, y: 0.82 }]]);
    expect(await predict(page)).toBe('1');
    await drawWithMouse(page, bar);
    expect(await predict(page)).toBe('7');
    expect(await recognizeWith(page, () => page.getByTestId('undo').click())).toBe('1');

    await page.getByTestId('clear').click();
    expect(await page.getByTestId('prediction').textContent()).toBe('');
    expect((await shownProbabilities(page)).every((bar) => bar.probability === 0)).toBe(true);

    await drawWithMouse(page, stem);
    expect(await recognizeWith(page, () => page.keyboard.press('Enter'))).toBe('1');
    await drawWithMouse(page, SHAPES.zero, { left: 0.5, top: 0.5, scale: 0.01 }); // a dot
    await page.keyboard.press('Control+z');
    expect(await predict(page)).toBe('1');
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('prediction').textContent()).toBe('');
    await page.getByTestId('predict').click();
    await expect.poll(() => page.getByTestId('status').textContent()).toMatch(/draw a digit/i);
  });

  it('works on a 360x740 phone with touch strokes, without horizontal scrolling', async () => {
    const page = await openPad(serverUrl, { phone: true });
    const cdp = await page.context().newCDPSession(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(360);
    const pad = (await page.getByTestId('pad').boundingBox())!;
    expect(pad.width).toBeGreaterThan(280);
    expect(pad.x + pad.width).toBeLessThanOrEqual(360);
    expect(await page.getByTestId('pad').evaluate((canvas) => getComputedStyle(canvas).touchAction)).toBe('none');

    await page.getByTestId('pad').evaluate((canvas) => {
      const kinds: string[] = ((window as unknown as { pointerKinds: string[] }).pointerKinds = []);
      canvas.addEventListener('pointerdown', (event) => kinds.push((event as PointerEvent).pointerType));
    });
    await drawWithTouch(page, cdp, SHAPES.seven);
    expect(await page.evaluate(() => (window as unknown as { pointerKinds: string[] }).pointerKinds)).toEqual(['touch']);
    expect(await predict(page)).toBe('7');
    await page.getByTestId('clear').tap();
    await drawWithTouch(page, cdp, traceMnist(digits[1]!));
    expect(await predict(page)).toBe(digits[1]!.label);
    await setMode(page, 'server');
    await page.getByTestId('clear').tap();
    await drawWithTouch(page, cdp, SHAPES.zero);
    expect(await predict(page)).toBe('0');
  });

  it('recognizes a digit drawn small in a corner the same as drawn large in the middle', async () => {
    const page = await openPad();
    for (const [name, expected] of [['seven', '7'], ['zero', '0']] as const) {
      await drawWithMouse(page, SHAPES[name], { left: 0.02, top: 0.02, scale: 0.35 });
      const small = await predict(page);
      await page.getByTestId('clear').click();
      await drawWithMouse(page, SHAPES[name], { left: 0.05, top: 0.05, scale: 0.9 });
      const large = await predict(page);
      await page.getByTestId('clear').click();
      expect({ name, small, large }).toEqual({ name, small: expected, large: expected });
    }
  });

  it('preprocesses the same drawing to the same 28x28 pixels and label in the browser and on the server', async () => {
    const page = await openPad();
    for (const digit of [digits[0]!, digits[7]!]) {
      await drawWithMouse(page, traceMnist(digit));
      const inBrowser = { label: await predict(page), pixels: await shownProcessedPixels(page) };
      const onServer = {
        label: await recognizeWith(page, () => setMode(page, 'server')),
        pixels: await shownProcessedPixels(page),
      };
      expect(onServer.label).toBe(inBrowser.label);
      const largest = Math.max(...inBrowser.pixels.map((level, i) => Math.abs(level - onServer.pixels[i]!)));
      expect(largest).toBeLessThanOrEqual(1);
      expect(inBrowser.pixels.some((level) => level > 0)).toBe(true);
      await setMode(page, 'browser');
      await page.getByTestId('clear').click();
    }
  });

  describe('the static build, with no hwr server', () => {
    let host: StaticServer;

    beforeAll(async () => {
      host = await serveStatic(WEB_DIST, '/some/sub/path/');
    });

    afterAll(async () => {
      await host?.close();
    });

    it('recognizes in the browser from a sub-path of a plain static host', async () => {
      const page = await openPad(host.url);
      await drawWithMouse(page, traceMnist(digits[2]!));
      expect(await predict(page)).toBe(digits[2]!.label);
    });

    it('says clearly that there is no server in server mode, and browser mode still works', async () => {
      const page = await openPad(host.url);
      await drawWithMouse(page, SHAPES.one);
      await setMode(page, 'server');
      await expect.poll(() => page.getByTestId('status').textContent(), { timeout: 30_000 }).toMatch(/server/i);
      expect(await page.getByTestId('status').getAttribute('data-tone')).toBe('error');
      expect(await page.getByTestId('prediction').textContent()).toBe('');
      expect(await recognizeWith(page, () => setMode(page, 'browser'))).toBe('1');
    });

    it('keeps recognizing in the browser after the hwr server that served the page stops', async () => {
      const own = buildServer({ model: MODEL, webRoot: WEB_DIST });
      await own.listen({ port: 0, host: '127.0.0.1' });
      const page = await openPad(`http://127.0.0.1:${(own.server.address() as AddressInfo).port}/`);
      await drawWithMouse(page, SHAPES.seven);
      expect(await predict(page)).toBe('7');
      await own.close();
      await setMode(page, 'server');
      await expect.poll(() => page.getByTestId('status').textContent(), { timeout: 30_000 }).toMatch(/cannot be reached|no recognition server/i);
      await setMode(page, 'browser');
      await page.getByTestId('clear').click();
      await drawWithMouse(page, SHAPES.zero);
      expect(await predict(page)).toBe('0');
    });
  });
});

/**
 * End-to-end tests of the handwriting pad in Chromium (playwright-core, Debian's /usr/bin/chromium):
 * drawing with the mouse and with touch, recognition in the browser and on the server, Undo and Clear and
 * their shortcuts, a phone-sized viewport, digits drawn small in a corner vs large in the middle, the same
 * 28x28 input in the browser and on the server, and the static build working with no server behind it.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent. Uses the shipped model (models/digits) or the
 * model folder in `HWR_MODEL`, for the server and for the built web app alike.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
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
  /**
   * A fresh browser context (no cache, no storage) on the pad at `url`. `beforeLoad` runs before the page is opened:
   * routes installed there see the page's first requests, which a reload would not replace (model files the first
   * load has kept in the Cache API are read from there).
   */
  async function openPad(url = serverUrl, options: { phone?: boolean; beforeLoad?: (page: Page) => Promise<void> } = {}): Promise<Page> {
    const context = await browser.newContext(options.phone
      ? { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1100, height: 820 } });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await options.beforeLoad?.(page);
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

  /** A black 28x28 PNG as a data URL: the `processed` image of the scripted server answers. */
  let blackPng: string;
  beforeAll(async () => {
    const png = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#000' } }).png().toBuffer();
    blackPng = `data:image/png;base64,${png.toString('base64')}`;
  });

  /**
   * A `POST /api/predict` answer of the documented shape: `top` gets `probability` and the other nine classes
   * share the rest unevenly, so the bars show numbers of every width. With `rejected`, the answer is a rejection
   * (`label: null`, `reason`) whose `top` class is the model's rejection class.
   */
  function serverAnswer(top: number, probability: number, options: { rejected?: string; classes?: number } = {}): Record<string, unknown> {
    const weights = Array.from({ length: options.classes ?? 10 }, (_, i) => (i === top ? 0 : 2 ** -i));
    const rest = weights.reduce((a, b) => a + b, 0);
    const probabilities = weights.map((weight, i) => (i === top ? probability : ((1 - probability) * weight) / rest));
    return {
      label: options.rejected === undefined ? String(top) : null,
      ...(options.rejected === undefined ? {} : { reason: options.rejected }),
      probability,
      probabilities,
      processed: blackPng,
      timings: { decodeMs: 0.4, preprocessMs: 1.3, inferenceMs: 2.1 },
    };
  }

  /** Makes the page's server mode get `answer()` from `POST api/predict` instead of the real server's answer. */
  async function scriptServer(page: Page, answer: () => Record<string, unknown>): Promise<void> {
    await page.route('**/api/predict', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer()) }));
  }

  /** Page boxes (x, y, width, height in CSS px) of the parts of the results panel that must not move. */
  function resultBoxes(page: Page): Promise<Record<string, number[]>> {
    return page.evaluate(() => {
      const boxes: Record<string, number[]> = {};
      const selectors = ['.results-panel', '.answer-digit', '#prediction', '.probability', '.probability .unit', '#probability',
        '.processed-canvas', '.bars', '.bar-label', '.bar-track', '.bar-value', '#timing', '.app-footer'];
      for (const selector of selectors) {
        document.querySelectorAll(selector).forEach((element, i) => {
          const { x, y, width, height } = element.getBoundingClientRect();
          boxes[`${selector} ${i}`] = [x, y, width, height].map((value) => Math.round(value * 100) / 100);
        });
      }
      return boxes;
    });
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

  it('shows every probability with the top one highlighted, and the 28x28 input', async () => {
    const page = await openPad();
    await drawWithMouse(page, traceMnist(digits[0]!));
    const label = await predict(page);
    const bars = await shownProbabilities(page);
    // The ten digits, then the model's rejection class if it has one.
    expect(bars.map((bar) => bar.label).slice(0, 10)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(bars.length).toBeLessThanOrEqual(11);
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

  it('keeps every part of the results panel in place while its numbers change width', async () => {
    for (const phone of [false, true]) {
      const page = await openPad(serverUrl, { phone });
      let answer = serverAnswer(1, 0.999999);
      await scriptServer(page, () => answer);
      await setMode(page, 'server');
      // "Wrong? Pick the right one" appears once, when the in-browser model has loaded (it lists that model's classes):
      // measure after it, so that only the numbers change between answers.
      await page.waitForFunction(() => document.getElementById('improve')?.hidden === false);
      if (phone) await drawWithTouch(page, await page.context().newCDPSession(page), SHAPES.one);
      else await drawWithMouse(page, SHAPES.one);
      const shown: Array<Record<string, number[]>> = [];
      for (const next of [serverAnswer(1, 0.999999), serverAnswer(8, 0.4123), serverAnswer(4, 0.07), serverAnswer(0, 0.987654)]) {
        answer = next;
        await predict(page);
        shown.push(await resultBoxes(page));
      }
      for (const boxes of shown.slice(1)) expect(boxes, phone ? 'on a phone' : 'on a desktop').toEqual(shown[0]);
    }
  });

  it('never rounds a probability to 100% or 0%', async () => {
    const page = await openPad();
    await scriptServer(page, () => serverAnswer(7, 0.99999));
    await setMode(page, 'server');
    await drawWithMouse(page, SHAPES.seven);
    expect(await predict(page)).toBe('7');
    expect(await page.getByTestId('probability').textContent()).toBe('>99.9%');
    const values = await page.locator('.bar-value').allTextContents();
    expect(values[7]).toBe('>99.9%');
    expect(values.filter((value) => /^(100|0)(\.0)?%$/.test(value))).toEqual([]);
    expect(values).toContain('<0.1%');
    expect(await page.locator('#announcer').textContent()).toMatch(/>99\.9%/);
  });

  it('shows "not a digit" and the reason for a rejected drawing, with every bar and the rejection class highlighted', async () => {
    const page = await openPad();
    const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none'];
    await page.route('**/api/model', (route) => route.fulfill({
      json: { name: 'digits', architecture: 'hwr-net', classes, rejectClass: 'none', inputShape: [28, 28, 1], testAccuracy: 0.996 },
    }));
    let answer = serverAnswer(10, 0.83, { rejected: 'no digit is likely enough', classes: 11 });
    await scriptServer(page, () => answer);
    await setMode(page, 'server');
    await drawWithMouse(page, SHAPES.zero);
    expect(await predict(page)).toBe('not a digit');
    expect(await page.locator('.answer-caption').isVisible()).toBe(false);
    expect(await page.getByTestId('reason').textContent()).toMatch(/no digit is likely enough/i);
    expect(await page.getByTestId('reason').isVisible()).toBe(true);
    expect(await page.getByTestId('probability').textContent()).toBe('83.0%');
    const bars = await shownProbabilities(page);
    expect(bars.map((bar) => bar.label)).toEqual(classes);
    expect(bars.reduce((sum, bar) => sum + bar.probability, 0)).toBeCloseTo(1, 3);
    expect(bars.filter((bar) => bar.top).map((bar) => bar.label)).toEqual(['none']);
    expect(await page.locator('#announcer').textContent()).toMatch(/not a digit.*no digit is likely enough/i);
    expect(await page.getByTestId('status').getAttribute('data-tone')).not.toBe('error');
    // A digit afterwards clears the rejection.
    answer = serverAnswer(7, 0.9, { classes: 11 });
    expect(await predict(page)).toBe('7');
    expect(await page.getByTestId('reason').textContent()).toBe('');
    expect(await page.locator('.answer-caption').isVisible()).toBe(true);
  });

  it('shows "not a digit" in the browser too, from the model in the Web Worker', async () => {
    const page = await openPad();
    // The shipped model, told that its class "7" means "none of the others": a drawn 7 is then a rejection.
    // Its SHA256SUMS, when it has one, gets the new metadata's checksum (the browser checks the files it fetches).
    const withRejectClass = (original: string): string => JSON.stringify({ ...(JSON.parse(original) as object), rejectClass: '7' });
    await page.route('**/models/digits/metadata.json', async (route) => {
      await route.fulfill({ body: withRejectClass(await (await route.fetch()).text()), contentType: 'application/json' });
    });
    await page.route('**/models/digits/SHA256SUMS', async (route) => {
      const sums = await route.fetch();
      if (!sums.ok()) return route.fulfill({ response: sums });
      const metadataUrl = route.request().url().replace(/SHA256SUMS$/, 'metadata.json');
      const metadata = withRejectClass(await (await route.fetch({ url: metadataUrl })).text());
      const hex = createHash('sha256').update(metadata).digest('hex');
      const body = (await sums.text()).replace(/^[0-9a-f]{64}( [ *]metadata\.json)$/m, `${hex}$1`);
      return route.fulfill({ body, contentType: 'text/plain' });
    });
    await page.reload();
    await drawWithMouse(page, SHAPES.seven);
    expect(await predict(page)).toBe('not a digit');
    expect(await page.getByTestId('reason').textContent()).toMatch(/“7” is the most probable class/);
    expect((await shownProbabilities(page)).filter((bar) => bar.top).map((bar) => bar.label)).toEqual(['7']);
    expect(await page.locator('#announcer').textContent()).toMatch(/^Not a digit, .* sure, in the browser\.$/);
    await page.getByTestId('clear').click();
    await drawWithMouse(page, SHAPES.one);
    expect(await predict(page)).toBe('1');
  });

  it('says in one status line that a broken model cannot be loaded, with no uncaught error in the page or worker', async () => {
    // Both forms: ONNX Runtime Web (the default) falls back to the TF.js model when model.onnx is broken. Broken from
    // the first request: after a good first load the page would read model.onnx from its cache, rightly.
    const page = await openPad(serverUrl, {
      beforeLoad: async (fresh) => {
        await fresh.route('**/models/digits/model.json', (route) => route.fulfill({ body: 'not a model', contentType: 'application/json' }));
        await fresh.route('**/models/digits/model.onnx', (route) => route.fulfill({ body: 'not a model', contentType: 'application/octet-stream' }));
      },
    });
    await expect.poll(() => page.getByTestId('status').textContent(), { timeout: 30_000 }).toMatch(/model could not be loaded/);
    expect(await page.getByTestId('status').getAttribute('data-tone')).toBe('error');
    expect(await page.locator('#model-info').textContent()).toMatch(/in-browser model is unavailable/);
  });

  it('says in the footer where the model runs: in the browser or on the server', async () => {
    const page = await openPad();
    const footer = page.locator('#model-info');
    await expect.poll(() => footer.textContent(), { timeout: 30_000 }).toMatch(/in your browser/);
    await setMode(page, 'server');
    await expect.poll(() => footer.textContent(), { timeout: 30_000 }).toMatch(/on the server/);
    expect(await footer.textContent()).not.toMatch(/in your browser/);
    await setMode(page, 'browser');
    await expect.poll(() => footer.textContent()).toMatch(/in your browser/);
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

    it('offers no server mode where no hwr server answers, and says why', async () => {
      const page = await openPad(host.url);
      const serverOption = page.locator('#mode option[value="server"]');
      await expect.poll(() => serverOption.evaluate((option) => (option as HTMLOptionElement).disabled), { timeout: 30_000 }).toBe(true);
      expect(await page.getByTestId('mode-note').isVisible()).toBe(true);
      expect(await page.getByTestId('mode-note').textContent()).toMatch(/npm start/);
      expect(await page.getByTestId('mode').inputValue()).toBe('browser');
      await drawWithMouse(page, SHAPES.one);
      expect(await predict(page)).toBe('1');
      expect(await page.locator('#model-info').textContent()).toMatch(/in your browser/);
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

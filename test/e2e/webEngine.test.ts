/**
 * End-to-end tests of the page's two in-browser engines in Chromium (playwright-core, Debian's /usr/bin/chromium),
 * on the static build (no hwr server): ONNX Runtime Web on the build's generated model.onnx by default, TF.js with
 * `?engine=tfjs`; the same drawings give the same labels, probabilities and model inputs with either; the
 * footer and `#model-info[data-engine]` say which engine runs; the page falls back to TF.js, saying so once in the
 * console, when model.onnx cannot be used; the hanzi model runs on ONNX Runtime Web too.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';
import {
  SHAPES, drawWithMouse, inkToShape, predict, shownCandidates, shownProbabilities, shownProcessedPixels, traceMnist, waitForAnswer, type Shape,
} from './drawing.ts';
import { serveStatic, type StaticServer } from './staticServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEB_DIST = fileURLToPath(new URL('../../web-dist/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
/** The page's query that asks for ONNX Runtime Web. */
const ORT = '?engine=onnxruntime-web';
const TFJS = '?engine=tfjs';
/** The console warning of loadInBrowser.ts when ONNX Runtime Web cannot run the model. */
const FALLBACK_WARNING = /ONNX Runtime Web could not run .*model\.onnx.*using TensorFlow\.js instead/;

if (!hasChromium) {
  console.warn(`test/e2e/webEngine skipped: no Chromium at ${CHROMIUM} (install the Debian package "chromium" to run the browser tests)`);
}

/** What the page showed for one drawing. */
interface Shown {
  label: string;
  probabilities: Array<{ label: string; probability: number }>;
  pixels: number[];
}

describe.skipIf(!hasChromium)('the page\'s in-browser engines, in Chromium', () => {
  let host: StaticServer;
  let browser: Browser;
  let digits: MnistDigit[];
  const contexts: BrowserContext[] = [];
  const afterEachChecks: Array<() => void> = [];

  beforeAll(async () => {
    await ensureWebBuild();
    host = await serveStatic(WEB_DIST, '/hwr/');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    digits = await mnistTestDigits(2); // labels 7, 2
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    for (const check of afterEachChecks.splice(0)) check();
  });

  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  /**
   * Opens the static build with `query` in a fresh context (empty cache), failing the test on any page error.
   * @returns the page and the console warnings it logs (the worker's included).
   */
  async function openPad(query = '', setup?: (context: BrowserContext) => Promise<unknown>): Promise<{ page: Page; warnings: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    contexts.push(context);
    await setup?.(context);
    const page = await context.newPage();
    const errors: string[] = [];
    const warnings: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text());
    });
    await page.goto(`${host.url}${query}`);
    await page.getByTestId('pad').waitFor();
    afterEachChecks.push(() => expect(errors).toEqual([]));
    return { page, warnings };
  }

  /** The engine the footer reports once the in-browser model has loaded (`#model-info[data-engine]`). */
  async function engineOf(page: Page): Promise<string> {
    const info = page.locator('#model-info');
    await expect.poll(() => info.getAttribute('data-engine'), { timeout: 60_000 }).not.toBeNull();
    return (await info.getAttribute('data-engine'))!;
  }

  /** Draws each shape on a cleared pad and records the answer. */
  async function recognizeAll(page: Page, shapes: Shape[]): Promise<Shown[]> {
    const shown: Shown[] = [];
    for (const shape of shapes) {
      await drawWithMouse(page, shape);
      const label = await predict(page);
      shown.push({ label, probabilities: await shownProbabilities(page), pixels: await shownProcessedPixels(page) });
      await page.getByTestId('clear').click();
    }
    return shown;
  }

  it('runs the digits model on ONNX Runtime Web by default, and on TF.js (?engine=tfjs) with the same labels, probabilities and 28x28 inputs', async () => {
    const shapes = [SHAPES.seven, SHAPES.one, SHAPES.zero, ...digits.map(traceMnist)];
    const expected = ['7', '1', '0', ...digits.map((digit) => digit.label)];

    const onnx = await openPad();
    expect(await engineOf(onnx.page)).toBe('onnxruntime-web');
    expect(await onnx.page.locator('#model-info').textContent()).toMatch(/in your browser \(ONNX Runtime Web, WebAssembly in a Web Worker\)/);
    const withOnnx = await recognizeAll(onnx.page, shapes);
    expect(onnx.warnings.filter((text) => FALLBACK_WARNING.test(text))).toEqual([]);

    const tfjs = await openPad(TFJS);
    expect(await engineOf(tfjs.page)).toBe('tfjs');
    expect(await tfjs.page.locator('#model-info').textContent()).toMatch(/in your browser \(TensorFlow\.js, WebAssembly in a Web Worker\)/);
    const withTfjs = await recognizeAll(tfjs.page, shapes);

    expect(withOnnx.map((shown) => shown.label)).toEqual(expected);
    expect(withTfjs.map((shown) => shown.label)).toEqual(expected);
    withOnnx.forEach((shown, i) => {
      expect(shown.pixels, `drawing ${i}: the model's input`).toEqual(withTfjs[i]!.pixels);
      shown.probabilities.forEach((bar, c) => {
        expect(bar.label).toBe(withTfjs[i]!.probabilities[c]!.label);
        expect(Math.abs(bar.probability - withTfjs[i]!.probabilities[c]!.probability), `drawing ${i}, class ${bar.label}`).toBeLessThan(1e-4);
      });
    });
  });

  it('falls back to TF.js, saying so once in the console, when model.onnx is missing or damaged', async () => {
    for (const fault of ['missing', 'damaged'] as const) {
      const { page, warnings } = await openPad(ORT, (context) => context.route('**/models/digits/model.onnx', (route) => (fault === 'missing'
        ? route.fulfill({ status: 404, contentType: 'text/html', body: '<h1>Not found</h1>' })
        : route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('not an onnx model') }))));
      expect(await engineOf(page), fault).toBe('tfjs');
      await drawWithMouse(page, SHAPES.seven);
      expect(await predict(page)).toBe('7');
      expect(warnings.filter((text) => FALLBACK_WARNING.test(text)), fault).toHaveLength(1);
    }
  });

  it('runs the hanzi model on ONNX Runtime Web, with the candidates of TF.js', async () => {
    const shape = inkToShape(await loadHanziInk('中'));
    const candidates: Record<string, string[]> = {};
    for (const query of [ORT, TFJS]) {
      const { page } = await openPad(query);
      await page.getByTestId('script').selectOption('hanzi');
      await expect.poll(() => page.getByTestId('model-progress').getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      await expect.poll(() => page.locator('#model-info').textContent(), { timeout: 30_000 }).toMatch(/3,755 characters.*in your browser/);
      const engine = await engineOf(page);
      await drawWithMouse(page, shape, { left: 0.06, top: 0.06, scale: 0.88 });
      await waitForAnswer(page);
      candidates[engine] = (await shownCandidates(page)).map((candidate) => candidate.label);
    }
    expect(Object.keys(candidates).sort()).toEqual(['onnxruntime-web', 'tfjs']);
    expect(candidates['onnxruntime-web']![0]).toBe('中');
    expect(candidates['onnxruntime-web']!.slice(0, 3)).toEqual(candidates.tfjs!.slice(0, 3));
  });
});

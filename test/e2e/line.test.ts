/**
 * End-to-end tests of the page's Line mode in Chromium (playwright-core, Debian's /usr/bin/chromium): switching to it
 * (also from the keyboard), writing a 6-digit number by pointer events (`digitLineShape`, test/fixtures/lines.ts) and
 * reading it back with the in-browser engine (readLine in the recognition worker), picking an alternative by tapping
 * a character, Copy (the clipboard holds the text), Clear, a line of 中文, and the server engine (`POST api/read`):
 * the real server reads what the browser reads (digits and 中文), and a scripted answer shows a rejected character
 * marked and the pattern passed.
 *
 * Skipped, with a message, when /usr/bin/chromium is absent. Uses the shipped models (models/digits, models/hanzi).
 * No timing is asserted: waits are on the panel's state attributes (`data-drawing`, `data-read`, `data-busy`).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REJECTED_CHARACTER } from '../../src/core/line/types.ts';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { buildServer } from '../../src/server/server.ts';
import { digitLineShape, hanziInkLine } from '../fixtures/lines.ts';
import type { Shape } from './drawing.ts';
import { lineAspect, readCount, waitForReading, writeOnLine } from './lineDrawing.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEB_DIST = fileURLToPath(new URL('../../web-dist/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium) {
  console.warn(`test/e2e/line.test.ts skipped: no Chromium at ${CHROMIUM} (install the Debian package "chromium" to run the browser tests)`);
}

describe.skipIf(!hasChromium)('Line mode in Chromium', () => {
  let server: FastifyInstance;
  let serverUrl: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const afterEachChecks: Array<() => void> = [];

  beforeAll(async () => {
    await ensureWebBuild();
    server = buildServer({ webRoot: WEB_DIST });
    await server.listen({ port: 0, host: '127.0.0.1' });
    serverUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    for (const check of afterEachChecks.splice(0)) check();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens the page in a fresh context that may use the clipboard, and switches to Line mode with a click. */
  async function openLine(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serverUrl });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    afterEachChecks.push(() => expect(errors).toEqual([]));
    await page.goto(serverUrl);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.getByTestId('view-line').click();
    await page.getByTestId('line-pad').waitFor();
    return page;
  }

  it('reads a 6-digit number written by pointer events; a tapped character offers alternatives; Copy and Clear', async () => {
    const page = await openLine();
    expect(await page.getByTestId('pad').isVisible()).toBe(false);
    expect(await page.getByTestId('view-line').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#lede').textContent()).toMatch(/^Line mode: /);

    await writeOnLine(page, digitLineShape('305172', 3, await lineAspect(page)));
    const text = await waitForReading(page);
    expect(text).toBe('305172');
    expect(await page.getByTestId('line-text').textContent()).toBe('305172');
    // One box over the ink and one button under it per character.
    expect(await page.locator('#line-boxes .line-box').count()).toBe(6);
    expect(await page.locator('#line-characters .line-char').allTextContents()).toEqual(['3', '0', '5', '1', '7', '2']);
    const confidence = Number(await page.getByTestId('line-confidence').getAttribute('data-confidence'));
    expect(confidence).toBeGreaterThan(0);
    expect(confidence).toBeLessThanOrEqual(1);

    // The boxes lie over the ink, left to right, inside the writing area.
    const padBox = (await page.getByTestId('line-pad').boundingBox())!;
    const boxes = await page.locator('#line-boxes .line-box').evaluateAll((elements) => elements.map((element) => {
      const { x, y, width, height } = element.getBoundingClientRect();
      return { x, y, width, height };
    }));
    for (const [i, box] of boxes.entries()) {
      expect(box.x).toBeGreaterThanOrEqual(padBox.x);
      expect(box.x + box.width).toBeLessThanOrEqual(padBox.x + padBox.width + 1);
      expect(box.y).toBeGreaterThanOrEqual(padBox.y);
      expect(box.y + box.height).toBeLessThanOrEqual(padBox.y + padBox.height + 1);
      if (i > 0) expect(box.x).toBeGreaterThan(boxes[i - 1]!.x);
    }

    // Tap the third character: its alternatives, with probabilities, the current one first and pressed.
    await page.locator('#line-characters .line-char').nth(2).click();
    const alternatives = page.getByTestId('line-alternatives-list').locator('button');
    await expect.poll(() => alternatives.count()).toBeGreaterThan(1);
    expect(await page.locator('#line-characters .line-char').nth(2).getAttribute('aria-expanded')).toBe('true');
    const offered = await alternatives.evaluateAll((buttons) => buttons.map((button) => ({
      label: (button as HTMLElement).dataset.label!,
      probability: Number((button as HTMLElement).dataset.probability),
      pressed: button.getAttribute('aria-pressed') === 'true',
    })));
    expect(offered[0]).toMatchObject({ label: '5', pressed: true });
    expect(offered.map((option) => option.label)).not.toContain('none'); // the rejection class is not a character
    for (const option of offered) {
      expect(option.probability).toBeGreaterThanOrEqual(0);
      expect(option.probability).toBeLessThanOrEqual(1);
    }
    const other = offered[1]!.label;
    await alternatives.nth(1).click();
    const picked = `30${other}172`;
    await expect.poll(() => page.getByTestId('line-text').getAttribute('data-text')).toBe(picked);
    expect(await page.getByTestId('line-text').textContent()).toBe(picked);
    expect(await page.getByTestId('line-alternatives').isHidden()).toBe(true);
    expect(await page.locator('#line-characters .line-char').nth(2).textContent()).toBe(other);
    expect(await page.locator('#line-characters .line-char.picked').count()).toBe(1);

    // Copy puts the text, with the pick, on the clipboard.
    await page.getByTestId('line-copy').click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(picked);
    expect(await page.getByTestId('line-copy').getAttribute('data-state')).toBe('copied');

    // Clear empties the writing area, the boxes, the characters and the text.
    await page.getByTestId('line-clear').click();
    expect(await page.getByTestId('line-pad').getAttribute('data-strokes')).toBe('0');
    expect(await page.getByTestId('line-text').textContent()).toBe('');
    expect(await page.locator('#line-boxes .line-box').count()).toBe(0);
    expect(await page.locator('#line-characters .line-char').count()).toBe(0);
    expect(await page.getByTestId('line-copy').isDisabled()).toBe(true);
  });

  it('is reached and used from the keyboard: the view switch, Enter to read, Escape to clear, and back to one character', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(serverUrl);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.getByTestId('view-line').focus();
    await page.keyboard.press('Enter');
    expect(await page.getByTestId('line-pad').isVisible()).toBe(true);
    await writeOnLine(page, digitLineShape('4096', 5, await lineAspect(page)));
    await page.getByTestId('line-pad').focus();
    await page.keyboard.press('Enter');
    expect(await waitForReading(page)).toMatch(/^\d{4}$/);
    // A pattern typed in the field (Enter applies it) is read with; a malformed one is reported, not thrown.
    await page.getByTestId('line-preset').selectOption('custom');
    let reads = await readCount(page);
    await page.getByTestId('line-pattern').fill('\\d{4}');
    await page.getByTestId('line-pattern').press('Enter');
    expect(await waitForReading(page, reads)).toMatch(/^\d{4}$/);
    expect(await page.getByTestId('line-status').isHidden()).toBe(true);
    reads = await readCount(page);
    await page.getByTestId('line-pattern').fill('(\\d');
    await page.getByTestId('line-pattern').press('Enter');
    await waitForReading(page, reads);
    expect(await page.getByTestId('line-status').getAttribute('data-tone')).toBe('error');
    expect(await page.getByTestId('line-status').textContent()).toMatch(/pattern/i);
    reads = await readCount(page);
    await page.getByTestId('line-preset').selectOption({ label: 'anything' });
    expect(await page.getByTestId('line-pattern').inputValue()).toBe('');
    expect(await waitForReading(page, reads)).toMatch(/^\d{4}$/);
    // A character's alternatives from the keyboard: focus it, Enter opens them, Escape closes them.
    await page.locator('#line-characters .line-char').first().focus();
    await page.keyboard.press('Enter');
    expect(await page.getByTestId('line-alternatives').isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('line-alternatives').isHidden()).toBe(true);
    expect(await page.getByTestId('line-pad').getAttribute('data-strokes')).not.toBe('0');
    await page.getByTestId('line-pad').focus();
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('line-pad').getAttribute('data-strokes')).toBe('0');
    // Remembered across a reload; the single-character pad comes back with its mode menu.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    expect(await page.getByTestId('line-pad').isVisible()).toBe(true);
    await page.getByTestId('view-character').focus();
    await page.keyboard.press('Space');
    expect(await page.getByTestId('pad').isVisible()).toBe(true);
    expect(await page.getByTestId('line').isHidden()).toBe(true);
    expect(await page.locator('.pad-panel #mode').count()).toBe(1);
  });

  it('reads a line of 中文 (手写) with the hanzi model and its segment verifier, as the server does', async () => {
    const page = await openLine();
    // The worker's requests (Chromium reports a dedicated worker's fetches as the page's): the verifier the app
    // publishes for hanzi (models/line-verifiers.json -> models/hanzi-segments/) is fetched on the first line.
    const fetched: string[] = [];
    page.on('request', (request) => fetched.push(request.url()));
    await page.getByTestId('script').selectOption('hanzi');
    await page.waitForFunction(() => document.getElementById('model-progress')?.dataset.state === 'done', undefined, { timeout: 120_000 });
    const { ink } = await hanziInkLine('手写', 2);
    const aspect = await lineAspect(page);
    // The line's ink in the middle of the writing area, its proportions kept.
    // (`scale` maps ink units to fractions of the width; a fraction of the width is `aspect` fractions of the height.)
    const scale = Math.min(0.9 / ink.width!, 0.8 / (ink.height! * aspect));
    const shape: Shape = ink.strokes.map((stroke) => stroke.map((point) => ({
      x: 0.05 + point.x * scale,
      y: 0.5 + (point.y - ink.height! / 2) * scale * aspect,
    })));
    await writeOnLine(page, shape);
    const text = await waitForReading(page);
    expect(Array.from(text)).toHaveLength(2);
    expect(text).toBe('手写');
    expect(fetched.some((url) => url.endsWith('/models/line-verifiers.json'))).toBe(true);
    expect(fetched.some((url) => url.includes('/models/hanzi-segments/'))).toBe(true);
    await page.locator('#line-characters .line-char').first().click();
    expect(await page.getByTestId('line-alternatives-list').locator('button').count()).toBeGreaterThan(2);
  });

  it('on the server (POST api/read, digits and 中文): reads the same line as the browser does', async () => {
    const page = await openLine();
    await writeOnLine(page, digitLineShape('305172', 3, await lineAspect(page)));
    const inBrowser = await waitForReading(page);
    expect(inBrowser).toBe('305172');
    let reads = await readCount(page);
    await page.getByTestId('mode').selectOption('server');
    expect(await waitForReading(page, reads)).toBe(inBrowser);
    expect(await page.getByTestId('line-timing').textContent()).toMatch(/on the server/);
    expect(await page.locator('#line-boxes .line-box').count()).toBe(6);

    await page.getByTestId('script').selectOption('hanzi');
    const { ink } = await hanziInkLine('手写', 2);
    const aspect = await lineAspect(page);
    const scale = Math.min(0.9 / ink.width!, 0.8 / (ink.height! * aspect));
    const requests: Array<Record<string, unknown>> = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/read')) requests.push(request.postDataJSON() as Record<string, unknown>);
    });
    await writeOnLine(page, ink.strokes.map((stroke) => stroke.map((point) => ({
      x: 0.05 + point.x * scale,
      y: 0.5 + (point.y - ink.height! / 2) * scale * aspect,
    }))));
    reads = await readCount(page);
    await page.getByTestId('line-read').click();
    expect(await waitForReading(page, reads)).toBe('手写');
    expect(requests.at(-1)!.model).toBe('hanzi');
  });

  it('on the server: posts the ink and the pattern to api/read, shows its answer, and marks a rejected character', async () => {
    const page = await openLine();
    const bodies: Array<Record<string, unknown>> = [];
    await page.route('**/api/read', async (route) => {
      const body = route.request().postDataJSON() as Record<string, unknown>;
      bodies.push(body);
      const character = (text: string | null, x: number, strokes: number[]): Record<string, unknown> => ({
        text,
        ...(text === null ? { reason: 'not a digit' } : {}),
        probability: text === null ? 0.8 : 0.9,
        alternatives: text === null ? [{ label: 'none', probability: 0.8 }, { label: '7', probability: 0.15 }] : [{ label: text, probability: 0.9 }, { label: '8', probability: 0.05 }],
        box: { x, y: 60, width: 120, height: 160 },
        strokes,
      });
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          model: 'digits',
          text: `12${REJECTED_CHARACTER}`,
          characters: [character('1', 100, [0]), character('2', 300, [1]), character(null, 500, [2])],
          confidence: 0.42,
          ...(body.pattern === undefined ? {} : { constraintMet: false }),
          timings: { decodeMs: 0.1, segmentMs: 1, preprocessMs: 1, inferenceMs: 2, searchMs: 1, totalMs: 5 },
        }),
      });
    });
    await page.getByTestId('mode').selectOption('server');
    await writeOnLine(page, digitLineShape('123', 2, await lineAspect(page)));
    expect(await waitForReading(page)).toBe(`12${REJECTED_CHARACTER}`);
    const sent = bodies.at(-1)!;
    expect(sent.model).toBeUndefined(); // the server's default model: digits
    expect((sent.ink as { strokes: unknown[] }).strokes.length).toBeGreaterThan(0);
    expect(await page.locator('#line-characters .line-char').allTextContents()).toEqual(['1', '2', '?']);
    expect(await page.locator('#line-characters .line-char.rejected').count()).toBe(1);
    expect(await page.locator('#line-boxes .line-box.rejected').count()).toBe(1);
    expect(await page.locator('#line-text mark.rejected').textContent()).toBe(REJECTED_CHARACTER);
    expect(await page.getByTestId('line-confidence').textContent()).toBe('42.0%');
    expect(await page.getByTestId('line-timing').textContent()).toMatch(/on the server/);

    // The rejected character offers the digits, not the rejection class; a pick fills it in.
    await page.locator('#line-characters .line-char').nth(2).click();
    expect(await page.getByTestId('line-alternatives-list').locator('button').evaluateAll((buttons) => buttons.map((button) => (button as HTMLElement).dataset.label))).toEqual(['7']);
    await page.getByTestId('line-alternatives-list').locator('button').first().click();
    await expect.poll(() => page.getByTestId('line-text').getAttribute('data-text')).toBe('127');

    // "Digits only" passes the pattern; an answer with constraintMet false says so.
    await page.getByTestId('line-preset').selectOption({ label: 'digits only' });
    await expect.poll(() => page.getByTestId('line-status').textContent()).toMatch(/pattern/);
    expect(bodies.at(-1)!.pattern).toBe('\\d+');
    expect(await page.getByTestId('line-pattern').inputValue()).toBe('\\d+');
    expect(await page.getByTestId('line-pattern').isVisible()).toBe(true);
  });
});

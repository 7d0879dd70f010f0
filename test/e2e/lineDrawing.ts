/**
 * Writing on the page's Line mode from a test or a script, as a person would: mouse strokes on its writing area
 * (`data-testid="line-pad"`), and waiting for the reading (web/src/line/linePanel.ts's state attributes).
 * Shapes are in units of the writing area: x from 0 to 1 across its width, y from 0 to 1 down its height, like
 * `digitLineShape(text, seed, aspect)` (test/fixtures/lines.ts) makes them.
 */
import type { Page } from 'playwright-core';
import type { Shape } from './drawing.ts';

/** Points along a polyline, about every `spacing` pad units, so each stroke arrives as many pointer moves. */
function densify(stroke: Shape[number], spacing = 0.01): Shape[number] {
  const points = [stroke[0]!];
  for (let i = 1; i < stroke.length; i++) {
    const from = stroke[i - 1]!;
    const to = stroke[i]!;
    const steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / spacing));
    for (let step = 1; step <= steps; step++) points.push({ x: from.x + ((to.x - from.x) * step) / steps, y: from.y + ((to.y - from.y) * step) / steps });
  }
  return points;
}

/**
 * Writes `shape` (strokes in units of the writing area: x across its width, y down its height) on Line mode's writing
 * area with the mouse: pointerdown, pointermoves, pointerup per stroke, as drawing.ts's `drawWithMouse` does on the pad.
 */
export async function writeOnLine(page: Page, shape: Shape): Promise<void> {
  const box = await page.getByTestId('line-pad').boundingBox();
  if (!box) throw new Error('the line pad is not visible');
  for (const stroke of shape) {
    const points = densify(stroke).map((point) => ({ x: box.x + point.x * box.width, y: box.y + point.y * box.height }));
    await page.mouse.move(points[0]!.x, points[0]!.y);
    await page.mouse.down();
    for (const point of points.slice(1)) await page.mouse.move(point.x, point.y);
    await page.mouse.up();
  }
}

/** The writing area's width / height, as shown. */
export function lineAspect(page: Page): Promise<number> {
  return page.getByTestId('line-pad').evaluate((canvas) => canvas.clientWidth / canvas.clientHeight);
}

/** Count of reads the panel has finished (`data-reads`), shown or failed. */
export async function readCount(page: Page): Promise<number> {
  return Number((await page.getByTestId('line').getAttribute('data-reads')) ?? 0);
}

/**
 * Waits until the panel shows the reading of the ink on it now, nothing in flight, and (with `after`) more than
 * `after` reads finished (`readCount` before a trigger that reads the same ink again: a mode or pattern change).
 * @returns the text shown (`data-text` of the text: U+FFFD for a rejected character).
 */
export async function waitForReading(page: Page, after = -1): Promise<string> {
  await page.waitForFunction((count) => {
    const panel = document.getElementById('line')!;
    return panel.dataset.busy === undefined && panel.dataset.drawing !== undefined && panel.dataset.read === panel.dataset.drawing
      && Number(panel.dataset.reads ?? 0) > count;
  }, after, { timeout: 90_000 });
  return (await page.getByTestId('line-text').getAttribute('data-text')) ?? '';
}

/**
 * Drawing on the handwriting pad from a test, as a person would: mouse strokes through Playwright's mouse,
 * touch strokes through the Chrome DevTools Protocol (`Input.dispatchTouchEvent`), and digit shapes taken
 * from real MNIST test images or drawn as simple strokes.
 *
 * Shapes are in pad units: x and y from 0 to 1 across the pad, like web/src/pad.ts stores them.
 */
import type { CDPSession, Page } from 'playwright-core';
import type { MnistDigit } from '../fixtures/images.ts';

/** A point in pad units. */
export interface UnitPoint {
  x: number;
  y: number;
}

/** A digit as strokes in pad units. */
export type Shape = UnitPoint[][];

/** Where a shape goes on the pad: its unit square is scaled by `scale` and its top-left corner put at (`left`, `top`). */
export interface Placement {
  left: number;
  top: number;
  scale: number;
}

/** The whole pad. */
export const FULL_PAD: Placement = { left: 0, top: 0, scale: 1 };

/**
 * Traces an MNIST digit as strokes: one horizontal stroke per run of ink pixels (>= 128) in each row,
 * through the row's centre. With the pad's round pen, wider than a row, the runs merge into the digit's shape.
 * The 28x28 field maps onto the placement's unit square, so the digit covers its middle 20/28, as in MNIST.
 */
export function traceMnist(digit: MnistDigit): Shape {
  const strokes: Shape = [];
  for (let row = 0; row < 28; row++) {
    let start = -1;
    for (let col = 0; col <= 28; col++) {
      const ink = col < 28 && digit.pixels[row * 28 + col]! >= 128;
      if (ink && start < 0) start = col;
      if (!ink && start >= 0) {
        const y = (row + 0.5) / 28;
        strokes.push([{ x: (start + 0.5) / 28, y }, { x: (col - 0.5) / 28, y }]);
        start = -1;
      }
    }
  }
  return strokes;
}

/** Simple hand-drawn shapes in a unit square, with the margins a person leaves. */
export const SHAPES: Record<'one' | 'seven' | 'zero', Shape> = {
  one: [[{ x: 0.42, y: 0.28 }, { x: 0.52, y: 0.18 }, { x: 0.52, y: 0.82 }]],
  seven: [[{ x: 0.28, y: 0.2 }, { x: 0.72, y: 0.2 }, { x: 0.6, y: 0.42 }, { x: 0.48, y: 0.82 }]],
  zero: [ellipse(0.5, 0.5, 0.22, 0.32, 40)],
};

function ellipse(cx: number, cy: number, rx: number, ry: number, steps: number): UnitPoint[] {
  return Array.from({ length: steps + 2 }, (_, i) => {
    const angle = (i / steps) * 2 * Math.PI - Math.PI / 2;
    return { x: cx + rx * Math.cos(angle), y: cy + ry * Math.sin(angle) };
  });
}

/** Page coordinates of the pad canvas. */
async function padBox(page: Page): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await page.getByTestId('pad').boundingBox();
  if (!box) throw new Error('the pad is not visible');
  return box;
}

/** Points along a polyline, about every `spacing` pad units, so each stroke arrives as many pointer moves. */
function densify(stroke: UnitPoint[], spacing = 0.02): UnitPoint[] {
  const points: UnitPoint[] = [stroke[0]!];
  for (let i = 1; i < stroke.length; i++) {
    const from = stroke[i - 1]!;
    const to = stroke[i]!;
    const steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / spacing));
    for (let step = 1; step <= steps; step++) {
      points.push({ x: from.x + ((to.x - from.x) * step) / steps, y: from.y + ((to.y - from.y) * step) / steps });
    }
  }
  return points;
}

function toPage(box: { x: number; y: number; width: number; height: number }, placement: Placement, point: UnitPoint): UnitPoint {
  return {
    x: box.x + (placement.left + point.x * placement.scale) * box.width,
    y: box.y + (placement.top + point.y * placement.scale) * box.height,
  };
}

/** Draws a shape with the mouse (left button), one press-move-release per stroke. */
export async function drawWithMouse(page: Page, shape: Shape, placement: Placement = FULL_PAD): Promise<void> {
  const box = await padBox(page);
  for (const stroke of shape) {
    const points = densify(stroke).map((point) => toPage(box, placement, point));
    await page.mouse.move(points[0]!.x, points[0]!.y);
    await page.mouse.down();
    for (const point of points.slice(1)) await page.mouse.move(point.x, point.y);
    await page.mouse.up();
  }
}

/** Draws a shape with one finger: touchStart, touchMoves, touchEnd per stroke (needs a context with `hasTouch`). */
export async function drawWithTouch(page: Page, cdp: CDPSession, shape: Shape, placement: Placement = FULL_PAD): Promise<void> {
  const box = await padBox(page);
  for (const stroke of shape) {
    const points = densify(stroke).map((point) => toPage(box, placement, point));
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ ...points[0]!, id: 1 }] });
    for (const point of points.slice(1)) {
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ ...point, id: 1 }] });
    }
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  }
}

/** Number of recognitions the page has finished (`<body data-recognitions>`). */
async function recognitionCount(page: Page): Promise<number> {
  return Number((await page.evaluate(() => document.body.dataset.recognitions)) ?? 0);
}

/**
 * Runs one recognition through `trigger` (a click on Predict, a key press, a mode change) and waits until
 * the page has finished it and is idle.
 * @returns the recognized label (the text of `data-testid="prediction"`), '' when none is shown.
 */
export async function recognizeWith(page: Page, trigger: () => Promise<void>): Promise<string> {
  const before = await recognitionCount(page);
  await trigger();
  await page.waitForFunction(
    (count) => Number(document.body.dataset.recognitions ?? 0) > count && document.body.dataset.busy === undefined,
    before,
    { timeout: 60_000 },
  );
  return (await page.getByTestId('prediction').textContent()) ?? '';
}

/** Clicks Predict and returns the label; see `recognizeWith`. */
export function predict(page: Page): Promise<string> {
  return recognizeWith(page, () => page.getByTestId('predict').click());
}

/** The probabilities shown: one `{ label, probability, top }` per class, in order. */
export function shownProbabilities(page: Page): Promise<Array<{ label: string; probability: number; top: boolean }>> {
  return page.getByTestId('probabilities').evaluate((list) =>
    Array.from(list.children, (item) => ({
      label: (item as HTMLElement).dataset.label ?? '',
      probability: Number((item as HTMLElement).dataset.probability),
      top: item.classList.contains('top'),
    })));
}

/** The grey levels (0..255, red channel) of the processed image shown on the page (28x28 for digits, 64x64 for hanzi), row-major. */
export function shownProcessedPixels(page: Page): Promise<number[]> {
  return page.getByTestId('processed').evaluate((canvas) => {
    const element = canvas as HTMLCanvasElement;
    const { data } = element.getContext('2d')!.getImageData(0, 0, element.width, element.height);
    return Array.from({ length: data.length / 4 }, (_, i) => data[4 * i]!);
  });
}

/**
 * A character's ink (src/core/ink.ts, e.g. stroke medians from `loadHanziInk`, y down in a `box` x `box` field) as
 * a shape in pad units: the field's unit square, to be placed with a `Placement`.
 * @param box side of the ink's coordinate field; default 1024 (Make Me a Hanzi's box).
 */
export function inkToShape(ink: { strokes: ReadonlyArray<ReadonlyArray<{ x: number; y: number }>> }, box = 1024): Shape {
  return ink.strokes.map((stroke) => stroke.map((point) => ({ x: point.x / box, y: point.y / box })));
}

/**
 * Waits until the page shows the answer to what is on the pad now (`<body data-recognized>` equals
 * `<body data-drawing>`) and no recognition is in flight.
 */
export async function waitForAnswer(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    () => document.body.dataset.busy === undefined && document.body.dataset.drawing !== undefined
      && document.body.dataset.recognized === document.body.dataset.drawing,
    undefined,
    { timeout },
  );
}

/** The candidate buttons shown (中文 mode): `{ label, probability }` each, most probable first. */
export function shownCandidates(page: Page): Promise<Array<{ label: string; probability: number }>> {
  return page.getByTestId('candidates').evaluate((list) =>
    Array.from(list.querySelectorAll<HTMLButtonElement>('button[data-label]'), (button) => ({
      label: button.dataset.label ?? '',
      probability: Number(button.dataset.probability),
    })));
}

/**
 * Draws a shape with the mouse through the Chrome DevTools Protocol (`Input.dispatchMouseEvent`), sending each
 * stroke's events at once instead of one round trip per move: the page still gets every pointerdown, pointermove and
 * pointerup, in order, but a character of 15 strokes takes tens of ms instead of seconds (for bench/hanzi-page.ts).
 */
export async function drawWithMouseQuickly(page: Page, cdp: CDPSession, shape: Shape, placement: Placement = FULL_PAD): Promise<void> {
  const box = await padBox(page);
  for (const stroke of shape) {
    const points = densify(stroke).map((point) => toPage(box, placement, point));
    const first = points[0]!;
    const last = points[points.length - 1]!;
    const events = [
      cdp.send('Input.dispatchMouseEvent', { type: 'mouseMoved', ...first }),
      cdp.send('Input.dispatchMouseEvent', { type: 'mousePressed', ...first, button: 'left', buttons: 1, clickCount: 1 }),
      ...points.slice(1).map((point) => cdp.send('Input.dispatchMouseEvent', { type: 'mouseMoved', ...point, button: 'left', buttons: 1 })),
      cdp.send('Input.dispatchMouseEvent', { type: 'mouseReleased', ...last, button: 'left', buttons: 0, clickCount: 1 }),
    ];
    await Promise.all(events);
  }
}

/**
 * Takes docs/screenshot.png: the handwriting pad with a recognized digit, served by the real server.
 * Run: `npm run screenshot` (needs /usr/bin/chromium; builds the web app first when stale).
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ensureWebBuild } from '../../src/server/ensureWebBuild.ts';
import { buildServer } from '../../src/server/server.ts';
import { drawWithMouse, predict, type Shape } from './drawing.ts';

/** A handwritten-looking "2": a hook on top, a diagonal, and a base stroke with a slight upturn. */
function two(): Shape {
  const hook = Array.from({ length: 28 }, (_, i) => {
    const angle = Math.PI * (1.08 + (i / 27) * 1.05);
    return { x: 0.5 + 0.19 * Math.cos(angle), y: 0.37 + 0.17 * Math.sin(angle) };
  });
  const last = hook[hook.length - 1]!;
  return [[...hook, { x: last.x - 0.04, y: last.y + 0.14 }, { x: 0.42, y: 0.64 }, { x: 0.3, y: 0.79 }, { x: 0.5, y: 0.775 }, { x: 0.74, y: 0.79 }]];
}

const out = fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url));
await ensureWebBuild();
const server = buildServer({ webRoot: fileURLToPath(new URL('../../web-dist/', import.meta.url)) });
await server.listen({ port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1040, height: 760 }, deviceScaleFactor: 1.5 });
  await page.goto(`http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`);
  await drawWithMouse(page, two());
  const label = await predict(page);
  await page.getByTestId('mode').selectOption('server');
  await page.waitForFunction(() => document.querySelector('#timing-server')?.textContent?.includes('ms'));
  await page.getByTestId('mode').selectOption('browser');
  await page.waitForFunction(() => document.body.dataset.busy === undefined);
  await page.mouse.move(0, 0);
  mkdirSync(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`recognized ${label}; wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}

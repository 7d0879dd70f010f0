/**
 * The server's image pipeline under bad input, large images, abandoned requests and load (issue 8, defects 6 to 9):
 * status codes of cut, corrupt and huge-header images; downscaling before any JavaScript pixel work and recognition
 * in worker threads; requests whose client has gone stop and are logged once; bounded queues answer 503 BUSY.
 *
 * Waits are for events (a hook seeing a request, a log line), never for a time; nothing asserts a duration.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recognizer } from '../../src/core/recognizer.ts';
import type { PixelBuffer } from '../../src/core/types.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { RecognitionPool, type RecognitionService } from '../../src/server/recognitionPool.ts';
import { buildServer } from '../../src/server/server.ts';
import { corruptImages, hugeHeaderImages, smallDrawing } from '../fixtures/brokenImages.ts';
import { digitPng, mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';

const MODEL = process.env.HWR_MODEL ?? 'digits';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function postPng(base: string, png: Buffer, signal?: AbortSignal): Promise<{ status: number; body: any; headers: Headers }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png), signal });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** Resolves once `condition()` holds, checking after each turn of the event loop's timers. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((done) => setTimeout(done, 5));
}

/** A pino destination that keeps every JSON line. */
function logLines(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { stream, lines };
}

/** Wraps a recognizer: records the size of every image it is handed, and holds each call until `open()`. */
function gatedRecognizer(inner: Recognizer, gated = true): { service: RecognitionService; sizes: number[][]; open: () => void } {
  let open!: () => void;
  const gate = gated ? new Promise<void>((done) => { open = done; }) : Promise.resolve();
  const sizes: number[][] = [];
  const service: RecognitionService = {
    metadata: inner.metadata,
    async recognize(image, options) {
      sizes.push([image.width, image.height]);
      await gate;
      return inner.recognize(image, options);
    },
    async recognizeBatch(images, options) {
      for (const image of images) sizes.push([image.width, image.height]);
      await gate;
      return inner.recognizeBatch(images, options);
    },
    dispose() {}, // the shared recognizer is disposed once, after all tests
  };
  return { service, sizes, open: () => open?.() };
}

let recognizer: Recognizer;
let digit: MnistDigit;

beforeAll(async () => {
  recognizer = await loadRecognizer(MODEL);
  [digit] = await mnistTestDigits(1); // a 7
});

afterAll(() => recognizer?.dispose());

describe('status codes of broken images (defect 6)', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = buildServer({ recognizer: gatedRecognizer(recognizer, false).service, webRoot: false });
    base = await listen(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 422 CORRUPT_IMAGE for a PNG cut in or without IEND, a GIF without its trailer, a JPEG with 0xFF in its scan', async () => {
    for (const [name, bytes] of Object.entries(await corruptImages(await smallDrawing()))) {
      const type = name.endsWith('.gif') ? 'image/gif' : name.endsWith('.jpg') ? 'image/jpeg' : 'image/png';
      const response = await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(bytes) });
      expect({ name, status: response.status, code: ((await response.json()) as any).error?.code }).toEqual({ name, status: 422, code: 'CORRUPT_IMAGE' }); // eslint-disable-line @typescript-eslint/no-explicit-any
    }
  });

  it('answers 413 IMAGE_TOO_LARGE for headers declaring 2147483647x2147483647, 4294967295x1 (PNG) and 65535x65535 (JPEG)', async () => {
    for (const [name, bytes] of Object.entries(await hugeHeaderImages(await smallDrawing()))) {
      const type = name.endsWith('.jpg') ? 'image/jpeg' : 'image/png';
      const response = await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(bytes) });
      expect({ name, status: response.status, code: ((await response.json()) as any).error?.code }).toEqual({ name, status: 413, code: 'IMAGE_TOO_LARGE' }); // eslint-disable-line @typescript-eslint/no-explicit-any
    }
  });
});

describe('large images (defect 7)', () => {
  it('hands the recognizer at most 1024 px a side: a large image is downscaled in libvips, not in JavaScript', async () => {
    const { service, sizes } = gatedRecognizer(recognizer, false);
    const app = buildServer({ recognizer: service, webRoot: false });
    const base = await listen(app);
    try {
      const big = await digitPng(digit, 100, 200); // 3200x3200, the digit as a user might photograph it
      const answer = await postPng(base, big);
      expect(answer.status).toBe(200);
      expect(answer.body.label).toBe(digit.label);
      expect(sizes).toEqual([[1024, 1024]]);
    } finally {
      await app.close();
    }
  });

  it('recognizes in worker threads: the event loop keeps turning while a worker preprocesses a 12-megapixel image', async () => {
    const pool = await RecognitionPool.start({ model: MODEL, workers: 1 });
    try {
      const width = 4000;
      const height = 3000;
      const data = new Uint8ClampedArray(width * height * 4).fill(255);
      for (let y = 1000; y < 2000; y++) for (let x = 1900; x < 2100; x++) data.fill(0, 4 * (y * width + x), 4 * (y * width + x) + 3); // a 1
      const image: PixelBuffer = { width, height, data };
      let settled = false;
      const recognized = pool.recognize(image, { name: 'big' }).finally(() => { settled = true; });
      // A recognizer on the event loop would preprocess all 12 megapixels before the first of these turns.
      for (let turn = 0; turn < 20; turn++) await new Promise((done) => setImmediate(done));
      expect(settled).toBe(false);
      expect((await recognized).label).toBe('1');
    } finally {
      await pool.dispose();
    }
  });

  it('answers GET /api/health while a large image is being recognized by the pool', async () => {
    const app = buildServer({ model: MODEL, workers: 1, webRoot: false });
    const base = await listen(app);
    try {
      for (;;) {
        if ((await fetch(`${base}/api/health`)).status === 200) break;
        await new Promise((done) => setTimeout(done, 50));
      }
      const big = await digitPng(digit, 100, 200);
      let bigDone = false;
      const bigAnswer = postPng(base, big).finally(() => { bigDone = true; });
      const healthStatuses: number[] = [];
      while (!bigDone) healthStatuses.push((await fetch(`${base}/api/health`)).status);
      expect((await bigAnswer).status).toBe(200);
      expect(healthStatuses.length).toBeGreaterThan(0);
      expect(new Set(healthStatuses)).toEqual(new Set([200]));
    } finally {
      await app.close();
    }
  });
});

describe('abandoned requests (defect 8) and bounded queues (defect 9)', () => {
  /** 800x800 = 0.64 MP: with a budget of 1 MP, two never decode at the same time. */
  let png: Buffer;
  beforeAll(async () => {
    png = await digitPng(digit, 25, 50);
  });

  /** A server whose recognizer holds every call until `open()`, with a 1-megapixel budget; counts arrivals at the handler. */
  async function gatedServer(extra: { maxWaiting?: number } = {}) {
    const gated = gatedRecognizer(recognizer);
    const log = logLines();
    const app = buildServer({ recognizer: gated.service, webRoot: false, logger: { level: 'info', stream: log.stream }, limits: { maxPixels: 1_000_000, ...extra } });
    let arrived = 0;
    app.addHook('preHandler', async () => { arrived++; });
    const base = await listen(app);
    return { ...gated, app, base, lines: log.lines, arrived: () => arrived };
  }

  const requestLines = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.msg === 'request' && line.url === '/api/predict');

  it('stops the work of closed requests (none decoded or recognized after its client left) and logs each once as "client closed"', async () => {
    const server = await gatedServer();
    try {
      const clients = [new AbortController(), new AbortController(), new AbortController()];
      const first = postPng(server.base, png, clients[0]!.signal).catch((error: Error) => error.name);
      await until(() => server.sizes.length === 1); // the first holds the budget, inside the recognizer
      const others = clients.slice(1).map((client) => postPng(server.base, png, client.signal).catch((error: Error) => error.name));
      await until(() => server.arrived() === 3); // the others are read and wait for pixels
      for (const client of clients) client.abort();
      expect(await Promise.all([first, ...others])).toEqual(['AbortError', 'AbortError', 'AbortError']);
      await until(() => requestLines(server.lines).length === 3);
      server.open();

      // Budget and queues are free again: a new request is decoded and recognized at once.
      const after = await postPng(server.base, png);
      expect(after.status).toBe(200);
      expect(server.sizes).toHaveLength(2); // the first and this one; the two closed while waiting never reached the recognizer
      const lines = requestLines(server.lines);
      expect(lines.map((line) => [line.statusCode, line.outcome])).toEqual([[499, 'client closed'], [499, 'client closed'], [499, 'client closed'], [200, undefined]]);
    } finally {
      server.open();
      await server.app.close();
    }
  });

  it('logs a request whose client closes in the middle of its upload once, as "client closed"', async () => {
    const server = await gatedServer();
    try {
      const { port } = server.app.server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      await new Promise((done) => socket.once('connect', done));
      socket.write(`POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`);
      socket.write(png.subarray(0, 1000));
      await new Promise((done) => setTimeout(done, 50)); // let the server start reading the body (any delay works)
      socket.destroy();
      await until(() => requestLines(server.lines).length === 1);
      await new Promise((done) => setTimeout(done, 100)); // a second line, if any, would come now
      expect(requestLines(server.lines).map((line) => [line.statusCode, line.outcome])).toEqual([[499, 'client closed']]);
      expect(server.sizes).toHaveLength(0);
    } finally {
      server.open();
      await server.app.close();
    }
  });

  it('answers 503 BUSY with Retry-After once the wait for pixels is full, and serves the waiting ones afterwards', async () => {
    const server = await gatedServer({ maxWaiting: 1 });
    try {
      const first = postPng(server.base, png);
      await until(() => server.sizes.length === 1); // the first holds the budget, inside the recognizer
      // One of these two waits for the budget; the other finds the line full and is answered at once.
      const others = [postPng(server.base, png), postPng(server.base, png)];
      const busy = await Promise.race(others);
      expect(busy.status).toBe(503);
      expect(busy.body).toEqual({ error: { code: 'BUSY', message: expect.stringMatching(/busy/) } });
      expect(busy.headers.get('retry-after')).toBe('1');
      server.open();
      const statuses = (await Promise.all([first, ...others])).map((answer) => answer.status);
      expect(statuses.sort()).toEqual([200, 200, 503]);
    } finally {
      server.open();
      await server.app.close();
    }
  });

  it('a full recognition queue answers BUSY, and a queued job whose client left is dropped', async () => {
    const pool = await RecognitionPool.start({ model: MODEL, workers: 1, maxQueue: 1 });
    try {
      const image: PixelBuffer = { width: 28, height: 28, data: new Uint8ClampedArray(28 * 28 * 4).fill(255) };
      for (let i = 0; i < 28 * 28; i++) if (digit.pixels[i]! > 128) image.data.fill(0, 4 * i, 4 * i + 3);
      const running = pool.recognize(image, { name: 'running' });
      const client = new AbortController();
      const queued = pool.recognize(image, { name: 'queued', signal: client.signal }).catch((error: Error) => error);
      expect(pool.queued).toBe(1);
      await expect(pool.recognize(image, { name: 'third' })).rejects.toMatchObject({ code: 'BUSY', statusCode: 503 });
      client.abort(new Error('client left'));
      expect(pool.queued).toBe(0);
      expect(await queued).toMatchObject({ message: 'client left' });
      expect((await running).label).toBe(digit.label);
    } finally {
      await pool.dispose();
    }
  });
});

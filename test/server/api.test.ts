/**
 * The HTTP API against a real server on a loopback port: every accepted request form, the batch endpoint,
 * health and model info, and every kind of bad input (each a 4xx in the one error shape, never a 500,
 * and the server keeps answering afterwards). Also readiness before the model has loaded, the static
 * web app, and a clean exit of `src/server/main.ts` on SIGTERM and SIGINT.
 *
 * Uses the shipped model (models/digits), or the model folder in `HWR_MODEL` when set.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { buildServer } from '../../src/server/server.ts';
import { blankPng, dataUrl, digitPng, hugePng, mnistTestDigits, toJpeg, type MnistDigit } from '../fixtures/images.ts';

const MODEL = process.env.HWR_MODEL ?? 'digits';
const FIVE_MB = 5 * 1024 * 1024;

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
  headers: Headers;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function request(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the web app's HTML); keep the text
  }
  return { status: response.status, body, headers: response.headers };
}

function postJson(base: string, path: string, value: unknown): Promise<Answer> {
  return request(base, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
}

function postBytes(base: string, path: string, bytes: Buffer | string, contentType: string): Promise<Answer> {
  const body = typeof bytes === 'string' ? bytes : new Uint8Array(bytes);
  return request(base, path, { method: 'POST', headers: { 'content-type': contentType }, body });
}

function postForm(base: string, path: string, form: FormData): Promise<Answer> {
  return request(base, path, { method: 'POST', body: form });
}

async function waitUntilHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await request(base, '/api/health')).status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${base} never became healthy`);
}

/** Checks the one error shape and returns the code. */
function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(typeof answer.body.error.message).toBe('string');
  expect(answer.body.error.message.length).toBeGreaterThan(5);
  expect(Object.keys(answer.body)).toEqual(['error']);
}

/** Checks a prediction's shape; returns its processed image decoded. */
async function expectPrediction(body: any, expectedLabel?: string): Promise<{ width: number; height: number }> {
  expect(body.probabilities).toHaveLength(11); // the shipped model: 10 digits and its rejection class "none"
  const sum = body.probabilities.reduce((total: number, p: number) => total + p, 0);
  expect(sum).toBeCloseTo(1, 4);
  expect(body.probability).toBe(Math.max(...body.probabilities));
  expect(body.label).toBe(String(body.probabilities.indexOf(body.probability)));
  if (expectedLabel !== undefined) expect(body.label).toBe(expectedLabel);
  for (const key of ['preprocessMs', 'inferenceMs']) expect(body.timings[key]).toBeGreaterThanOrEqual(0);
  expect(body.processed).toMatch(/^data:image\/png;base64,/);
  const png = Buffer.from(body.processed.split(',')[1], 'base64');
  const { width, height } = await sharp(png).metadata();
  return { width: width!, height: height! };
}

let app: FastifyInstance;
let base: string;
let digits: MnistDigit[];
let pngs: Buffer[];

beforeAll(async () => {
  app = buildServer({ model: MODEL, webRoot: false });
  base = await listen(app);
  digits = await mnistTestDigits(5); // labels 7, 2, 1, 0, 4
  pngs = await Promise.all(digits.map((digit) => digitPng(digit)));
  await waitUntilHealthy(base);
});

afterAll(async () => {
  await app?.close();
});

describe('POST /api/predict: accepted forms', () => {
  it('JSON with a PNG data URL (what the page sends)', async () => {
    const answer = await postJson(base, '/api/predict', { image: dataUrl(pngs[0]!) });
    expect(answer.status).toBe(200);
    expect(await expectPrediction(answer.body, digits[0]!.label)).toEqual({ width: 28, height: 28 });
  });

  it('JSON with bare base64', async () => {
    const answer = await postJson(base, '/api/predict', { image: pngs[1]!.toString('base64') });
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[1]!.label);
  });

  it('multipart upload, field "image" as a file', async () => {
    const form = new FormData();
    form.append('note', 'fields other than image are ignored');
    form.append('image', new Blob([new Uint8Array(pngs[2]!)], { type: 'image/png' }), 'digit.png');
    const answer = await postForm(base, '/api/predict', form);
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[2]!.label);
  });

  it('multipart upload, field "image" as a data URL text field', async () => {
    const form = new FormData();
    form.append('image', dataUrl(pngs[3]!));
    const answer = await postForm(base, '/api/predict', form);
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[3]!.label);
  });

  it('raw PNG bytes with content type image/png', async () => {
    const answer = await postBytes(base, '/api/predict', pngs[4]!, 'image/png');
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[4]!.label);
  });

  it('raw JPEG bytes with content type image/jpeg', async () => {
    const answer = await postBytes(base, '/api/predict', await toJpeg(pngs[0]!), 'image/jpeg');
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[0]!.label);
  });

  it('the original 28x28 MNIST image (white ink on black) gives the same label as the scan', async () => {
    const original = await sharp(Buffer.from(digits[1]!.pixels), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
    const answer = await postBytes(base, '/api/predict', original, 'image/png');
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[1]!.label);
  });
});

describe('POST /api/predict/batch', () => {
  it('answers in order, with a result or an error per image', async () => {
    const images = [
      dataUrl(pngs[0]!),
      dataUrl(await blankPng()),
      pngs[1]!.toString('base64'),
      Buffer.from('not an image at all').toString('base64'),
      'this is not base64!',
      dataUrl(pngs[2]!),
    ];
    const answer = await postJson(base, '/api/predict/batch', { images });
    expect(answer.status).toBe(200);
    const { results } = answer.body;
    expect(results).toHaveLength(images.length);
    await expectPrediction(results[0].result, digits[0]!.label);
    expect(results[1]).toEqual({ error: { code: 'NO_INK', message: expect.any(String) } });
    await expectPrediction(results[2].result, digits[1]!.label);
    expect(results[3].error.code).toBe('NOT_AN_IMAGE');
    expect(results[4].error.code).toBe('BAD_REQUEST');
    await expectPrediction(results[5].result, digits[2]!.label);
  });

  it('answers a batch of several huge images in turn, within the memory budget', async () => {
    const huge = dataUrl(hugePng(6000, 6000)); // 36 megapixels each, ~40 kB as a file
    const answer = await postJson(base, '/api/predict/batch', { images: [huge, dataUrl(pngs[0]!), huge] });
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((item: any) => item.error?.code ?? item.result.label)).toEqual(['NO_INK', digits[0]!.label, 'NO_INK']);
  });

  it('accepts 64 images', async () => {
    const images = Array.from({ length: 64 }, (_, i) => dataUrl(pngs[i % pngs.length]!));
    const answer = await postJson(base, '/api/predict/batch', { images });
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((item: any) => item.result.label)).toEqual(images.map((_, i) => digits[i % digits.length]!.label));
  });

  it('refuses 65 images with 400 TOO_MANY_IMAGES', async () => {
    const images = Array.from({ length: 65 }, () => 'AAAA');
    expectError(await postJson(base, '/api/predict/batch', { images }), 400, 'TOO_MANY_IMAGES');
  });

  it('refuses an empty list and a missing list with 400', async () => {
    expectError(await postJson(base, '/api/predict/batch', { images: [] }), 400, 'BAD_REQUEST');
    expectError(await postJson(base, '/api/predict/batch', { image: 'AAAA' }), 400, 'BAD_REQUEST');
    expectError(await postJson(base, '/api/predict/batch', { images: [1, 2] }), 400, 'BAD_REQUEST');
  });

  it('refuses a batch that is not JSON with 415', async () => {
    expectError(await postBytes(base, '/api/predict/batch', pngs[0]!, 'image/png'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await postBytes(base, '/api/predict/batch', 'images', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('GET /api/model and /api/health', () => {
  it('describes the model', async () => {
    const answer = await request(base, '/api/model');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      name: expect.any(String),
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none'],
      inputShape: [28, 28, 1],
      version: expect.any(String),
    });
    expect('testAccuracy' in answer.body).toBe(true);
  });

  it('is healthy once the model is loaded', async () => {
    const answer = await request(base, '/api/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', model: expect.any(String) });
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    expectError(await request(base, '/api/nothing-here'), 404, 'NOT_FOUND');
  });
});

describe('bad input: a 4xx with { error: { code, message } }, never a 500', () => {
  const cases: Array<[string, () => Promise<Answer>, number, string]> = [
    ['bytes that are not an image', () => postBytes(base, '/api/predict', Buffer.from('hello, I am text'), 'image/png'), 422, 'NOT_AN_IMAGE'],
    ['base64 of something that is not an image', () => postJson(base, '/api/predict', { image: Buffer.from('%PDF-1.4 not really').toString('base64') }), 422, 'NOT_AN_IMAGE'],
    ['a truncated PNG', () => postBytes(base, '/api/predict', pngs[0]!.subarray(0, Math.floor(pngs[0]!.length / 2)), 'image/png'), 422, 'CORRUPT_IMAGE'],
    ['a PNG with a damaged pixel stream', async () => {
      const damaged = Buffer.from(pngs[0]!);
      const idat = damaged.indexOf('IDAT');
      damaged.fill(0xff, idat + 10, idat + 60);
      return postBytes(base, '/api/predict', damaged, 'image/png');
    }, 422, 'CORRUPT_IMAGE'],
    ['an empty body with an image content type', () => postBytes(base, '/api/predict', Buffer.alloc(0), 'image/png'), 422, 'EMPTY_IMAGE'],
    ['a blank image (no ink)', async () => postJson(base, '/api/predict', { image: dataUrl(await blankPng()) }), 422, 'NO_INK'],
    ['text/plain', () => postBytes(base, '/api/predict', 'data:image/png;base64,AAAA', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['application/octet-stream', () => postBytes(base, '/api/predict', pngs[0]!, 'application/octet-stream'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['application/x-www-form-urlencoded', () => postBytes(base, '/api/predict', 'image=abc', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a data URL of another type', () => postJson(base, '/api/predict', { image: 'data:text/plain;base64,aGVsbG8=' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a raw body over 5 MB', () => postBytes(base, '/api/predict', Buffer.alloc(FIVE_MB + 1024, 1), 'image/png'), 413, 'BODY_TOO_LARGE'],
    ['a JSON body over 5 MB', () => postJson(base, '/api/predict', { image: 'A'.repeat(FIVE_MB + 1024) }), 413, 'BODY_TOO_LARGE'],
    ['a multipart file over 5 MB', () => {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(FIVE_MB + 1024).fill(1)], { type: 'image/png' }), 'big.png');
      return postForm(base, '/api/predict', form);
    }, 413, 'BODY_TOO_LARGE'],
    ['a real image over 50 megapixels (8000 x 6400)', () => postBytes(base, '/api/predict', hugePng(8000, 6400), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
    ['a small file whose header claims 100000 x 100000 px', () => postBytes(base, '/api/predict', hugePng(100_000, 100_000, 2), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
    ['malformed JSON', () => postBytes(base, '/api/predict', '{"image": "data:image/png;base64,', 'application/json'), 400, 'MALFORMED_JSON'],
    ['an empty JSON body', () => postBytes(base, '/api/predict', '', 'application/json'), 400, 'MALFORMED_JSON'],
    ['JSON without "image"', () => postJson(base, '/api/predict', { picture: 'AAAA' }), 400, 'BAD_REQUEST'],
    ['JSON with a non-string "image"', () => postJson(base, '/api/predict', { image: 42 }), 400, 'BAD_REQUEST'],
    ['JSON that is not an object', () => postJson(base, '/api/predict', ['AAAA']), 400, 'BAD_REQUEST'],
    ['text that is neither base64 nor a data URL', () => postJson(base, '/api/predict', { image: 'hello world!' }), 400, 'BAD_REQUEST'],
    ['multipart without an "image" field', () => {
      const form = new FormData();
      form.append('picture', new Blob([new Uint8Array(pngs[0]!)], { type: 'image/png' }), 'digit.png');
      return postForm(base, '/api/predict', form);
    }, 400, 'BAD_REQUEST'],
    ['a truncated multipart body', () => request(base, '/api/predict', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG',
    }), 400, 'BAD_REQUEST'],
  ];

  for (const [name, send, status, code] of cases) {
    it(`${name}: ${status} ${code}`, async () => {
      expectError(await send(), status, code);
    });
  }

  it('keeps answering after all of them', async () => {
    expect((await request(base, '/api/health')).status).toBe(200);
    const answer = await postJson(base, '/api/predict', { image: dataUrl(pngs[0]!) });
    expect(answer.status).toBe(200);
    await expectPrediction(answer.body, digits[0]!.label);
  });
});

describe('readiness', () => {
  it('answers 503 until the model has loaded, then 200', async () => {
    let resolve!: (recognizer: Recognizer) => void;
    const pending = new Promise<Recognizer>((done) => { resolve = done; });
    const early = buildServer({ recognizer: pending, webRoot: false });
    const earlyBase = await listen(early);
    try {
      const health = await request(earlyBase, '/api/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'loading', error: { code: 'MODEL_NOT_READY' } });
      expectError(await postJson(earlyBase, '/api/predict', { image: dataUrl(pngs[0]!) }), 503, 'MODEL_NOT_READY');
      expectError(await request(earlyBase, '/api/model'), 503, 'MODEL_NOT_READY');

      resolve(await loadRecognizer(MODEL));
      await waitUntilHealthy(earlyBase);
      const answer = await postJson(earlyBase, '/api/predict', { image: dataUrl(pngs[0]!) });
      expect(answer.status).toBe(200);
    } finally {
      await early.close();
    }
  });

  it('stays up and answers 503 when the model fails to load', async () => {
    const broken = buildServer({ model: join(tmpdir(), 'no-such-model-folder'), webRoot: false });
    const brokenBase = await listen(broken);
    try {
      await new Promise((done) => setTimeout(done, 200));
      const health = await request(brokenBase, '/api/health');
      expect(health.status).toBe(503);
      expect(health.body.status).toBe('failed');
      expectError(await postJson(brokenBase, '/api/predict', { image: dataUrl(pngs[0]!) }), 503, 'MODEL_NOT_READY');
    } finally {
      await broken.close();
    }
  });
});

describe('static web app', () => {
  it('serves the built app, and explains a missing build', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hwr-web-'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>pad</title>');
    const withApp = buildServer({ recognizer: loadRecognizer(MODEL), webRoot: root });
    const missing = buildServer({ recognizer: loadRecognizer(MODEL), webRoot: join(root, 'not-built') });
    try {
      const page = await request(await listen(withApp), '/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.body).toContain('<title>pad</title>');
      expectError(await request(await listen(missing), '/'), 503, 'WEB_APP_NOT_BUILT');
    } finally {
      await Promise.all([withApp.close(), missing.close()]);
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('src/server/main.ts', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`prints its address, serves, and exits 0 on ${signal}`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HWR_MODEL: MODEL, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stderr.on('data', (chunk) => { output += chunk; });
      const address = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          output += chunk;
          const match = /http:\/\/[\w.[\]:-]+\//.exec(output);
          if (match) resolve(match[0].replace(/\/$/, ''));
        });
        child.on('exit', (code) => reject(new Error(`server exited early with ${code}: ${output}`)));
      });
      await waitUntilHealthy(address);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill(signal);
      expect(await exited).toBe(0);
    });
  }
});

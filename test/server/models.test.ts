/**
 * Several models on one server (issue 9): `GET /api/models`, `model` and `topK` on `POST /api/predict`,
 * `/api/predict/batch` and `GET /api/model` (query, JSON field, multipart field), the large-vocabulary answer
 * (candidates, no 3,755 probabilities, the 64x64 input), the digit answer unchanged, bad names and counts (400),
 * unknown models (404), and a broken model that fails alone while the others serve, in the pool and on the event loop.
 *
 * Hanzi drawings are the Make Me a Hanzi stroke medians (`loadHanziInk`) drawn by the core ink renderer
 * (`renderInk`), dark ink on white as the page sends them.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderInk } from '../../src/core/ink.ts';
import { SHIPPED_MODELS_DIR } from '../../src/node/recognizer.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { RecognitionPool } from '../../src/server/recognitionPool.ts';
import { buildServer } from '../../src/server/server.ts';
import { dataUrl, digitPng, mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
}

/** Ten common GB 2312 level-1 characters. */
const CHARACTERS = ['永', '中', '国', '人', '大', '学', '生', '山', '水', '火'];

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function request(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(base + path, init);
  return { status: response.status, body: await response.json() };
}

function postJson(base: string, path: string, value: unknown): Promise<Answer> {
  return request(base, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
}

function postForm(base: string, path: string, fields: Record<string, string>, png: Buffer): Promise<Answer> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'drawing.png');
  return request(base, path, { method: 'POST', body: form });
}

async function waitUntilHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await fetch(`${base}/api/health`)).status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${base} never became healthy`);
}

function expectError(answer: Answer, status: number, code: string): string {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(answer.body)).toEqual(['error']);
  return answer.body.error.message as string;
}

/** A character drawn from its stroke medians: 256x256 px, dark ink on white, as a PNG. */
async function hanziPng(char: string): Promise<Buffer> {
  const ink = await loadHanziInk(char);
  const gray = renderInk(ink, { width: 256, height: 256, strokeWidth: 12, margin: 32 });
  const paper = Buffer.from(gray.data.map((coverage) => 255 - coverage));
  return sharp(paper, { raw: { width: gray.width, height: gray.height, channels: 1 } }).png().toBuffer();
}

/** Checks a large-vocabulary answer of `count` candidates; returns the processed image's size. */
async function expectCandidates(body: any, count: number): Promise<{ width: number; height: number }> {
  expect(body.model).toBe('hanzi');
  expect(body).not.toHaveProperty('probabilities');
  expect(body.candidates).toHaveLength(count);
  for (let i = 1; i < count; i++) expect(body.candidates[i].probability).toBeLessThanOrEqual(body.candidates[i - 1].probability);
  expect(body.label).toBe(body.candidates[0].label);
  expect(body.probability).toBe(body.candidates[0].probability);
  expect([...body.label as string]).toHaveLength(1);
  expect(body.ms).toBeGreaterThanOrEqual(0);
  const { width, height } = await sharp(Buffer.from(body.processed.split(',')[1], 'base64')).metadata();
  return { width: width!, height: height! };
}

let app: FastifyInstance;
let base: string;
let digit: MnistDigit;
let digitImage: Buffer;
let hanzi: Buffer;

beforeAll(async () => {
  app = buildServer({ webRoot: false, workers: 1 });
  base = await listen(app);
  [digit] = await mnistTestDigits(1); // a 7
  digitImage = await digitPng(digit!);
  hanzi = await hanziPng('永');
  await waitUntilHealthy(base);
});

afterAll(async () => {
  await app?.close();
});

describe('GET /api/models', () => {
  it('lists the shipped models from their metadata, and which is the default', async () => {
    const answer = await request(base, '/api/models');
    expect(answer.status).toBe(200);
    expect(answer.body.default).toBe('digits');
    const byName = Object.fromEntries(answer.body.models.map((model: any) => [model.name, model]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(['digits', 'hanzi']));
    expect(byName.digits).toMatchObject({
      default: true, classes: 11, inputShape: [28, 28, 1], preprocessing: expect.stringMatching(/^mnist/), architecture: expect.any(String),
      testAccuracy: expect.any(Number),
    });
    expect(byName.hanzi).toMatchObject({
      default: false, classes: 3755, inputShape: [64, 64, 1], preprocessing: 'cjk-fit-v1', architecture: expect.any(String),
    });
    expect('testAccuracy' in byName.hanzi).toBe(true);
    expect(byName.hanzi).not.toHaveProperty('error');
    // A pair model (line reading) says which model it serves; ordinary models do not.
    expect(byName['digit-segments']).toMatchObject({ default: false, classes: 111, pairsFor: 'digits' });
    expect(byName.digits).not.toHaveProperty('pairsFor');
  });
});

describe('POST /api/predict with model=hanzi', () => {
  it('by JSON field: 10 candidates by default, the 64x64 input, no probabilities of all 3,755 classes', async () => {
    const answer = await postJson(base, '/api/predict', { image: dataUrl(hanzi), model: 'hanzi' });
    expect(answer.status).toBe(200);
    expect(await expectCandidates(answer.body, 10)).toEqual({ width: 64, height: 64 });
    expect(JSON.stringify(answer.body).length).toBeLessThan(20_000);
  });

  it('by query, with topK=3', async () => {
    const answer = await postJson(base, '/api/predict?model=hanzi&topK=3', { image: dataUrl(hanzi) });
    expect(answer.status).toBe(200);
    await expectCandidates(answer.body, 3);
  });

  it('by multipart fields, before or after the image', async () => {
    const answer = await postForm(base, '/api/predict', { model: 'hanzi', topK: '5' }, hanzi);
    expect(answer.status).toBe(200);
    await expectCandidates(answer.body, 5);
  });

  it('as raw image bytes with ?model=hanzi&topK=50', async () => {
    const answer = await request(base, '/api/predict?model=hanzi&topK=50', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(hanzi) });
    expect(answer.status).toBe(200);
    await expectCandidates(answer.body, 50);
  });

  it('in a batch', async () => {
    const answer = await postJson(base, '/api/predict/batch', { images: [dataUrl(hanzi), dataUrl(await hanziPng('中'))], model: 'hanzi', topK: 4 });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(2);
    for (const { result } of answer.body.results) await expectCandidates(result, 4);
  });
});

describe('digits unchanged', () => {
  it('without model: every probability, plus all 11 candidates and the model name', async () => {
    const answer = await postJson(base, '/api/predict', { image: dataUrl(digitImage) });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ label: digit!.label, model: 'digits' });
    expect(answer.body.probabilities).toHaveLength(11);
    expect(answer.body.candidates).toHaveLength(11);
    expect(answer.body.candidates[0]).toEqual({ label: digit!.label, probability: answer.body.probability });
    expect(answer.body.timings.inferenceMs).toBeGreaterThanOrEqual(0);
    const { width } = await sharp(Buffer.from(answer.body.processed.split(',')[1], 'base64')).metadata();
    expect(width).toBe(28);
  });

  it('with model=digits and topK=2', async () => {
    const answer = await postJson(base, '/api/predict?topK=2', { image: dataUrl(digitImage), model: 'digits' });
    expect(answer.status).toBe(200);
    expect(answer.body.probabilities).toHaveLength(11);
    expect(answer.body.candidates.map((c: { label: string }) => c.label)[0]).toBe(digit!.label);
    expect(answer.body.candidates).toHaveLength(2);
  });

  it('GET /api/model still describes the default model; ?model=hanzi the other', async () => {
    expect((await request(base, '/api/model')).body).toMatchObject({ inputShape: [28, 28, 1], classes: expect.arrayContaining(['7']) });
    const hanziModel = await request(base, '/api/model?model=hanzi');
    expect(hanziModel.status).toBe(200);
    expect(hanziModel.body.inputShape).toEqual([64, 64, 1]);
    expect(hanziModel.body.classes).toHaveLength(3755);
  });
});

describe('bad model and topK: 400 or 404 in the error shape', () => {
  const image = (): string => dataUrl(hanzi);
  const cases: Array<[string, () => Promise<Answer>, number, string]> = [
    ['topK=51 in the query', () => postJson(base, '/api/predict?model=hanzi&topK=51', { image: image() }), 400, 'BAD_REQUEST'],
    ['topK=abc in the query', () => postJson(base, '/api/predict?model=hanzi&topK=abc', { image: image() }), 400, 'BAD_REQUEST'],
    ['topK=0 in the query', () => postJson(base, '/api/predict?topK=0', { image: image() }), 400, 'BAD_REQUEST'],
    ['topK 51 in JSON', () => postJson(base, '/api/predict', { image: image(), model: 'hanzi', topK: 51 }), 400, 'BAD_REQUEST'],
    ['topK 2.5 in JSON', () => postJson(base, '/api/predict', { image: image(), topK: 2.5 }), 400, 'BAD_REQUEST'],
    ['topK "abc" in a multipart field', () => postForm(base, '/api/predict', { topK: 'abc' }, hanzi), 400, 'BAD_REQUEST'],
    ['topK=51 on a batch', () => postJson(base, '/api/predict/batch?topK=51', { images: [image()] }), 400, 'BAD_REQUEST'],
    ['model=../digits in the query', () => postJson(base, '/api/predict?model=../digits', { image: image() }), 400, 'BAD_REQUEST'],
    ['model "../digits" in JSON', () => postJson(base, '/api/predict', { image: image(), model: '../digits' }), 400, 'BAD_REQUEST'],
    ['model "/etc" in a multipart field', () => postForm(base, '/api/predict', { model: '/etc' }, hanzi), 400, 'BAD_REQUEST'],
    ['model=../digits on GET /api/model', () => request(base, '/api/model?model=..%2Fdigits'), 400, 'BAD_REQUEST'],
    ['model and query model that differ', () => postJson(base, '/api/predict?model=digits', { image: image(), model: 'hanzi' }), 400, 'BAD_REQUEST'],
    ['model=nope', () => postJson(base, '/api/predict?model=nope', { image: image() }), 404, 'UNKNOWN_MODEL'],
    ['model "nope" on a batch', () => postJson(base, '/api/predict/batch', { images: [image()], model: 'nope' }), 404, 'UNKNOWN_MODEL'],
    ['model=nope on GET /api/model', () => request(base, '/api/model?model=nope'), 404, 'UNKNOWN_MODEL'],
  ];
  for (const [name, send, status, code] of cases) {
    it(`${name}: ${status} ${code}`, async () => {
      const message = expectError(await send(), status, code);
      if (code === 'UNKNOWN_MODEL') expect(message).toMatch(/"nope".*\bdigits\b.*\bhanzi\b/);
      if (/topK/.test(name) && !/2\.5/.test(name)) expect(message).toMatch(/topK/);
    });
  }
});

describe('a broken model fails alone', () => {
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'hwr-models-'));
    await cp(join(SHIPPED_MODELS_DIR, 'digits'), join(modelsDir, 'digits'), { recursive: true });
    // broken: its weights no longer match SHA256SUMS. garbled: its metadata is not JSON.
    await cp(join(SHIPPED_MODELS_DIR, 'digits'), join(modelsDir, 'broken'), { recursive: true });
    const weights = await readFile(join(modelsDir, 'broken', 'weights.bin'));
    weights.fill(7, 100, 200);
    await writeFile(join(modelsDir, 'broken', 'weights.bin'), weights);
    await cp(join(SHIPPED_MODELS_DIR, 'digits'), join(modelsDir, 'garbled'), { recursive: true });
    await writeFile(join(modelsDir, 'garbled', 'metadata.json'), '{ not json');
  });

  afterAll(async () => {
    await rm(modelsDir, { recursive: true, force: true });
  });

  for (const workers of [1, 0]) {
    it(`${workers ? 'in the worker pool' : 'on the event loop (workers: 0)'}: 503 for that model, digits keeps serving`, async () => {
      const server = buildServer({ webRoot: false, modelsDir, workers });
      const url = await listen(server);
      try {
        await waitUntilHealthy(url);
        const listed = await request(url, '/api/models');
        expect(listed.body.models.map((model: { name: string }) => model.name)).toEqual(['broken', 'digits', 'garbled']);
        expect(listed.body.models[2].error.code).toBe('BAD_MODEL');
        for (let round = 0; round < 2; round++) {
          expect(expectError(await postJson(url, '/api/predict?model=broken', { image: dataUrl(digitImage) }), 503, 'MODEL_NOT_READY')).toMatch(/"broken".*SHA-256|"broken".*checksum/i);
          expect(expectError(await postJson(url, '/api/predict?model=garbled', { image: dataUrl(digitImage) }), 503, 'MODEL_NOT_READY')).toMatch(/"garbled"/);
          const ok = await postJson(url, '/api/predict', { image: dataUrl(digitImage), model: 'digits' });
          expect(ok.status).toBe(200);
          expect(ok.body.label).toBe(digit!.label);
        }
        expect((await request(url, '/api/model?model=broken')).status).toBe(200); // its metadata is fine
        expect((await fetch(`${url}/api/health`)).status).toBe(200);
      } finally {
        await server.close();
      }
    });
  }
});

describe('two workers', () => {
  // Which worker takes a job is not visible from outside, and loading hanzi takes only a few hundred ms, so this
  // checks that requests for two models at once are both answered rightly, not the order of the answers.
  it('answers hanzi (loading it on first use) and digits at the same time', async () => {
    const server = buildServer({ webRoot: false, workers: 2 });
    const url = await listen(server);
    try {
      await waitUntilHealthy(url);
      const [hanziAnswer, digitAnswer, second] = await Promise.all([
        postJson(url, '/api/predict', { image: dataUrl(hanzi), model: 'hanzi' }),
        postJson(url, '/api/predict', { image: dataUrl(digitImage) }),
        postJson(url, '/api/predict', { image: dataUrl(await hanziPng('中')), model: 'hanzi', topK: 2 }),
      ]);
      await expectCandidates(hanziAnswer.body, 10);
      await expectCandidates(second.body, 2);
      expect(digitAnswer.body).toMatchObject({ label: digit!.label, model: 'digits' });
    } finally {
      await server.close();
    }
  });
});

describe('models per worker', () => {
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'hwr-models-'));
    for (const name of ['digits', 'a', 'b', 'c', 'd']) await cp(join(SHIPPED_MODELS_DIR, 'digits'), join(modelsDir, name), { recursive: true });
  });

  afterAll(async () => {
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('a worker keeps at most 3 models, the least recently used freed, and loads one again when asked', async () => {
    const pool = await RecognitionPool.start({ model: 'digits', modelsDir, workers: 1 });
    const server = buildServer({ webRoot: false, modelsDir, recognizer: pool });
    const url = await listen(server);
    try {
      for (const name of ['a', 'b', 'c', 'd', 'a', 'digits']) {
        const answer = await postJson(url, `/api/predict?model=${name}`, { image: dataUrl(digitImage) });
        expect(answer.body).toMatchObject({ label: digit!.label, model: name });
        expect(pool.loadedModels[0]!.length).toBeLessThanOrEqual(3);
      }
      const held = pool.loadedModels[0]!.map((key) => key.replace(/@.*/, '').split(/[\\/]/).pop());
      expect(held).toEqual(['d', 'a', '']); // '' is the pool's own model, digits (its key is '@' alone): loaded again
    } finally {
      await server.close();
    }
  });

  it('a free worker that holds the model is preferred: only one of two workers loads hanzi for requests one after another', async () => {
    const pool = await RecognitionPool.start({ model: 'digits', workers: 2 });
    const server = buildServer({ webRoot: false, recognizer: pool });
    const url = await listen(server);
    try {
      for (let i = 0; i < 4; i++) expect((await postJson(url, '/api/predict?model=hanzi&topK=1', { image: dataUrl(hanzi) })).status).toBe(200);
      const holding = pool.loadedModels.filter((keys) => keys.some((key) => /[\\/]hanzi@/.test(key)));
      expect(holding).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('hanzi accuracy through the API', () => {
  it('the top candidate is the drawn character for most of 10 characters', async () => {
    const images = await Promise.all(CHARACTERS.map(async (char) => dataUrl(await hanziPng(char))));
    const answer = await postJson(base, '/api/predict/batch', { images, model: 'hanzi' });
    expect(answer.status).toBe(200);
    const labels = answer.body.results.map((item: any) => item.result?.label);
    const right = labels.filter((label: string, i: number) => label === CHARACTERS[i]).length;
    expect(right, `recognized ${labels.join('')} for ${CHARACTERS.join('')}`).toBeGreaterThanOrEqual(9);
    const inTop10 = answer.body.results.filter((item: any, i: number) => item.result?.candidates.some((c: { label: string }) => c.label === CHARACTERS[i])).length;
    expect(inTop10).toBe(CHARACTERS.length);
  });
});

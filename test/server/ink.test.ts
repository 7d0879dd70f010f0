/**
 * Ink through the HTTP API (issue 11): `{ "ink": { "strokes": ... } }` as the JSON body of /api/predict, as a
 * multipart field or file, and as batch items beside images. The server draws ink with the core's one path
 * (`inkImageFor`, in the pool worker), so its answer equals `recognizer.recognizeInk` in this process. Every hostile
 * ink (huge coordinates, numbers as strings, a million points, deep nesting, wrong types, empty strokes) is a 400 or
 * 422 naming the field, never a 500, and the server keeps serving.
 *
 * Uses the shipped digits model and the fixture test/fixtures/ink/tiny.json (l, o, x drawn by plotter-font writers).
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inkToJson, type InkJson } from '../../src/core/ink.ts';
import type { Recognizer } from '../../src/core/recognizer.ts';
import { readInkDataset, sampleInk } from '../../src/data/inkDataset.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { buildServer } from '../../src/server/server.ts';
import { dataUrl, digitPng, mnistTestDigits } from '../fixtures/images.ts';

const TINY = new URL('../fixtures/ink/tiny.json', import.meta.url);

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function send(base: string, path: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body };
}

function postText(base: string, path: string, text: string): Promise<Answer> {
  return send(base, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
}

const postJson = (base: string, path: string, value: unknown): Promise<Answer> => postText(base, path, JSON.stringify(value));

async function waitUntilHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await send(base, '/api/health', {})).status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${base} never became healthy`);
}

function expectError(answer: Answer, status: number, code: string, message?: RegExp): void {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(answer.body)).toEqual(['error']);
  if (message) expect(answer.body.error.message).toMatch(message);
}

let pooled: FastifyInstance;
let inThread: FastifyInstance;
let base: string;
let threadBase: string;
let recognizer: Recognizer;
let inks: InkJson[];
let labels: string[];

beforeAll(async () => {
  // A pool of one worker (ink drawn there), and a server recognizing on its event loop (ink drawn here).
  pooled = buildServer({ webRoot: false, workers: 1 });
  inThread = buildServer({ webRoot: false, recognizer: loadRecognizer('digits') });
  [base, threadBase] = await Promise.all([listen(pooled), listen(inThread)]);
  recognizer = await loadRecognizer('digits');
  const dataset = readInkDataset(await readFile(TINY, 'utf8'), 'tiny.json');
  // One sample of each class: l, o, x.
  const picked = dataset.classes.map((label) => dataset.samples.find((sample) => sample.label === label)!);
  inks = picked.map((sample) => inkToJson(sampleInk(sample)));
  labels = picked.map((sample) => sample.label);
  await Promise.all([waitUntilHealthy(base), waitUntilHealthy(threadBase)]);
}, 120_000);

afterAll(async () => {
  recognizer?.dispose();
  await Promise.all([pooled?.close(), inThread?.close()]);
});

describe('POST /api/predict with ink', () => {
  it('answers as recognizer.recognizeInk does in-process: same label, probabilities and processed input (pool and event loop)', async () => {
    for (const [server, where] of [[base, 'pool'], [threadBase, 'event loop']] as const) {
      for (const ink of inks) {
        const answer = await postJson(server, '/api/predict', { ink });
        expect(answer.status, where).toBe(200);
        const local = await recognizer.recognizeInk(sampleInk({ label: 'l', strokes: ink.strokes }));
        expect({ label: answer.body.label, probability: answer.body.probability, probabilities: answer.body.probabilities }, where)
          .toEqual({ label: local.label, probability: local.probability, probabilities: local.probabilities });
        expect(answer.body.timings.decodeMs).toBe(0);
        const png = Buffer.from(answer.body.processed.split(',')[1], 'base64');
        const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).toEqual([28, 28]);
        // The processed input is the same pixels as the core's (PNG of the [0, 1] input, one channel).
        const expected = Array.from(local.processed, (v) => Math.round(v * 255));
        expect(Array.from(data.subarray(0, 28 * 28 * info.channels)).filter((_, i) => i % info.channels === 0)).toEqual(expected);
      }
    }
  });

  it('recognizes the tiny ink "l" as 1 and "o" as 0 with the digits model', async () => {
    const answers = await Promise.all(inks.slice(0, 2).map((ink) => postJson(base, '/api/predict', { ink })));
    expect(labels.slice(0, 2)).toEqual(['l', 'o']);
    expect(answers.map((answer) => answer.body.label)).toEqual(['1', '0']);
  });

  it('takes model and topK beside the ink, as for images', async () => {
    const answer = await postJson(base, '/api/predict?topK=2', { ink: inks[0], model: 'digits' });
    expect(answer.status).toBe(200);
    expect(answer.body.model).toBe('digits');
    expect(answer.body.candidates).toHaveLength(2);
  });

  it('with model=hanzi, draws at that model\'s pen width (cjk-fit-v1) and answers as its recognizeInk does', async () => {
    const ten = { strokes: [[[100, 500], [900, 500]], [[500, 100], [500, 900]]] }; // 十
    const answer = await postJson(base, '/api/predict', { ink: ten, model: 'hanzi', topK: 3 });
    expect(answer.status).toBe(200);
    const hanzi = await loadRecognizer('hanzi');
    try {
      const local = await hanzi.recognizeInk(sampleInk({ label: '十', strokes: ten.strokes as InkJson['strokes'] }), { topK: 3 });
      expect({ label: answer.body.label, candidates: answer.body.candidates }).toEqual({ label: local.label, candidates: local.topK });
      expect(answer.body.label).toBe('十');
    } finally {
      hanzi.dispose();
    }
  }, 60_000);

  it('accepts ink as a multipart field and as a multipart file named "ink"', async () => {
    const field = new FormData();
    field.append('ink', JSON.stringify(inks[1]));
    field.append('topK', '3');
    const file = new FormData();
    file.append('ink', new Blob([JSON.stringify(inks[1])], { type: 'application/json' }), 'o.json');
    const [a, b] = await Promise.all([send(base, '/api/predict', { method: 'POST', body: field }), send(base, '/api/predict', { method: 'POST', body: file })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.label).toBe('0');
    expect(a.body.candidates).toHaveLength(3);
    expect(b.body.probabilities).toEqual(a.body.probabilities);
    const broken = new FormData();
    broken.append('ink', '{"strokes": [[[1, 2]');
    expectError(await send(base, '/api/predict', { method: 'POST', body: broken }), 400, 'BAD_INK', /multipart field ink: not JSON/);
  });
});

describe('POST /api/predict/batch with ink items', () => {
  it('recognizes images and inks in one batch; a bad item gets its error in its own slot', async () => {
    const [digit] = await mnistTestDigits(1);
    const image = dataUrl(await digitPng(digit!));
    const answer = await postJson(base, '/api/predict/batch', {
      images: [image, { ink: inks[0] }, { ink: { strokes: [[[0, 'NaN']]] } }, 'not base64!', { ink: inks[1] }, { strokes: inks[1]!.strokes }, { ink: { strokes: [] } }],
    });
    expect(answer.status).toBe(200);
    const { results } = answer.body;
    expect(results).toHaveLength(7);
    expect(results[0].result.label).toBe(digit!.label);
    expect(results[0].result.timings.decodeMs).toBeGreaterThan(0);
    expect(results[1].result.label).toBe('1');
    expect(results[1].result.timings.decodeMs).toBe(0);
    expect(results[2].error.code).toBe('BAD_INK');
    expect(results[2].error.message).toMatch(/body\.images\[2\]\.ink\.strokes\[0\]\[0\]: y must be a finite number/);
    expect(results[3].error.code).toBe('BAD_REQUEST');
    expect(results[4].result.label).toBe('0');
    expect(results[5].error).toEqual({ code: 'BAD_INK', message: expect.stringMatching(/body\.images\[5\]: expected an image string .* or an object \{ "ink"/) });
    expect(results[6].error.code).toBe('NO_INK');
    // Batch and single answers agree (one forward pass of several inputs vs one).
    const single = await postJson(base, '/api/predict', { ink: inks[0] });
    results[1].result.probabilities.forEach((p: number, i: number) => expect(p).toBeCloseTo(single.body.probabilities[i], 6));
  });

  it('bounds the ink points of a batch (LIMITS.maxBatchInkPoints, 100,000): items past it get BAD_INK in their slot', async () => {
    const big = { ink: { strokes: [Array.from({ length: 19_000 }, (_, i) => [i % 300, (i * 7) % 200])] } };
    const answer = await postJson(base, '/api/predict/batch', { images: [big, big, big, big, big, big, { ink: inks[0] }] });
    expect(answer.status).toBe(200);
    const codes = answer.body.results.map((entry: any) => entry.error?.code ?? entry.result.label); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(codes.slice(0, 5).every((code: string) => code !== 'BAD_INK')).toBe(true);
    expect(codes[5]).toBe('BAD_INK');
    expect(answer.body.results[5].error.message).toMatch(/body\.images\[5\]\.ink: the batch's inks hold more than 100000 points together/);
    expect(codes[6]).toBe('1'); // a small ink after it still fits
  });

  it('a batch of inks only, on the event-loop server too', async () => {
    const answer = await postJson(threadBase, '/api/predict/batch', { images: inks.map((ink) => ({ ink })) });
    expect(answer.status).toBe(200);
    expect(answer.body.results.slice(0, 2).map((entry: any) => entry.result.label)).toEqual(['1', '0']); // eslint-disable-line @typescript-eslint/no-explicit-any
  });
});

describe('hostile ink: a 4xx naming the field, never a 500, and the server keeps serving', () => {
  const point = (x: unknown, y: unknown): unknown => ({ ink: { strokes: [[[0, 0], [x, y]]] } });
  const cases: Array<{ name: string; body: string | unknown; status: number; code: string; message: RegExp }> = [
    { name: 'a coordinate of 1e308', body: point(1e308, 5), status: 400, code: 'BAD_INK', message: /body\.ink\.strokes\[0\]\[1\]: x = 1e\+308 is beyond the limit/ },
    { name: 'a coordinate of 1e400 (Infinity once parsed)', body: '{"ink": {"strokes": [[[0, 0], [1e400, 5]]]}}', status: 400, code: 'BAD_INK', message: /strokes\[0\]\[1\]: x must be a finite number, got number Infinity/ },
    { name: 'NaN as a string', body: point('NaN', 5), status: 400, code: 'BAD_INK', message: /strokes\[0\]\[1\]: x must be a finite number, got string "NaN"/ },
    { name: 'numbers as strings', body: point('12', '13'), status: 400, code: 'BAD_INK', message: /x must be a finite number, got string "12"/ },
    { name: 'null coordinates', body: point(null, 1), status: 400, code: 'BAD_INK', message: /x must be a finite number, got null/ },
    { name: 'a bad t', body: { ink: { strokes: [[[0, 0, 'soon']]] } }, status: 400, code: 'BAD_INK', message: /strokes\[0\]\[0\]: t must be a finite number of ms/ },
    { name: '100,000 points (over INK_LIMITS.maxPoints)', body: { ink: { strokes: [Array.from({ length: 100_000 }, (_, i) => [i % 100, i % 7])] } }, status: 400, code: 'BAD_INK', message: /more than the limit of 20000 points/ },
    { name: '10^6 points (over the 5 MB body limit)', body: `{"ink":{"strokes":[[${'[1,2],'.repeat(1_000_000)}[1,2]]]}}`, status: 413, code: 'BODY_TOO_LARGE', message: /over the limit of 5 MB/ },
    { name: '600,000 one-point strokes (under 5 MB, over maxStrokes)', body: `{"ink":{"strokes":[${'[[1,2]],'.repeat(600_000)}[[1,2]]]}}`, status: 400, code: 'BAD_INK', message: /body\.ink\.strokes: must NOT have more than 1000 items/ },
    { name: '2,000 strokes (over INK_LIMITS.maxStrokes)', body: { ink: { strokes: Array.from({ length: 2_000 }, () => [[1, 2]]) } }, status: 400, code: 'BAD_INK', message: /body\.ink\.strokes: must NOT have more than 1000 items/ },
    { name: 'arrays nested a million deep as a point', body: `{"ink":{"strokes":[[${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}]]}}`, status: 400, code: 'BAD_INK', message: /strokes\[0\]\[0\]/ },
    { name: 'arrays nested 100,000 deep as a coordinate', body: `{"ink":{"strokes":[[[${'['.repeat(100_000)}${']'.repeat(100_000)}, 1]]]}}`, status: 400, code: 'BAD_INK', message: /strokes\[0\]\[0\]: x must be a finite number, got an array/ },
    { name: 'ink as a string', body: { ink: 'M 0 0 L 10 10' }, status: 400, code: 'BAD_INK', message: /body\.ink: must be object/ },
    { name: 'ink as an array', body: { ink: [[[0, 0]]] }, status: 400, code: 'BAD_INK', message: /body\.ink: must be object/ },
    { name: 'ink without strokes', body: { ink: { points: [] } }, status: 400, code: 'BAD_INK', message: /body\.ink: must have required property 'strokes'/ },
    { name: 'strokes as an object', body: { ink: { strokes: { 0: [[1, 2]] } } }, status: 400, code: 'BAD_INK', message: /body\.ink\.strokes: must be array/ },
    { name: 'a point as a string', body: { ink: { strokes: [['1,2']] } }, status: 400, code: 'BAD_INK', message: /body\.ink\.strokes\[0\]\[0\]: must be array/ },
    { name: 'a point of one number', body: { ink: { strokes: [[[1]]] } }, status: 400, code: 'BAD_INK', message: /body\.ink\.strokes\[0\]\[0\]: must NOT have fewer than 2 items/ },
    { name: 'a negative width', body: { ink: { strokes: [[[1, 2]]], width: -3 } }, status: 400, code: 'BAD_INK', message: /body\.ink\.width: expected a number > 0/ },
    { name: 'no strokes', body: { ink: { strokes: [] } }, status: 422, code: 'NO_INK', message: /body\.ink\.strokes: no stroke has a point/ },
    { name: 'empty strokes', body: { ink: { strokes: [[], []] } }, status: 422, code: 'NO_INK', message: /no stroke has a point/ },
    { name: 'both image and ink', body: { image: 'AAAA', ink: { strokes: [[[1, 2]]] } }, status: 400, code: 'BAD_REQUEST', message: /both "image" and "ink"/ },
    { name: 'neither image nor ink', body: { model: 'digits' }, status: 400, code: 'BAD_REQUEST', message: /send JSON \{ "image".*\{ "ink"/ },
  ];

  it.each(cases)('$name: $status $code', async ({ body, status, code, message }) => {
    const answer = await postText(base, '/api/predict', typeof body === 'string' ? body : JSON.stringify(body));
    expectError(answer, status, code, message);
  });

  it('still serves after all of them, and a single dot is ink', async () => {
    expect((await send(base, '/api/health', {})).status).toBe(200);
    const dot = await postJson(base, '/api/predict', { ink: { strokes: [[[5, 5]]] } });
    expect(dot.status).toBe(200);
    expect((await postJson(base, '/api/predict', { ink: inks[1] })).body.label).toBe('0');
  });
});

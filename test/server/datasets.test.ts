/**
 * `/api/datasets` against a real server on a loopback port: writes off without a token (403), the token (401 without,
 * 403 wrong, then 200/201), the round trip (GET gives what was PUT), validation (400 `BAD_DATASET` naming the field),
 * names that try to leave the folder (400), the limits (413 per dataset, for the folder's count and bytes, under
 * concurrent writes too), DELETE then 404, atomic writes (no temporary file left; a refused write keeps the old file)
 * and a corrupt stored file (500 naming it, listed with its error; the server keeps serving).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInkDataset, type InkDataset } from '../../src/data/inkDataset.ts';
import { DATASET_STORE_DEFAULTS, datasetStoreOptionsFromEnv, type DatasetStoreOptions } from '../../src/server/datasetStore.ts';
import { buildServer } from '../../src/server/server.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { rawRequest } from './rawHttp.ts';

const TOKEN = 'correct horse battery staple';
const TINY_TEXT = await readFile(new URL('../fixtures/ink/tiny.json', import.meta.url), 'utf8');
const TINY = readInkDataset(TINY_TEXT, 'tiny.json');
const tempDir = useTempDirs('datasets');

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
  headers: Headers;
}

let open: FastifyInstance; // no token: read-only
let guarded: FastifyInstance; // with a token
let openBase: string;
let base: string;
let openDir: string;
let dir: string;

/** A server whose model never loads (the dataset routes do not need one). */
function server(datasets: DatasetStoreOptions): FastifyInstance {
  return buildServer({ webRoot: false, recognizer: Promise.reject(new Error('no model in this test')), datasets });
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function call(root: string, method: string, path: string, options: { body?: unknown; text?: string; token?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = options.text;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(root + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // empty (204) or not JSON
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

function expectError(answer: Answer, status: number, code: string, message?: RegExp): void {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(answer.body)).toEqual(['error']);
  if (message) expect(answer.body.error.message).toMatch(message);
}

/** tiny.json under another script name, with `extra` samples copied from its own (to grow it). */
function variant(script: string, extra = 0): InkDataset {
  const samples = [...TINY.samples];
  for (let i = 0; i < extra; i++) samples.push({ ...TINY.samples[i % TINY.samples.length]!, id: `copy-${i}` });
  return { ...TINY, script, samples };
}

async function filesIn(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

beforeAll(async () => {
  openDir = await tempDir();
  dir = join(await tempDir(), 'store'); // created by the first write
  await writeFile(join(openDir, 'by-hand.json'), TINY_TEXT);
  await writeFile(join(openDir, 'broken.json'), '{"format": "hwr-ink-dataset", "version": 1, "script": "x", "classes": [], "samples": []}');
  await writeFile(join(openDir, 'Not-A-Slug.json'), TINY_TEXT); // not listed: not a dataset name
  open = server({ dir: openDir, maxBytes: 1 << 20, maxCount: 10, maxTotalBytes: 10 << 20 });
  guarded = server({ dir, token: TOKEN, maxBytes: 3 << 20, maxCount: 4, maxTotalBytes: 120_000 });
  [openBase, base] = await Promise.all([listen(open), listen(guarded)]);
});

afterAll(async () => {
  await Promise.all([open?.close(), guarded?.close()]);
});

describe('without HWR_DATASET_TOKEN: reads open, writes 403', () => {
  it('lists the folder (a corrupt file with its error) and serves a file', async () => {
    const list = await call(openBase, 'GET', '/api/datasets', { token: null });
    expect(list.status).toBe(200);
    expect(list.body.writes).toBe(false);
    expect(list.body.datasets.map((d: { name: string }) => d.name)).toEqual(['broken', 'by-hand']);
    expect(list.body.datasets[1]).toMatchObject({ name: 'by-hand', script: 'tiny', classes: 3, samples: TINY.samples.length, bytes: Buffer.byteLength(TINY_TEXT) });
    expect(Date.parse(list.body.datasets[1].modified)).toBeGreaterThan(0);
    expect(list.body.datasets[0].error).toEqual({ code: 'BAD_DATASET', message: expect.stringMatching(/broken\.json: classes must be a non-empty array/) });
    const file = await call(openBase, 'GET', '/api/datasets/by-hand', { token: null });
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toMatch(/^application\/json/);
    expect(file.body).toEqual(JSON.parse(TINY_TEXT));
  });

  it('a corrupt stored file is a 500 naming it, and the server keeps serving', async () => {
    expectError(await call(openBase, 'GET', '/api/datasets/broken', { token: null }), 500, 'BAD_DATASET', /stored dataset "broken".*broken\.json: classes must be/);
    expect((await call(openBase, 'GET', '/api/datasets/by-hand', { token: null })).status).toBe(200);
  });

  it('PUT, POST and DELETE answer 403 saying how to enable writes; nothing changes', async () => {
    for (const method of ['PUT', 'POST', 'DELETE']) {
      expectError(await call(openBase, method, '/api/datasets/by-hand', { body: TINY, token: null }), 403, 'FORBIDDEN', /HWR_DATASET_TOKEN/);
    }
    expect(await filesIn(openDir)).toEqual(['Not-A-Slug.json', 'broken.json', 'by-hand.json']);
  });

  it('GET /api/health says dataset writes are off', async () => {
    expect((await call(openBase, 'GET', '/api/health')).body.datasetWrites).toBe(false);
    expect((await call(base, 'GET', '/api/health')).body.datasetWrites).toBe(true);
  });
});

describe('with HWR_DATASET_TOKEN', () => {
  it('every route needs the token: 401 without (WWW-Authenticate), 403 when wrong', async () => {
    for (const [method, path] of [['GET', '/api/datasets'], ['GET', '/api/datasets/x'], ['PUT', '/api/datasets/x'], ['DELETE', '/api/datasets/x']] as const) {
      const missing = await call(base, method, path, { token: null, body: method === 'PUT' ? TINY : undefined });
      expectError(missing, 401, 'UNAUTHORIZED', /Authorization: Bearer/);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expectError(await call(base, method, path, { token: `${TOKEN}!`, body: method === 'PUT' ? TINY : undefined }), 403, 'FORBIDDEN', /not this server's HWR_DATASET_TOKEN/);
    }
    expectError(await call(base, 'GET', '/api/datasets', { token: null, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } }), 401, 'UNAUTHORIZED');
    expectError(await call(base, 'GET', '/api/datasets', { token: '' }), 401, 'UNAUTHORIZED');
  });

  it('PUT creates (201, Location), GET gives back what was PUT, PUT again replaces (200), the list summarizes', async () => {
    const created = await call(base, 'PUT', '/api/datasets/tiny-1', { body: TINY });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/datasets/tiny-1');
    expect(created.body).toMatchObject({ name: 'tiny-1', script: 'tiny', classes: 3, samples: TINY.samples.length });
    const back = await call(base, 'GET', '/api/datasets/tiny-1');
    expect(back.status).toBe(200);
    expect(back.body).toEqual(TINY);
    const replaced = await call(base, 'POST', '/api/datasets/tiny-1', { body: variant('tiny-two', 3) });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ script: 'tiny-two', samples: TINY.samples.length + 3 });
    expect((await call(base, 'GET', '/api/datasets/tiny-1')).body).toEqual(variant('tiny-two', 3));
    const list = await call(base, 'GET', '/api/datasets');
    expect(list.body.writes).toBe(true);
    expect(list.body.limits).toEqual({ maxBytes: 3 << 20, maxCount: 4, maxTotalBytes: 120_000 });
    expect(list.body.datasets).toEqual([{ name: 'tiny-1', script: 'tiny-two', classes: 3, samples: TINY.samples.length + 3, bytes: expect.any(Number), modified: expect.any(String) }]);
    // Unknown fields survive the round trip.
    await call(base, 'PUT', '/api/datasets/tiny-1', { body: { ...TINY, teacher: { note: 'kept' } } });
    expect((await call(base, 'GET', '/api/datasets/tiny-1')).body.teacher).toEqual({ note: 'kept' });
  });

  it('malformed and invalid bodies: 400 naming the field; the stored file is unchanged', async () => {
    const before = await readFile(join(dir, 'tiny-1.json'), 'utf8');
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { text: '{"format": "hwr-ink-dataset",' }), 400, 'MALFORMED_JSON');
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { body: [TINY] }), 400, 'BAD_REQUEST', /body must be object/);
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { text: TINY_TEXT, headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const badPoint = structuredClone(TINY);
    (badPoint.samples[1]!.strokes[0]![0] as unknown[])[1] = 'NaN';
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { body: badPoint }), 400, 'BAD_DATASET', /^body: samples\[1\]\.strokes\[0\]\[0\]: y must be a finite number/);
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { body: { ...TINY, format: 'other' } }), 400, 'BAD_DATASET', /format must be "hwr-ink-dataset"/);
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { body: { ...TINY, samples: [{ label: 'q', strokes: [[[1, 2]]] }] } }), 400, 'BAD_DATASET', /samples\[0\]\.label "q" is not one of the classes/);
    // An unknown field nested a million arrays deep parses, validates, but cannot be written as JSON: 400, not 500.
    const deep = `${TINY_TEXT.trim().slice(0, -1)}, "extra": ${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    expectError(await call(base, 'PUT', '/api/datasets/tiny-1', { text: deep }), 400, 'BAD_DATASET', /cannot be written as JSON/);
    expect(await readFile(join(dir, 'tiny-1.json'), 'utf8')).toBe(before);
  });

  it('names that are not slugs, or try to leave the folder, are 400; nothing is written outside', async () => {
    // (fetch resolves "..", "%2e%2e" and "." segments itself: those are sent raw below.)
    const names = ['.hidden', '..%2F..%2Fetc%2Fpasswd', '%2E%2E%2Fx', '..%5Cwin', 'UPPER', 'a%20b', 'a%00b', '-lead', 'x'.repeat(65), '%C3%A9t%C3%A9'];
    for (const name of names) {
      expectError(await call(base, 'PUT', `/api/datasets/${name}`, { body: TINY }), 400, 'BAD_REQUEST', /params\/name must match pattern/);
      expectError(await call(base, 'GET', `/api/datasets/${name}`), 400, 'BAD_REQUEST');
    }
    const port = Number(new URL(base).port);
    for (const name of ['..', '%2e%2e', '.']) {
      const raw = await rawRequest(port, [`GET /api/datasets/${name} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`]);
      expect({ name, status: raw.status, code: raw.body?.error?.code }).toEqual({ name, status: 400, code: 'BAD_REQUEST' });
    }
    expect(await filesIn(dir)).toEqual(['tiny-1.json']);
  });

  it('limits: a dataset over maxBytes is 413; the folder full by count or bytes is 413 STORAGE_FULL, also under concurrent writes', async () => {
    const huge = `{"format":"hwr-ink-dataset","version":1,"script":"x","classes":["a"],"samples":[],"pad":"${'x'.repeat(3 << 20)}"}`;
    expectError(await call(base, 'PUT', '/api/datasets/huge', { text: huge }), 413, 'BODY_TOO_LARGE', /over the limit of 3 MB \(3145728 bytes\)/);
    // Count: 4 at most; tiny-1 is there, six new ones race for 3 places.
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => call(base, 'PUT', `/api/datasets/race-${i}`, { body: variant(`race-${i}`) })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 201, 413, 413, 413]);
    for (const answer of answers.filter((a) => a.status === 413)) expectError(answer, 413, 'STORAGE_FULL', /holds 4 datasets, the limit \(HWR_DATASET_MAX_COUNT\)/);
    expect((await filesIn(dir)).length).toBe(4);
    // Replacing one is not a new one: allowed at the count limit. Bytes: 120,000 in all.
    const race = answers.findIndex((a) => a.status === 201) + 1;
    expect((await call(base, 'PUT', `/api/datasets/race-${race}`, { body: variant('again') })).status).toBe(200);
    const before = await readFile(join(dir, `race-${race}.json`), 'utf8');
    expectError(await call(base, 'PUT', `/api/datasets/race-${race}`, { body: variant('big', 1000) }), 413, 'STORAGE_FULL', /over the limit of 120000 bytes \(HWR_DATASET_MAX_TOTAL_BYTES\)/);
    expect(await readFile(join(dir, `race-${race}.json`), 'utf8')).toBe(before);
  });

  it('DELETE answers 204, then GET and DELETE are 404; no temporary file is ever left', async () => {
    const deleted = await call(base, 'DELETE', '/api/datasets/tiny-1');
    expect(deleted.status).toBe(204);
    expectError(await call(base, 'GET', '/api/datasets/tiny-1'), 404, 'NOT_FOUND', /no dataset named "tiny-1"/);
    expectError(await call(base, 'DELETE', '/api/datasets/tiny-1'), 404, 'NOT_FOUND');
    const files = await filesIn(dir);
    expect(files.filter((file) => !/^race-\d\.json$/.test(file))).toEqual([]);
    expect((await call(base, 'GET', '/api/datasets')).body.datasets.map((d: { name: string }) => d.name)).toEqual(files.map((file) => file.slice(0, -5)));
  });

  it('a file changed by hand is validated again when read', async () => {
    const [first] = await filesIn(dir);
    await writeFile(join(dir, first!), '{"format": "hwr-ink-dataset", "version": 2}');
    expectError(await call(base, 'GET', `/api/datasets/${first!.slice(0, -5)}`), 500, 'BAD_DATASET', /version 2 is not supported/);
    const listed = (await call(base, 'GET', '/api/datasets')).body.datasets.find((d: { name: string }) => `${d.name}.json` === first);
    expect(listed.error.code).toBe('BAD_DATASET');
    await mkdir(join(dir, 'sub.json'), { recursive: true }); // a folder named like a dataset is skipped, not a crash
    expect((await call(base, 'GET', '/api/datasets')).status).toBe(200);
  });
});

describe('datasetStoreOptionsFromEnv', () => {
  it('defaults: data/datasets under the working directory, no token, 5 MiB / 100 / 200 MiB', () => {
    expect(datasetStoreOptionsFromEnv({}, '/srv/hwr')).toEqual({ dir: '/srv/hwr/data/datasets', maxBytes: 5 << 20, maxCount: 100, maxTotalBytes: 200 << 20 });
    expect(DATASET_STORE_DEFAULTS.dir).toBe('data/datasets');
  });

  it('reads HWR_DATA_DIR (relative to the working directory or absolute), the token and the limits', () => {
    const env = { HWR_DATA_DIR: 'ink', HWR_DATASET_TOKEN: 't0ken', HWR_DATASET_MAX_BYTES: '1000', HWR_DATASET_MAX_COUNT: '3', HWR_DATASET_MAX_TOTAL_BYTES: '9000' };
    expect(datasetStoreOptionsFromEnv(env, '/srv/hwr')).toEqual({ dir: '/srv/hwr/ink', token: 't0ken', maxBytes: 1000, maxCount: 3, maxTotalBytes: 9000 });
    expect(datasetStoreOptionsFromEnv({ HWR_DATA_DIR: '/var/lib/hwr', HWR_DATASET_TOKEN: '' }, '/srv').dir).toBe('/var/lib/hwr');
    expect(datasetStoreOptionsFromEnv({ HWR_DATASET_TOKEN: '' }, '/srv').token).toBeUndefined();
  });

  it('refuses a limit that is not a positive integer, naming the variable', () => {
    for (const value of ['abc', '0', '-5', '1.5', '1e400']) {
      expect(() => datasetStoreOptionsFromEnv({ HWR_DATASET_MAX_COUNT: value })).toThrow(new RegExp(`^HWR_DATASET_MAX_COUNT must be a positive integer, got "${value.replace('.', '\\.')}"$`));
    }
  });
});

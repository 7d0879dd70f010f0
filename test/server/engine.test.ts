/**
 * The server with either engine (`HWR_ENGINE` / `buildServer({ engine })`): the same labels, rejection and
 * probabilities (within 1e-4) for digit images and, by `model=hanzi`, for drawn characters, whether ONNX Runtime or
 * TF.js runs the models in the pool's workers or on the event loop; `GET /api/health` names the engine; a bad
 * `HWR_ENGINE` stops `main.ts` with one line.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderInk } from '../../src/core/ink.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import type { EngineChoice } from '../../src/node/recognizer.ts';
import { buildServer } from '../../src/server/server.ts';
import { blankPng, dataUrl, digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

interface Prediction {
  label: string | null;
  probability: number;
  probabilities?: number[];
  candidates: Array<{ label: string; probability: number }>;
}

const tempDir = useTempDirs('server-engine');

/** A character drawn from its stroke medians, dark ink on white, as a PNG (as test/server/models.test.ts does). */
async function hanziPng(char: string): Promise<Buffer> {
  const ink = await loadHanziInk(char);
  const gray = renderInk(ink, { width: 256, height: 256, strokeWidth: 12, margin: 32 });
  const paper = Buffer.from(gray.data.map((coverage) => 255 - coverage));
  return sharp(paper, { raw: { width: gray.width, height: gray.height, channels: 1 } }).png().toBuffer();
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function waitUntilHealthy(base: string): Promise<{ model: string; engine: string }> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const response = await fetch(`${base}/api/health`);
    if (response.status === 200) return (await response.json()) as { model: string; engine: string };
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${base} never became healthy`);
}

async function predictBatch(base: string, images: Buffer[], model?: string): Promise<Prediction[]> {
  const response = await fetch(`${base}/api/predict/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: images.map((png) => dataUrl(png)), ...(model ? { model, topK: 5 } : {}) }),
  });
  expect(response.status).toBe(200);
  const { results } = (await response.json()) as { results: Array<{ result?: Prediction; error?: unknown }> };
  expect(results.every((entry) => entry.result !== undefined)).toBe(true);
  return results.map((entry) => entry.result!);
}

/** What a server with `engine` answers for the digits (default model) and the characters (`model=hanzi`). */
async function answers(engine: EngineChoice, workers: number): Promise<{ health: { model: string; engine: string }; digits: Prediction[]; hanzi: Prediction[] }> {
  const app = buildServer({ webRoot: false, workers, engine });
  try {
    const base = await listen(app);
    const health = await waitUntilHealthy(base);
    return { health, digits: await predictBatch(base, digitImages), hanzi: await predictBatch(base, hanziImages, 'hanzi') };
  } finally {
    await app.close();
  }
}

function expectSame(a: Prediction[], b: Prediction[]): void {
  expect(a.map((p) => p.label)).toEqual(b.map((p) => p.label));
  a.forEach((p, i) => {
    const q = b[i]!;
    expect(Math.abs(p.probability - q.probability)).toBeLessThan(1e-4);
    expect(p.candidates.map((c) => c.label)).toEqual(q.candidates.map((c) => c.label));
    p.candidates.forEach((c, k) => expect(Math.abs(c.probability - q.candidates[k]!.probability)).toBeLessThan(1e-4));
    (p.probabilities ?? []).forEach((v, k) => expect(Math.abs(v - q.probabilities![k]!)).toBeLessThan(1e-4));
  });
}

let digitImages: Buffer[];
let digitLabels: string[];
let hanziImages: Buffer[];
const CHARACTERS = ['永', '中', '国', '人', '大'];
let savedCache: string | undefined;

beforeAll(async () => {
  // Pool workers read HWR_CACHE_DIR from this process's environment: keep the generated ONNX forms out of ~/.cache.
  savedCache = process.env.HWR_CACHE_DIR;
  process.env.HWR_CACHE_DIR = await tempDir();
  const digits = await mnistTestDigits(10);
  digitLabels = digits.map((d) => d.label);
  digitImages = await Promise.all(digits.map((digit) => digitPng(digit)));
  hanziImages = await Promise.all(CHARACTERS.map(hanziPng));
});

afterAll(() => {
  if (savedCache === undefined) delete process.env.HWR_CACHE_DIR;
  else process.env.HWR_CACHE_DIR = savedCache;
});

describe('the server with either engine', () => {
  it('answers the same labels and probabilities (within 1e-4) in the worker pool with HWR_ENGINE=onnx and =tfjs', async () => {
    const onnx = await answers('onnx', 1);
    const tfjs = await answers('tfjs', 1);
    expect(onnx.health).toMatchObject({ model: 'digits', engine: 'onnxruntime' });
    expect(tfjs.health).toMatchObject({ model: 'digits', engine: 'tfjs' });
    expect(onnx.digits.map((p) => p.label)).toEqual(digitLabels);
    expectSame(onnx.digits, tfjs.digits);
    expect(onnx.hanzi.map((p) => p.label)).toEqual(CHARACTERS);
    expectSame(onnx.hanzi, tfjs.hanzi);
  }, 60_000);

  it('on the event loop (workers: 0) too, and auto picks ONNX Runtime', async () => {
    const auto = await answers('auto', 0);
    const tfjs = await answers('tfjs', 0);
    expect(auto.health.engine).toBe('onnxruntime');
    expect(tfjs.health.engine).toBe('tfjs');
    expectSame(auto.digits, tfjs.digits);
    expectSame(auto.hanzi, tfjs.hanzi);
  }, 60_000);

  it('a blank image is still a per-image NO_INK error with ONNX Runtime', async () => {
    const app = buildServer({ webRoot: false, workers: 1, engine: 'onnx' });
    try {
      const base = await listen(app);
      await waitUntilHealthy(base);
      const response = await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: dataUrl(await blankPng()) }) });
      expect(response.status).toBe(422);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NO_INK');
    } finally {
      await app.close();
    }
  }, 60_000);

  it('main.ts refuses an HWR_ENGINE it does not know, in one line, before listening', async () => {
    const main = fileURLToPath(new URL('../../src/server/main.ts', import.meta.url));
    const result = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = execFile(process.execPath, ['--import', 'tsx', main], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HWR_ENGINE: 'gpu' } }, (_error, _stdout, stderr) => {
        done({ code: child.exitCode, stderr });
      });
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('HWR_ENGINE must be one of auto, onnx, tfjs, got "gpu"\n');
  }, 30_000);
});

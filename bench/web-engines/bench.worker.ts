/**
 * The benchmark's worker: loads a model with one engine through the page's own loader
 * (web/src/recognition/loadInBrowser.ts) and times its forward pass and its whole recognize path, as the page's
 * recognition worker runs them, a few calls per request (the page alternates the engines' requests).
 */
import type { PixelBuffer } from '../../src/core/types.ts';
import { loadInBrowser, type LoadedModel } from '../../web/src/recognition/loadInBrowser.ts';
import type { BenchRequest, LoadedAnswer, TimedKind, TimesAnswer } from './protocol.ts';

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<BenchRequest>) => void): void;
};

let state: { loaded: LoadedModel; image: PixelBuffer; input: Float32Array; batch: Float32Array; batchSize: number } | null = null;

async function load(request: BenchRequest & { type: 'load' }): Promise<LoadedAnswer> {
  const image = { width: request.size, height: request.size, data: new Uint8ClampedArray(request.pixels) };
  const started = performance.now();
  const loaded = await loadInBrowser(request.modelUrl, request.wasmUrl, undefined, { engine: request.engine, threads: request.threads, fallback: false });
  const loadMs = performance.now() - started;
  const first = await loaded.recognizer.recognize(image);
  const input = first.processed;
  const firstStarted = performance.now();
  const probabilities = await loaded.inference.run(input, 1);
  const firstRunMs = performance.now() - firstStarted;
  const batch = new Float32Array(input.length * request.batch);
  for (let i = 0; i < request.batch; i++) batch.set(input, i * input.length);
  state = { loaded, image, input, batch, batchSize: request.batch };
  return {
    type: 'loaded',
    engine: loaded.engine,
    backend: loaded.backend,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency,
    loadMs,
    firstRunMs,
    probabilities: Array.from(probabilities),
    label: first.label,
  };
}

async function time(kind: TimedKind, calls: number): Promise<TimesAnswer> {
  const { loaded, image, input, batch, batchSize } = state!;
  const call = kind === 'inference'
    ? () => loaded.inference.run(input, 1)
    : kind === 'recognize' ? () => loaded.recognizer.recognize(image) : () => loaded.inference.run(batch, batchSize);
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return { type: 'times', times };
}

scope.addEventListener('message', ({ data }) => {
  const answer = data.type === 'load'
    ? load(data)
    : data.type === 'time'
      ? time(data.kind, data.calls)
      : state!.loaded.recognizer.recognize({ width: data.size, height: data.size, data: new Uint8ClampedArray(data.pixels) }).then((result) => ({ type: 'recognized', label: result.label }));
  answer.then((message) => scope.postMessage(message), (error: unknown) => scope.postMessage({ type: 'error', message: String((error as Error).message ?? error) }));
});

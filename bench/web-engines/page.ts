/**
 * The benchmark's page: draws a test drawing on a 280x280 canvas (the pad's size), loads the model with each engine
 * in its own module worker (./bench.worker.ts), then times them in alternating rounds (a few calls of one engine, then
 * of the other, and again), so that load from other processes on the machine falls on both alike. Also times the
 * round trip page -> worker -> page of one recognition, as the app's BrowserEngine does it.
 * Driven by bench/web-engines.ts through `window.runBench`.
 */
import type { BenchRequest, LoadedAnswer, TimedKind, TimesAnswer } from './protocol.ts';

/** What bench/web-engines.ts asks for: one model, every engine. */
export interface RunOptions {
  script: 'digits' | 'hanzi';
  engines: Array<'tfjs' | 'onnxruntime-web'>;
  threads: number;
  calls: number;
  warmup: number;
  batch: number;
  batches: number;
  /** Rounds the timed calls are split into. */
  rounds: number;
}

/** One engine's measurements: its load answer and every timed call, ms. */
export type EngineResult = LoadedAnswer & Record<TimedKind | 'roundTrip', number[]>;

const SIZE = 280;

/** A drawing for `script`: black ink on white, like the pad: a 7, or a few strokes of a character. */
function drawing(script: RunOptions['script']): ImageData {
  const canvas = new OffscreenCanvas(SIZE, SIZE);
  const context = canvas.getContext('2d')!;
  context.fillStyle = '#fff';
  context.fillRect(0, 0, SIZE, SIZE);
  context.strokeStyle = '#000';
  context.lineCap = 'round';
  context.lineJoin = 'round';
  context.lineWidth = script === 'digits' ? 18 : 10;
  const strokes = script === 'digits'
    ? [[[80, 60], [200, 60], [120, 230]]]
    : [[[70, 80], [210, 80]], [[140, 40], [140, 250]], [[60, 160], [220, 160]], [[90, 200], [190, 240]]];
  for (const stroke of strokes) {
    context.beginPath();
    context.moveTo(stroke[0]![0]!, stroke[0]![1]!);
    for (const [x, y] of stroke.slice(1)) context.lineTo(x!, y!);
    context.stroke();
  }
  return context.getImageData(0, 0, SIZE, SIZE);
}

/** Posts `request` to `worker` and resolves with its next answer (rejects on an `error` answer). */
function ask<T>(worker: Worker, request: BenchRequest, transfer: Transferable[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = ({ data }: MessageEvent<{ type: string; message?: string }>): void => {
      worker.removeEventListener('message', onMessage);
      if (data.type === 'error') reject(new Error(data.message));
      else resolve(data as T);
    };
    worker.addEventListener('message', onMessage);
    worker.postMessage(request, transfer);
  });
}

async function roundTrips(worker: Worker, image: ImageData, calls: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const pixels = image.data.slice().buffer;
    const started = performance.now();
    await ask(worker, { type: 'recognize', pixels, size: SIZE }, [pixels]);
    times.push(performance.now() - started);
  }
  return times;
}

async function runBench(options: RunOptions): Promise<EngineResult[]> {
  const image = drawing(options.script);
  const workers: Worker[] = [];
  try {
    const results: EngineResult[] = [];
    for (const engine of options.engines) {
      const worker = new Worker(new URL('./bench.worker.ts', import.meta.url), { type: 'module' });
      workers.push(worker);
      worker.addEventListener('error', (event) => console.error(`bench worker: ${event.message}`));
      const loaded = await ask<LoadedAnswer>(worker, {
        type: 'load',
        modelUrl: new URL(`models/${options.script}/`, document.baseURI).href,
        wasmUrl: new URL('wasm/', document.baseURI).href,
        engine,
        threads: options.threads,
        pixels: image.data.slice().buffer,
        size: SIZE,
        batch: options.batch,
      });
      results.push({ ...loaded, inference: [], recognize: [], batch: [], roundTrip: [] });
    }
    for (const worker of workers) {
      for (const kind of ['inference', 'recognize'] as const) await ask(worker, { type: 'time', kind, calls: options.warmup });
      await ask(worker, { type: 'time', kind: 'batch', calls: 2 });
      await roundTrips(worker, image, options.warmup);
    }
    const share = (total: number): number => Math.max(1, Math.ceil(total / options.rounds));
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, worker] of workers.entries()) {
        for (const kind of ['inference', 'recognize'] as const) {
          results[i]![kind].push(...(await ask<TimesAnswer>(worker, { type: 'time', kind, calls: share(options.calls) })).times);
        }
        results[i]!.batch.push(...(await ask<TimesAnswer>(worker, { type: 'time', kind: 'batch', calls: share(options.batches) })).times);
        results[i]!.roundTrip.push(...await roundTrips(worker, image, share(options.calls)));
      }
    }
    return results;
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
document.getElementById('state')!.textContent = 'ready';

/**
 * Single-image latency of `recognizer.recognize` (preprocessing + the engine + calibration and decoding) on the
 * shipped models with each Node engine: ONNX Runtime (`engine: 'onnx'`, one intra-op thread) and TF.js (wasm).
 * Median and 90th percentile of `--calls` calls, and the median of the inference stage alone (`timings.inferenceMs`), (default 200) after `--warmup` calls (default 50), on one drawing per
 * model: an MNIST test digit scaled to 280x280 with a margin (dark on white, as an upload), and a character drawn
 * from its stroke medians at 256x256. The engines alternate in rounds of 20 calls so that a change in the machine's
 * load hits both alike.
 *
 *   npx tsx bench/engine-latency.ts [--calls 200] [--warmup 50]
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { renderInk } from '../src/core/ink.ts';
import type { Recognizer } from '../src/core/recognizer.ts';
import type { PixelBuffer } from '../src/core/types.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { loadRecognizer, type EngineChoice } from '../src/node/recognizer.ts';
import { median, percentile } from './stats.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '200' }, warmup: { type: 'string', default: '50' } } });
const CALLS = Number(values.calls);
const WARMUP = Number(values.warmup);
const ROUND = 20;

/** RGBA pixels of a gray image (0 = black). */
function rgba(gray: Uint8Array | Buffer, width: number, height: number): PixelBuffer {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < gray.length; i++) data.set([gray[i]!, gray[i]!, gray[i]!, 255], i * 4);
  return { width, height, data };
}

async function digitDrawing(): Promise<PixelBuffer> {
  const { test } = await loadMnist({ limit: 1 });
  const paper = Buffer.from(test.images.slice(0, 784).map((v) => 255 - v));
  const { data, info } = await sharp(paper, { raw: { width: 28, height: 28, channels: 1 } })
    .resize(280, 280, { kernel: 'cubic' })
    .extend({ top: 40, bottom: 40, left: 40, right: 40, background: '#ffffff' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // `extend` with a colour background may add channels: keep the first.
  const gray = Uint8Array.from({ length: info.width * info.height }, (_, i) => data[i * info.channels]!);
  return rgba(gray, info.width, info.height);
}

async function hanziDrawing(): Promise<PixelBuffer> {
  const coverage = renderInk(await loadHanziInk('永'), { width: 256, height: 256, strokeWidth: 12, margin: 32 });
  return rgba(Buffer.from(coverage.data.map((c) => 255 - c)), 256, 256);
}

/** Per call: the whole `recognize` and its inference stage (`timings.inferenceMs`: engine + calibration), in ms. */
interface Samples {
  total: number[];
  inference: number[];
}

async function time(recognizer: Recognizer, image: PixelBuffer, calls: number, into: Samples): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    const { timings } = await recognizer.recognize(image);
    into.total.push(performance.now() - started);
    into.inference.push(timings.inferenceMs);
  }
}

const engines: EngineChoice[] = ['onnx', 'tfjs'];
const lines: string[] = [];
for (const [model, image] of [['digits', await digitDrawing()], ['hanzi', await hanziDrawing()]] as const) {
  const recognizers = await Promise.all(engines.map((engine) => loadRecognizer(model, undefined, { engine })));
  for (const recognizer of recognizers) await time(recognizer, image, WARMUP, { total: [], inference: [] });
  const samples = recognizers.map((): Samples => ({ total: [], inference: [] }));
  for (let done = 0; done < CALLS; done += ROUND) {
    for (const [i, recognizer] of recognizers.entries()) await time(recognizer, image, Math.min(ROUND, CALLS - done), samples[i]!);
  }
  const labels = await Promise.all(recognizers.map(async (r) => (await r.recognize(image)).label));
  recognizers.forEach((recognizer, i) => {
    const { total, inference } = samples[i]!;
    lines.push(
      `${model.padEnd(7)} ${recognizer.engine.padEnd(12)} recognize median ${median(total).toFixed(3)} ms  p90 ${percentile(total, 0.9).toFixed(3)} ms;  ` +
        `of which inference median ${median(inference).toFixed(3)} ms  (${total.length} calls, label ${labels[i]})`,
    );
  });
  for (const recognizer of recognizers) recognizer.dispose();
}
console.log(`recognize() latency, one image, after ${WARMUP} warm-up calls`);
for (const line of lines) console.log(line);

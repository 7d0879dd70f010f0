/**
 * The ONNX Runtime side of `npm run bench` (bench/bench.ts): the same random-weight models as the TF.js side
 * (`getArchitecture(name).create({ classes: 10, seed: 2 })`), lowered (src/export/lower.ts) and written as ONNX
 * (src/export/onnx.ts), then run three ways, each with one intra-op thread:
 *
 * - `raw`: `InferenceSession.run` on a ready input tensor (`[1, 28, 28, 1]` or `[256, 28, 28, 1]` float32, created
 *   once), the output's `Float32Array` taken: ONNX Runtime itself, the floor of what any caller can reach;
 * - `hwr`: `Recognizer.predictProbabilities` of a recognizer on the ONNX Runtime engine (`onnxruntimeEngine` of
 *   src/node/onnxEngine.ts + `createRecognizer`): the path the server and the CLI run, from a preprocessed
 *   `Float32Array` to calibrated probabilities;
 * - `int8`: the raw session on the int8 QDQ form (per-channel weights, activations calibrated on 256 MNIST training
 *   images), which ONNX Runtime turns into its integer kernels at load time. Its accuracy is measured elsewhere
 *   (test/export/onnx.test.ts); here only its speed.
 *
 * The raw sessions use the engine's own session options (1 intra-op and 1 inter-op thread, sequential execution,
 * every graph optimization), so that `hwr / raw` is the cost of hwr's wrapping alone.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { createRecognizer, type Recognizer } from '../src/core/recognizer.ts';
import type { ModelMetadata } from '../src/core/types.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { activationRanges, lowerModel } from '../src/export/lower.ts';
import { ONNX_INPUT, ONNX_OUTPUT, toOnnx } from '../src/export/onnx.ts';
import { getArchitecture } from '../src/models/index.ts';
import { onnxruntimeEngine } from '../src/node/onnxEngine.ts';

/** How each ONNX form is run: see the module comment. */
export type OrtWay = 'raw' | 'hwr' | 'int8';
export const ORT_WAYS: readonly OrtWay[] = ['raw', 'hwr', 'int8'];

/** Session options of the raw sessions: those of `onnxruntimeEngine` with 1 thread. */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

/** One model's ONNX forms, ready to run. */
interface OrtModel {
  raw: ort.InferenceSession;
  int8: ort.InferenceSession;
  hwr: Recognizer;
  /** Largest |ONNX Runtime float32 - TF.js| probability over a batch of 256 bench inputs (the same model, checked once). */
  maxAbsDiff: number;
  /** Sizes of the float32 and int8 ONNX files in bytes. */
  bytes: { float32: number; int8: number };
}

/** Metadata of a random-weight 28x28, 10-class bench model (only `inputShape`, `classes` and no calibration matter). */
export function benchMetadata(name: string, parameters: number): ModelMetadata {
  return {
    name: `bench-${name}`,
    architecture: name,
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    inputShape: [28, 28, 1],
    preprocessing: 'mnist-com-v2', // unused: the bench feeds preprocessed inputs (predictProbabilities)
    parameters,
    trainingData: 'none (random weights)',
    epochs: 0,
    testAccuracy: null,
    top3Accuracy: null,
    testData: null,
    trainingSeconds: null,
    trainedOn: null,
    command: 'npm run bench',
    date: new Date().toISOString(),
    version: '0.1.0',
  };
}

/** The bench's batched input: `[count, 28, 28, 1]` float32, a fixed pattern in [0, 1]. */
export function batchInput(count: number): Float32Array {
  return Float32Array.from({ length: count * 784 }, (_, i) => ((i * 7919) % 256) / 255);
}

/** The bench's single-image input: `[1, 28, 28, 1]` float32, a fixed pattern in [0, 1]. */
export function singleInput(): Float32Array {
  return Float32Array.from({ length: 784 }, (_, i) => ((i * 31) % 256) / 255);
}

let calibration: Promise<Float32Array> | undefined;

/** 256 MNIST training images as `[256, 28, 28, 1]` float32 in [0, 1] (ink = 1), for the int8 activation ranges. */
function calibrationImages(): Promise<Float32Array> {
  calibration ??= loadMnist({ limit: 256 }).then(({ train }) => Float32Array.from(train.images, (v) => v / 255));
  return calibration;
}

/**
 * The ONNX Runtime side: per architecture, the float32 and int8 ONNX forms of the same random-weight model the
 * TF.js side runs, created on first use.
 */
export class OrtSide {
  private readonly models = new Map<string, Promise<OrtModel>>();
  private readonly singles = new Map<string, ort.Tensor>();

  /** The model of architecture `name` (classes 10, seed 2, as bench.ts's TF.js recognizer). */
  model(name: string): Promise<OrtModel> {
    let entry = this.models.get(name);
    if (!entry) {
      entry = this.build(name);
      this.models.set(name, entry);
    }
    return entry;
  }

  private async build(name: string): Promise<OrtModel> {
    const model = getArchitecture(name).create({ classes: 10, seed: 2 });
    try {
      const graph = lowerModel(model);
      const float32 = toOnnx(graph);
      const images = await calibrationImages();
      const int8Bytes = toOnnx(graph, { quantize: 'int8', ranges: await activationRanges(model, graph, images, images.length / 784) });
      const [raw, int8, engine] = await Promise.all([
        ort.InferenceSession.create(float32, SESSION_OPTIONS),
        ort.InferenceSession.create(int8Bytes, SESSION_OPTIONS),
        onnxruntimeEngine(float32, { threads: 1, name: `bench ${name}` }),
      ]);
      const hwr = createRecognizer(engine, benchMetadata(name, model.countParams()));
      const inputs = batchInput(256);
      const expected = tf.tidy(() => (model.predict(tf.tensor4d(inputs, [256, 28, 28, 1])) as tf.Tensor).dataSync());
      const got = await hwr.predictProbabilities(inputs, 256);
      let maxAbsDiff = 0;
      for (let i = 0; i < got.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - expected[i]!));
      return { raw, int8, hwr, maxAbsDiff, bytes: { float32: float32.byteLength, int8: int8Bytes.byteLength } };
    } finally {
      model.dispose();
    }
  }

  /** A ready `[count, 28, 28, 1]` input tensor (one per count, made once). */
  private input(count: number): ort.Tensor {
    const key = String(count);
    let tensor = this.singles.get(key);
    if (!tensor) {
      tensor = new ort.Tensor('float32', count === 1 ? singleInput() : batchInput(count), [count, 28, 28, 1]);
      this.singles.set(key, tensor);
    }
    return tensor;
  }

  /**
   * Batched inference images/s: one untimed pass, then `reps` timed passes of `batch` images.
   * The `hwr` way builds its input array once too (as the server's worker gets it), outside the timing.
   */
  async infer(name: string, way: OrtWay, batch: number, reps: number): Promise<number> {
    const entry = await this.model(name);
    const inputs = batchInput(batch);
    const tensor = this.input(batch);
    const pass = way === 'hwr'
      ? () => entry.hwr.predictProbabilities(inputs, batch)
      : () => (way === 'raw' ? entry.raw : entry.int8).run({ [ONNX_INPUT]: tensor });
    await pass();
    const start = performance.now();
    for (let i = 0; i < reps; i++) await pass();
    return (batch * reps * 1000) / (performance.now() - start);
  }

  /** Single-image latencies in ms of `calls` calls after `warmup` untimed ones (input ready before each call). */
  async latency(name: string, way: OrtWay, calls: number, warmup: number): Promise<number[]> {
    const entry = await this.model(name);
    const input = singleInput();
    const tensor = this.input(1);
    const call = way === 'hwr'
      ? () => entry.hwr.predictProbabilities(input, 1)
      : () => (way === 'raw' ? entry.raw : entry.int8).run({ [ONNX_INPUT]: tensor });
    const times: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const start = performance.now();
      await call();
      if (i >= warmup) times.push(performance.now() - start);
    }
    return times;
  }

  /**
   * The raw session and hwr's path measured call by call in turn (`raw, hwr, hwr, raw, ...`: the order alternates
   * each call), so that the machine's noise hits both alike: the comparison behind the "within 10%" target, of two
   * calls of about 0.1 ms whose difference is a few microseconds. Single images: ms of each of `calls` calls after
   * `warmup` pairs; batches (`batch` > 1): images/s over `calls` passes of each after one untimed pass.
   */
  async paired(name: string, batch: number, calls: number, warmup: number): Promise<{ raw: number[]; hwr: number[] }> {
    const entry = await this.model(name);
    const inputs = batch === 1 ? singleInput() : batchInput(batch);
    const tensor = this.input(batch);
    const ways = {
      raw: () => entry.raw.run({ [ONNX_INPUT]: tensor }),
      hwr: () => entry.hwr.predictProbabilities(inputs, batch),
    };
    const ms = { raw: [] as number[], hwr: [] as number[] };
    for (let i = 0; i < warmup + calls; i++) {
      for (const way of i % 2 === 0 ? (['raw', 'hwr'] as const) : (['hwr', 'raw'] as const)) {
        const start = performance.now();
        await ways[way]();
        if (i >= warmup) ms[way].push(performance.now() - start);
      }
    }
    if (batch === 1) return ms;
    const rate = (times: number[]) => (batch * times.length * 1000) / times.reduce((a, b) => a + b, 0);
    return { raw: [rate(ms.raw)], hwr: [rate(ms.hwr)] };
  }

  /** The check of each model: max |ONNX Runtime - TF.js| and the ONNX file sizes. */
  async checks(): Promise<Record<string, { maxAbsDiff: number; bytes: { float32: number; int8: number } }>> {
    const out: Record<string, { maxAbsDiff: number; bytes: { float32: number; int8: number } }> = {};
    for (const [name, entry] of this.models) {
      const { maxAbsDiff, bytes } = await entry;
      out[name] = { maxAbsDiff, bytes };
    }
    return out;
  }

  async dispose(): Promise<void> {
    for (const entry of this.models.values()) {
      const { raw, int8, hwr } = await entry;
      await Promise.all([raw.release(), int8.release()]);
      hwr.dispose();
    }
    this.models.clear();
    for (const tensor of this.singles.values()) tensor.dispose();
    this.singles.clear();
  }
}

/**
 * The ONNX writer (src/export/onnx.ts) checked by ONNX Runtime itself (onnxruntime-node): every architecture with
 * random weights and random batch-norm statistics, and the shipped models, give TF.js's probabilities in float32;
 * float16 and int8 stay close; corrupt files and unsupported layers fail in one clear line.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { isHwrError } from '../../src/core/errors.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { activationRanges, lowerModel } from '../../src/export/lower.ts';
import { ONNX_INPUT, ONNX_OUTPUT, readOnnxMetadata, toOnnx } from '../../src/export/onnx.ts';
import { loadModel } from '../../src/node/modelFiles.ts';
import { resolveModelDir } from '../../src/node/recognizer.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { argmaxRow, bytesToInput, FIXTURE_ARCHITECTURES, maxAbsDiff, predictTfjs, randomModel, strokeImages } from './fixtures.ts';

/** Runs an ONNX model on ONNX Runtime (one intra-op thread): `[count, size, size, 1]` -> `[count, classes]`. */
async function runOnnx(bytes: Uint8Array, images: Float32Array, count: number, size: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    expect(session.inputNames).toEqual([ONNX_INPUT]);
    expect(session.outputNames).toEqual([ONNX_OUTPUT]);
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', images, [count, size, size, 1]) });
    expect(out[ONNX_OUTPUT]!.dims[0]).toBe(count);
    return out[ONNX_OUTPUT]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** How many rows of two `[count, classes]` outputs have the same argmax. */
function sameArgmax(a: Float32Array, b: Float32Array, count: number, classes: number): number {
  let same = 0;
  for (let i = 0; i < count; i++) if (argmaxRow(a, i, classes) === argmaxRow(b, i, classes)) same++;
  return same;
}

/** Op types of an encoded ONNX model, in order. */
const opTypes = (bytes: Uint8Array): string[] => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);

beforeAll(async () => {
  await setupBackend();
});

describe('ONNX export of every architecture (random weights and batch-norm statistics) through ONNX Runtime', () => {
  const tempDir = useTempDirs('onnx');
  const count = 16;
  for (const arch of FIXTURE_ARCHITECTURES) {
    it(`${arch.name} ${arch.inputSize}x${arch.inputSize}, ${arch.classes} classes: float32 within 1e-4, float16 within 2e-3, int8 same top-1 on at least 13 of 16`, async () => {
      const model = randomModel(arch);
      const graph = lowerModel(model);
      const images = strokeImages(count, arch.inputSize);
      const expected = predictTfjs(model, images, count);

      const float32 = toOnnx(graph);
      const actual = await runOnnx(float32, images, count, arch.inputSize);
      expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
      expect(sameArgmax(actual, expected, count, arch.classes)).toBe(count);
      // The TF.js NHWC flatten is absorbed by permuting the dense kernel's rows: no Transpose in the graph.
      expect(opTypes(float32)).not.toContain('Transpose');

      const float16 = toOnnx(graph, { quantize: 'float16' });
      expect(float16.length).toBeLessThan(0.55 * float32.length);
      const half = await runOnnx(float16, images, count, arch.inputSize);
      expect(maxAbsDiff(half, expected)).toBeLessThanOrEqual(2e-3);
      expect(sameArgmax(half, expected, count, arch.classes)).toBeGreaterThanOrEqual(count - 1);

      const ranges = await activationRanges(model, graph, images, count);
      const int8 = toOnnx(graph, { quantize: 'int8', ranges });
      expect(int8.length).toBeLessThan(0.3 * float32.length);
      const quantized = await runOnnx(int8, images, count, arch.inputSize);
      expect(maxAbsDiff(quantized, expected)).toBeLessThanOrEqual(0.1);
      expect(sameArgmax(quantized, expected, count, arch.classes)).toBeGreaterThanOrEqual(13);
      model.dispose();
    });
  }

  it('int8 QDQ is fused by ONNX Runtime into its integer kernels (QLinearConv, QGemm, int8 MaxPool and GlobalAveragePool)', async () => {
    const dir = await tempDir();
    for (const arch of [FIXTURE_ARCHITECTURES[0]!, FIXTURE_ARCHITECTURES[3]!]) {
      const model = randomModel(arch);
      const graph = lowerModel(model);
      const ranges = await activationRanges(model, graph, strokeImages(4, arch.inputSize), 4);
      const optimized = join(dir, `${arch.name}.optimized.onnx`);
      const session = await ort.InferenceSession.create(toOnnx(graph, { quantize: 'int8', ranges }), { intraOpNumThreads: 1, logSeverityLevel: 3, optimizedModelFilePath: optimized });
      await session.release();
      const ops = opTypes(await readFile(optimized));
      const convolutions = graph.ops.filter((op) => op.kind === 'conv2d').length;
      expect(ops.filter((op) => op === 'QLinearConv').length, arch.name).toBe(convolutions);
      expect(ops.filter((op) => op === 'QGemm').length, arch.name).toBe(graph.ops.filter((op) => op.kind === 'dense').length);
      expect(ops, arch.name).not.toContain('Conv');
      expect(ops, arch.name).not.toContain('MaxPool');
      if (arch.name === 'hccr-vgg') expect(ops).toContain('QLinearGlobalAveragePool');
      // One QuantizeLinear at the input and one DequantizeLinear before the float softmax: integer from end to end.
      expect(ops.filter((op) => op === 'QuantizeLinear' || op === 'DequantizeLinear').length, arch.name).toBe(2);
      model.dispose();
    }
  });

  it('runs any batch size (batch is a dim_param), and one image gives the same row as in a batch', async () => {
    const arch = FIXTURE_ARCHITECTURES[0]!;
    const model = randomModel(arch, 3);
    const bytes = toOnnx(lowerModel(model));
    const images = strokeImages(5, arch.inputSize, 11);
    const batch = await runOnnx(bytes, images, 5, arch.inputSize);
    const one = await runOnnx(bytes, images.subarray(2 * 28 * 28, 3 * 28 * 28), 1, arch.inputSize);
    expect(maxAbsDiff(one, batch.subarray(2 * arch.classes, 3 * arch.classes))).toBeLessThanOrEqual(1e-6);
    model.dispose();
  });

  it('keeps TF.js feature order when a flatten is not followed by a dense layer (Transpose to NHWC), in float32 and int8', async () => {
    const model = tf.sequential({
      name: 'flatten_then_softmax',
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
        tf.layers.flatten(),
        tf.layers.activation({ activation: 'softmax' }),
      ],
    });
    const graph = lowerModel(model);
    const images = strokeImages(4, 6, 3);
    const expected = predictTfjs(model, images, 4);
    const bytes = toOnnx(graph);
    expect(opTypes(bytes)).toContain('Transpose');
    expect(maxAbsDiff(await runOnnx(bytes, images, 4, 6), expected)).toBeLessThanOrEqual(1e-6);
    const int8 = toOnnx(graph, { quantize: 'int8', ranges: await activationRanges(model, graph, images, 4) });
    expect(maxAbsDiff(await runOnnx(int8, images, 4, 6), expected)).toBeLessThanOrEqual(0.02);
    model.dispose();
  });
});

describe('ONNX export of the shipped models', () => {
  it('digits: float32 gives TF.js probabilities within 1e-4 and the same top-1 on 32 MNIST test images; int8 loses at most 0.5 points on 1,000', async () => {
    const model = await loadModel(resolveModelDir('digits'));
    const graph = lowerModel(model);
    const { train, test } = await loadMnist({ limit: 1000 });
    const images = bytesToInput(test.images);
    const classes = 11;

    const first = images.subarray(0, 32 * 28 * 28);
    const expected = predictTfjs(model, first, 32);
    const actual = await runOnnx(toOnnx(graph), first, 32, 28);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    expect(sameArgmax(actual, expected, 32, classes)).toBe(32);

    const ranges = await activationRanges(model, graph, bytesToInput(train.images.subarray(0, 500 * 28 * 28)), 500);
    const int8 = await runOnnx(toOnnx(graph, { quantize: 'int8', ranges }), images, 1000, 28);
    const reference = predictTfjs(model, images, 1000);
    let floatCorrect = 0;
    let int8Correct = 0;
    for (let i = 0; i < 1000; i++) {
      if (argmaxRow(reference, i, classes) === test.labels[i]) floatCorrect++;
      if (argmaxRow(int8, i, classes) === test.labels[i]) int8Correct++;
    }
    expect(floatCorrect).toBeGreaterThanOrEqual(990);
    expect(floatCorrect - int8Correct).toBeLessThanOrEqual(5);
    model.dispose();
  });

  it('hanzi: float32 gives TF.js probabilities within 1e-4 and the same top-1 on 8 stroke images', async () => {
    const model = await loadModel(resolveModelDir('hanzi'));
    const graph = lowerModel(model);
    const classes = graph.ops[graph.ops.length - 1]!.outputShape[0];
    expect(classes).toBe(3755);
    const images = strokeImages(8, 64, 21);
    const expected = predictTfjs(model, images, 8);
    const actual = await runOnnx(toOnnx(graph), images, 8, 64);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    expect(sameArgmax(actual, expected, 8, classes)).toBe(8);
    model.dispose();
  });
});

describe('ONNX metadata and errors', () => {
  const model = () => randomModel(FIXTURE_ARCHITECTURES[2]!, 9);

  it('writes metadata_props and the header fields, and reads them back without ONNX Runtime', () => {
    const m = model();
    const bytes = toOnnx(lowerModel(m), { metadataProps: { hwr: '{"format":"hwr-exported-model"}', note: '数字' }, producerVersion: '0.1.0' });
    expect(readOnnxMetadata(bytes, 'lenet5.onnx')).toEqual({ hwr: '{"format":"hwr-exported-model"}', note: '数字' });
    const decoded = onnxProto.onnx.ModelProto.decode(bytes);
    expect(Number(decoded.irVersion)).toBe(7);
    expect(decoded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect([decoded.producerName, decoded.producerVersion, decoded.graph!.name]).toEqual(['hwr', '0.1.0', m.name]);
    const dims = decoded.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims).toEqual(['batch', 28, 28, 1]);
    expect(readOnnxMetadata(toOnnx(lowerModel(m)), 'plain.onnx')).toEqual({});
    m.dispose();
  });

  it('refuses truncated and random bytes with BAD_MODEL in one line naming the file', () => {
    const m = model();
    const bytes = toOnnx(lowerModel(m), { metadataProps: { hwr: '{}' } });
    const random = new Uint8Array(4096).map((_, i) => (Math.imul(i + 1, 2654435761) >>> 13) & 0xff);
    for (const [name, corrupt] of [['truncated.onnx', bytes.subarray(0, bytes.length >> 1)], ['random.onnx', random], ['empty.onnx', new Uint8Array(0)]] as const) {
      let error: unknown;
      try {
        readOnnxMetadata(corrupt, name);
      } catch (e) {
        error = e;
      }
      expect(isHwrError(error), name).toBe(true);
      expect((error as { code: string }).code).toBe('BAD_MODEL');
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).not.toContain('\n');
    }
    m.dispose();
  });

  it('int8 stores 7-bit weights by default (reduce range) and full 8-bit ones with reduceRange: false', async () => {
    const m = model();
    const graph = lowerModel(m);
    const ranges = await activationRanges(m, graph, strokeImages(4, 28), 4);
    const largestWeight = (bytes: Uint8Array) => {
      const kernels = onnxProto.onnx.ModelProto.decode(bytes).graph!.initializer!.filter((t) => t.name!.endsWith('_kernel_int8'));
      expect(kernels.length).toBe(graph.ops.filter((op) => op.kind === 'conv2d' || op.kind === 'dense').length);
      return Math.max(...kernels.map((t) => Math.max(...new Int8Array(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.length).map(Math.abs))));
    };
    expect(largestWeight(toOnnx(graph, { quantize: 'int8', ranges }))).toBe(63);
    expect(largestWeight(toOnnx(graph, { quantize: 'int8', ranges, reduceRange: false }))).toBe(127);
    m.dispose();
  });

  it('asks for calibration ranges for int8, and lowerModel refuses a dilated convolution with UNSUPPORTED_MODEL', () => {
    const m = model();
    const graph = lowerModel(m);
    expect(() => toOnnx(graph, { quantize: 'int8' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => toOnnx(graph, { quantize: 'int8', ranges: [{ min: 0, max: 1 }] })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    const dilated = tf.sequential({
      name: 'dilated',
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, dilationRate: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    expect(() => lowerModel(dilated)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/dilated/) }));
    m.dispose();
    dilated.dispose();
  });
});

/**
 * The TFLite writer (src/export/tflite.ts) verified by an independent reader: ArmNN's TFLite parser (Debian's
 * python3-pyarmnn, ArmNN 20.08 / libarmnn22, CpuRef backend) through scripts/armnn_run.py, against TF.js on the
 * same inputs. The ArmNN tests are skipped, with a warning, where pyarmnn is not installed (.ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as flatbuffers from 'flatbuffers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHwrError } from '../../src/core/errors.ts';
import { float16ToFloat32 } from '../../src/core/float16.ts';
import { ARMNN_PYTHON as PYTHON, ARMNN_SCRIPT as SCRIPT, armnnAvailable as armnnMissing, runArmnn as runArmnnFile } from '../../src/export/armnn.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { activationRanges, lowerModel, type LoweredGraph } from '../../src/export/lower.ts';
import { readTfliteMetadata, TFLITE_INPUT_NAME, TFLITE_OUTPUT_NAME, toTflite } from '../../src/export/tflite.ts';
import { BuiltinOperator, Model, TensorType } from '../../src/export/tflite/generated/schema_generated.ts';
import { loadModel, readMetadata } from '../../src/node/modelFiles.ts';
import { resolveModelDir } from '../../src/node/recognizer.ts';
import { setupBackend } from '../../src/backend/backend.ts';
import { argmaxRow, bytesToInput, FIXTURE_ARCHITECTURES, maxAbsDiff, predictTfjs, randomModel, strokeImages } from './fixtures.ts';

const armnnAvailable = armnnMissing() === null;
if (!armnnAvailable) console.warn('tflite.test.ts: pyarmnn not installed (apt-get install python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22): ArmNN round trips skipped');

let dir = '';
beforeAll(async () => {
  await setupBackend();
  dir = mkdtempSync(join(tmpdir(), 'hwr-tflite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `bytes` as `<name>.tflite` and runs it with ArmNN (`runArmnn`, src/export/armnn.ts) on `count` images; returns `[count, classes]` probabilities. */
function runArmnn(bytes: Uint8Array, images: Float32Array, count: number, classes: number, name = 'model'): Promise<Float32Array> {
  const model = join(dir, `${name}.tflite`);
  writeFileSync(model, bytes);
  return runArmnnFile(model, images, count, classes);
}

/** Builtin operator codes of the model's operators, in order (read back with the generated accessors). */
function operatorCodes(bytes: Uint8Array): BuiltinOperator[] {
  const model = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes));
  const subgraph = model.subgraphs(0)!;
  return Array.from({ length: subgraph.operatorsLength() }, (_, i) => model.operatorCodes(subgraph.operators(i)!.opcodeIndex())!.builtinCode());
}

/** The float16 constants of a model by tensor name, decoded to float32. */
function float16Constants(bytes: Uint8Array): Map<string, Float32Array> {
  const model = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes));
  const subgraph = model.subgraphs(0)!;
  const out = new Map<string, Float32Array>();
  for (let i = 0; i < subgraph.tensorsLength(); i++) {
    const tensor = subgraph.tensors(i)!;
    if (tensor.type() !== TensorType.FLOAT16) continue;
    const data = model.buffers(tensor.buffer())!.dataArray()!;
    const halves = new Uint16Array(data.slice().buffer);
    out.set(tensor.name()!, float16ToFloat32(halves));
  }
  return out;
}

/** `[out, kh, kw, in]` -> `[kh, kw, in, out]`. */
function ohwiToHwio(filter: Float32Array, out: number, kh: number, kw: number, inChannels: number): Float32Array {
  const hwio = new Float32Array(filter.length);
  for (let o = 0; o < out; o++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inChannels; i++) {
    hwio[((y * kw + x) * inChannels + i) * out + o] = filter[((o * kh + y) * kw + x) * inChannels + i]!;
  }
  return hwio;
}

/** A copy of `graph` whose weights are those stored in a float16 TFLite file of it (as a runtime dequantizes them). */
function graphWithFloat16Weights(graph: LoweredGraph, bytes: Uint8Array): LoweredGraph {
  const constants = float16Constants(bytes);
  const take = (name: string) => {
    const values = constants.get(name);
    if (!values) throw new Error(`no float16 tensor ${name}`);
    return values;
  };
  return {
    ...graph,
    ops: graph.ops.map((op) => {
      const name = op.layers.join('+');
      if (op.kind === 'conv2d') {
        const [kh, kw] = op.kernelSize;
        return { ...op, kernel: ohwiToHwio(take(`${name}/filter_fp16`), op.outChannels, kh, kw, op.inChannels), bias: take(`${name}/bias_fp16`) };
      }
      if (op.kind === 'dense') {
        const t = take(`${name}/weights_fp16`);
        const kernel = new Float32Array(t.length);
        for (let u = 0; u < op.units; u++) for (let i = 0; i < op.inputs; i++) kernel[i * op.units + u] = t[u * op.inputs + i]!;
        return { ...op, kernel, bias: take(`${name}/bias_fp16`) };
      }
      return op;
    }),
  };
}

/** A shipped model (models/NAME) as TF.js loads it, and its metadata. */
async function shippedModel(name: string) {
  const dir = resolveModelDir(name);
  const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
  return { model, metadata };
}

/** Top-1 accuracy of `[count, classes]` probabilities against labels. */
function accuracy(probabilities: Float32Array, labels: Uint8Array, count: number, classes: number): number {
  let right = 0;
  for (let i = 0; i < count; i++) if (argmaxRow(probabilities, i, classes) === labels[i]) right++;
  return right / count;
}

/** Asserts ArmNN's probabilities match TF.js's within `tolerance` with the same argmax on every image. */
function expectSameAnswers(armnn: Float32Array, tfjs: Float32Array, count: number, classes: number, tolerance: number): void {
  expect(armnn.length).toBe(count * classes);
  expect(maxAbsDiff(armnn, tfjs)).toBeLessThan(tolerance);
  for (let i = 0; i < count; i++) expect(argmaxRow(armnn, i, classes)).toBe(argmaxRow(tfjs, i, classes));
}

describe('toTflite: structure', () => {
  it('writes "TFL3" with the input and output names, both operator codes, and metadata that reads back', () => {
    const graph = lowerModel(randomModel(FIXTURE_ARCHITECTURES[3]!));
    const sidecar = JSON.stringify({ format: 'hwr-exported-model', classes: ['一', '二'] });
    const bytes = toTflite(graph, { metadata: { hwr: sidecar, other: 'x' }, description: 'test model' });
    expect(new TextDecoder().decode(bytes.subarray(4, 8))).toBe('TFL3');
    const model = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes));
    expect(model.version()).toBe(3);
    expect(model.description()).toBe('test model');
    expect(model.buffers(0)!.dataLength()).toBe(0);
    const subgraph = model.subgraphs(0)!;
    const input = subgraph.tensors(subgraph.inputs(0)!)!;
    const output = subgraph.tensors(subgraph.outputs(0)!)!;
    expect([input.name(), Array.from(input.shapeArray()!)]).toEqual([TFLITE_INPUT_NAME, [1, 64, 64, 1]]);
    expect([output.name(), Array.from(output.shapeArray()!)]).toEqual([TFLITE_OUTPUT_NAME, [1, 50]]);
    for (let i = 0; i < model.operatorCodesLength(); i++) {
      const code = model.operatorCodes(i)!;
      expect(code.deprecatedBuiltinCode()).toBe(code.builtinCode());
    }
    // hccr-vgg: 4 x (CONV_2D [MAX_POOL_2D]), global average pool as AVERAGE_POOL_2D + RESHAPE, FULLY_CONNECTED, SOFTMAX.
    const B = BuiltinOperator;
    expect(operatorCodes(bytes)).toEqual([B.CONV_2D, B.MAX_POOL_2D, B.CONV_2D, B.MAX_POOL_2D, B.CONV_2D, B.MAX_POOL_2D, B.CONV_2D, B.AVERAGE_POOL_2D, B.RESHAPE, B.FULLY_CONNECTED, B.SOFTMAX]);
    expect(readTfliteMetadata(bytes, 'vgg.tflite')).toEqual({ hwr: sidecar, other: 'x' });
    // Constant data is 16-byte aligned in the file.
    for (let i = 1; i < model.buffersLength(); i++) expect(model.buffers(i)!.dataArray()!.byteOffset % 16).toBe(0);
  });

  it('int8: QUANTIZE in, int8 per-channel conv weights, per-tensor dense weights, int32 biases, DEQUANTIZE before a float softmax', async () => {
    const architecture = FIXTURE_ARCHITECTURES[0]!;
    const model = randomModel(architecture);
    const graph = lowerModel(model);
    const ranges = await activationRanges(model, graph, strokeImages(32, 28, 3), 32);
    const bytes = toTflite(graph, { quantize: 'int8', ranges });
    const codes = operatorCodes(bytes);
    expect(codes[0]).toBe(BuiltinOperator.QUANTIZE);
    expect(codes.slice(-2)).toEqual([BuiltinOperator.DEQUANTIZE, BuiltinOperator.SOFTMAX]);
    const subgraph = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes)).subgraphs(0)!;
    const tensors = Array.from({ length: subgraph.tensorsLength() }, (_, i) => subgraph.tensors(i)!);
    const byName = (suffix: string) => tensors.filter((t) => t.name()!.endsWith(suffix));
    for (const filter of byName('/filter')) {
      expect(filter.type()).toBe(TensorType.INT8);
      expect(filter.quantization()!.scaleLength()).toBe(filter.shape(0));
      expect(filter.quantization()!.quantizedDimension()).toBe(0);
    }
    for (const weights of byName('/weights')) expect([weights.type(), weights.quantization()!.scaleLength()]).toEqual([TensorType.INT8, 1]);
    for (const bias of byName('/bias')) expect(bias.type()).toBe(TensorType.INT32);
    // Max pooling keeps its input's quantization (TFLite's int8 spec).
    const poolIndex = graph.ops.findIndex((op) => op.kind === 'maxPool');
    const pool = tensors.find((t) => t.name() === graph.ops[poolIndex]!.layers.join('+'))!;
    const before = tensors.find((t) => t.name() === graph.ops[poolIndex - 1]!.layers.join('+'))!;
    expect([pool.quantization()!.scale(0), pool.quantization()!.zeroPoint(0)]).toEqual([before.quantization()!.scale(0), before.quantization()!.zeroPoint(0)]);
    expect(() => toTflite(graph, { quantize: 'int8' })).toThrow(/calibration ranges/);
  });

  it('float16: every weight and bias is a FLOAT16 constant read through a DEQUANTIZE, equal to the weight rounded to half precision', () => {
    const graph = lowerModel(randomModel(FIXTURE_ARCHITECTURES[2]!));
    const bytes = toTflite(graph, { quantize: 'float16' });
    const codes = operatorCodes(bytes);
    const dequantizes = codes.filter((c) => c === BuiltinOperator.DEQUANTIZE).length;
    const weighted = graph.ops.filter((op) => op.kind === 'conv2d' || op.kind === 'dense').length;
    expect(dequantizes).toBe(2 * weighted);
    const halves = graphWithFloat16Weights(graph, bytes);
    // Half precision keeps 11 significant bits: relative error <= 2^-11 (plus the subnormal step near 0).
    let worst = 0;
    halves.ops.forEach((op, i) => {
      const original = graph.ops[i]!;
      if ((op.kind !== 'conv2d' && op.kind !== 'dense') || (original.kind !== 'conv2d' && original.kind !== 'dense')) return;
      op.kernel.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - original.kernel[k]!) - Math.abs(original.kernel[k]!) * 2 ** -11 - 2 ** -24)));
      op.bias.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - original.bias[k]!) - Math.abs(original.bias[k]!) * 2 ** -11 - 2 ** -24)));
    });
    expect(worst).toBeLessThanOrEqual(0);
    expect(bytes.length).toBeLessThan(toTflite(graph).length * 0.6);
  });

  it('explicit pads that are not SAME or VALID: UNSUPPORTED_MODEL naming the layer', () => {
    const graph = lowerModel(randomModel(FIXTURE_ARCHITECTURES[2]!));
    const conv = graph.ops[0]!;
    if (conv.kind !== 'conv2d') throw new Error('lenet5 should start with conv2d');
    const ops = [{ ...conv, pads: [1, 1, 1, 1] as [number, number, number, number], kernelSize: [4, 4] as [number, number] }, ...graph.ops.slice(1)];
    expect(() => toTflite({ ...graph, ops })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/pads \[1, 1, 1, 1\] are not TFLite's SAME padding/) }));
  });

  it('readTfliteMetadata: a truncated, random or foreign file is BAD_MODEL naming the file and the reason', () => {
    const bytes = toTflite(lowerModel(randomModel(FIXTURE_ARCHITECTURES[2]!)), { metadata: { hwr: '{}' } });
    const random = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    const renamed = bytes.slice();
    renamed.set([0x4f, 0x4e, 0x4e, 0x58], 4);
    const cases: Array<[Uint8Array, RegExp]> = [
      [bytes.subarray(0, Math.floor(bytes.length / 2)), /outside the file/],
      [bytes.subarray(0, 6), /too short/],
      [random, /file identifier/],
      [renamed, /file identifier "ONNX"/],
    ];
    for (const [data, reason] of cases) {
      let error: unknown;
      try {
        readTfliteMetadata(data, 'broken.tflite');
      } catch (e) {
        error = e;
      }
      expect(isHwrError(error) && error.code).toBe('BAD_MODEL');
      expect((error as Error).message).toMatch(/^broken\.tflite: not a valid TFLite model: /);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe.skipIf(!armnnAvailable)('toTflite through ArmNN TFLite parser', () => {
  for (const architecture of FIXTURE_ARCHITECTURES) {
    it(`${architecture.name} (random weights, batch norm folded): float32 probabilities within 1e-4 of TF.js, same argmax`, async () => {
      const model = randomModel(architecture, 5);
      const count = 6;
      const images = strokeImages(count, architecture.inputSize, 21);
      const armnn = await runArmnn(toTflite(lowerModel(model)), images, count, architecture.classes, architecture.name);
      expectSameAnswers(armnn, predictTfjs(model, images, count), count, architecture.classes, 1e-4);
    }, 60_000);
  }

  it('a ReLU that is not fused (RELU operator) runs as in TF.js', async () => {
    const architecture = FIXTURE_ARCHITECTURES[2]!;
    const model = randomModel(architecture, 6);
    const graph = lowerModel(model);
    // Unfuse the first convolution's ReLU into a RELU op: the same function, another operator.
    const first = graph.ops[0]!;
    if (first.kind !== 'conv2d' || !first.relu) throw new Error('lenet5 should start with conv2d+relu');
    const ops = [{ ...first, relu: false, layers: [first.layers[0]!] }, { kind: 'relu' as const, layers: ['relu'], inputShape: first.outputShape, outputShape: first.outputShape }, ...graph.ops.slice(1)];
    const bytes = toTflite({ ...graph, ops, lastLayer: [graph.lastLayer[0]!, ...graph.lastLayer] });
    expect(operatorCodes(bytes).slice(0, 2)).toEqual([BuiltinOperator.CONV_2D, BuiltinOperator.RELU]);
    const images = strokeImages(4, 28, 8);
    expectSameAnswers(await runArmnn(bytes, images, 4, architecture.classes, 'relu'), predictTfjs(model, images, 4), 4, architecture.classes, 1e-4);
  }, 60_000);

  it('shipped digits and hanzi models: float32 within 1e-4 of TF.js, same argmax', async () => {
    const mnist = await loadMnist({ limit: 8 });
    for (const name of ['digits', 'hanzi']) {
      const { model, metadata } = await shippedModel(name);
      const [size] = metadata.inputShape;
      const count = 6;
      const images = name === 'digits' ? bytesToInput(mnist.test.images.subarray(0, count * 28 * 28)) : strokeImages(count, size, 31);
      const armnn = await runArmnn(toTflite(lowerModel(model)), images, count, metadata.classes.length, name);
      expectSameAnswers(armnn, predictTfjs(model, images, count), count, metadata.classes.length, 1e-4);
    }
  }, 120_000);

  it('float16 (ArmNN 20.08 rejects TFLite\'s float16 layout: one line naming the file and why); its weights run within 2e-3 of TF.js', async () => {
    const architecture = FIXTURE_ARCHITECTURES[0]!;
    const model = randomModel(architecture, 7);
    const graph = lowerModel(model);
    const bytes = toTflite(graph, { quantize: 'float16' });
    const path = join(dir, 'half.tflite');
    writeFileSync(path, bytes);
    writeFileSync(join(dir, 'half.in.bin'), new Float32Array(28 * 28));
    const run = spawnSync(PYTHON, [SCRIPT, path, join(dir, 'half.in.bin'), '1', join(dir, 'half.out.bin')], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(path);
    expect(run.stderr).toContain('float16 weights behind DEQUANTIZE');
    // What a float16-capable runtime computes: the file's half-precision weights, dequantized, in float32.
    const count = 6;
    const images = strokeImages(count, 28, 41);
    const armnn = await runArmnn(toTflite(graphWithFloat16Weights(graph, bytes)), images, count, architecture.classes, 'half-weights');
    expectSameAnswers(armnn, predictTfjs(model, images, count), count, architecture.classes, 2e-3);
  }, 60_000);

  it('int8 digits on 500 MNIST test images: accuracy within 0.5 points of TF.js float (calibrated on 500 training images)', async () => {
    const count = 500;
    const mnist = await loadMnist({ limit: count });
    const { model, metadata } = await shippedModel('digits');
    const classes = metadata.classes.length;
    const graph = lowerModel(model);
    const ranges = await activationRanges(model, graph, bytesToInput(mnist.train.images), count);
    const images = bytesToInput(mnist.test.images);
    const int8 = await runArmnn(toTflite(graph, { quantize: 'int8', ranges }), images, count, classes, 'digits-int8');
    const float = predictTfjs(model, images, count);
    const floatAccuracy = accuracy(float, mnist.test.labels, count, classes);
    const int8Accuracy = accuracy(int8, mnist.test.labels, count, classes);
    expect(floatAccuracy).toBeGreaterThan(0.97);
    expect(Math.abs(int8Accuracy - floatAccuracy)).toBeLessThanOrEqual(0.005);
  }, 120_000);

  it('a truncated or random .tflite: armnn_run.py exits 2 with one line naming the file and ArmNN\'s reason', () => {
    const good = toTflite(lowerModel(randomModel(FIXTURE_ARCHITECTURES[2]!)));
    writeFileSync(join(dir, 'one.in.bin'), new Float32Array(28 * 28));
    for (const [name, data] of [['truncated', good.subarray(0, 3000)], ['random', Uint8Array.from({ length: 999 }, (_, i) => (i * 40503) & 255)]] as const) {
      const path = join(dir, `${name}.tflite`);
      writeFileSync(path, data);
      const run = spawnSync(PYTHON, [SCRIPT, path, join(dir, 'one.in.bin'), '1'], { encoding: 'utf8' });
      expect(run.status).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`${path}: ArmNN TFLite parser: `);
      expect(lines[0]).toMatch(/flatbuffers format/);
    }
  }, 60_000);
});

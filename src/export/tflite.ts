/**
 * TensorFlow Lite writer: a `LoweredGraph` (./lower.ts) as a `.tflite` flatbuffer (schema version 3, file identifier
 * "TFL3"), written with the `flatbuffers` npm runtime and the accessors generated from our schema subset
 * (./tflite/schema.fbs, binary-compatible with TensorFlow's tensorflow/lite/schema/schema.fbs), and the reader of
 * the metadata it writes.
 *
 * One subgraph, batch 1: input `image` `[1, h, w, 1]` float32 in [0, 1] (ink = 1), output `probabilities`
 * `[1, classes]` float32. Lowering, one builtin operator per lowered op:
 * conv2d -> CONV_2D (filter OHWI, SAME/VALID padding, fused RELU); maxPool -> MAX_POOL_2D; globalAveragePool ->
 * AVERAGE_POOL_2D over the whole map then RESHAPE to `[1, c]`; flatten -> RESHAPE; dense -> FULLY_CONNECTED (weights
 * `[units, inputs]`, fused RELU); relu -> RELU; softmax -> SOFTMAX (beta 1). All are TFLite builtins that TFLite
 * Micro also has; ArmNN 20.08's TFLite parser (libarmnn22) runs the float32 and int8 files, not the float16 ones
 * (notes/EXPORT.md, "TFLite and ArmNN").
 *
 * Quantization modes (TensorFlow Lite's post-training quantization layouts):
 * - `float32`: float32 weights.
 * - `float16`: weights and biases stored as FLOAT16 constants, each followed by a DEQUANTIZE to float32 (TFLite's
 *   float16 post-training quantization; runtimes with fp16 support may fold the DEQUANTIZE away).
 * - `int8`: TFLite's int8 specification (https://ai.google.dev/edge/litert/models/quantization_spec): QUANTIZE of the
 *   float input, int8 activations (per-tensor scale and zero point from the calibrated ranges), int8 per-channel
 *   convolution weights (symmetric, quantized dimension 0 of OHWI), int8 per-tensor fully connected weights (the
 *   spec's granularity; ArmNN 20.08 aborts on per-channel ones), int32 biases (scale input x weight, zero point 0),
 *   pooling and reshape outputs with their input's quantization (the spec requires it for the pools), then
 *   DEQUANTIZE of the logits and a float SOFTMAX, so that probabilities keep float precision for large vocabularies.
 *
 * Operator versions are the ones TensorFlow's converter gives these type combinations (int8 kernels are version 2
 * or more); ArmNN ignores them.
 */
import * as flatbuffers from 'flatbuffers';
import { hwrError } from '../core/errors.ts';
import { float32ToFloat16 } from '../core/float16.ts';
import { paddingOf, type ActivationRange, type LoweredGraph, type LoweredOp } from './lower.ts';
import { activationQuantization, quantizeBias, quantizeWeightsPerChannel, type ActivationQuantization, type QuantizeMode } from './quantize.ts';
import {
  ActivationFunctionType,
  Buffer as TfliteBuffer,
  BuiltinOperator,
  BuiltinOptions,
  Conv2DOptions,
  FullyConnectedOptions,
  Metadata,
  Model,
  Operator,
  OperatorCode,
  Padding,
  Pool2DOptions,
  QuantizationParameters,
  ReshapeOptions,
  SoftmaxOptions,
  SubGraph,
  Tensor,
  TensorType,
} from './tflite/generated/schema_generated.ts';

/** Schema version written to `Model.version` (TensorFlow Lite's current one). */
export const TFLITE_SCHEMA_VERSION = 3;
/** File identifier at bytes 4-7 of every TFLite flatbuffer. */
export const TFLITE_IDENTIFIER = 'TFL3';
/** Names of the model's input and output tensors. */
export const TFLITE_INPUT_NAME = 'image';
export const TFLITE_OUTPUT_NAME = 'probabilities';

/** Options of `toTflite`. */
export interface TfliteOptions {
  /** Weight (and activation) precision; default `float32`. */
  quantize?: QuantizeMode;
  /** Calibrated ranges from `activationRanges` (`graph.ops.length + 1` entries); required for `int8`. */
  ranges?: ActivationRange[];
  /** `Model.metadata` entries: name -> UTF-8 text stored in a buffer (e.g. `hwr` -> the sidecar JSON). */
  metadata?: Record<string, string>;
  /** `Model.description`; default `hwr <graph name> (<mode>)`. */
  description?: string;
}

/** Affine quantization of one tensor: `real = scale[c] * (q - zeroPoint[c])` along `dimension` (one entry: per tensor). */
interface TensorQuantization {
  scale: ArrayLike<number>;
  zeroPoint: ArrayLike<number>;
  dimension?: number;
}

interface TensorEntry {
  name: string;
  shape: number[];
  type: TensorType;
  buffer: number;
  quantization?: TensorQuantization;
}

interface OperatorEntry {
  code: BuiltinOperator;
  version: number;
  inputs: number[];
  outputs: number[];
  options?: { type: BuiltinOptions; write: (builder: flatbuffers.Builder) => flatbuffers.Offset };
}

/** Tensors, buffers and operators of the model being written, in the order they will be serialized. */
class TfliteGraph {
  readonly tensors: TensorEntry[] = [];
  /** Buffer 0 is the empty sentinel that every run-time tensor points at. */
  readonly buffers: Uint8Array[] = [new Uint8Array(0)];
  readonly operators: OperatorEntry[] = [];

  /** Adds a tensor computed at run time; returns its index. */
  activation(name: string, shape: number[], type: TensorType, quantization?: TensorQuantization): number {
    this.tensors.push({ name, shape, type, buffer: 0, ...(quantization ? { quantization } : {}) });
    return this.tensors.length - 1;
  }

  /** Adds a constant tensor whose bytes are `data` (typed arrays are little-endian on x86 and Arm, as TFLite wants); returns its index. */
  constant(name: string, shape: number[], type: TensorType, data: ArrayBufferView, quantization?: TensorQuantization): number {
    this.buffers.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.tensors.push({ name, shape, type, buffer: this.buffers.length - 1, ...(quantization ? { quantization } : {}) });
    return this.tensors.length - 1;
  }

  /** Adds a float constant in the precision of `mode`: float32, or FLOAT16 followed by a DEQUANTIZE to float32. */
  floatConstant(name: string, shape: number[], values: Float32Array, mode: QuantizeMode): number {
    if (mode !== 'float16') return this.constant(name, shape, TensorType.FLOAT32, values);
    const half = this.constant(`${name}_fp16`, shape, TensorType.FLOAT16, float32ToFloat16(values));
    const full = this.activation(name, shape, TensorType.FLOAT32);
    this.operator(BuiltinOperator.DEQUANTIZE, 3, [half], [full]);
    return full;
  }

  operator(code: BuiltinOperator, version: number, inputs: number[], outputs: number[], options?: OperatorEntry['options']): void {
    this.operators.push({ code, version, inputs, outputs, ...(options ? { options } : {}) });
  }
}

/** `[kh, kw, in, out]` (TF.js HWIO) -> `[out, kh, kw, in]` (TFLite OHWI). */
function hwioToOhwi(kernel: Float32Array, kh: number, kw: number, inChannels: number, outChannels: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < inChannels; i++) {
        const from = ((y * kw + x) * inChannels + i) * outChannels;
        for (let o = 0; o < outChannels; o++) out[((o * kh + y) * kw + x) * inChannels + i] = kernel[from + o]!;
      }
    }
  }
  return out;
}

/** `[inputs, units]` -> `[units, inputs]`. */
function transpose(kernel: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = kernel[r * columns + c]!;
  return out;
}

/** TFLite's padding enum for an op whose explicit pads must equal TensorFlow's rule for `padding` (TFLite has no explicit pads). */
function tflitePadding(graph: LoweredGraph, op: LoweredOp & { padding: 'same' | 'valid'; pads: [number, number, number, number]; strides: [number, number] }, kernel: [number, number]): Padding {
  const [height, width] = op.inputShape as [number, number, number];
  const y = paddingOf(height, kernel[0], op.strides[0], op.padding);
  const x = paddingOf(width, kernel[1], op.strides[1], op.padding);
  const expected = [y.before, x.before, y.after, x.after];
  if (op.pads.some((p, i) => p !== expected[i])) {
    throw hwrError('UNSUPPORTED_MODEL', `${graph.name}: ${op.layers.join('+')}: pads [${op.pads.join(', ')}] are not TFLite's ${op.padding.toUpperCase()} padding [${expected.join(', ')}]`);
  }
  return op.padding === 'same' ? Padding.SAME : Padding.VALID;
}

const perTensor = (q: ActivationQuantization): TensorQuantization => ({ scale: [q.scale], zeroPoint: [q.zeroPoint] });

/**
 * Writes `graph` as a TFLite model (see the module comment for the operators and quantization layouts).
 *
 * @param graph from `lowerModel`; its input `[h, w, 1]` becomes `[1, h, w, 1]`
 * @param options.ranges for `int8`: `activationRanges(model, graph, images, count)` on calibration images
 * @returns the `.tflite` bytes (flatbuffer, identifier "TFL3"); constant buffers are 16-byte aligned
 * @throws HwrError `BAD_ARGUMENT` for `int8` without `graph.ops.length + 1` ranges; `UNSUPPORTED_MODEL` for an op
 *   TFLite cannot express as lowered (explicit pads that are not SAME/VALID, a graph that does not end in softmax)
 */
export function toTflite(graph: LoweredGraph, options: TfliteOptions = {}): Uint8Array {
  const mode = options.quantize ?? 'float32';
  const ranges = options.ranges;
  if (mode === 'int8' && (!ranges || ranges.length !== graph.ops.length + 1)) {
    throw hwrError('BAD_ARGUMENT', `${graph.name}: int8 TFLite export needs ${graph.ops.length + 1} calibration ranges (activationRanges), got ${ranges?.length ?? 'none'}`);
  }
  if (graph.ops[graph.ops.length - 1]?.kind !== 'softmax') throw hwrError('UNSUPPORTED_MODEL', `${graph.name}: the graph must end in softmax`);
  const int8 = mode === 'int8';
  const g = new TfliteGraph();
  const [h, w, c] = graph.inputShape;
  const input = g.activation(TFLITE_INPUT_NAME, [1, h, w, c], TensorType.FLOAT32);
  let x = input;
  // Quantization of the current activation `x` (int8 mode only).
  let xq: ActivationQuantization | undefined;
  if (int8) {
    xq = activationQuantization(ranges![0]!);
    const quantized = g.activation(`${TFLITE_INPUT_NAME}_int8`, [1, h, w, c], TensorType.INT8, perTensor(xq));
    g.operator(BuiltinOperator.QUANTIZE, 2, [x], [quantized]);
    x = quantized;
  }
  const activationType = int8 ? TensorType.INT8 : TensorType.FLOAT32;

  graph.ops.forEach((op, index) => {
    const name = op.layers.join('+');
    const shape = [1, ...op.outputShape];
    const last = index === graph.ops.length - 1;
    // int8: an op with its own output range (conv, dense, relu) gets that range's quantization; the others keep x's.
    const ownQuantization = () => (int8 ? perTensor(activationQuantization(ranges![index + 1]!)) : undefined);
    switch (op.kind) {
      case 'conv2d': {
        const [kh, kw] = op.kernelSize;
        const padding = tflitePadding(graph, op, op.kernelSize);
        const filterShape = [op.outChannels, kh, kw, op.inChannels];
        const ohwi = hwioToOhwi(op.kernel, kh, kw, op.inChannels, op.outChannels);
        let filter: number;
        let bias: number;
        if (int8) {
          const perChannel = kh * kw * op.inChannels;
          const weights = quantizeWeightsPerChannel(ohwi, op.outChannels, (i) => Math.floor(i / perChannel));
          const zeros = new Array<number>(op.outChannels).fill(0);
          filter = g.constant(`${name}/filter`, filterShape, TensorType.INT8, weights.values, { scale: weights.scales, zeroPoint: zeros, dimension: 0 });
          const b = quantizeBias(op.bias, xq!.scale, weights.scales);
          bias = g.constant(`${name}/bias`, [op.outChannels], TensorType.INT32, b.values, { scale: b.scales, zeroPoint: zeros, dimension: 0 });
        } else {
          filter = g.floatConstant(`${name}/filter`, filterShape, ohwi, mode);
          bias = g.floatConstant(`${name}/bias`, [op.outChannels], op.bias, mode);
        }
        const q = ownQuantization();
        const out = g.activation(name, shape, activationType, q);
        const relu = op.relu ? ActivationFunctionType.RELU : ActivationFunctionType.NONE;
        g.operator(BuiltinOperator.CONV_2D, int8 ? 3 : 1, [x, filter, bias], [out], {
          type: BuiltinOptions.Conv2DOptions,
          write: (b) => Conv2DOptions.createConv2DOptions(b, padding, op.strides[1], op.strides[0], relu, 1, 1),
        });
        x = out;
        if (q) xq = { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
        return;
      }
      case 'maxPool': {
        const padding = tflitePadding(graph, op, op.poolSize);
        const out = g.activation(name, shape, activationType, xq && perTensor(xq));
        g.operator(BuiltinOperator.MAX_POOL_2D, int8 ? 2 : 1, [x], [out], {
          type: BuiltinOptions.Pool2DOptions,
          write: (b) => Pool2DOptions.createPool2DOptions(b, padding, op.strides[1], op.strides[0], op.poolSize[1], op.poolSize[0], ActivationFunctionType.NONE),
        });
        x = out;
        return;
      }
      case 'globalAveragePool': {
        const [height, width, channels] = op.inputShape as [number, number, number];
        const pooled = g.activation(`${name}/pool`, [1, 1, 1, channels], activationType, xq && perTensor(xq));
        g.operator(BuiltinOperator.AVERAGE_POOL_2D, int8 ? 2 : 1, [x], [pooled], {
          type: BuiltinOptions.Pool2DOptions,
          write: (b) => Pool2DOptions.createPool2DOptions(b, Padding.VALID, 1, 1, width, height, ActivationFunctionType.NONE),
        });
        x = reshape(g, pooled, name, [1, channels], activationType, xq);
        return;
      }
      case 'flatten': {
        x = reshape(g, x, name, shape, activationType, xq);
        return;
      }
      case 'dense': {
        const weightsShape = [op.units, op.inputs];
        const transposed = transpose(op.kernel, op.inputs, op.units);
        let weights: number;
        let bias: number;
        if (int8) {
          // Per-tensor weights: the int8 spec's granularity for FULLY_CONNECTED; ArmNN 20.08 aborts on per-channel ones.
          const q = quantizeWeightsPerChannel(transposed, 1, () => 0);
          weights = g.constant(`${name}/weights`, weightsShape, TensorType.INT8, q.values, { scale: q.scales, zeroPoint: [0] });
          const b = quantizeBias(op.bias, xq!.scale, new Float32Array(op.units).fill(q.scales[0]!));
          bias = g.constant(`${name}/bias`, [op.units], TensorType.INT32, b.values, { scale: [b.scales[0]!], zeroPoint: [0] });
        } else {
          weights = g.floatConstant(`${name}/weights`, weightsShape, transposed, mode);
          bias = g.floatConstant(`${name}/bias`, [op.units], op.bias, mode);
        }
        const q = ownQuantization();
        const out = g.activation(name, shape, activationType, q);
        const relu = op.relu ? ActivationFunctionType.RELU : ActivationFunctionType.NONE;
        g.operator(BuiltinOperator.FULLY_CONNECTED, int8 ? 4 : 1, [x, weights, bias], [out], {
          type: BuiltinOptions.FullyConnectedOptions,
          write: (b) => FullyConnectedOptions.createFullyConnectedOptions(b, relu, 0),
        });
        x = out;
        if (q) xq = { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
        return;
      }
      case 'relu': {
        const q = ownQuantization();
        const out = g.activation(name, shape, activationType, q);
        g.operator(BuiltinOperator.RELU, int8 ? 2 : 1, [x], [out]);
        x = out;
        if (q) xq = { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
        return;
      }
      case 'softmax': {
        if (!last) throw hwrError('UNSUPPORTED_MODEL', `${graph.name}: softmax (${name}) is only exported as the last operation`);
        if (int8) {
          const logits = g.activation(`${name}/logits`, [1, ...op.inputShape], TensorType.FLOAT32);
          g.operator(BuiltinOperator.DEQUANTIZE, 2, [x], [logits]);
          x = logits;
        }
        const out = g.activation(TFLITE_OUTPUT_NAME, shape, TensorType.FLOAT32);
        g.operator(BuiltinOperator.SOFTMAX, 1, [x], [out], { type: BuiltinOptions.SoftmaxOptions, write: (b) => SoftmaxOptions.createSoftmaxOptions(b, 1) });
        x = out;
        return;
      }
    }
  });
  return serialize(g, [input], [x], {
    description: options.description ?? `hwr ${graph.name} (${mode})`,
    metadata: options.metadata ?? {},
    subgraphName: graph.name,
  });
}

/** RESHAPE of `x` to `shape` (the new shape both as the second input, int32, and in the options, as TFLite writes it). */
function reshape(g: TfliteGraph, x: number, name: string, shape: number[], type: TensorType, q: ActivationQuantization | undefined): number {
  const shapeTensor = g.constant(`${name}/shape`, [shape.length], TensorType.INT32, Int32Array.from(shape));
  const out = g.activation(name, shape, type, q && perTensor(q));
  g.operator(BuiltinOperator.RESHAPE, 1, [x, shapeTensor], [out], {
    type: BuiltinOptions.ReshapeOptions,
    write: (b) => ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape)),
  });
  return out;
}

/** Serializes the model: buffers (16-byte aligned data), tensors, operator codes, operators, one subgraph, metadata. */
function serialize(g: TfliteGraph, inputs: number[], outputs: number[], info: { description: string; metadata: Record<string, string>; subgraphName: string }): Uint8Array {
  const size = g.buffers.reduce((s, b) => s + b.byteLength + 32, 4096);
  const b = new flatbuffers.Builder(size);
  const encoder = new TextEncoder();
  const metadataNames = Object.keys(info.metadata);
  const metadataBuffers = metadataNames.map((key) => {
    g.buffers.push(encoder.encode(info.metadata[key]!));
    return g.buffers.length - 1;
  });

  const bufferOffsets = g.buffers.map((data) => {
    let dataOffset = 0;
    if (data.byteLength > 0) {
      // Pad so that the vector's data (after its 4-byte length) starts 16-byte aligned, as schema.fbs's
      // force_align: 16 asks (flatc 2.0.8's TypeScript output ignores force_align).
      b.prep(16, data.byteLength);
      dataOffset = b.createByteVector(data);
    }
    return TfliteBuffer.createBuffer(b, dataOffset);
  });

  const tensorOffsets = g.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = Tensor.createShapeVector(b, t.shape);
    let quantization = 0;
    if (t.quantization) {
      const scale = QuantizationParameters.createScaleVector(b, Array.from(t.quantization.scale));
      const zeroPoint = QuantizationParameters.createZeroPointVector(b, Array.from(t.quantization.zeroPoint, (z) => BigInt(z)));
      QuantizationParameters.startQuantizationParameters(b);
      QuantizationParameters.addScale(b, scale);
      QuantizationParameters.addZeroPoint(b, zeroPoint);
      QuantizationParameters.addQuantizedDimension(b, t.quantization.dimension ?? 0);
      quantization = QuantizationParameters.endQuantizationParameters(b);
    }
    Tensor.startTensor(b);
    Tensor.addShape(b, shape);
    Tensor.addType(b, t.type);
    Tensor.addBuffer(b, t.buffer);
    Tensor.addName(b, name);
    if (quantization) Tensor.addQuantization(b, quantization);
    return Tensor.endTensor(b);
  });

  // One OperatorCode per (builtin, version), in order of first use.
  const codeKeys: string[] = [];
  const codes: Array<{ code: BuiltinOperator; version: number }> = [];
  const opcodeIndex = g.operators.map((op) => {
    const key = `${op.code}:${op.version}`;
    let i = codeKeys.indexOf(key);
    if (i < 0) {
      codeKeys.push(key);
      codes.push({ code: op.code, version: op.version });
      i = codeKeys.length - 1;
    }
    return i;
  });
  // Both the old byte-sized code (read by older runtimes, ArmNN 20.08 among them) and the int32 one.
  const codeOffsets = codes.map(({ code, version }) => OperatorCode.createOperatorCode(b, code, 0, version, code));

  const operatorOffsets = g.operators.map((op, i) => {
    const opInputs = Operator.createInputsVector(b, op.inputs);
    const opOutputs = Operator.createOutputsVector(b, op.outputs);
    const options = op.options ? op.options.write(b) : 0;
    Operator.startOperator(b);
    Operator.addOpcodeIndex(b, opcodeIndex[i]!);
    Operator.addInputs(b, opInputs);
    Operator.addOutputs(b, opOutputs);
    if (op.options) {
      Operator.addBuiltinOptionsType(b, op.options.type);
      Operator.addBuiltinOptions(b, options);
    }
    return Operator.endOperator(b);
  });

  const subgraph = SubGraph.createSubGraph(
    b,
    SubGraph.createTensorsVector(b, tensorOffsets),
    SubGraph.createInputsVector(b, inputs),
    SubGraph.createOutputsVector(b, outputs),
    SubGraph.createOperatorsVector(b, operatorOffsets),
    b.createString(info.subgraphName),
  );
  const metadataOffsets = metadataNames.map((key, i) => Metadata.createMetadata(b, b.createString(key), metadataBuffers[i]!));
  const model = Model.createModel(
    b,
    TFLITE_SCHEMA_VERSION,
    Model.createOperatorCodesVector(b, codeOffsets),
    Model.createSubgraphsVector(b, [subgraph]),
    b.createString(info.description),
    Model.createBuffersVector(b, bufferOffsets),
    0,
    metadataNames.length > 0 ? Model.createMetadataVector(b, metadataOffsets) : 0,
  );
  Model.finishModelBuffer(b, model);
  return b.asUint8Array().slice();
}

/**
 * Bounds-checked reads of a flatbuffer (the JavaScript runtime does not verify offsets): every table, vector and
 * string is checked to lie inside the bytes before it is read.
 */
class CheckedFlatbuffer {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fail: (why: string) => Error,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private u32(at: number, what: string): number {
    if (at < 0 || at + 4 > this.bytes.length) throw this.fail(`${what} at byte ${at} is past the end (${this.bytes.length} bytes)`);
    return this.view.getUint32(at, true);
  }

  /** Position of the table referenced by the uoffset at `at`. */
  table(at: number, what: string): number {
    const table = at + this.u32(at, what);
    const vtable = table - this.view.getInt32(this.checked(table, 4, what), true);
    this.checked(vtable, 4, `${what} vtable`);
    const vtableSize = this.view.getUint16(vtable, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw this.fail(`${what}: bad vtable size ${vtableSize}`);
    this.checked(vtable, vtableSize, `${what} vtable`);
    this.checked(table, this.view.getUint16(vtable + 2, true), what);
    return table;
  }

  /** Absolute position of field `id` of the table at `table`, or 0 when the field is absent. */
  field(table: number, id: number): number {
    const vtable = table - this.view.getInt32(table, true);
    const slot = 4 + 2 * id;
    if (slot >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + slot, true);
    return offset === 0 ? 0 : table + offset;
  }

  /** `[start, length]` of the vector referenced by the uoffset at `at`, of `elementSize`-byte elements. */
  vector(at: number, elementSize: number, what: string): [number, number] {
    const start = at + this.u32(at, what);
    const length = this.u32(start, `${what} length`);
    this.checked(start + 4, length * elementSize, what);
    return [start + 4, length];
  }

  uint32Field(table: number, id: number, what: string): number {
    const at = this.field(table, id);
    return at === 0 ? 0 : this.u32(at, what);
  }

  string(at: number, what: string): string {
    const [start, length] = this.vector(at, 1, what);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(start, start + length));
  }

  slice(start: number, length: number): Uint8Array {
    return this.bytes.subarray(start, start + length);
  }

  private checked(at: number, length: number, what: string): number {
    if (at < 0 || length < 0 || at + length > this.bytes.length) throw this.fail(`${what} (bytes ${at}-${at + length}) lies outside the file (${this.bytes.length} bytes)`);
    return at;
  }
}

/**
 * Reads the `Model.metadata` entries of a TFLite model as UTF-8 text (name -> text), e.g. `hwr` -> the sidecar JSON
 * written by `toTflite`. Checks the file identifier, that the model has a subgraph, and that every buffer and every
 * offset it follows lies inside the bytes (the JavaScript flatbuffers runtime checks nothing itself).
 *
 * @param name the file's name, for error messages
 * @throws HwrError `BAD_MODEL` naming `name` for bytes that are not a TFLite model (too short, identifier not "TFL3",
 *   no subgraph, a table, vector or string (every buffer's data among them) outside the file, as in a truncated
 *   file, or a metadata entry naming a missing buffer)
 */
export function readTfliteMetadata(bytes: Uint8Array, name: string): Record<string, string> {
  const fail = (why: string) => hwrError('BAD_MODEL', `${name}: not a valid TFLite model: ${why}`);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes, too short for a flatbuffer`);
  const identifier = String.fromCharCode(...bytes.subarray(4, 8));
  if (identifier !== TFLITE_IDENTIFIER) throw fail(`file identifier ${JSON.stringify(identifier)}, expected "${TFLITE_IDENTIFIER}"`);
  const fb = new CheckedFlatbuffer(bytes, fail);
  const model = fb.table(0, 'Model');
  const out: Record<string, string> = {};
  const subgraphsAt = fb.field(model, 2);
  if (subgraphsAt === 0 || fb.vector(subgraphsAt, 4, 'Model.subgraphs')[1] === 0) throw fail('no subgraph');
  // Every buffer is checked, not only the metadata ones: weights lie at the end of the file, so this finds truncation.
  const buffersAt = fb.field(model, 4);
  const [buffersStart, bufferCount] = buffersAt === 0 ? [0, 0] : fb.vector(buffersAt, 4, 'Model.buffers');
  for (let i = 0; i < bufferCount; i++) {
    const buffer = fb.table(buffersStart + 4 * i, `Model.buffers[${i}]`);
    const dataAt = fb.field(buffer, 0);
    if (dataAt !== 0) fb.vector(dataAt, 1, `Model.buffers[${i}].data`);
  }
  const metadataAt = fb.field(model, 6);
  if (metadataAt === 0) return out;
  const [start, count] = fb.vector(metadataAt, 4, 'Model.metadata');
  for (let i = 0; i < count; i++) {
    const entry = fb.table(start + 4 * i, `Model.metadata[${i}]`);
    const nameAt = fb.field(entry, 0);
    const key = nameAt === 0 ? '' : fb.string(nameAt, `Model.metadata[${i}].name`);
    const index = fb.uint32Field(entry, 1, `Model.metadata[${i}].buffer`);
    if (index >= bufferCount) throw fail(`metadata "${key}" names buffer ${index} of ${bufferCount}`);
    const buffer = fb.table(buffersStart + 4 * index, `Model.buffers[${index}]`);
    const dataAt = fb.field(buffer, 0);
    if (dataAt === 0) {
      out[key] = '';
      continue;
    }
    const [dataStart, length] = fb.vector(dataAt, 1, `Model.buffers[${index}].data`);
    out[key] = new TextDecoder().decode(fb.slice(dataStart, length));
  }
  return out;
}

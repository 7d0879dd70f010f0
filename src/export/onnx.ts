/**
 * ONNX writer: a `LoweredGraph` (./lower.ts) as an ONNX model (https://onnx.ai/onnx/repo-docs/IR.html, opset 13),
 * encoded with `onnx-proto` (the ONNX protobuf schema compiled for protobufjs), in three flavours:
 *
 * - float32: float32 initializers, the reference;
 * - float16: every weight stored as a FLOAT16 initializer followed by a `Cast` to float32 (ONNX Runtime folds the
 *   Cast when it loads the model), so the file is about half the size while the input, the arithmetic and the output
 *   stay float32;
 * - int8: the QDQ ("quantize-dequantize") format that ONNX Runtime's own quantizer writes
 *   (https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html): int8 per-channel symmetric
 *   weights (7-bit by default, see `OnnxOptions.reduceRange`) and int32 biases as initializers followed by `DequantizeLinear`, and a `QuantizeLinear` ->
 *   `DequantizeLinear` pair on every activation, with the calibrated scales of ./quantize.ts. ONNX Runtime fuses the
 *   pairs around Conv, Gemm, MaxPool and GlobalAveragePool into its integer kernels (QLinearConv, QGemm, ...) at load
 *   time; any other runtime can still run the model in float32 arithmetic.
 *
 * Layout: the input is NHWC `[batch, h, w, 1]` as in TF.js; since it has one channel, a `Reshape` to
 * `[batch, 1, h, w]` is exactly NCHW, and the graph stays NCHW from there (ONNX's Conv and pooling layout). A TF.js
 * `Flatten` of an NHWC tensor is matched by permuting the rows of the dense kernel that follows it, so no Transpose
 * is needed.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { hwrError } from '../core/errors.ts';
import { float32ToFloat16 } from '../core/float16.ts';
import type { ActivationRange, ConvOp, DenseOp, LoweredGraph, MaxPoolOp } from './lower.ts';
import { activationQuantization, quantizeBias, quantizeWeightsPerChannel, type ActivationQuantization, type QuantizeMode } from './quantize.ts';

const { onnx } = onnxProto;

/** Name of the graph input: `[batch, h, w, 1]` float32 NHWC, values in [0, 1], ink = 1. */
export const ONNX_INPUT = 'image';
/** Name of the graph output: `[batch, classes]` float32 softmax probabilities. */
export const ONNX_OUTPUT = 'probabilities';
/** ONNX operator set of the default domain the writer targets. */
export const ONNX_OPSET = 13;
/** ONNX IR version that goes with opset 13 (ONNX 1.8). */
export const ONNX_IR_VERSION = 7;

/** Options of `toOnnx`. */
export interface OnnxOptions {
  /** Weight (and for int8, activation) precision; default `float32`. */
  quantize?: QuantizeMode;
  /** Calibrated ranges from `activationRanges(model, graph, ...)`: `graph.ops.length + 1` entries; required for int8. */
  ranges?: ActivationRange[];
  /** Written into the model's `metadata_props` (e.g. `{ hwr: JSON.stringify(sidecar) }`). */
  metadataProps?: Record<string, string>;
  /** The model's `producer_version` (the hwr version); default empty. */
  producerVersion?: string;
  /**
   * int8 only: store weights in 7 bits ([-63, 63], ONNX Runtime's `reduce_range`) instead of 8; default true. ONNX
   * Runtime's int8 kernels on x86 CPUs without AVX-512 VNNI (AVX2 only, like this project's machine) sum pairs of
   * uint8 x int8 products in saturating int16 (`vpmaddubsw`), and full-range weights overflow it: on the shipped digit
   * model, 8-bit weights lost 0.38 points of MNIST accuracy there (99.16% against 99.54%), 7-bit weights none (99.57%).
   */
  reduceRange?: boolean;
}

type TensorProto = OnnxTypes.ITensorProto;
type NodeProto = OnnxTypes.INodeProto;
type AttributeProto = OnnxTypes.IAttributeProto;
const DataType = onnx.TensorProto.DataType;

/** Bytes of a typed array as stored in `raw_data` (ONNX wants little endian, which every platform Node runs on is). */
const bytesOf = (values: ArrayBufferView): Uint8Array => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

const intsAttribute = (name: string, ints: number[]): AttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const intAttribute = (name: string, i: number): AttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });

/** Accumulates the nodes and initializers of one graph, with unique tensor names. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  /** A tensor name not used before, from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node reading `inputs`, writing one output named from `output` (made unique); returns that name. */
  node(opType: string, inputs: string[], output: string, attribute: AttributeProto[] = []): string {
    const out = this.fresh(output);
    this.nodes.push({ opType, input: inputs, output: [out], name: this.fresh(`${out}/${opType}`), attribute });
    return out;
  }

  /** Adds an initializer; returns its (unique) name. */
  initializer(base: string, dataType: number, dims: number[], values: ArrayBufferView): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dataType, dims, rawData: bytesOf(values) });
    return name;
  }
}

/** OIHW copy of a TF.js HWIO kernel `[kh, kw, in, out]`. */
function hwioToOihw(op: ConvOp): Float32Array {
  const [kh, kw] = op.kernelSize;
  const { inChannels: cin, outChannels: cout } = op;
  const out = new Float32Array(op.kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = op.kernel[((y * kw + x) * cin + i) * cout + o]!;
      }
    }
  }
  return out;
}

/**
 * A dense kernel `[inputs, units]` as Gemm's B with `transB = 1`: `[units, inputs]`. With `nchwFrom = [h, w, c]`, the
 * input is an NCHW tensor flattened by ONNX (feature `(c * h + y) * w + x`) while TF.js flattened it NHWC (feature
 * `(y * w + x) * c + c'`): the rows are permuted to match, which makes the flatten free.
 */
function gemmWeights(op: DenseOp, nchwFrom: [number, number, number] | null): Float32Array {
  const { inputs, units } = op;
  const out = new Float32Array(inputs * units);
  const sourceRow = new Int32Array(inputs);
  if (nchwFrom) {
    const [h, w, c] = nchwFrom;
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) sourceRow[(ch * h + y) * w + x] = (y * w + x) * c + ch;
  } else {
    for (let r = 0; r < inputs; r++) sourceRow[r] = r;
  }
  for (let u = 0; u < units; u++) for (let r = 0; r < inputs; r++) out[u * inputs + r] = op.kernel[sourceRow[r]! * units + u]!;
  return out;
}

/** Writes the ops of a lowered graph as ONNX nodes in one precision. */
class OnnxLowering {
  private readonly b = new GraphBuilder();
  /** The current activation tensor and, in int8, its quantization. */
  private current: string;
  private currentQ: ActivationQuantization | null = null;

  constructor(
    private readonly graph: LoweredGraph,
    private readonly mode: QuantizeMode,
    private readonly ranges: ActivationRange[] | undefined,
    private readonly weightLimit: number,
  ) {
    this.b.fresh(ONNX_INPUT);
    this.current = ONNX_INPUT;
  }

  /** The graph's nodes and initializers, the last node writing `ONNX_OUTPUT`. */
  build(): { nodes: NodeProto[]; initializers: TensorProto[] } {
    const [h, w] = this.graph.inputShape;
    const shape = this.b.initializer('input_nchw_shape', DataType.INT64, [4], BigInt64Array.from([-1n, 1n, BigInt(h), BigInt(w)]));
    this.current = this.b.node('Reshape', [ONNX_INPUT, shape], 'input_nchw');
    if (this.mode === 'int8') this.quantizeActivation(activationQuantization(this.ranges![0]!));
    const ops = this.graph.ops;
    let nchwFlatten: [number, number, number] | null = null;
    ops.forEach((op, index) => {
      const range = this.ranges?.[index + 1];
      switch (op.kind) {
        case 'conv2d':
          this.conv(op, range!);
          return;
        case 'maxPool':
          this.maxPool(op);
          return;
        case 'globalAveragePool':
          this.current = this.b.node('GlobalAveragePool', [this.current], `${op.layers[0]}_pooled`);
          if (this.mode === 'int8') this.quantizeActivation(activationQuantization(range!));
          this.reshapeToFeatures(op.layers[0]!);
          return;
        case 'flatten': {
          if (op.inputShape.length === 1) return;
          const [fh, fw] = op.inputShape;
          const next = ops.slice(index + 1).find((o) => o.kind !== 'relu');
          if (next?.kind === 'dense' && (fh > 1 || fw > 1)) {
            nchwFlatten = op.inputShape;
          } else if (fh > 1 || fw > 1) {
            // No dense layer to absorb the order: transpose back to NHWC so the features come in TF.js's order.
            this.current = this.b.node('Transpose', [this.current], `${op.layers[0]}_nhwc`, [intsAttribute('perm', [0, 2, 3, 1])]);
            this.requantize();
          }
          this.reshapeToFeatures(op.layers[0]!);
          return;
        }
        case 'dense':
          this.dense(op, nchwFlatten, range!);
          nchwFlatten = null;
          return;
        case 'relu':
          this.current = this.b.node('Relu', [this.current], `${op.layers[0]}_relu`);
          if (this.mode === 'int8') this.quantizeActivation(activationQuantization(range!));
          return;
        case 'softmax':
          // ONNX's Softmax axis -1 is the width of an NCHW tensor, TF.js's the channels: only flat inputs agree.
          if (op.inputShape.length !== 1) throw hwrError('UNSUPPORTED_MODEL', `${this.graph.name}: layer ${op.layers[0]}: softmax over an image-shaped tensor [${op.inputShape.join(', ')}]; hwr export supports softmax on flat features only`);
          this.current = this.b.node('Softmax', [this.current], index === ops.length - 1 ? ONNX_OUTPUT : `${op.layers[0]}_softmax`, [intAttribute('axis', -1)]);
          this.currentQ = null;
          return;
      }
    });
    return { nodes: this.b.nodes, initializers: this.b.initializers };
  }

  /** `QuantizeLinear` -> `DequantizeLinear` on the current activation with int8 `q`. */
  private quantizeActivation(q: ActivationQuantization): void {
    const scale = this.b.initializer(`${this.current}_scale`, DataType.FLOAT, [], Float32Array.of(q.scale));
    const zeroPoint = this.b.initializer(`${this.current}_zero_point`, DataType.INT8, [], Int8Array.of(q.zeroPoint));
    const quantized = this.b.node('QuantizeLinear', [this.current, scale, zeroPoint], `${this.current}_quantized`);
    this.current = this.b.node('DequantizeLinear', [quantized, scale, zeroPoint], `${this.current}_dequantized`);
    this.currentQ = q;
  }

  /**
   * After an op that only moves or selects values (MaxPool, Flatten, Transpose), int8 repeats the input's
   * quantization: the values are a subset of the input's, so nothing is lost, and ONNX Runtime runs such ops on int8
   * directly only when the scales before and after agree (as its own quantizer writes them).
   */
  private requantize(): void {
    if (this.currentQ) this.quantizeActivation(this.currentQ);
  }

  /** `Flatten` (axis 1) of the current tensor to `[batch, features]`. */
  private reshapeToFeatures(layer: string): void {
    this.current = this.b.node('Flatten', [this.current], `${layer}_flat`, [intAttribute('axis', 1)]);
    this.requantize();
  }

  /**
   * A float32 weight as a graph input: the initializer itself (float32), or FLOAT16 + `Cast` to float32 (float16).
   * @param dims ONNX dims of `values`
   */
  private floatWeight(base: string, values: Float32Array, dims: number[]): string {
    if (this.mode !== 'float16') return this.b.initializer(base, DataType.FLOAT, dims, values);
    const half = this.b.initializer(`${base}_float16`, DataType.FLOAT16, dims, float32ToFloat16(values));
    return this.b.node('Cast', [half], base, [intAttribute('to', DataType.FLOAT)]);
  }

  /**
   * Int8 weight `[channels, ...]` (per-channel symmetric along axis 0, |q| <= `weightLimit`) and its int32 bias, each followed by
   * `DequantizeLinear` (axis 0); returns the two float tensors. The bias scale is `inputScale * weightScale[c]`.
   */
  private int8WeightAndBias(base: string, weights: Float32Array, dims: number[], bias: Float32Array): [string, string] {
    const channels = dims[0]!;
    const perChannel = weights.length / channels;
    const q = quantizeWeightsPerChannel(weights, channels, (i) => Math.floor(i / perChannel), this.weightLimit);
    const axis = [intAttribute('axis', 0)];
    const wq = this.b.initializer(`${base}_kernel_int8`, DataType.INT8, dims, q.values);
    const ws = this.b.initializer(`${base}_kernel_scale`, DataType.FLOAT, [channels], q.scales);
    const wz = this.b.initializer(`${base}_kernel_zero_point`, DataType.INT8, [channels], new Int8Array(channels));
    const kernel = this.b.node('DequantizeLinear', [wq, ws, wz], `${base}_kernel`, axis);
    const qb = quantizeBias(bias, this.currentQ!.scale, q.scales);
    const bq = this.b.initializer(`${base}_bias_int32`, DataType.INT32, [channels], qb.values);
    const bs = this.b.initializer(`${base}_bias_scale`, DataType.FLOAT, [channels], qb.scales);
    const bz = this.b.initializer(`${base}_bias_zero_point`, DataType.INT32, [channels], new Int32Array(channels));
    const biasName = this.b.node('DequantizeLinear', [bq, bs, bz], `${base}_bias`, axis);
    return [kernel, biasName];
  }

  private conv(op: ConvOp, range: ActivationRange): void {
    const base = op.layers[0]!;
    const dims = [op.outChannels, op.inChannels, op.kernelSize[0], op.kernelSize[1]];
    const oihw = hwioToOihw(op);
    const [kernel, bias] = this.mode === 'int8'
      ? this.int8WeightAndBias(base, oihw, dims, op.bias)
      : [this.floatWeight(`${base}_kernel`, oihw, dims), this.floatWeight(`${base}_bias`, op.bias, [op.outChannels])];
    this.current = this.b.node('Conv', [this.current, kernel, bias], `${base}_out`, [
      intsAttribute('kernel_shape', op.kernelSize),
      intsAttribute('strides', op.strides),
      intsAttribute('pads', op.pads),
      intsAttribute('dilations', [1, 1]),
      intAttribute('group', 1),
    ]);
    if (op.relu) this.current = this.b.node('Relu', [this.current], `${base}_relu`);
    if (this.mode === 'int8') this.quantizeActivation(activationQuantization(range));
  }

  private maxPool(op: MaxPoolOp): void {
    this.current = this.b.node('MaxPool', [this.current], `${op.layers[0]}_out`, [
      intsAttribute('kernel_shape', op.poolSize),
      intsAttribute('strides', op.strides),
      intsAttribute('pads', op.pads),
    ]);
    this.requantize();
  }

  private dense(op: DenseOp, nchwFrom: [number, number, number] | null, range: ActivationRange): void {
    const base = op.layers[0]!;
    const weights = gemmWeights(op, nchwFrom);
    const dims = [op.units, op.inputs];
    const [kernel, bias] = this.mode === 'int8'
      ? this.int8WeightAndBias(base, weights, dims, op.bias)
      : [this.floatWeight(`${base}_kernel`, weights, dims), this.floatWeight(`${base}_bias`, op.bias, [op.units])];
    this.current = this.b.node('Gemm', [this.current, kernel, bias], `${base}_out`, [intAttribute('transB', 1)]);
    if (op.relu) this.current = this.b.node('Relu', [this.current], `${base}_relu`);
    if (this.mode === 'int8') this.quantizeActivation(activationQuantization(range));
  }
}

/**
 * Encodes `graph` as an ONNX model (IR version 7, opset 13, producer `hwr`): input `ONNX_INPUT`
 * `[batch, h, w, 1]` float32 (batch a `dim_param`), output `ONNX_OUTPUT` `[batch, classes]` float32.
 *
 * @param options.quantize `float32` (default), `float16` (FLOAT16 weights + Cast) or `int8` (QDQ, needs `ranges`)
 * @param options.ranges calibrated ranges, `graph.ops.length + 1` of them (`activationRanges`)
 * @param options.reduceRange int8: 7-bit weights (default true)
 * @returns the serialized `ModelProto`
 * @throws HwrError `BAD_ARGUMENT` for int8 without ranges or with a number of ranges that does not match the graph;
 *   `UNSUPPORTED_MODEL` for a softmax over an image-shaped tensor (not a classifier's output)
 */
export function toOnnx(graph: LoweredGraph, options: OnnxOptions = {}): Uint8Array {
  const mode = options.quantize ?? 'float32';
  if (mode === 'int8') {
    if (!options.ranges) throw hwrError('BAD_ARGUMENT', `${graph.name}: int8 export needs calibrated activation ranges (activationRanges on training images)`);
    if (options.ranges.length !== graph.ops.length + 1) {
      throw hwrError('BAD_ARGUMENT', `${graph.name}: expected ${graph.ops.length + 1} activation ranges (input and each op), got ${options.ranges.length}`);
    }
  }
  const { nodes, initializers } = new OnnxLowering(graph, mode, options.ranges, options.reduceRange === false ? 127 : 63).build();
  const [h, w] = graph.inputShape;
  const last = graph.ops[graph.ops.length - 1]!.outputShape;
  const tensorType = (dims: OnnxTypes.TensorShapeProto.IDimension[]): OnnxTypes.ITypeProto => ({
    tensorType: { elemType: DataType.FLOAT, shape: { dim: dims } },
  });
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'hwr',
    producerVersion: options.producerVersion ?? '',
    graph: {
      name: graph.name,
      node: nodes,
      initializer: initializers,
      input: [{ name: ONNX_INPUT, type: tensorType([{ dimParam: 'batch' }, { dimValue: h }, { dimValue: w }, { dimValue: 1 }]) }],
      output: [{ name: ONNX_OUTPUT, type: tensorType([{ dimParam: 'batch' }, { dimValue: last[0] }]) }],
    },
    metadataProps: Object.entries(options.metadataProps ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Reads the `metadata_props` of an ONNX model without ONNX Runtime, by decoding its `ModelProto`.
 * @param name the file's name, for the error message
 * @returns key -> value (empty when the model has none)
 * @throws HwrError `BAD_MODEL` naming `name` when the bytes do not decode as a ModelProto with an IR version and a graph
 */
export function readOnnxMetadata(bytes: Uint8Array, name: string): Record<string, string> {
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw hwrError('BAD_MODEL', `${name}: not an ONNX model (${(error as Error).message.split('\n')[0]})`, error);
  }
  if (!model.irVersion || !model.graph?.node?.length) {
    throw hwrError('BAD_MODEL', `${name}: not an ONNX model (no IR version or no graph)`);
  }
  return Object.fromEntries(model.metadataProps.map((entry) => [entry.key, entry.value]));
}

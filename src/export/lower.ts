/**
 * Lowering of a TF.js layers model to a small, format-neutral inference graph, the common input of the ONNX and
 * TFLite writers (./onnx.ts, ./tflite.ts): a straight chain of fused operations with float32 weights, batch
 * normalization folded into the convolution or dense layer before it (Jacob et al., "Quantization and Training of
 * Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018, section 3.2), ReLU fused into the
 * operation before it, dropout dropped (the identity at inference).
 *
 * Supported layers: InputLayer, Conv2D (any kernel, strides, `same` or `valid` padding, no dilation, activation
 * linear or relu), BatchNormalization (after Conv2D or Dense only), ReLU, MaxPooling2D, GlobalAveragePooling2D,
 * Flatten, Dropout, Dense (activation linear, relu or softmax). That is every architecture of `src/models/`.
 * Shapes are NHWC without the batch dimension, as in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { hwrError } from '../core/errors.ts';

/** `[height, width, channels]` of one image's activation (NHWC without batch); `[features]` after flattening. */
export type ActivationShape = [number, number, number] | [number];

/** What every lowered operation has. */
interface OpBase {
  /** Names of the TF.js layers it replaces, e.g. `["conv2d_1", "batch_normalization_1", "re_lu_1"]`. */
  layers: string[];
  /** Shape of its input and output, per image (no batch dimension). */
  inputShape: ActivationShape;
  outputShape: ActivationShape;
}

/**
 * 2-D convolution with bias and optional ReLU: `kernel` is `[kh, kw, inChannels, outChannels]` float32 (TF.js HWIO,
 * batch norm folded in), `bias` `[outChannels]`. `pads` are TensorFlow's `same`/`valid` padding made explicit, in
 * px: `[top, left, bottom, right]` (for `same`, the odd pixel goes to the bottom and right, as TensorFlow does).
 */
export interface ConvOp extends OpBase {
  kind: 'conv2d';
  kernel: Float32Array;
  bias: Float32Array;
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
  pads: [number, number, number, number];
  inChannels: number;
  outChannels: number;
  relu: boolean;
}

/** Max pooling, `valid` or `same` padding (`pads` as in `ConvOp`). */
export interface MaxPoolOp extends OpBase {
  kind: 'maxPool';
  poolSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
  pads: [number, number, number, number];
}

/** Mean over height and width: `[h, w, c]` -> `[c]`. */
export interface GlobalAveragePoolOp extends OpBase {
  kind: 'globalAveragePool';
}

/** `[h, w, c]` -> `[h * w * c]` in NHWC order (TF.js `Flatten`); the identity on `[n]`. */
export interface FlattenOp extends OpBase {
  kind: 'flatten';
}

/** Fully connected layer: `kernel` `[inputs, units]` float32 (batch norm folded in), `bias` `[units]`, optional ReLU. */
export interface DenseOp extends OpBase {
  kind: 'dense';
  kernel: Float32Array;
  bias: Float32Array;
  inputs: number;
  units: number;
  relu: boolean;
}

/** ReLU that could not be fused into the operation before it. */
export interface ReluOp extends OpBase {
  kind: 'relu';
}

/** Softmax over the last axis: logits `[classes]` -> probabilities. */
export interface SoftmaxOp extends OpBase {
  kind: 'softmax';
}

/** One operation of a `LoweredGraph`. */
export type LoweredOp = ConvOp | MaxPoolOp | GlobalAveragePoolOp | FlattenOp | DenseOp | ReluOp | SoftmaxOp;

/**
 * A model as a chain of operations: the input `[h, w, 1]` float32 in [0, 1] (ink = 1) goes through `ops` in order;
 * the last op's output is the class probabilities `[classes]` (the last op is `softmax`).
 */
export interface LoweredGraph {
  /** The TF.js model's name, e.g. `hwr_net`. */
  name: string;
  inputShape: [number, number, number];
  ops: LoweredOp[];
  /** Index in `model.layers` of the last layer each op replaces, for `activationRanges`. */
  lastLayer: number[];
}

/** `same` or `valid` padding of one spatial axis, TensorFlow's rule: output size and the pixels before and after. */
export function paddingOf(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.floor((size - kernel) / stride) + 1, before: 0, after: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

const pair = (v: unknown, name: string): [number, number] => {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x) && (x as number) > 0)) throw hwrError('BAD_MODEL', `${name}: expected two positive integers, got ${JSON.stringify(v)}`);
  return a as [number, number];
};

/**
 * Lowers a sequential TF.js layers model (every architecture in `src/models/`) to a `LoweredGraph`.
 * Reads the weights once (`layer.getWeights()`); the model is not changed.
 * @throws HwrError `UNSUPPORTED_MODEL` naming the first layer (or option) the exporters cannot express: another
 *   layer class, dilation, an activation other than linear/relu (softmax only on the last Dense), batch norm not
 *   after a convolution or dense layer, or a graph that does not end in softmax.
 */
export function lowerModel(model: LayersModel): LoweredGraph {
  const input = model.inputs[0]?.shape ?? [];
  const [, h, w, c] = input;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || input.length !== 4 || !h || !w || c !== 1) {
    throw hwrError('UNSUPPORTED_MODEL', `${model.name}: expected one input [batch, height, width, 1] and one output, got inputs ${JSON.stringify(model.inputs.map((i) => i.shape))}`);
  }
  const ops: LoweredOp[] = [];
  const lastLayer: number[] = [];
  let shape: ActivationShape = [h, w, c];
  const unsupported = (layer: { name: string; getClassName(): string }, why: string) =>
    hwrError('UNSUPPORTED_MODEL', `${model.name}: layer ${layer.name} (${layer.getClassName()}): ${why}; hwr export supports Conv2D, BatchNormalization, ReLU, MaxPooling2D, GlobalAveragePooling2D, Flatten, Dropout and Dense`);
  const spatial = (layer: { name: string; getClassName(): string }): [number, number, number] => {
    if (shape.length !== 3) throw unsupported(layer, `needs an image-shaped input, got [${shape.join(', ')}]`);
    return shape;
  };

  model.layers.forEach((layer, index) => {
    const className = layer.getClassName();
    const config = layer.getConfig() as Record<string, unknown>;
    const previous = ops[ops.length - 1];
    const push = (op: LoweredOp) => {
      ops.push(op);
      lastLayer.push(index);
      shape = op.outputShape;
    };
    const extend = (op: LoweredOp) => {
      op.layers.push(layer.name);
      lastLayer[lastLayer.length - 1] = index;
    };
    switch (className) {
      case 'InputLayer':
      case 'Dropout':
        return;
      case 'Conv2D': {
        const [height, width, inChannels] = spatial(layer);
        const kernelSize = pair(config.kernelSize, `${layer.name} kernelSize`);
        const strides = pair(config.strides ?? 1, `${layer.name} strides`);
        const dilation = pair(config.dilationRate ?? 1, `${layer.name} dilationRate`);
        if (dilation[0] !== 1 || dilation[1] !== 1) throw unsupported(layer, 'dilated convolution');
        const padding = config.padding as 'same' | 'valid';
        if (padding !== 'same' && padding !== 'valid') throw unsupported(layer, `padding "${String(padding)}"`);
        const activation = config.activation ?? 'linear';
        if (activation !== 'linear' && activation !== 'relu') throw unsupported(layer, `activation "${String(activation)}"`);
        if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${String(config.dataFormat)}`);
        const weights = layer.getWeights();
        const kernel = weights[0]!.dataSync() as Float32Array;
        const outChannels = config.filters as number;
        const bias = weights[1] ? Float32Array.from(weights[1].dataSync()) : new Float32Array(outChannels);
        const y = paddingOf(height, kernelSize[0], strides[0], padding);
        const x = paddingOf(width, kernelSize[1], strides[1], padding);
        push({
          kind: 'conv2d',
          layers: [layer.name],
          inputShape: [height, width, inChannels],
          outputShape: [y.out, x.out, outChannels],
          kernel: Float32Array.from(kernel),
          bias,
          kernelSize,
          strides,
          padding,
          pads: [y.before, x.before, y.after, x.after],
          inChannels,
          outChannels,
          relu: activation === 'relu',
        });
        return;
      }
      case 'BatchNormalization': {
        if (!previous || (previous.kind !== 'conv2d' && previous.kind !== 'dense') || previous.relu || lastLayer[lastLayer.length - 1] !== index - 1) {
          throw unsupported(layer, 'batch normalization is exported only directly after a Conv2D or Dense layer without activation');
        }
        const axis = config.axis as number;
        if (axis !== -1 && axis !== shape.length) throw unsupported(layer, `normalizes axis ${axis}, not the channels`);
        const epsilon = config.epsilon as number;
        const center = config.center !== false;
        const scale = config.scale !== false;
        const weights = layer.getWeights().map((t) => t.dataSync() as Float32Array);
        let k = 0;
        const gamma = scale ? weights[k++]! : null;
        const beta = center ? weights[k++]! : null;
        const mean = weights[k++]!;
        const variance = weights[k++]!;
        const channels = previous.kind === 'conv2d' ? previous.outChannels : previous.units;
        // y = gamma (x - mean) / sqrt(var + eps) + beta, with x = W v + b: W' = W s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps).
        const factor = new Float64Array(channels);
        for (let o = 0; o < channels; o++) factor[o] = (gamma ? gamma[o]! : 1) / Math.sqrt(variance[o]! + epsilon);
        for (let i = 0; i < previous.kernel.length; i++) previous.kernel[i] = previous.kernel[i]! * factor[i % channels]!;
        for (let o = 0; o < channels; o++) previous.bias[o] = (previous.bias[o]! - mean[o]!) * factor[o]! + (beta ? beta[o]! : 0);
        extend(previous);
        return;
      }
      case 'ReLU':
      case 'Activation': {
        const activation = className === 'ReLU' ? 'relu' : (config.activation as string);
        if (className === 'ReLU' && (config.maxValue !== undefined && config.maxValue !== null)) throw unsupported(layer, 'ReLU with a maximum value');
        if (activation === 'linear') return;
        if (activation === 'softmax') {
          push({ kind: 'softmax', layers: [layer.name], inputShape: shape, outputShape: shape });
          return;
        }
        if (activation !== 'relu') throw unsupported(layer, `activation "${activation}"`);
        if (previous && (previous.kind === 'conv2d' || previous.kind === 'dense') && !previous.relu && lastLayer[lastLayer.length - 1] === index - 1) {
          previous.relu = true;
          extend(previous);
        } else {
          push({ kind: 'relu', layers: [layer.name], inputShape: shape, outputShape: shape });
        }
        return;
      }
      case 'MaxPooling2D': {
        const [height, width, channels] = spatial(layer);
        const poolSize = pair(config.poolSize, `${layer.name} poolSize`);
        const strides = pair(config.strides ?? config.poolSize, `${layer.name} strides`);
        const padding = config.padding as 'same' | 'valid';
        if (padding !== 'same' && padding !== 'valid') throw unsupported(layer, `padding "${String(padding)}"`);
        const y = paddingOf(height, poolSize[0], strides[0], padding);
        const x = paddingOf(width, poolSize[1], strides[1], padding);
        push({ kind: 'maxPool', layers: [layer.name], inputShape: [height, width, channels], outputShape: [y.out, x.out, channels], poolSize, strides, padding, pads: [y.before, x.before, y.after, x.after] });
        return;
      }
      case 'GlobalAveragePooling2D': {
        const [height, width, channels] = spatial(layer);
        push({ kind: 'globalAveragePool', layers: [layer.name], inputShape: [height, width, channels], outputShape: [channels] });
        return;
      }
      case 'Flatten': {
        const size = shape.reduce((a, b) => a * b, 1);
        push({ kind: 'flatten', layers: [layer.name], inputShape: shape, outputShape: [size] });
        return;
      }
      case 'Dense': {
        if (shape.length !== 1) throw unsupported(layer, `needs a flat input, got [${shape.join(', ')}] (add a Flatten layer)`);
        const activation = (config.activation as string | undefined) ?? 'linear';
        if (activation !== 'linear' && activation !== 'relu' && activation !== 'softmax') throw unsupported(layer, `activation "${activation}"`);
        const weights = layer.getWeights();
        const units = config.units as number;
        push({
          kind: 'dense',
          layers: [layer.name],
          inputShape: shape,
          outputShape: [units],
          kernel: Float32Array.from(weights[0]!.dataSync() as Float32Array),
          bias: weights[1] ? Float32Array.from(weights[1].dataSync()) : new Float32Array(units),
          inputs: shape[0],
          units,
          relu: activation === 'relu',
        });
        if (activation === 'softmax') {
          ops.push({ kind: 'softmax', layers: [layer.name], inputShape: [units], outputShape: [units] });
          lastLayer.push(index);
        }
        return;
      }
      default:
        throw unsupported(layer, 'layer class not supported');
    }
  });
  if (ops[ops.length - 1]?.kind !== 'softmax') throw hwrError('UNSUPPORTED_MODEL', `${model.name}: the model must end in softmax (a Dense layer with activation "softmax")`);
  return { name: model.name, inputShape: [h, w, c], ops, lastLayer };
}

/**
 * Range of one op's output over a calibration set, for int8 quantization (post-training static quantization with
 * min/max calibration, Jacob et al. 2018; Krishnamoorthi, "Quantizing deep convolutional networks for efficient
 * inference: A whitepaper", 2018). `min` <= 0 <= `max` always (the quantized range must hold 0 exactly).
 */
export interface ActivationRange {
  min: number;
  max: number;
}

/**
 * Output ranges of the graph's input (index 0) and of every op (index i + 1 for `graph.ops[i]`), measured by running
 * the TF.js model layer by layer on `images` (inference mode). The softmax output's range is [0, 1].
 *
 * A Dense layer with softmax activation is recorded before its softmax (the logits), as the lowered `dense` op outputs.
 *
 * @param images `[count, h, w, 1]` float32 in [0, 1], row-major (preprocessed as the model expects)
 * @param options.batchSize images per forward pass (default 256)
 * @returns `graph.ops.length + 1` ranges
 */
export async function activationRanges(model: LayersModel, graph: LoweredGraph, images: Float32Array, count: number, options: { batchSize?: number } = {}): Promise<ActivationRange[]> {
  const [h, w] = graph.inputShape;
  const batchSize = options.batchSize ?? 256;
  const ranges: ActivationRange[] = [{ min: 0, max: 0 }, ...graph.ops.map(() => ({ min: 0, max: 0 }))];
  const wanted = new Map<number, number[]>();
  graph.lastLayer.forEach((layer, op) => {
    if (graph.ops[op]!.kind === 'softmax') return;
    wanted.set(layer, [...(wanted.get(layer) ?? []), op + 1]);
  });
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const extremes = tf.tidy(() => {
      let x: tf.Tensor = tf.tensor4d(images.subarray(start * h * w, (start + n) * h * w), [n, h, w, 1]);
      const found: Array<[number, tf.Tensor, tf.Tensor]> = [[0, x.min(), x.max()]];
      model.layers.forEach((layer, index) => {
        if (layer.getClassName() === 'InputLayer') return;
        const before = x;
        x = layer.apply(x, { training: false }) as tf.Tensor;
        const config = layer.getConfig() as { activation?: string };
        const logits = layer.getClassName() === 'Dense' && config.activation === 'softmax'
          ? (() => {
              const [kernel, bias] = layer.getWeights();
              return bias ? tf.add(tf.matMul(before as tf.Tensor2D, kernel as tf.Tensor2D), bias) : tf.matMul(before as tf.Tensor2D, kernel as tf.Tensor2D);
            })()
          : x;
        for (const slot of wanted.get(index) ?? []) found.push([slot, logits.min(), logits.max()]);
      });
      return found;
    });
    for (const [slot, min, max] of extremes) {
      const range = ranges[slot]!;
      range.min = Math.min(range.min, (await min.data())[0]!);
      range.max = Math.max(range.max, (await max.data())[0]!);
      min.dispose();
      max.dispose();
    }
  }
  // The softmax output (and any op after the last recorded one) is a probability.
  graph.ops.forEach((op, i) => {
    if (op.kind === 'softmax') ranges[i + 1] = { min: 0, max: 1 };
  });
  return ranges;
}

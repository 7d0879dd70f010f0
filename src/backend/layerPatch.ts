/**
 * What the training patches of tfjs-layers classes share (src/backend/convReluTraining.ts: Conv2D;
 * src/backend/batchNormTraining.ts: BatchNormalization, ReLU and MaxPooling2D; src/backend/convReluPool.ts:
 * MaxPooling2D): finding a class's prototype, reading a layer call's single input tensor, and telling a 2x2 max pooling
 * that the fused kernels cover.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The prototype of tfjs-layers' class `className`, found in the serialization registry (so no layer is created and no
 * layer-name counter moves), or undefined when that class is not registered (tfjs-layers not loaded).
 */
export function layerPrototype<P>(className: string): P | undefined {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  return entry ? (entry[0] as unknown as { prototype: P }).prototype : undefined;
}

/** The one tensor of a layer call's `inputs` (a tensor, or an array of exactly one), else undefined. */
export function singleInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | undefined {
  return Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
}

/** The fields of tfjs-layers' pooling layers that `isMaxPool2x2` reads. */
export interface PoolingLayerConfig {
  getClassName(): string;
  poolSize?: number[];
  strides?: number[];
  padding?: string;
  dataFormat?: string;
}

/**
 * Whether `layer` is a MaxPooling2D of pool 2 x 2, stride 2 x 2, 'valid' padding and NHWC: the pooling that
 * `HwrBatchNormReluPool` and `HwrReluMaxPool` compute.
 */
export function isMaxPool2x2(layer: PoolingLayerConfig): boolean {
  return layer.getClassName() === 'MaxPooling2D' && layer.padding === 'valid' && layer.dataFormat === 'channelsLast'
    && layer.poolSize?.[0] === 2 && layer.poolSize[1] === 2 && layer.strides?.[0] === 2 && layer.strides[1] === 2;
}

/**
 * Data of layer outputs that already applied the 2x2 max pooling of the MaxPooling2D layer after them (a batch norm
 * with its ReLU, src/backend/batchNormTraining.ts; a one-channel convolution with its ReLU, src/backend/convReluPool.ts);
 * the patched MaxPooling2D passes them on unchanged. Keyed by `dataId`, because `Layer.apply` hands a layer that returns
 * its input on as a clone (same data).
 */
const poolApplied = new WeakSet<object>();

/** Marks `t` as an output that already applied the 2x2 max pooling after its layer (see `poolAppliedTo`). */
export function markPoolApplied(t: tf.Tensor): void {
  poolApplied.add(t.dataId);
}

/** Whether `t` (or a clone of it) was marked by `markPoolApplied`: the MaxPooling2D layer after it returns it as it is. */
export function poolAppliedTo(t: tf.Tensor): boolean {
  return poolApplied.has(t.dataId);
}

/** Layers whose output is an output of a model that was compiled or called (see `trackModelOutputLayers`). */
const modelOutputLayers = new WeakSet<object>();

/**
 * The layer that is the only reader of `layer`'s output, if there is one: the layer graph shows one outbound node, and
 * no model that was compiled or called (`trackModelOutputLayers`) returns that output, which the graph's outbound
 * nodes do not show. A fusion that replaces the output (a pooled batch norm or convolution) must not apply then.
 */
export function soleReader<L>(layer: { outboundNodes?: Array<{ outboundLayer?: L }> }): L | undefined {
  const nodes = layer.outboundNodes;
  if (!nodes || nodes.length !== 1 || modelOutputLayers.has(layer)) return undefined;
  return nodes[0]!.outboundLayer ?? undefined;
}

/**
 * Whether the only reader of `layer`'s output (`soleReader`) is a 2x2 max pooling that `isMaxPool2x2` accepts: the
 * layers whose output the fused poolings may replace by the pooled one (a batch norm's ReLU, a ReLU convolution).
 */
export function readOnlyByMaxPool2x2(layer: { outboundNodes?: Array<{ outboundLayer?: PoolingLayerConfig }> }): boolean {
  const reader = soleReader(layer);
  return reader != null && isMaxPool2x2(reader);
}

let tracking = false;

/**
 * Patches tfjs-layers' `LayersModel.compile` and `LayersModel.call` (which `Sequential` and every training path go
 * through: `fit`, `trainOnBatch` and `fitDataset` need a compiled model, `model.apply` calls `call`) to record the
 * model's output layers before it runs, for `soleReader`. Idempotent; a no-op without tfjs-layers.
 */
export function trackModelOutputLayers(): void {
  if (tracking) return;
  const proto = layerPrototype<ModelLike>('Model');
  if (!proto) return;
  tracking = true;
  const { compile, call } = proto;
  const mark = (model: ModelLike) => {
    for (const layer of model.outputLayers ?? []) modelOutputLayers.add(layer);
  };
  proto.compile = function (this: ModelLike, ...args: unknown[]) {
    mark(this);
    return compile.apply(this, args);
  };
  proto.call = function (this: ModelLike, ...args: unknown[]) {
    mark(this);
    return call.apply(this, args);
  };
}

/** The parts of tfjs-layers' LayersModel that `trackModelOutputLayers` reads and wraps. */
interface ModelLike {
  outputLayers?: object[];
  compile(...args: unknown[]): unknown;
  call(...args: unknown[]): unknown;
}

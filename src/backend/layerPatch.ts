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

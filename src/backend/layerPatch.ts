/**
 * What the training patches of tfjs-layers classes share (src/backend/convReluTraining.ts: Conv2D;
 * src/backend/batchNormTraining.ts: BatchNormalization and ReLU): finding a class's prototype and reading a layer
 * call's single input tensor.
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

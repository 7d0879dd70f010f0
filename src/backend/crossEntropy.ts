/**
 * tfjs-layers' `categoricalCrossentropy` loss as one forward and one backward kernel (`HwrCategoricalCrossentropy`,
 * `HwrCategoricalCrossentropyGrad`, src/backend/kernels/CategoricalCrossentropy.ts) instead of its chain of some
 * twenty element-wise kernels per step, which at hccr-vgg's 3,755 classes took about 14 ms of a 160 ms step.
 *
 * `installFusedCrossEntropy` patches `tf.LayersModel.prototype.compile`: after tfjs-layers' own compile, each output
 * whose loss was given by the name 'categoricalCrossentropy' gets `fusedCategoricalCrossentropy` as its loss function
 * (in `lossFunctions` and `feedLossFns`, which the training and evaluation functions call), which falls back to
 * tfjs-layers' function where `crossEntropyApplies` is false. Compile has already
 * chosen the metrics by then (categorical accuracy for 'accuracy'), and the model's `loss` stays the name, so saved
 * training configs are unchanged. The loss value and gradient are tfjs-layers' up to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  CATEGORICAL_CROSSENTROPY,
  CATEGORICAL_CROSSENTROPY_GRAD,
  categoricalCrossentropyKernelConfigs,
  type CategoricalCrossentropyAttrs,
} from './kernels/CategoricalCrossentropy.ts';
import { registerMissingKernels } from './kernels/wasm_util.ts';

let enabled = true;

/** Turns the fused loss off (`false`: tfjs-layers' ops) or back on, for A/B benchmarks and tests. */
export function setFusedCrossEntropyEnabled(on: boolean): void {
  enabled = on;
}

/** tfjs-layers' fuzz factor: its `epsilon()` is the backend's (1e-7 for float32 backends). */
function epsilon(): number {
  return tf.backend().epsilon();
}

/**
 * Whether `fusedCategoricalCrossentropy` applies: the switch is on, both tensors are float32 of one shape (rank >= 1)
 * and the active backend has the kernels ('wasm', 'cpu').
 */
export function crossEntropyApplies(target: tf.Tensor, output: tf.Tensor): boolean {
  return enabled && target.dtype === 'float32' && output.dtype === 'float32' && output.rank >= 1
    && tf.util.arraysEqual(target.shape, output.shape) && tf.getKernel(CATEGORICAL_CROSSENTROPY, tf.getBackend()) != null;
}

/**
 * The per-row categorical cross-entropy of probabilities `output` [..., C] against `target` [..., C] (one-hot or any
 * distribution), as tfjs-layers computes it: output rescaled to sum 1 per row, clipped to [eps, 1 - eps], then
 * -sum(target * log). Returns float32 [...]. Gradient with respect to `output` (not `target`) by
 * `HwrCategoricalCrossentropyGrad`. Requires `crossEntropyApplies(target, output)`.
 */
export function fusedCategoricalCrossentropy(target: tf.Tensor, output: tf.Tensor): tf.Tensor {
  const attrs: CategoricalCrossentropyAttrs = { epsilon: epsilon() };
  return tf.engine().runKernel(CATEGORICAL_CROSSENTROPY, { target, output }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Gradient of `HwrCategoricalCrossentropy`: `output`'s by one kernel call; `target` gets zeros (never trained). */
const crossEntropyGradConfig: tf.GradConfig = {
  kernelName: CATEGORICAL_CROSSENTROPY,
  inputsToSave: ['target', 'output'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [target, output] = saved as [tf.Tensor, tf.Tensor];
    return {
      target: () => tf.zerosLike(target),
      output: () => tf.engine().runKernel(CATEGORICAL_CROSSENTROPY_GRAD, { target, output, dy: dy as tf.Tensor }, attrs) as tf.Tensor,
    };
  },
};

/** The fields of tfjs-layers' LayersModel that compile sets and the training function reads. */
interface CompiledModel {
  lossFunctions: Array<(yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor>;
  feedLossFns: Array<(yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor>;
}

let installed = false;

/**
 * Registers both kernels ('wasm', 'cpu') and the forward kernel's gradient, and patches
 * `tf.LayersModel.prototype.compile` (see the module comment). Idempotent; affects models compiled afterwards.
 */
export function installFusedCrossEntropy(): void {
  if (installed) return;
  installed = true;
  registerMissingKernels(categoricalCrossentropyKernelConfigs);
  tf.registerGradient(crossEntropyGradConfig);
  const proto = tfl.LayersModel.prototype as unknown as { compile(args: tfl.ModelCompileArgs): void };
  const original = proto.compile;
  proto.compile = function (this: tfl.LayersModel, args: tfl.ModelCompileArgs) {
    original.call(this, args);
    const model = this as unknown as CompiledModel;
    const names: unknown[] = typeof args.loss === 'string' ? model.lossFunctions.map(() => args.loss) : Array.isArray(args.loss) ? args.loss : [];
    names.forEach((name, i) => {
      const stock = model.lossFunctions[i];
      if (name !== 'categoricalCrossentropy' || !stock) return;
      const loss = (target: tf.Tensor, output: tf.Tensor) =>
        crossEntropyApplies(target, output) ? fusedCategoricalCrossentropy(target, output) : stock(target, output);
      model.lossFunctions[i] = loss;
      if (model.feedLossFns[i] === stock) model.feedLossFns[i] = loss;
    });
  };
}

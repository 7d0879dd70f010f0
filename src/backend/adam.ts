/**
 * Adam with one kernel per variable (`HwrAdamUpdate`, src/backend/kernels/AdamUpdate.ts) instead of tfjs-core's
 * fourteen element-wise kernels per variable and step.
 *
 * `installFusedAdam` patches `tf.AdamOptimizer.prototype.applyGradients` with a copy of tfjs-core 4.22's method
 * (tfjs-core/src/optimizers/adam_optimizer.ts) in which each float32 variable whose backend has the kernel ('wasm',
 * 'cpu') is updated by it; anything else takes tfjs-core's ops. The moment variables, their names, `accBeta1/2`, the
 * iteration count, `getWeights`/`setWeights` and the config are tfjs-core's, so optimizer state saves and restores
 * as before, and the updates are bit-identical (test/backend/adam.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, adamUpdateKernelConfigs, type AdamUpdateAttrs } from './kernels/AdamUpdate.ts';
import { registerMissingKernels } from './kernels/wasm_util.ts';

/** tfjs-core's `NamedTensor` (not exported from its index). */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** The fields of tfjs-core's AdamOptimizer that its applyGradients uses. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  incrementIterations(): void;
}

let enabled = true;

/** Turns the fused update off (`false`: tfjs-core's ops) or back on, for A/B benchmarks and tests. */
export function setFusedAdamEnabled(on: boolean): void {
  enabled = on;
}

let installed = false;

/**
 * Registers `HwrAdamUpdate` ('wasm', 'cpu') and patches `tf.AdamOptimizer.prototype.applyGradients` (see the module
 * comment). Idempotent; affects every Adam optimizer of this thread.
 */
export function installFusedAdam(): void {
  if (installed) return;
  installed = true;
  registerMissingKernels(adamUpdateKernelConfigs);
  const proto = tf.AdamOptimizer.prototype as unknown as AdamInternals & { applyGradients(g: tf.NamedTensorMap | NamedTensor[]): void };
  const original = proto.applyGradients;
  proto.applyGradients = function (this: AdamInternals, variableGradients: tf.NamedTensorMap | NamedTensor[]) {
    if (!enabled || tf.getKernel(ADAM_UPDATE, tf.getBackend()) == null) return original.call(this, variableGradients);
    applyGradients(this, variableGradients);
  };
}

/** A gradient given as a weighted sum of shards' gradients: `weight` times one tensor per variable. */
export interface WeightedGradients {
  /** One float32 tensor per variable, in the variables' order and shapes. */
  gradients: readonly tf.Tensor[];
  weight: number;
}

/**
 * Applies the gradient `sum_k parts[k].weight * parts[k].gradients` (per variable) with `optimizer`, as
 * `optimizer.applyGradients` would apply that sum made by tfjs-core's float32 `mul` and `add` (in `parts` order).
 * For an Adam optimizer with the fused update and two parts (data-parallel training's two shards), the sum is made
 * inside `HwrAdamUpdate` (inputs `g`, `g2`): one kernel per variable instead of four more ops, with bit-identical
 * results (test/backend/adam.test.ts). Otherwise the sum is made with `mul` and `add`, then applied.
 * @param variables the variables to update; `parts[k].gradients[i]` belongs to `variables[i]`.
 * @throws Error when a part has fewer gradients than there are variables.
 */
export function applyWeightedGradients(optimizer: tf.Optimizer, variables: readonly tf.Variable[], parts: readonly WeightedGradients[]): void {
  for (const part of parts) if (part.gradients.length < variables.length) throw new Error(`applyWeightedGradients: ${part.gradients.length} gradients for ${variables.length} variables`);
  const fused = enabled && installed && isFusedAdam(optimizer) && parts.length === 2 && tf.getKernel(ADAM_UPDATE, tf.getBackend()) != null
    && variables.every((v, i) => v.dtype === 'float32' && parts.every((p) => p.gradients[i]!.dtype === 'float32'));
  if (fused) {
    const [first, second] = parts as [WeightedGradients, WeightedGradients];
    applyGradients(optimizer as unknown as AdamInternals, variables.map((v, i) => ({ name: v.name, tensor: first.gradients[i]! })), { gradients: second.gradients, w1: first.weight, w2: second.weight });
    return;
  }
  const sums = weightedSum(parts, variables.length);
  optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: sums[i]! })));
  tf.dispose(sums);
}

/**
 * `sum_k parts[k].weight * parts[k].gradients[i]` for i < `count`, by tfjs-core's float32 `mul` and `add` in `parts`
 * order: one new tensor per variable (the caller disposes them).
 */
export function weightedSum(parts: readonly WeightedGradients[], count: number): tf.Tensor[] {
  return tf.tidy(() => Array.from({ length: count }, (_, i) => {
    let sum = tf.mul(parts[0]!.gradients[i]!, parts[0]!.weight);
    for (const part of parts.slice(1)) sum = tf.add(sum, tf.mul(part.gradients[i]!, part.weight));
    return sum;
  }));
}

/**
 * Whether `optimizer` is an AdamOptimizer updated by the patched `applyGradients` (tfjs-core's optimizers answer
 * `instanceof` by duck typing, so any optimizer is an `instanceof tf.AdamOptimizer`: the prototype chain is checked).
 */
function isFusedAdam(optimizer: tf.Optimizer): boolean {
  const proto = tf.AdamOptimizer.prototype;
  return Object.prototype.isPrototypeOf.call(proto, optimizer) && optimizer.applyGradients === proto.applyGradients;
}

/**
 * tfjs-core 4.22's `AdamOptimizer.applyGradients`, with the per-variable chain replaced by `HwrAdamUpdate`; with
 * `second`, each variable's gradient is `g * w1 + second.gradients[i] * w2` (the kernel's `g2` input).
 */
function applyGradients(self: AdamInternals, variableGradients: tf.NamedTensorMap | NamedTensor[], second?: { gradients: readonly tf.Tensor[]; w1: number; w2: number }): void {
  const varNames = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  const engine = tf.engine() as unknown as { registeredVariables: Record<string, tf.Variable> };
  const attrs: AdamUpdateAttrs = { beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, learningRate: self.learningRate, ...(second ? { w1: second.w1, w2: second.w2 } : {}) };
  tf.tidy(() => {
    const oneMinusAccBeta1 = tf.sub(1, self.accBeta1);
    const oneMinusAccBeta2 = tf.sub(1, self.accBeta2);
    varNames.forEach((name, i) => {
      const value = engine.registeredVariables[name]!;
      const trainable = false;
      if (self.accumulatedFirstMoment[i] == null) {
        self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(trainable)) };
      }
      if (self.accumulatedSecondMoment[i] == null) {
        self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(trainable)) };
      }
      const gradient = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name];
      if (gradient == null) return;
      const firstMoment = self.accumulatedFirstMoment[i]!.variable;
      const secondMoment = self.accumulatedSecondMoment[i]!.variable;
      if (value.dtype === 'float32' && gradient.dtype === 'float32') {
        const [newValue, newFirstMoment, newSecondMoment] = tf.engine().runKernel(ADAM_UPDATE,
          { x: value, m: firstMoment, v: secondMoment, g: gradient, d1: oneMinusAccBeta1, d2: oneMinusAccBeta2, ...(second ? { g2: second.gradients[i]! } : {}) },
          attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        firstMoment.assign(newFirstMoment!);
        secondMoment.assign(newSecondMoment!);
        value.assign(newValue!);
        return;
      }
      const newFirstMoment = tf.add(tf.mul(firstMoment, self.beta1), tf.mul(gradient, 1 - self.beta1));
      const newSecondMoment = tf.add(tf.mul(secondMoment, self.beta2), tf.mul(tf.square(gradient), 1 - self.beta2));
      const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
      const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
      firstMoment.assign(newFirstMoment);
      secondMoment.assign(newSecondMoment);
      const newValue = tf.add(tf.mul(tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), self.epsilon)), -self.learningRate), value);
      value.assign(newValue);
    });
    self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
    self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
  });
  self.incrementIterations();
}

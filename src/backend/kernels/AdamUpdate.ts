/**
 * `HwrAdamUpdate` (our kernel name; TF.js has no such kernel): Adam's update of one variable (Kingma & Ba 2015,
 * "Adam: A Method for Stochastic Optimization", algorithm 1) in one pass, where tfjs-core's
 * AdamOptimizer.applyGradients runs fourteen element-wise kernels per variable (4 to 5 ms of a 66 ms hwr-net step
 * on wasm by an A/B, mostly per-kernel overhead: notes/PERFORMANCE.md). Same operations in the same order, each
 * rounded to float32 as the separate kernels round them, so the results are bit-identical (test/backend/adam.test.ts):
 *   m' = m * beta1 + g * (1 - beta1);  v' = v * beta2 + g^2 * (1 - beta2);
 *   x' = ((m' / d1) / (sqrt(v' / d2) + epsilon)) * (-learningRate) + x,
 * with d1 = 1 - beta1^t and d2 = 1 - beta2^t as float32 scalars (tfjs-core's `oneMinusAccBeta1/2`).
 *
 * Backends: 'wasm' (hwr's SIMD kernel when kernels.wasm is loaded, else the JS loop below on the heap) and 'cpu'
 * (the JS loop); used by src/backend/adam.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { f32, heapOffset, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel name. Inputs: `x`, `m`, `v`, `g` float32 of one shape; `d1`, `d2` float32 scalars; optionally `g2` float32
 * of x's shape, and then the gradient is `g * w1 + g2 * w2` (attrs `w1`, `w2`; each product and the sum rounded to
 * float32, as tfjs-core's `mul` and `add` round them: the weighted average of two shards' gradients). Attrs
 * `AdamUpdateAttrs`. Outputs [x', m', v'], float32 of x's shape.
 */
export const ADAM_UPDATE = 'HwrAdamUpdate';

/** Attributes of `HwrAdamUpdate`: the optimizer's hyper-parameters as JS numbers (rounded to float32 as tfjs-core does). */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** With input `g2`: the weights of `g` and `g2` in the gradient `g * w1 + g2 * w2` (rounded to float32). */
  w1?: number;
  w2?: number;
}

/** The export of `assembly/adam.ts` (byte offsets on the wasm heap; `g2` 0: the gradient is `g1` alone). */
export interface AdamExports {
  adamUpdate(x: number, m: number, v: number, g1: number, g2: number, xOut: number, mOut: number, vOut: number, n: number,
    w1: number, w2: number, b1: number, c1: number, b2: number, c2: number, d1: number, d2: number, eps: number, lr: number): void;
}

/**
 * The float32 scalars of the update, as tfjs-core makes them: `beta1`, `1 - beta1` (computed in float64, then
 * rounded), `beta2`, `1 - beta2`, `epsilon`, `-learningRate`.
 */
function scalars(attrs: AdamUpdateAttrs): [number, number, number, number, number, number] {
  const f = Math.fround;
  return [f(attrs.beta1), f(1 - attrs.beta1), f(attrs.beta2), f(1 - attrs.beta2), f(attrs.epsilon), f(-attrs.learningRate)];
}

/**
 * The update in JS with float32 rounding after every operation: writes `xOut`, `mOut`, `vOut` (length of `x`).
 * `d1`, `d2` are float32 values; with `g2`, the gradient is `g * attrs.w1 + g2 * attrs.w2`. Throws nothing.
 */
export function adamUpdateJs(x: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, d1: number, d2: number,
  attrs: AdamUpdateAttrs, xOut: Float32Array, mOut: Float32Array, vOut: Float32Array, g2?: Float32Array): void {
  const f = Math.fround;
  const [b1, c1, b2, c2, eps, lr] = scalars(attrs);
  const [w1, w2] = [f(attrs.w1 ?? 1), f(attrs.w2 ?? 0)];
  for (let i = 0; i < x.length; i++) {
    const gi = g2 ? f(f(g[i]! * w1) + f(g2[i]! * w2)) : g[i]!;
    const m1 = f(f(m[i]! * b1) + f(gi * c1));
    const v1 = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
    const step = f(f(m1 / d1) / f(f(Math.sqrt(f(v1 / d2))) + eps));
    mOut[i] = m1;
    vOut[i] = v1;
    xOut[i] = f(step * lr) + x[i]!;
  }
}

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs: tf.NamedAttrMap };

/** Kernel for 'wasm'. */
export function adamUpdateWasm(args: Args<WasmBackend>): tf.TensorInfo[] {
  const { backend } = args;
  const attrs = args.attrs as unknown as AdamUpdateAttrs;
  const { x, m, v, g, g2, d1, d2 } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const outs = [x!, m!, v!].map((t) => backend.makeOutput(t.shape, 'float32'));
  const d1v = f32(backend, d1!)[0]!;
  const d2v = f32(backend, d2!)[0]!;
  const simd = simdKernels(backend);
  const n = tf.util.sizeFromShape(x!.shape);
  if (simd) {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    const [b1, c1, b2, c2, eps, lr] = scalars(attrs);
    simd.adamUpdate(at(x!), at(m!), at(v!), at(g!), g2 ? at(g2) : 0, at(outs[0]!), at(outs[1]!), at(outs[2]!), n,
      Math.fround(attrs.w1 ?? 1), Math.fround(attrs.w2 ?? 0), b1, c1, b2, c2, d1v, d2v, eps, lr);
  } else {
    const w = (t: tf.TensorInfo) => f32(backend, t);
    adamUpdateJs(w(x!), w(m!), w(v!), w(g!), d1v, d2v, attrs, w(outs[0]!), w(outs[1]!), w(outs[2]!), g2 ? w(g2) : undefined);
  }
  return outs;
}

/** Kernel for 'cpu' (the JS loop). */
export function adamUpdateCpu(args: Args<{ readSync(dataId: object): Float32Array; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo }>): tf.TensorInfo[] {
  const { backend } = args;
  const { x, m, v, g, g2, d1, d2 } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const r = (t: tf.TensorInfo) => backend.readSync(t.dataId);
  const n = tf.util.sizeFromShape(x!.shape);
  const outs = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  adamUpdateJs(r(x!), r(m!), r(v!), r(g!), r(d1!)[0]!, r(d2!)[0]!, args.attrs as unknown as AdamUpdateAttrs, ...outs, g2 ? r(g2) : undefined);
  return outs.map((values) => backend.makeTensorInfo(x!.shape, 'float32', values));
}

/** Registration records of `HwrAdamUpdate` on 'wasm' and 'cpu'. */
export const adamUpdateKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc: adamUpdateWasm as unknown as tf.KernelFunc },
  { kernelName: ADAM_UPDATE, backendName: 'cpu', kernelFunc: adamUpdateCpu as unknown as tf.KernelFunc },
];

/**
 * `HwrCategoricalCrossentropy` and `HwrCategoricalCrossentropyGrad` (our kernel names; TF.js has no such kernels):
 * tfjs-layers' categorical cross-entropy of probabilities (tfjs-layers/src/losses.ts, `fromLogits` false) and its
 * gradient with respect to the probabilities, one pass per row each, where tfjs-layers runs a chain of element-wise
 * kernels (Sum, RealDiv, ClipByValue, Log, Cast, Multiply, Sum, Neg forward; in the gradient GreaterEqual,
 * LessEqual, LogicalAnd, Select, ZerosLike, RealDiv, Multiply and Sums): about 14 ms of a 160 ms hccr-vgg step at
 * [64, 3755] (notes/PERFORMANCE.md, session 21).
 *
 * Per row i, with p the probabilities, t the targets, s = sum_j p_j, q_j = p_j / s, c_j = clip(q_j, eps, 1 - eps):
 *   loss_i = -sum_j t_j log(c_j);
 *   dp_j = g_j / s + dS,  g_j = -dy_i t_j / c_j where eps <= q_j <= 1 - eps (else 0),  dS = -sum_j g_j p_j / s^2
 * (the chain rule through clip, the division by s and the sum that makes s, as tfjs-core's gradients compute it).
 * Terms with t_j == 0 contribute nothing (the clipped log is finite), so only they are skipped: a one-hot row costs
 * one pass for s, one log, and one pass to write dp. A NaN in p still gives a NaN loss and gradient.
 * Numerics: s and the sums over j in float64, each element value rounded to float32: within float32 rounding of the
 * composite (test/backend/crossEntropy.test.ts).
 *
 * Backends: 'wasm' (hwr's SIMD kernels of simd/assembly/crossEntropy.ts when kernels.wasm is loaded: the row sum in
 * four float32 lanes, the active columns found 4 at a time; else the JS loops below on the heap) and 'cpu' (the JS
 * loops); used by src/backend/crossEntropy.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { f32, heapOffset, type WasmBackend } from './wasm_util.ts';

/** The exports of `assembly/crossEntropy.ts` (byte offsets on the wasm heap; lo, hi the float32 clip bounds). */
export interface CrossEntropyExports {
  categoricalCrossentropy(t: number, p: number, loss: number, rows: number, C: number, lo: number, hi: number): void;
  categoricalCrossentropyGrad(t: number, p: number, dy: number, dp: number, rows: number, C: number, lo: number, hi: number): void;
}

/** Forward kernel. Inputs `target`, `output` float32 [..., C]; attr `epsilon`. Output float32 [...] (per-row loss). */
export const CATEGORICAL_CROSSENTROPY = 'HwrCategoricalCrossentropy';
/**
 * Gradient kernel. Inputs `target`, `output` float32 [..., C], `dy` float32 [...]; attr `epsilon`. Output float32
 * [..., C]: the gradient of sum_i dy_i loss_i with respect to `output`.
 */
export const CATEGORICAL_CROSSENTROPY_GRAD = 'HwrCategoricalCrossentropyGrad';

/** Attributes of both kernels: tfjs-layers' fuzz factor (its `epsilon()`, the backend's: 1e-7 in float32). */
export interface CategoricalCrossentropyAttrs {
  epsilon: number;
}

/** The clip bounds as float32 values, as tfjs-core's ClipByValue compares them. */
function bounds(epsilon: number): [number, number] {
  return [Math.fround(epsilon), Math.fround(1 - epsilon)];
}

/**
 * Per-row losses of probabilities `p` [rows, C] against targets `t` [rows, C] into `loss` [rows]. Throws nothing.
 */
export function categoricalCrossentropyJs(t: Float32Array, p: Float32Array, rows: number, C: number, epsilon: number, loss: Float32Array): void {
  const f = Math.fround;
  const [lo, hi] = bounds(epsilon);
  for (let i = 0; i < rows; i++) {
    const base = i * C;
    let s = 0;
    for (let j = 0; j < C; j++) s += p[base + j]!;
    const sum = f(s);
    let acc = 0;
    for (let j = 0; j < C; j++) {
      const tj = t[base + j]!;
      if (tj === 0 && p[base + j] === p[base + j]) continue;
      const q = f(p[base + j]! / sum);
      const c = q < lo ? lo : q > hi ? hi : q;
      acc += f(tj * f(Math.log(c)));
    }
    loss[i] = f(-acc);
  }
}

/**
 * Gradient of sum_i dy_i loss_i with respect to `p` [rows, C] into `dp` [rows, C]; `t` [rows, C], `dy` [rows].
 * Throws nothing.
 */
export function categoricalCrossentropyGradJs(t: Float32Array, p: Float32Array, dy: Float32Array, rows: number, C: number, epsilon: number, dp: Float32Array): void {
  const f = Math.fround;
  const [lo, hi] = bounds(epsilon);
  for (let i = 0; i < rows; i++) {
    const base = i * C;
    let s = 0;
    for (let j = 0; j < C; j++) s += p[base + j]!;
    const sum = f(s);
    const minusDy = f(-dy[i]!);
    // dS = -sum_j g_j p_j / s^2 over the terms with g_j != 0.
    let dS = 0;
    for (let j = 0; j < C; j++) {
      const tj = t[base + j]!;
      const pj = p[base + j]!;
      if (tj === 0 && pj === pj) continue;
      const q = f(pj / sum);
      const g = q >= lo && q <= hi ? f(f(minusDy * tj) / q) : 0; // where(mask, dy / c, 0): c = q inside the mask
      dS += f(f(g * pj) / f(sum * sum));
    }
    const dSum = f(-dS);
    for (let j = 0; j < C; j++) {
      const tj = t[base + j]!;
      const pj = p[base + j]!;
      if (tj === 0 && pj === pj) {
        dp[base + j] = dSum;
        continue;
      }
      const q = f(pj / sum);
      const g = q >= lo && q <= hi ? f(f(minusDy * tj) / q) : 0; // where(mask, dy / c, 0): c = q inside the mask
      dp[base + j] = f(f(g / sum) + dSum);
    }
  }
}

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs: tf.NamedAttrMap };
type CpuBackend = { readSync(dataId: object): Float32Array; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };

/** [rows, C] of a tensor whose last axis holds the classes. */
function rowsAndClasses(shape: number[]): [number, number] {
  const C = shape[shape.length - 1] ?? 1;
  return [tf.util.sizeFromShape(shape) / Math.max(C, 1), C];
}

function forwardWasm(args: Args<WasmBackend>): tf.TensorInfo {
  const { backend } = args;
  const { target, output } = args.inputs as Record<string, tf.TensorInfo>;
  const [rows, C] = rowsAndClasses(output!.shape);
  const loss = backend.makeOutput(output!.shape.slice(0, -1), 'float32');
  const epsilon = (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon;
  const simd = simdKernels(backend);
  if (simd) {
    const at = (x: tf.TensorInfo) => heapOffset(backend, x);
    simd.categoricalCrossentropy(at(target!), at(output!), at(loss), rows, C, ...bounds(epsilon));
    return loss;
  }
  categoricalCrossentropyJs(f32(backend, target!), f32(backend, output!), rows, C, (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon, f32(backend, loss));
  return loss;
}

function gradWasm(args: Args<WasmBackend>): tf.TensorInfo {
  const { backend } = args;
  const { target, output, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const [rows, C] = rowsAndClasses(output!.shape);
  const dp = backend.makeOutput(output!.shape, 'float32');
  const epsilon = (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon;
  const simd = simdKernels(backend);
  if (simd) {
    const at = (x: tf.TensorInfo) => heapOffset(backend, x);
    simd.categoricalCrossentropyGrad(at(target!), at(output!), at(dy!), at(dp), rows, C, ...bounds(epsilon));
    return dp;
  }
  categoricalCrossentropyGradJs(f32(backend, target!), f32(backend, output!), f32(backend, dy!), rows, C, (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon, f32(backend, dp));
  return dp;
}

function forwardCpu(args: Args<CpuBackend>): tf.TensorInfo {
  const { backend } = args;
  const { target, output } = args.inputs as Record<string, tf.TensorInfo>;
  const [rows, C] = rowsAndClasses(output!.shape);
  const loss = new Float32Array(rows);
  categoricalCrossentropyJs(backend.readSync(target!.dataId), backend.readSync(output!.dataId), rows, C, (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon, loss);
  return backend.makeTensorInfo(output!.shape.slice(0, -1), 'float32', loss);
}

function gradCpu(args: Args<CpuBackend>): tf.TensorInfo {
  const { backend } = args;
  const { target, output, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const [rows, C] = rowsAndClasses(output!.shape);
  const dp = new Float32Array(rows * C);
  const r = (x: tf.TensorInfo) => backend.readSync(x.dataId);
  categoricalCrossentropyGradJs(r(target!), r(output!), r(dy!), rows, C, (args.attrs as unknown as CategoricalCrossentropyAttrs).epsilon, dp);
  return backend.makeTensorInfo(output!.shape, 'float32', dp);
}

/** Registration records of both kernels on 'wasm' and 'cpu'. */
export const categoricalCrossentropyKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: CATEGORICAL_CROSSENTROPY, backendName: 'wasm', kernelFunc: forwardWasm as unknown as tf.KernelFunc },
  { kernelName: CATEGORICAL_CROSSENTROPY_GRAD, backendName: 'wasm', kernelFunc: gradWasm as unknown as tf.KernelFunc },
  { kernelName: CATEGORICAL_CROSSENTROPY, backendName: 'cpu', kernelFunc: forwardCpu as unknown as tf.KernelFunc },
  { kernelName: CATEGORICAL_CROSSENTROPY_GRAD, backendName: 'cpu', kernelFunc: gradCpu as unknown as tf.KernelFunc },
];

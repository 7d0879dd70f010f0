/**
 * `HwrBatchNormTrain` and `HwrBatchNormTrainGrad` (our kernel names; TF.js has no such kernels): batch normalization
 * in training mode (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network Training by Reducing
 * Internal Covariate Shift", algorithm 1 and the backward formulas of section 3) over the last axis, as one forward
 * and one backward kernel. tfjs-layers' BatchNormalization in training runs `tf.moments` (Mean, Sub, Square, Mean)
 * and `FusedBatchNorm`, and their gradients about twenty element-wise kernels per layer (about 18 ms of a 93 ms
 * hwr-net step on wasm, notes/PERFORMANCE.md, 2026-11-30); here the forward pass reads x twice (statistics,
 * normalization) and the backward pass reads dy and x twice (sums, dx).
 *
 * Forward, x viewed as [P, C] (every axis but the last flattened), per channel c over the P rows:
 *   mean = sum x / P, variance = sum (x - mean)^2 / P (biased, as tf.moments),
 *   y = (x - mean) * gamma / sqrt(variance + epsilon) + beta.
 * Backward, for upstream dy (of y), dmean, dvariance (of the returned statistics; zeros when only y is used),
 * with s = 1 / sqrt(variance + epsilon), S1 = sum dy, S2 = sum dy * (x - mean):
 *   dbeta = S1, dgamma = s * S2, dx = a * dy + k * (x - mean) + c with a = gamma * s,
 *   k = (2 * dvariance - a * s^2 * S2) / P, c = (dmean - a * S1) / P.
 * Sums accumulate in float64 (blocks of 8 rows in float32 on the SIMD path); the variance is computed in one pass from
 * sums of x - shift and its square, with shift = the first row (see assembly/batchNorm.ts), so results differ from
 * TF.js's chain of kernels by float32 rounding only (test/backend/batchNormTraining.test.ts states the tolerance).
 *
 * Backends: 'wasm' (hwr's SIMD kernels when kernels.wasm is loaded and C % 4 == 0, else the JS loops below on the
 * heap) and 'cpu' (the JS loops), registered by `registerBatchNormTrainingKernels`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels, simdKernelsOf } from '../simd/index.ts';
import { dispose, f32, heapOffset, registerMissingKernels, type WasmBackend } from './wasm_util.ts';

/**
 * Kernel name of the forward pass. Inputs `x` float32 [..., C], `gamma`, `beta` float32 [C]; outputs [y, mean, variance];
 * with attr `relu`, y is max(0, y) (a ReLU fused after the batch norm, src/backend/batchNormTraining.ts).
 */
export const BATCH_NORM_TRAIN = 'HwrBatchNormTrain';
/**
 * Kernel name of the backward pass. Inputs `dy` [..., C], `x` [..., C], `mean`, `variance`, `gamma`, `dmean`,
 * `dvariance` [C], all float32, and with attr `relu` also `y` [..., C] (the forward's output, max(0, y)); outputs
 * [dx [..., C], dgamma [C], dbeta [C]]. With `relu`, dy is the gradient of max(0, y) and is first masked by y > 0 (the
 * ReLU's gradient, tfjs-core's step(x) > 0).
 */
export const BATCH_NORM_TRAIN_GRAD = 'HwrBatchNormTrainGrad';

/** Attributes of both kernels. */
export interface BatchNormTrainAttrs {
  /** Added to the variance before the square root (tfjs-layers' `epsilon`, default 1e-3). */
  varianceEpsilon: number;
  /** A ReLU fused after the batch norm: y = max(0, y) forward, dy masked by y > 0 backward. Default false. */
  relu?: boolean;
}

/**
 * Kernel name of batch norm, ReLU and 2x2 max pooling in training as one forward kernel (wasm with the SIMD kernels
 * only; src/backend/batchNormTraining.ts uses it where a BatchNormalization layer is followed by a ReLU layer and a
 * MaxPooling2D of pool 2, stride 2, 'valid', on an NHWC input with even height and width and C % 4 == 0). Inputs `x`
 * float32 [B, H, W, C], `gamma`, `beta` float32 [C]; attr `varianceEpsilon`. Outputs [pooled float32
 * [B, H/2, W/2, C] (max pooling of max(0, batch norm of x), bit for bit as the three kernels apart), mean [C],
 * variance [C]].
 */
export const BATCH_NORM_RELU_POOL = 'HwrBatchNormReluPool';
/**
 * Kernel name of its backward pass. Inputs `dy` (the pooled output's gradient) float32 [B, H/2, W/2, C], `x`
 * [B, H, W, C], `mean`, `variance`, `gamma`, `beta`, `dmean`, `dvariance` [C]; attr `varianceEpsilon`. Outputs
 * [dx [B, H, W, C], dgamma [C], dbeta [C]]: the batch norm's gradient for the upstream gradient that MaxPoolGrad and the
 * ReLU's gradient would give (dy at each window's winner where it is > 0, else 0; the winners found again from x).
 * With attr `deferDx: true` it returns [dx, dgamma, dbeta, codes, coefficients] and leaves dx unwritten: codes bool
 * [B, H/2, W/2, C] (each window's winner, `HwrConvReluPoolGrad`'s codes) and coefficients float32 [3, C] (a, k, c of
 * dx = a * dy' + k * (x - mean) + c, dy' the winners' gradient), for src/backend/batchNormConvGradient.ts, which
 * computes a convolution's filter gradient from them without dx, and fills dx where something else needs it.
 */
export const BATCH_NORM_RELU_POOL_GRAD = 'HwrBatchNormReluPoolGrad';


/** The exports of `assembly/batchNorm.ts` (byte offsets on the wasm heap; `scratch` holds 8 * C floats). */
export interface BatchNormExports {
  batchNormReluPoolForward(x: number, pooled: number, B: number, H: number, W: number, C: number,
    gamma: number, beta: number, mean: number, variance: number, eps: number, scratch: number): void;
  batchNormReluPoolBackward(dp: number, x: number, dx: number, B: number, H: number, W: number, C: number,
    mean: number, variance: number, gamma: number, beta: number, dmean: number, dvariance: number, eps: number, dgamma: number,
    dbeta: number, scratch: number, codes: number): void;
  batchNormTrainForward(x: number, y: number, P: number, C: number, gamma: number, beta: number, mean: number,
    variance: number, eps: number, scratch: number, relu: number): void;
  batchNormTrainBackward(dy: number, x: number, dx: number, P: number, C: number, mean: number, variance: number,
    gamma: number, dmean: number, dvariance: number, eps: number, dgamma: number, dbeta: number, scratch: number, y: number): void;
}

/**
 * The forward pass in JS (cpu backend, and wasm without kernels.wasm or with C % 4 != 0). `x` [P * C], `gamma`,
 * `beta` [C]; writes `y` [P * C], `mean`, `variance` [C]. Same shifted one-pass variance as the SIMD kernel, with
 * float64 accumulators. Throws nothing.
 */
export function batchNormTrainForwardJs(x: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number, C: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array, relu = false): void {
  const P = C > 0 ? x.length / C : 0;
  const sums = new Float64Array(C);
  const squares = new Float64Array(C);
  for (let i = 0; i < P * C; i += C) {
    for (let c = 0; c < C; c++) {
      const d = x[i + c]! - x[c]!;
      sums[c] += d;
      squares[c] += d * d;
    }
  }
  const factor = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m1 = sums[c]! / P;
    variance[c] = Math.max(squares[c]! / P - m1 * m1, 0);
    mean[c] = x[c]! + m1;
    factor[c] = gamma[c]! / Math.sqrt(variance[c]! + epsilon);
  }
  for (let i = 0; i < P * C; i += C) {
    for (let c = 0; c < C; c++) {
      const v = Math.fround((x[i + c]! - mean[c]!) * factor[c]! + beta[c]!);
      y[i + c] = relu && v <= 0 ? 0 : v;
    }
  }
}

/**
 * The backward pass in JS (see `batchNormTrainForwardJs` for where it runs). `dy`, `x` [P * C]; `mean`, `variance`,
 * `gamma`, `dmean`, `dvariance` [C]; writes `dx` [P * C], `dgamma`, `dbeta` [C] by the formulas of the module comment.
 * With `relu` (the forward's output `y` [P * C] after the fused ReLU), dy is first masked by y > 0 (see
 * BATCH_NORM_TRAIN_GRAD). Throws nothing.
 */
export function batchNormTrainBackwardJs(dy: Float32Array, x: Float32Array, mean: Float32Array, variance: Float32Array,
  gamma: Float32Array, dmean: Float32Array, dvariance: Float32Array, epsilon: number, C: number,
  dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, relu: { y: Float32Array } | null = null): void {
  const P = C > 0 ? x.length / C : 0;
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  const y = relu?.y;
  const grad = (i: number, c: number): number => (y && !(y[i + c]! > 0) ? 0 : dy[i + c]!);
  for (let i = 0; i < P * C; i += C) {
    for (let c = 0; c < C; c++) {
      const g = grad(i, c);
      s1[c] += g;
      s2[c] += g * (x[i + c]! - mean[c]!);
    }
  }
  const a = new Float32Array(C);
  const k = new Float32Array(C);
  const b = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const s = 1 / Math.sqrt(variance[c]! + epsilon);
    const ac = gamma[c]! * s;
    dbeta[c] = s1[c]!;
    dgamma[c] = s * s2[c]!;
    a[c] = ac;
    k[c] = (2 * dvariance[c]! - ac * s * s * s2[c]!) / P;
    b[c] = (dmean[c]! - ac * s1[c]!) / P;
  }
  for (let i = 0; i < P * C; i += C) {
    for (let c = 0; c < C; c++) dx[i + c] = a[c]! * grad(i, c) + k[c]! * (x[i + c]! - mean[c]!) + b[c]!;
  }
}

type Inputs = Record<string, tf.TensorInfo>;
type KernelArgs<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs: tf.NamedAttrMap };

function epsilonOf(attrs: tf.NamedAttrMap): number {
  return (attrs as unknown as BatchNormTrainAttrs).varianceEpsilon ?? 1e-3;
}

function reluOf(attrs: tf.NamedAttrMap): boolean {
  return (attrs as unknown as BatchNormTrainAttrs).relu === true;
}

function channelsOf(x: tf.TensorInfo): number {
  return x.shape[x.shape.length - 1] ?? 1;
}

/** Forward kernel for 'wasm'. Returns [y (x's shape), mean [C], variance [C]], float32. */
export function batchNormTrainWasm(args: KernelArgs<WasmBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { x, gamma, beta } = args.inputs as Inputs;
  const C = channelsOf(x!);
  const P = tf.util.sizeFromShape(x!.shape) / C;
  const y = backend.makeOutput(x!.shape, 'float32');
  const mean = backend.makeOutput([C], 'float32');
  const variance = backend.makeOutput([C], 'float32');
  const simd = simdKernels(backend);
  if (simd && C % 4 === 0 && P > 0) {
    const scratch = backend.makeOutput([8 * C], 'float32');
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    simd.batchNormTrainForward(at(x!), at(y), P, C, at(gamma!), at(beta!), at(mean), at(variance), epsilonOf(attrs), at(scratch), reluOf(attrs) ? 1 : 0);
    dispose(backend, scratch);
  } else {
    batchNormTrainForwardJs(f32(backend, x!), f32(backend, gamma!), f32(backend, beta!), epsilonOf(attrs), C,
      f32(backend, y), f32(backend, mean), f32(backend, variance), reluOf(attrs));
  }
  return [y, mean, variance];
}

/** Backward kernel for 'wasm'. Returns [dx (x's shape), dgamma [C], dbeta [C]], float32. */
export function batchNormTrainGradWasm(args: KernelArgs<WasmBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { dy, x, mean, variance, gamma, y, dmean, dvariance } = args.inputs as Inputs;
  const relu = reluOf(attrs);
  if (relu && !y) throw new Error(`${BATCH_NORM_TRAIN_GRAD}: attr relu needs the input y`);
  const C = channelsOf(x!);
  const P = tf.util.sizeFromShape(x!.shape) / C;
  const dx = backend.makeOutput(x!.shape, 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  const simd = simdKernels(backend);
  if (simd && C % 4 === 0 && P > 0) {
    const scratch = backend.makeOutput([8 * C], 'float32');
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    simd.batchNormTrainBackward(at(dy!), at(x!), at(dx), P, C, at(mean!), at(variance!), at(gamma!), at(dmean!),
      at(dvariance!), epsilonOf(attrs), at(dgamma), at(dbeta), at(scratch), relu ? at(y!) : 0);
    dispose(backend, scratch);
  } else {
    const v = (t: tf.TensorInfo) => f32(backend, t);
    batchNormTrainBackwardJs(v(dy!), v(x!), v(mean!), v(variance!), v(gamma!), v(dmean!), v(dvariance!), epsilonOf(attrs), C,
      v(dx), v(dgamma), v(dbeta), relu ? { y: v(y!) } : null);
  }
  return [dx, dgamma, dbeta];
}

/** [B, H, W, C] of a rank-4 tensor info. */
function nhwc(x: tf.TensorInfo): [number, number, number, number] {
  return x.shape as [number, number, number, number];
}

/**
 * Whether `BATCH_NORM_RELU_POOL` runs on `backend` for an input of `shape`: the wasm backend with the SIMD kernels, a
 * rank-4 NHWC shape with even height and width (> 0) and C % 4 == 0.
 */
export function batchNormReluPoolApplies(backend: tf.KernelBackend, shape: readonly number[]): boolean {
  if (shape.length !== 4) return false;
  const [B, H, W, C] = shape as [number, number, number, number];
  if (!(B > 0 && H > 0 && W > 0 && H % 2 === 0 && W % 2 === 0 && C > 0 && C % 4 === 0)) return false;
  return simdKernelsOf(backend) !== undefined;
}

/** `BATCH_NORM_RELU_POOL` on 'wasm'. @throws Error where `batchNormReluPoolApplies` is false. */
export function batchNormReluPoolWasm(args: KernelArgs<WasmBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { x, gamma, beta } = args.inputs as Inputs;
  if (!batchNormReluPoolApplies(backend, x!.shape)) throw new Error(`${BATCH_NORM_RELU_POOL}: not applicable to x [${x!.shape}] (wasm SIMD kernels, NHWC, even H and W, C % 4 == 0)`);
  const [B, H, W, C] = nhwc(x!);
  const pooled = backend.makeOutput([B, H / 2, W / 2, C], 'float32');
  const mean = backend.makeOutput([C], 'float32');
  const variance = backend.makeOutput([C], 'float32');
  const scratch = backend.makeOutput([8 * C], 'float32');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdKernels(backend)!.batchNormReluPoolForward(at(x!), at(pooled), B, H, W, C, at(gamma!), at(beta!), at(mean), at(variance), epsilonOf(attrs), at(scratch));
  dispose(backend, scratch);
  return [pooled, mean, variance];
}

/** `BATCH_NORM_RELU_POOL_GRAD` on 'wasm'. @throws Error where `batchNormReluPoolApplies` is false for x. */
export function batchNormReluPoolGradWasm(args: KernelArgs<WasmBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { dy, x, mean, variance, gamma, beta, dmean, dvariance } = args.inputs as Inputs;
  if (!batchNormReluPoolApplies(backend, x!.shape)) throw new Error(`${BATCH_NORM_RELU_POOL_GRAD}: not applicable to x [${x!.shape}] (wasm SIMD kernels, NHWC, even H and W, C % 4 == 0)`);
  const [B, H, W, C] = nhwc(x!);
  const deferred = attrs['deferDx'] === true;
  const dx = backend.makeOutput(x!.shape, 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  const scratch = backend.makeOutput([8 * C], 'float32');
  const codes = backend.makeOutput([B, H / 2, W / 2, C], 'bool');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdKernels(backend)!.batchNormReluPoolBackward(at(dy!), at(x!), deferred ? 0 : at(dx), B, H, W, C, at(mean!), at(variance!), at(gamma!),
    at(beta!), at(dmean!), at(dvariance!), epsilonOf(attrs), at(dgamma), at(dbeta), at(scratch), at(codes));
  if (deferred) {
    // The coefficients a, k, c of dx = a * dy + k * (x - mean) + c: floats 4C..7C of the scratch.
    const coefficients = backend.makeOutput([3, C], 'float32');
    f32(backend, coefficients).set(f32(backend, scratch).subarray(4 * C, 7 * C));
    dispose(backend, scratch);
    return [dx, dgamma, dbeta, codes, coefficients];
  }
  dispose(backend, scratch, codes);
  return [dx, dgamma, dbeta];
}

/** The cpu backend as these kernels use it. */
interface CpuBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/** Forward kernel for 'cpu' (the JS loops). */
export function batchNormTrainCpu(args: KernelArgs<CpuBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { x, gamma, beta } = args.inputs as Inputs;
  const C = channelsOf(x!);
  const v = (t: tf.TensorInfo) => backend.readSync(t.dataId);
  const y = new Float32Array(tf.util.sizeFromShape(x!.shape));
  const mean = new Float32Array(C);
  const variance = new Float32Array(C);
  batchNormTrainForwardJs(v(x!), v(gamma!), v(beta!), epsilonOf(attrs), C, y, mean, variance, reluOf(attrs));
  return [backend.makeTensorInfo(x!.shape, 'float32', y), backend.makeTensorInfo([C], 'float32', mean),
    backend.makeTensorInfo([C], 'float32', variance)];
}

/** Backward kernel for 'cpu' (the JS loops). */
export function batchNormTrainGradCpu(args: KernelArgs<CpuBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { dy, x, mean, variance, gamma, y, dmean, dvariance } = args.inputs as Inputs;
  const relu = reluOf(attrs);
  if (relu && !y) throw new Error(`${BATCH_NORM_TRAIN_GRAD}: attr relu needs the input y`);
  const C = channelsOf(x!);
  const v = (t: tf.TensorInfo) => backend.readSync(t.dataId);
  const dx = new Float32Array(tf.util.sizeFromShape(x!.shape));
  const dgamma = new Float32Array(C);
  const dbeta = new Float32Array(C);
  batchNormTrainBackwardJs(v(dy!), v(x!), v(mean!), v(variance!), v(gamma!), v(dmean!), v(dvariance!), epsilonOf(attrs), C,
    dx, dgamma, dbeta, relu ? { y: v(y!) } : null);
  return [backend.makeTensorInfo(x!.shape, 'float32', dx), backend.makeTensorInfo([C], 'float32', dgamma),
    backend.makeTensorInfo([C], 'float32', dbeta)];
}

/**
 * Kernel name of the moving-average update of both statistics in one call (tfjs-layers' `doMovingAverage` on the
 * moving mean and the moving variance: three kernels each). Inputs `movingMean`, `movingVariance`, `mean`, `variance`
 * float32 [C]; attribute `momentum`; outputs [new moving mean, new moving variance] float32 [C].
 */
export const MOVING_AVERAGES = 'HwrMovingAverages';

/**
 * moving - (moving - value) * decay with decay = float32(1 - momentum), rounded to float32 after each operation:
 * tfjs-layers' `doMovingAverage` (Sub, Multiply by a float32 scalar, Sub), bit for bit. Returns a new array.
 */
export function movingAverageJs(moving: Float32Array, value: Float32Array, momentum: number): Float32Array {
  const decay = Math.fround(1 - momentum);
  const out = new Float32Array(moving.length);
  for (let i = 0; i < out.length; i++) out[i] = moving[i]! - Math.fround(Math.fround(moving[i]! - value[i]!) * decay);
  return out;
}

function momentumOf(attrs: tf.NamedAttrMap): number {
  return (attrs as unknown as { momentum: number }).momentum;
}

/** Moving-average kernel for 'wasm' (JS on the heap: C values). */
export function movingAveragesWasm(args: KernelArgs<WasmBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { movingMean, movingVariance, mean, variance } = args.inputs as Inputs;
  return [[movingMean!, mean!], [movingVariance!, variance!]].map(([moving, value]) => {
    const out = backend.makeOutput(moving!.shape, 'float32');
    f32(backend, out).set(movingAverageJs(f32(backend, moving!), f32(backend, value!), momentumOf(attrs)));
    return out;
  });
}

/** Moving-average kernel for 'cpu'. */
export function movingAveragesCpu(args: KernelArgs<CpuBackend>): tf.TensorInfo[] {
  const { backend, attrs } = args;
  const { movingMean, movingVariance, mean, variance } = args.inputs as Inputs;
  return [[movingMean!, mean!], [movingVariance!, variance!]].map(([moving, value]) =>
    backend.makeTensorInfo(moving!.shape, 'float32', movingAverageJs(backend.readSync(moving!.dataId), backend.readSync(value!.dataId), momentumOf(attrs))));
}

/** Registration records of the kernels on 'wasm' and 'cpu' (the batch norm, ReLU and pooling pair on 'wasm' only). */
export const batchNormTrainingKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: 'wasm', kernelFunc: batchNormTrainWasm as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'wasm', kernelFunc: batchNormTrainGradWasm as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_TRAIN, backendName: 'cpu', kernelFunc: batchNormTrainCpu as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'cpu', kernelFunc: batchNormTrainGradCpu as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_RELU_POOL, backendName: 'wasm', kernelFunc: batchNormReluPoolWasm as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_RELU_POOL_GRAD, backendName: 'wasm', kernelFunc: batchNormReluPoolGradWasm as unknown as tf.KernelFunc },
  { kernelName: MOVING_AVERAGES, backendName: 'wasm', kernelFunc: movingAveragesWasm as unknown as tf.KernelFunc },
  { kernelName: MOVING_AVERAGES, backendName: 'cpu', kernelFunc: movingAveragesCpu as unknown as tf.KernelFunc },
];

/** Registers `batchNormTrainingKernelConfigs` (idempotent: kernels already registered are left alone). */
export function registerBatchNormTrainingKernels(): void {
  registerMissingKernels(batchNormTrainingKernelConfigs);
}

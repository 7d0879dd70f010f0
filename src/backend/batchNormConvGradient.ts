/**
 * The filter gradient of a one-input-channel convolution whose only reader is a batch norm fused with a ReLU and a 2x2
 * max pooling (hwr-net's first block: conv 5x5 on the image, batch norm, ReLU, pooling), computed without the
 * convolution output's full-size gradient dx.
 *
 * Why: the batch norm's backward writes dx ([64, 24, 24, 32] float32, 4.7 MB for hwr-net) and the convolution's filter
 * gradient reads it back in a dense product of 29.5 M multiply-adds; together about 2.4 ms of an 18 ms step.
 *
 * How: the batch norm's backward (assembly/batchNorm.ts) gives dx = a * g + k * (x - mean) + c per channel, where g is
 * the pooled gradient at each window's winner where the ReLU passed it (0 elsewhere) and x the convolution's output.
 * With P[p, t] the input patch of output position p (tap t = (kh, kw)) and W the filter [taps, Co]:
 *   dW[t, co] = sum_p P[p, t] dx[p, co]
 *            = a_co * sum_p P[p, t] g[p, co] + k_co * sum_p P[p, t] (x[p, co] - mean_co) + c_co * s_t,
 *   s_t = sum_p P[p, t],   sum_p P[p, t] (x[p, co] - mean_co) = sum_t' (M[t, t'] - s_t s_t' / N) W[t', co],
 *   M[t, t'] = sum_p P[p, t] P[p, t'] (the patches' second moments, taps x taps), N the number of positions,
 * since x = P W exactly (no bias; a bias would cancel in x - mean). The first sum has one nonzero term per pooling
 * window and channel: `HwrConvReluPoolGrad` computes it from the winners' codes with a byte swizzle (the seed CNN's
 * first block uses the same kernel). M and s come from sums over the batch of the input times its shifted self
 * (`patchLagSums`, 2.3 M multiply-adds for hwr-net) and box sums over them in float64. The batch norm's backward stops
 * after its first pass (the winners, S1, S2, the coefficients): dx is never written.
 *
 * Values: the same gradient as the batch norm's dx through `Conv2DBackpropFilter`, up to float32 rounding (x - mean is
 * taken from the patches' moments in float64 rather than from the float32 output; test/backend/batchNormConvGradient
 * .test.ts states the tolerance).
 *
 * Plumbing: the batch norm's patched call (src/backend/batchNormTraining.ts) marks its input when it is the output of a
 * linear `FusedConv2D` (recorded by gradients/FusedConv2D_grad.ts) of a Conv2D layer whose only reader is the batch
 * norm, with one input channel, stride 1, 'valid' padding (`markDeferrableConvOutput`). The pooled batch norm's
 * gradient then defers dx (`deferredBatchNormPoolGradient`): dx is allocated but not written, and a `DeferredGradient`
 * is registered under its data id. The convolution's gradient (FusedConv2D_grad.ts), dx's only reader, takes the filter
 * gradient from it (`deferredFilterGradient`), and fills dx (`materializeDeferred`) before anything else reads it (the
 * input gradient, a bias, a convolution it cannot handle). Both gradients run in the same backward pass, whose scope
 * keeps the codes and coefficients alive until it ends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_RELU_POOL_GRAD } from './kernels/BatchNormTraining.ts';
import { CONV_RELU_POOL_GRAD, convReluPoolApplies } from './kernels/ConvReluPool.ts';
import { f32, heapOffset, type WasmBackend } from './kernels/wasm_util.ts';
import { simdKernels } from './simd/index.ts';

/** What the pooled batch norm's deferred backward leaves for dx's reader (see the module comment). */
interface DeferredGradient {
  /** The batch norm gradient kernel's inputs (`dy`: the pooled output's gradient [B, H/2, W/2, C]) and attributes, to
   * fill dx when something needs it whole. */
  inputs: tf.NamedTensorMap;
  attrs: tf.NamedAttrMap;
  /** Each window's winner, `HwrConvReluPoolGrad`'s codes, bool [B, H/2, W/2, C]. */
  codes: tf.Tensor;
  /** a, k, c of dx = a * g + k * (x - mean) + c, float32 [3, C]. */
  coefficients: tf.Tensor;
  /** dx itself (allocated, not written until `materializeDeferred`). */
  dx: tf.Tensor;
  filled: boolean;
}

const deferred = new WeakMap<object, DeferredGradient>();
const deferrable = new WeakSet<object>();

let enabled = true;

/**
 * Computes such a convolution's filter gradient without dx (default, `true`), or lets the batch norm write dx and
 * `Conv2DBackpropFilter` read it (`false`: session 25's path). For A/B benchmarks and tests.
 */
export function setBatchNormConvGradientEnabled(on: boolean): void {
  enabled = on;
}

/** The filter geometry this path handles: one input channel, Co % 8 == 0 (`convReluPoolApplies`), 'valid', stride 1. */
export function deferrableConvolution(filterShape: readonly number[], strides: number | readonly number[], pad: unknown, dilations: unknown): boolean {
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [dh, dw] = dilations == null ? [1, 1] : typeof dilations === 'number' ? [dilations, dilations] : (dilations as number[]);
  return filterShape.length === 4 && filterShape[2] === 1 && filterShape[3]! % 8 === 0 && sh === 1 && sw === 1 && dh === 1 && dw === 1 && pad === 'valid';
}

/**
 * Marks `x`, a batch norm's input in training, as the output of a convolution whose filter gradient may be computed
 * from the deferred batch norm gradient (the caller checked the layer graph and the convolution; see the module
 * comment). A no-op when the path is switched off or tfjs-core checks every kernel's output for NaN (debug mode,
 * `CHECK_COMPUTATION_FOR_ERRORS`), which would read the unwritten dx.
 */
export function markDeferrableConvOutput(x: tf.Tensor): void {
  if (enabled && !tf.env().getBool('DEBUG') && !tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS')) deferrable.add(x.dataId);
}

/**
 * The pooled batch norm's gradient kernel for a marked input `inputs.x`: dx allocated but not written, registered for
 * the convolution's gradient. Returns [dx, dgamma, dbeta], or undefined where `inputs.x` is not marked or the backend
 * is not wasm with the SIMD kernels (the caller then runs the kernel as usual).
 */
export function deferredBatchNormPoolGradient(inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor[] | undefined {
  if (!enabled || !deferrable.has(inputs['x']!.dataId) || tf.getBackend() !== 'wasm') return undefined;
  const [dx, dgamma, dbeta, codes, coefficients] = tf.engine().runKernel(BATCH_NORM_RELU_POOL_GRAD, inputs, { ...attrs, deferDx: true }) as tf.Tensor[];
  deferred.set(dx!.dataId, { inputs, attrs, codes: codes!, coefficients: coefficients!, dx: dx!, filled: false });
  return [dx!, dgamma!, dbeta!];
}

/** Whether `dy` is a deferred batch norm gradient whose values are not written yet. */
export function isDeferred(dy: tf.Tensor): boolean {
  const d = deferred.get(dy.dataId);
  return d !== undefined && !d.filled;
}

/**
 * Writes a deferred gradient's values into `dy` (its data), by running the batch norm's gradient kernel in full and
 * copying its dx over; a no-op for any other tensor or one already written.
 */
export function materializeDeferred(dy: tf.Tensor): void {
  const d = deferred.get(dy.dataId);
  if (!d || d.filled) return;
  tf.tidy(() => {
    const [dx] = tf.engine().runKernel(BATCH_NORM_RELU_POOL_GRAD, d.inputs, d.attrs) as tf.Tensor[];
    const backend = tf.backend() as WasmBackend;
    f32(backend, d.dx).set(f32(backend, dx!));
  });
  d.filled = true;
}

/**
 * dW [fH, fW, 1, Co] float32 of a 'valid', stride-1 convolution of `x` [B, H, W, 1] float32 with `filter`
 * [fH, fW, 1, Co], from the deferred gradient `dy` of its output (see the module comment), or undefined where `dy` is
 * not deferred or the shapes are not this path's (the caller then fills dy and runs `Conv2DBackpropFilter`).
 */
export function deferredFilterGradient(x: tf.Tensor, filter: tf.Tensor, dy: tf.Tensor): tf.Tensor | undefined {
  const d = deferred.get(dy.dataId);
  if (!d || d.filled || x.rank !== 4) return undefined;
  const backend = tf.backend() as WasmBackend;
  const simd = simdKernels(backend);
  if (!simd || !convReluPoolApplies(backend, x.shape, filter.shape, 'valid')) return undefined;
  const [B, H, W] = x.shape as [number, number, number, number];
  const [fH, fW, , Co] = filter.shape as [number, number, number, number];
  const OH = H - fH + 1, OW = W - fW + 1;
  if (!tf.util.arraysEqual(dy.shape, [B, OH, OW, Co]) || OH % 2 !== 0 || OW % 2 !== 0) return undefined;
  return tf.tidy(() => {
    // a * (sum over each window's winner of P * g): the seed CNN's first-block gradient kernel on the same codes.
    const [sparse] = tf.engine().runKernel(CONV_RELU_POOL_GRAD, { x, dy: d.inputs['dy']!, codes: d.codes }, { pad: 'valid', filterShape: filter.shape }) as tf.Tensor[];
    // s and the patches' covariance sums (float64, viewed through float32 tensors of twice the length).
    const taps = fH * fW;
    const lags = tf.zeros([fH * (2 * fW - 1) + 1, H, W]); // written whole by patchLagSums
    const scratch = tf.zeros([2 * (H + 1) * (W + 1)]);
    const moments = tf.zeros([2 * (taps + taps * taps)]);
    simd.patchLagSums(heapOffset(backend, x), B, H, W, fH, fW, heapOffset(backend, lags));
    simd.patchMoments(heapOffset(backend, lags), H, W, fH, fW, B * OH * OW, heapOffset(backend, scratch), heapOffset(backend, moments));
    const m = moments.dataSync() as Float32Array;
    const stats = new Float64Array(m.buffer, m.byteOffset, taps + taps * taps);
    const w = filter.dataSync() as Float32Array;
    const g = sparse!.dataSync() as Float32Array;
    const coef = d.coefficients.dataSync() as Float32Array;
    const out = new Float32Array(taps * Co);
    for (let t = 0; t < taps; t++) {
      const row = taps + t * taps;
      for (let co = 0; co < Co; co++) {
        let centered = 0;
        for (let u = 0; u < taps; u++) centered += stats[row + u]! * w[u * Co + co]!;
        out[t * Co + co] = coef[co]! * g[t * Co + co]! + coef[Co + co]! * centered + coef[2 * Co + co]! * stats[t]!;
      }
    }
    return tf.tensor(out, filter.shape, 'float32');
  });
}

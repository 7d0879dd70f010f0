/**
 * `HwrConvReluPool`, `HwrConvReluPoolGrad` and `HwrConvReluPoolExpand` (our kernel names): a convolution of one input
 * channel (stride 1, dilation 1, 'valid' or 'same' padding, NHWC) + bias + ReLU + 2x2 max pooling (stride 2, 'valid')
 * as one forward kernel, and its filter and bias gradients from the pooled gradient in one kernel: the seed CNN's first
 * block. Neither writes or reads the convolution's full-size output ([64, 26, 26, 32] float32, 5.5 MB per batch of
 * 64) or its gradient; the forward writes the pooled output and a one-byte code per pooled value of its window's
 * winner (simd/assembly/convReluPool.ts has the layout and the algorithm). src/backend/convReluPool.ts runs them for
 * a Conv2D layer whose only reader is such a pooling.
 *
 * Values: the pooled output is FusedConv2D's (the taps' sum in order, + bias, max(., 0)) pooled by MaxPool, bit for
 * bit in the plain SIMD build (in the relaxed one the sum's multiply-adds are fused, as in the convolution kernels);
 * the gradients are those of MaxPoolGrad followed by the ReLU's gradient and the convolution's filter gradient, summed
 * in another order (float32 within chunks of pixels, the bias's sums in float64).
 *
 * Backend: 'wasm' with hwr's SIMD kernels only; `convReluPoolApplies` says where.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addInto, imageParts, paddedInput, paddedSize, runParts, simdKernels, simdKernelsOf, type SimdExports } from '../simd/index.ts';
import { dispose, heapOffset as ptr, type WasmBackend, zeroFill } from './wasm_util.ts';

/**
 * Forward kernel name. Inputs `x` float32 [B, H, W, 1], `filter` float32 [fH, fW, 1, Co], optional `bias` float32
 * [Co]; attr `pad` 'valid' | 'same'. Outputs [pooled float32 [B, OH/2, OW/2, Co] (OH, OW the convolution's output
 * size, halves rounded down), codes bool [B, OH/2, OW/2, Co] (opaque bytes: each window's winner, for the gradient
 * kernels only)].
 */
export const CONV_RELU_POOL = 'HwrConvReluPool';
/**
 * Gradient kernel name. Inputs `x` (the forward's), `dy` float32 (the pooled output's gradient), `codes` (the
 * forward's); attrs `pad`, `filterShape` [fH, fW, 1, Co]. Outputs [dfilter float32 [fH, fW, 1, Co], dbias float32 [Co]].
 */
export const CONV_RELU_POOL_GRAD = 'HwrConvReluPoolGrad';
/**
 * Kernel name of the convolution output's gradient, for the input gradient (a first layer never needs it). Inputs
 * `dy` (the pooled output's gradient) and `codes`; attr `outShape` [B, OH, OW, Co]. Output float32 [B, OH, OW, Co]:
 * dy at each window's winner where the window's maximum is > 0, +0 elsewhere.
 */
export const CONV_RELU_POOL_EXPAND = 'HwrConvReluPoolExpand';

/** The exports of `assembly/convReluPool.ts` (byte offsets on the wasm heap). */
export interface ConvReluPoolExports {
  convReluPoolPanelBytes(taps: number): number;
  convReluPool(xp: number, w: number, bias: number, pooled: number, codes: number, base: number, row: number, PP: number,
    taps: number, Wp: number, Co: number, panel: number): void;
  convReluPoolFilterGrad(xp: number, g: number, codes: number, base: number, row: number, PP: number, taps: number,
    Wp: number, Co: number, dw: number, acc: number, panel: number): void;
  convReluPoolExpand(g: number, codes: number, dy: number, B: number, OH: number, OW: number, Co: number): void;
  patchLagSums(x: number, B: number, H: number, W: number, fH: number, fW: number, out: number): void;
  patchMoments(lags: number, H: number, W: number, fH: number, fW: number, N: number, scratch: number, out: number): void;
}

type Pad = 'valid' | 'same';

/** The convolution's geometry (tfjs-core's `computeConv2DInfo`, stride 1, dilation 1, NHWC): its `outShape` and padding. */
export function convReluPoolInfo(xShape: readonly number[], filterShape: readonly number[], pad: Pad): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    [1, 1], [1, 1], pad, undefined, false, 'channelsLast');
}

/**
 * Whether the kernels run on `backend` for x of `xShape` and a filter of `filterShape` with stride 1 and `pad`:
 * wasm with the SIMD kernels, rank 4, one input channel, Co % 8 == 0, a convolution output of at least 2 x 2.
 */
export function convReluPoolApplies(backend: tf.KernelBackend, xShape: readonly number[], filterShape: readonly number[], pad: string): boolean {
  if (xShape.length !== 4 || filterShape.length !== 4 || (pad !== 'valid' && pad !== 'same')) return false;
  const [B, , , Ci] = xShape as [number, number, number, number];
  const [fH, fW, fCi, Co] = filterShape as [number, number, number, number];
  if (!(B > 0 && Ci === 1 && fCi === 1 && fH > 0 && fW > 0 && Co > 0 && Co % 8 === 0)) return false;
  const { outHeight, outWidth } = convReluPoolInfo(xShape, filterShape, pad);
  if (outHeight < 2 || outWidth < 2) return false;
  return simdKernelsOf(backend) !== undefined;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: tf.NamedAttrMap };

function notApplicable(kernel: string, x: readonly number[], filter: readonly number[], pad: unknown): Error {
  return new Error(`${kernel}: not applicable to x [${x}] and a filter [${filter}] with pad '${String(pad)}' `
    + '(wasm SIMD kernels, NHWC, one input channel, outChannels % 8 == 0, an output of at least 2 x 2)');
}

/** The padded input (x itself without padding), the window offsets `base` and the tap offsets `row` (int32 tensors). */
function windowTables(backend: WasmBackend, simd: SimdExports, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo) {
  const [Hp, Wp] = paddedSize(info);
  const xp = paddedInput(backend, simd, x, info);
  const PH = info.outHeight >> 1, PW = info.outWidth >> 1;
  const base = backend.makeOutput([info.batchSize * PH * PW], 'int32');
  const row = backend.makeOutput([info.filterHeight * info.filterWidth], 'int32');
  simd.pixelOffsets(ptr(backend, base), info.batchSize, PH, PW, Hp, Wp, 1, 2, 2);
  simd.rowOffsets(ptr(backend, row), info.filterHeight, info.filterWidth, 1, Wp);
  const release = () => dispose(backend, base, row, ...(xp !== x ? [xp] : []));
  return { xp, base, row, Wp, PH, PW, release };
}

/** `HwrConvReluPool` on 'wasm'. @throws Error where `convReluPoolApplies` is false (naming the shapes). */
export function convReluPool({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { x, filter, bias } = inputs as Record<string, tf.TensorInfo | undefined>;
  const pad = attrs['pad'] as Pad;
  if (!x || !filter || !convReluPoolApplies(backend, x.shape, filter.shape, pad)) throw notApplicable(CONV_RELU_POOL, x?.shape ?? [], filter?.shape ?? [], pad);
  const simd = simdKernels(backend)!;
  const info = convReluPoolInfo(x.shape, filter.shape, pad);
  const Co = info.outChannels, taps = info.filterHeight * info.filterWidth;
  if (bias && tf.util.sizeFromShape(bias.shape) !== Co) throw new Error(`${CONV_RELU_POOL}: bias of shape [${bias.shape}] for ${Co} output channels`);
  const t = windowTables(backend, simd, x, info);
  const perImage = t.PH * t.PW;
  const pooled = backend.makeOutput([info.batchSize, t.PH, t.PW, Co], 'float32');
  const codes = backend.makeOutput([info.batchSize, t.PH, t.PW, Co], 'bool');
  const parts = imageParts(backend, info.batchSize);
  const panels = parts.map(() => backend.makeOutput([simd.convReluPoolPanelBytes(taps) / 4], 'float32'));
  runParts(backend, simd, parts.map(([b0, n], k) => ({
    fn: 'convReluPool',
    args: [ptr(backend, t.xp), ptr(backend, filter), bias ? ptr(backend, bias) : 0, ptr(backend, pooled) + b0 * perImage * Co * 4,
      ptr(backend, codes) + b0 * perImage * Co, ptr(backend, t.base) + b0 * perImage * 4, ptr(backend, t.row), n * perImage, taps, t.Wp, Co,
      ptr(backend, panels[k]!)],
  })));
  t.release();
  dispose(backend, ...panels);
  return [pooled, codes];
}

/** `HwrConvReluPoolGrad` on 'wasm'. @throws Error where `convReluPoolApplies` is false for x and the filter shape. */
export function convReluPoolGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { x, dy, codes } = inputs as Record<string, tf.TensorInfo>;
  const pad = attrs['pad'] as Pad;
  const filterShape = attrs['filterShape'] as number[];
  if (!convReluPoolApplies(backend, x.shape, filterShape, pad)) throw notApplicable(CONV_RELU_POOL_GRAD, x.shape, filterShape, pad);
  const simd = simdKernels(backend)!;
  const info = convReluPoolInfo(x.shape, filterShape, pad);
  const Co = info.outChannels, taps = info.filterHeight * info.filterWidth;
  const t = windowTables(backend, simd, x, info);
  const perImage = t.PH * t.PW;
  const dw = backend.makeOutput(filterShape, 'float32');
  const db = backend.makeOutput([Co], 'float32');
  const parts = imageParts(backend, info.batchSize);
  // Per thread: a panel, float64 bias sums, and (past the first) a partial dw added at the end.
  const panels = parts.map(() => backend.makeOutput([simd.convReluPoolPanelBytes(taps) / 4], 'float32'));
  const accs = parts.map(() => backend.makeOutput([2 * Co], 'float32'));
  const dws = [dw, ...parts.slice(1).map(() => backend.makeOutput([taps * Co], 'float32'))];
  for (const acc of accs) zeroFill(backend, acc);
  runParts(backend, simd, parts.map(([b0, n], k) => ({
    fn: 'convReluPoolFilterGrad',
    args: [ptr(backend, t.xp), ptr(backend, dy) + b0 * perImage * Co * 4, ptr(backend, codes) + b0 * perImage * Co,
      ptr(backend, t.base) + b0 * perImage * 4, ptr(backend, t.row), n * perImage, taps, t.Wp, Co, ptr(backend, dws[k]!),
      ptr(backend, accs[k]!), ptr(backend, panels[k]!)],
  })));
  addInto(backend, dw, dws.slice(1), taps * Co);
  // The float64 sums into db (views taken after the last allocation, wasm_util.ts).
  const sums = backend.typedArrayFromHeap(db) as Float32Array;
  const views = accs.map((acc) => {
    const f32 = backend.typedArrayFromHeap(acc) as Float32Array;
    return new Float64Array(f32.buffer, f32.byteOffset, Co);
  });
  for (let c = 0; c < Co; c++) sums[c] = views.reduce((s, v) => s + v[c]!, 0);
  t.release();
  dispose(backend, ...panels, ...accs, ...dws.slice(1));
  return [dw, db];
}

/** `HwrConvReluPoolExpand` on 'wasm'. @throws Error when the shapes disagree or the SIMD kernels are missing. */
export function convReluPoolExpand({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, codes } = inputs as Record<string, tf.TensorInfo>;
  const [B, OH, OW, Co] = attrs['outShape'] as [number, number, number, number];
  const simd = simdKernels(backend);
  const pooledShape = [B, OH >> 1, OW >> 1, Co];
  if (!simd || Co % 4 !== 0 || !tf.util.arraysEqual(dy.shape, pooledShape) || !tf.util.arraysEqual(codes.shape, pooledShape)) {
    throw new Error(`${CONV_RELU_POOL_EXPAND}: dy [${dy.shape}] and codes [${codes.shape}] do not pool [${B}, ${OH}, ${OW}, ${Co}] (or no SIMD kernels)`);
  }
  const out = backend.makeOutput([B, OH, OW, Co], 'float32');
  simd.convReluPoolExpand(ptr(backend, dy), ptr(backend, codes), ptr(backend, out), B, OH, OW, Co);
  return out;
}

/** Registration records of the three kernels on 'wasm'. */
export const convReluPoolKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: CONV_RELU_POOL, backendName: 'wasm', kernelFunc: convReluPool as unknown as tf.KernelFunc },
  { kernelName: CONV_RELU_POOL_GRAD, backendName: 'wasm', kernelFunc: convReluPoolGrad as unknown as tf.KernelFunc },
  { kernelName: CONV_RELU_POOL_EXPAND, backendName: 'wasm', kernelFunc: convReluPoolExpand as unknown as tf.KernelFunc },
];

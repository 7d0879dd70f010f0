/**
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) for the 3x3 stride-1 convolutions of training: forward, input gradient
 * and filter gradient (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"), with the
 * transforms in `assembly/winograd.ts` and `assembly/winograd4.ts`, one GEMM per transformed plane, and the
 * chunked drivers in `assembly/winogradOps.ts`. An m x m output tile costs (m + 2)^2 multiply-adds per
 * (inC, outC) pair instead of 9 m^2: 16 for 36 (F(2x2)), 36 for 144 (F(4x4)). `winogradTile` picks the
 * algorithm per operation and shape from `winogradCostMs`.
 *
 * Numerics: the transforms use small constants (1, 2, 4, 8, 1/2, 1/4, 1/6, 1/12, 1/24), so results differ from
 * the direct convolution by float32 rounding (checked against the cpu backend in test/backend/kernels.test.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { dispose, heapOffset as ptr, type WasmBackend, zeroFill } from '../kernels/wasm_util.ts';
import { addInto, imageParts, paddedCopy, runParts, tapTransposedFilter } from './index.ts';
import {
  genericTileFits,
  winogradGenericConv2D,
  winogradGenericConv2DBackpropFilter,
  winogradGenericConv2DBackpropInput,
  type WinogradGenericExports,
} from './winogradGeneric.ts';

type Fn = (...args: number[]) => void;

/**
 * The Winograd exports of `kernels.wasm` (byte offsets on the wasm heap); F(2x2, 3x3) and F(4x4, 3x3), and F(3x3) and
 * F(5x5) through the generic transforms (./winogradGeneric.ts).
 */
export interface WinogradExports extends WinogradGenericExports {
  WINOGRAD_CHUNK: WebAssembly.Global;
  WINOGRAD4_CHUNK: WebAssembly.Global;
  padCopy(src: number, dst: number, B: number, H: number, W: number, C: number, Hp: number, Wp: number, padTop: number, padLeft: number): void;
  cropCopy(src: number, dst: number, B: number, H: number, W: number, C: number, Hp: number, Wp: number, padTop: number, padLeft: number): void;
  transpose(src: number, dst: number, rows: number, cols: number, dstStride: number): void;
  chunkPlane(n: number, c: number): number;
  filterPlane(c1: number, c2: number): number;
  gemmPanelBytes(K: number): number;
  winogradFilter: Fn; winograd4Filter: Fn;
  /** The three operations; the first argument is the output tile size m (2 or 4). */
  winogradConv2d: Fn; winogradConv2dBackpropInput: Fn; winogradConv2dBackpropFilter: Fn;
}

/**
 * Output tile size m of F(m x m, 3x3), or 0 for the direct convolution. 3, 5 and 6 (./winogradGeneric.ts) only where
 * `genericTileFits`.
 */
export type WinogradTile = 0 | 2 | 3 | 4 | 5 | 6;

type Info = tf.backend_util.Conv2DInfo;

/** The convolution operation a kernel computes. */
export type ConvOp = 'forward' | 'input' | 'filter';

/**
 * Cost constants in ns, fitted to A/B runs of the three operations on the seed CNN and hwr-net layers at batch
 * 64, 32 and 1 (Node 20, one thread; `npx tsx bench/conv-algorithms.ts`, figures in notes/PERFORMANCE.md): the direct kernels
 * per multiply-add, the Winograd GEMMs per multiply-add, the transforms per transformed element and channel,
 * and the per-call filter work (transform, transpose or final filter-gradient transform) per plane element.
 * F(3x3), F(5x5) and F(6x6) (session 21) were set from A/B runs on a loaded machine, not from a fit: F(3x3) and F(5x5)
 * win on the 3x3 and 10x10 outputs where they measured faster at batch 64. F(6x6) measured no faster than F(4x4) on the
 * 11x11 output then; after session 22's faster per-plane GEMMs it is 5-14% faster there at batch 64 (interleaved A/B
 * of the three operations, notes/PERFORMANCE.md), so its transform constant was lowered to pick it at batch 64 (at
 * batch 1 F(4x4) stays: F(6x6)'s filter transform dominates). Session 24: F(3x3)'s per-call filter constants lowered
 * from 1.2-1.4 to 0.2-0.4. On the 3x3 output at batch 32 (a 2-thread trainer's shard of seed-cnn and hwr-net), F(3x3)
 * measured 0.48 / 0.51 / 0.47 ms (forward / input / filter) against F(4x4)'s 0.73 / 0.73 / 0.67 (interleaved, 9 rounds,
 * relaxed-SIMD build), and its times at batch 32 and 64 are proportional (no per-call part to speak of); the model
 * picked F(4x4) there. Only the 3x3 outputs change choice (bench/conv-algorithms.ts; the picks in notes/PERFORMANCE.md).
 */
const WINOGRAD_COST = {
  directMacNs: { forward: 0.05, input: 0.052, filter: 0.055 },
  gemmMacNs: 0.05,
  transformNs: { 2: 0.47, 3: 1.2, 4: 0.7, 5: 1.4, 6: 1.0 },
  filterNs: {
    forward: { 2: 0.4, 3: 0.2, 4: 0.4, 5: 1.2, 6: 1.2 }, input: { 2: 0.6, 3: 0.4, 4: 0.6, 5: 1.4, 6: 1.4 }, filter: { 2: 0.4, 3: 0.2, 4: 0.4, 5: 1.2, 6: 1.2 },
  },
} as const;

/**
 * Estimated ms of the direct kernel (0) and of F(m x m, 3x3) for m = 2 to 6 for `op` on `info` (Infinity for 3, 5
 * and 6 where `genericTileFits` is false).
 */
export function winogradCostMs(info: Info, op: ConvOp): Record<WinogradTile, number> {
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const c = WINOGRAD_COST;
  const wino = (m: 2 | 3 | 4 | 5 | 6) => {
    if ((m === 3 || m === 5 || m === 6) && (!genericEnabled || !genericTileFits(info, m))) return Infinity;
    const tiles = B * Math.ceil(OH / m) * Math.ceil(OW / m);
    const planes = (m + 2) ** 2;
    return (tiles * planes * (Ci * Co * c.gemmMacNs + (Ci + Co) * c.transformNs[m]) + planes * Ci * Co * c.filterNs[op][m]) / 1e6;
  };
  return { 0: (B * OH * OW * 9 * Ci * Co * c.directMacNs[op]) / 1e6, 2: wino(2), 3: wino(3), 4: wino(4), 5: wino(5), 6: wino(6) };
}

/**
 * Whether Winograd applies to `info`: an NHWC 3x3 filter, stride 1, dilation 1, inC % 8 == 0 and outC % 8 == 0
 * (the transforms take 4 channels per SIMD vector and the GEMMs 8 output columns at a time).
 */
export function winogradApplies(info: Info): boolean {
  return info.dataFormat === 'channelsLast' && info.filterHeight === 3 && info.filterWidth === 3
    && info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1
    && info.inChannels % 8 === 0 && info.outChannels % 8 === 0;
}

/** The cheapest algorithm for `op` on `info` by `winogradCostMs`: 2 or 4 for Winograd, 0 for the direct kernel. */
export function winogradTile(info: Info, op: ConvOp): WinogradTile {
  if (!winogradApplies(info)) return 0;
  const cost = winogradCostMs(info, op);
  if (forced !== undefined && cost[forced] !== Infinity) return forced;
  return ([0, 2, 4, 3, 5, 6] as const).reduce((a, b) => (cost[b] < cost[a] ? b : a));
}

let forced: WinogradTile | undefined;
let genericEnabled = true;

/**
 * Lets the cost model choose F(3x3), F(5x5) and F(6x6) where they fit (default, `true`), or only the direct kernel, F(2x2) and
 * F(4x4) (`false`, as before 2026-11-30 session 21). For A/B benchmarks and tests.
 */
export function setGenericWinogradEnabled(on: boolean): void {
  genericEnabled = on;
}

/**
 * Forces one algorithm wherever Winograd applies (A/B benchmarks, tests; 3, 5 and 6 only where they fit, else the cost
 * choice); `undefined` restores the cost choice.
 */
export function forceWinogradTile(tile: WinogradTile | undefined): void {
  forced = tile;
}

/** The variant's plane count, chunk size (tiles) and filter transform. */
function variant(simd: WinogradExports, m: 2 | 4) {
  return m === 2
    ? { planes: 16, chunk: simd.WINOGRAD_CHUNK.value as number, filter: simd.winogradFilter }
    : { planes: 36, chunk: simd.WINOGRAD4_CHUNK.value as number, filter: simd.winograd4Filter };
}

/** The padded input extent [Hx, Wx] that holds every (m + 2)^2 input tile. */
function tileExtent(info: Info, m: number): [number, number] {
  return [m * Math.ceil(info.outHeight / m) + 2, m * Math.ceil(info.outWidth / m) + 2];
}

/** A scratch buffer of `planes` planes, `planeBytes` apart (`chunkPlane`, `filterPlane`). Caller disposes. */
function planesBuffer(backend: WasmBackend, planes: number, planeBytes: number): tf.TensorInfo {
  return backend.makeOutput([planes * (planeBytes / 4)], 'float32');
}

/** Scratch for the per-plane GEMMs' A panel: `gemmPanelBytes(K)` bytes (a [K][4] float32 panel). Caller disposes. */
function gemmPanel(backend: WasmBackend, simd: WinogradExports, K: number): tf.TensorInfo {
  return backend.makeOutput([simd.gemmPanelBytes(K) / 4], 'float32');
}

/**
 * Transformed filter G g G^T with planes [c1, c2] (`filterPlane(c1, c2)` bytes apart), from a filter
 * [3, 3, c1, c2] (the forward's [3, 3, inC, outC], or its per-tap transpose for the input gradient). Caller disposes.
 */
function filterTransform(backend: WasmBackend, simd: WinogradExports, v: ReturnType<typeof variant>, filter: tf.TensorInfo, c1: number, c2: number): tf.TensorInfo {
  const U = planesBuffer(backend, v.planes, simd.filterPlane(c1, c2));
  v.filter(ptr(backend, filter), ptr(backend, U), c1, c2);
  return U;
}

/**
 * Conv2D forward with output tiles of `tile` (m), then act(y + bias) when `bias` (float32 [outC]) or `relu` is given
 * (FusedConv2D's epilogue, applied per chunk of tiles while in cache). `x` float32 [batch, inH, inW, inC], `filter`
 * float32 [3, 3, inC, outC]; returns float32 [batch, outH, outW, outC]. Requires `winogradApplies(info)`.
 */
export function winogradConv2D(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, filter: tf.TensorInfo, info: Info, tile: Exclude<WinogradTile, 0>, bias: tf.TensorInfo | null = null, relu = false): tf.TensorInfo {
  if (tile === 3 || tile === 5 || tile === 6) return winogradGenericConv2D(backend, simd, x, filter, info, tile, bias, relu);
  const m = tile;
  const v = variant(simd, m);
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const xp = paddedCopy(backend, simd, x, info, ...tileExtent(info, m));
  const U = filterTransform(backend, simd, v, filter, Ci, Co);
  const [Hx, Wx] = tileExtent(info, m);
  const parts = imageParts(backend, B);
  // Per thread: its own scratch planes and a run of whole images.
  const V = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Ci)));
  const M = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Co)));
  const P = parts.map(() => gemmPanel(backend, simd, Ci));
  const y = backend.makeOutput([B, OH, OW, Co], 'float32');
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradConv2d',
    args: [m, ptr(backend, xp) + b0 * Hx * Wx * Ci * 4, ptr(backend, U), ptr(backend, y) + b0 * OH * OW * Co * 4, ptr(backend, V[k]!), ptr(backend, M[k]!), ptr(backend, P[k]!), n, OH, OW, Ci, Co,
      bias ? ptr(backend, bias) : 0, relu ? 1 : 0],
  })));
  dispose(backend, xp, U, ...V, ...M, ...P);
  return y;
}

/**
 * Conv2DBackpropInput with output tiles of `tile` (m). `dy` float32 [batch, outH, outW, outC], `filter` float32
 * [3, 3, inC, outC]; returns float32 [batch, inH, inW, inC]. Requires `winogradApplies(info)`.
 */
export function winogradConv2DBackpropInput(backend: WasmBackend, simd: WinogradExports, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info, tile: Exclude<WinogradTile, 0>): tf.TensorInfo {
  if (tile === 3 || tile === 5 || tile === 6) return winogradGenericConv2DBackpropInput(backend, simd, dy, filter, info, tile);
  const m = tile;
  const v = variant(simd, m);
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW, inHeight: H, inWidth: W } = info;
  const [Hx, Wx] = tileExtent(info, m);
  // UT = the transform of the per-tap transposed filter.
  const wT = tapTransposedFilter(backend, simd, filter, Ci, Co);
  const UT = filterTransform(backend, simd, v, wT, Co, Ci);
  dispose(backend, wT);
  const parts = imageParts(backend, B);
  const DY = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Co)));
  const dV = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Ci)));
  const P = parts.map(() => gemmPanel(backend, simd, Co));
  const dxp = backend.makeOutput([B, Hx, Wx, Ci], 'float32');
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  zeroFill(backend, dxp);
  // Per thread a run of whole images: tiles scatter-add within their own image only.
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradConv2dBackpropInput',
    args: [m, ptr(backend, dy) + b0 * OH * OW * Co * 4, ptr(backend, UT), ptr(backend, dxp) + b0 * Hx * Wx * Ci * 4, ptr(backend, DY[k]!), ptr(backend, dV[k]!), ptr(backend, P[k]!), n, OH, OW, Ci, Co],
  })));
  simd.cropCopy(ptr(backend, dxp), ptr(backend, dx), B, H, W, Ci, Hx, Wx, info.padInfo.top, info.padInfo.left);
  dispose(backend, UT, ...DY, ...dV, ...P, dxp);
  return dx;
}

/**
 * Conv2DBackpropFilter with output tiles of `tile` (m). `x` float32 [batch, inH, inW, inC], `dy` float32
 * [batch, outH, outW, outC]; returns float32 [3, 3, inC, outC]. Requires `winogradApplies(info)`.
 */
export function winogradConv2DBackpropFilter(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info, tile: Exclude<WinogradTile, 0>): tf.TensorInfo {
  if (tile === 3 || tile === 5 || tile === 6) return winogradGenericConv2DBackpropFilter(backend, simd, x, dy, info, tile);
  const m = tile;
  const v = variant(simd, m);
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const xp = paddedCopy(backend, simd, x, info, ...tileExtent(info, m));
  const [Hx, Wx] = tileExtent(info, m);
  const parts = imageParts(backend, B);
  const V = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Ci)));
  const DY = parts.map(() => planesBuffer(backend, v.planes, simd.chunkPlane(v.chunk, Co)));
  const MW = parts.map(() => planesBuffer(backend, v.planes, simd.filterPlane(Ci, Co)));
  const dW = backend.makeOutput([3, 3, Ci, Co], 'float32');
  // Per thread its own images into its own dW; the partial sums are added at the end.
  const partial = parts.slice(1).map(() => backend.makeOutput([9 * Ci * Co], 'float32'));
  const outs = [dW, ...partial];
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradConv2dBackpropFilter',
    args: [m, ptr(backend, xp) + b0 * Hx * Wx * Ci * 4, ptr(backend, dy) + b0 * OH * OW * Co * 4, ptr(backend, outs[k]!), ptr(backend, V[k]!), ptr(backend, DY[k]!), ptr(backend, MW[k]!), n, OH, OW, Ci, Co],
  })));
  addInto(backend, dW, partial, 9 * Ci * Co);
  dispose(backend, xp, ...V, ...DY, ...MW, ...partial);
  return dW;
}

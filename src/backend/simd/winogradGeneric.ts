/**
 * Winograd F(3x3, 3x3), F(5x5, 3x3) and F(6x6, 3x3), with the per-tile transforms generated from the matrices below
 * (assembly/winogradTransforms.ts, scripts/gen-winograd-transforms.ts), the drivers of assembly/winogradGeneric.ts and
 * the chunked GEMMs of F(2x2) and F(4x4). Why: F(4x4) covers hwr-net's 10x10 second-layer output with 12x12 of tiles
 * and both models' 3x3 third-layer output with 4x4 (44% of the multiply-adds on pixels that are thrown away); F(5x5)
 * covers 10x10 with 4 tiles of 49 products (196 per image, against 9 x 36 = 324), F(3x3) covers 3x3 with one tile of
 * 25 (against 36). F(6x6) covers the seed CNN's 11x11 with 4 tiles of 64 (256 against 324), but three of the four
 * tiles are partial and its transforms cost more per output: it measured no faster there, so the cost model keeps
 * F(4x4) for that layer (F(6x6) stays available through `forceWinogradTile`). See notes/PERFORMANCE.md (2026-11-30,
 * session 21).
 *
 * Matrices (Toom-Cook; Lavin & Gray 2016, section 4): with the points a_0..a_{m} (finite) and infinity,
 *   A^T [m x alpha]: A^T[i][t] = a_t^i, and 1 at (m - 1, infinity);
 *   G [alpha x 3]: G[t][k] = a_t^k / N_t with N_t = prod over finite l != t of (a_t - a_l), and 1 at (infinity, 2);
 *   B^T [alpha x alpha] = N (V^-1)^T, V the evaluation matrix of degree alpha - 1 polynomials at the points
 *   (the infinite point's row picks the leading coefficient), N = diag(N_t, 1).
 * Then y = A^T [(G g) .* (B^T d)] is the 1-D correlation y_i = sum_k d_{i+k} g_k (checked in the tests), and the 2-D
 * algorithm nests it. Points: F(3x3) 0, 1, -1, 2; F(5x5) 0, 1, -1, 2, -2, 1/2; F(6x6) 0, +-1, +-2, +-1/2 (small
 * points keep float32 error low; NNPACK's F(6x6) uses the same).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { dispose, heapOffset as ptr, type WasmBackend, zeroFill } from '../kernels/wasm_util.ts';
import { addInto, imageParts, paddedCopy, runParts, tapTransposedFilter } from './index.ts';
import type { WinogradExports } from './winograd.ts';

type Fn = (...args: number[]) => void;

/** The exports of `assembly/winogradGeneric.ts` (byte offsets on the wasm heap). */
export interface WinogradGenericExports {
  WINOGRAD_GENERIC_CHUNK: WebAssembly.Global;
  winogradGenericFilter: Fn;
  winogradGenericConv2d: Fn; winogradGenericConv2dBackpropInput: Fn; winogradGenericConv2dBackpropFilter: Fn;
}

/** Output tile sizes of the generic algorithm. */
export type GenericTile = 3 | 5 | 6;

/** The finite interpolation points of F(m x m, 3x3) (the infinite point is implied). */
const POINTS: Record<GenericTile, number[]> = { 3: [0, 1, -1, 2], 5: [0, 1, -1, 2, -2, 0.5], 6: [0, 1, -1, 2, -2, 0.5, -0.5] };

/** The inverse of a square float64 matrix (row-major, n x n) by Gauss-Jordan elimination with partial pivoting. */
function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[pivot * n + c]!)) pivot = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[pivot * n + k]] = [m[pivot * n + k]!, m[c * n + k]!];
      [inv[c * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[c * n + k]!];
    }
    const d = m[c * n + c]!;
    for (let k = 0; k < n; k++) { m[c * n + k]! /= d; inv[c * n + k]! /= d; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) { m[r * n + k]! -= f * m[c * n + k]!; inv[r * n + k]! -= f * inv[c * n + k]!; }
    }
  }
  return inv;
}

/**
 * The transform matrices of F(m x m, 3x3) in float64, row-major: B^T [alpha x alpha], A^T [m x alpha], G [alpha x 3]
 * (alpha = m + 2; see the module comment). Entries that are zero in exact arithmetic are exactly 0.
 */
export function winogradMatrices(m: GenericTile): { BT: Float64Array; AT: Float64Array; G: Float64Array } {
  const pts = POINTS[m];
  const a = m + 2;
  const finite = a - 1;
  const AT = new Float64Array(m * a);
  for (let i = 0; i < m; i++) for (let t = 0; t < finite; t++) AT[i * a + t] = pts[t]! ** i;
  AT[(m - 1) * a + finite] = 1;
  const N = pts.map((p, t) => pts.reduce((prod, q, l) => (l === t ? prod : prod * (p - q)), 1));
  const G = new Float64Array(a * 3);
  for (let t = 0; t < finite; t++) for (let k = 0; k < 3; k++) G[t * 3 + k] = pts[t]! ** k / N[t]!;
  G[finite * 3 + 2] = 1;
  const V = new Float64Array(a * a);
  for (let t = 0; t < finite; t++) for (let j = 0; j < a; j++) V[t * a + j] = pts[t]! ** j;
  V[finite * a + a - 1] = 1;
  const Vinv = invert(V, a);
  const BT = new Float64Array(a * a);
  for (let t = 0; t < a; t++) {
    for (let j = 0; j < a; j++) {
      const v = (t < finite ? N[t]! : 1) * Vinv[j * a + t]!;
      BT[t * a + j] = Math.abs(v) < 1e-12 ? 0 : Math.round(v * 1e9) / 1e9;
    }
  }
  return { BT, AT, G };
}

/**
 * Whether F(m x m)'s tiles cover `info`'s output with no more padding than F(4x4)'s (m * ceil(OH / m) <=
 * 4 * ceil(OH / 4), and the same across): where the cost model may consider it. F(3x3) and F(5x5) for outputs of 3 and
 * 10 (exact), F(6x6) for 11 or 12, never for 16 or 32 (hccr-vgg's sizes), whose cost constants were not measured.
 */
export function genericTileFits(info: tf.backend_util.Conv2DInfo, m: GenericTile): boolean {
  const covered = (n: number, t: number) => t * Math.ceil(n / t);
  return covered(info.outHeight, m) <= covered(info.outHeight, 4) && covered(info.outWidth, m) <= covered(info.outWidth, 4);
}

type Info = tf.backend_util.Conv2DInfo;
type Simd = WinogradExports;

/**
 * A scratch per part: alpha^2 v128 for the transforms, then one m x m tile of `channels` floats (the partial tiles'
 * copies). Caller disposes them.
 */
function tileScratches(backend: WasmBackend, m: GenericTile, parts: number, channels: number): tf.TensorInfo[] {
  return Array.from({ length: parts }, () => backend.makeOutput([(m + 2) ** 2 * 4 + m * m * channels], 'float32'));
}

/** The padded input extent [Hx, Wx] that holds every (m + 2)^2 input tile. */
function extent(info: Info, m: number): [number, number] {
  return [m * Math.ceil(info.outHeight / m) + 2, m * Math.ceil(info.outWidth / m) + 2];
}

function planes(backend: WasmBackend, count: number, planeBytes: number): tf.TensorInfo {
  return backend.makeOutput([count * (planeBytes / 4)], 'float32');
}

/** U = G g G^T of a filter [3, 3, c1, c2] (planes `filterPlane(c1, c2)` apart). Caller disposes. */
function filterTransform(backend: WasmBackend, simd: Simd, m: GenericTile, tmp: tf.TensorInfo, filter: tf.TensorInfo, c1: number, c2: number): tf.TensorInfo {
  const U = planes(backend, (m + 2) ** 2, simd.filterPlane(c1, c2));
  simd.winogradGenericFilter(m, ptr(backend, tmp), ptr(backend, filter), ptr(backend, U), c1, c2);
  return U;
}

/**
 * Conv2D forward by F(m x m, 3x3), then act(y + bias) (`bias` float32 [outC] or null, `relu` max(0, .)). `x` float32
 * [batch, inH, inW, inC], `filter` float32 [3, 3, inC, outC]; returns float32 [batch, outH, outW, outC]. Requires
 * `winogradApplies(info)`.
 */
export function winogradGenericConv2D(backend: WasmBackend, simd: Simd, x: tf.TensorInfo, filter: tf.TensorInfo, info: Info, m: GenericTile, bias: tf.TensorInfo | null, relu: boolean): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const [Hx, Wx] = extent(info, m);
  const chunk = simd.WINOGRAD_GENERIC_CHUNK.value as number;
  const parts = imageParts(backend, B);
  const tmp = tileScratches(backend, m, parts.length, Math.max(Ci, Co));
  const xp = paddedCopy(backend, simd, x, info, Hx, Wx);
  const U = filterTransform(backend, simd, m, tmp[0]!, filter, Ci, Co);
  const V = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Ci)));
  const M = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Co)));
  const y = backend.makeOutput([B, OH, OW, Co], 'float32');
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradGenericConv2d',
    args: [m, ptr(backend, tmp[k]!), ptr(backend, xp) + b0 * Hx * Wx * Ci * 4, ptr(backend, U), ptr(backend, y) + b0 * OH * OW * Co * 4,
      ptr(backend, V[k]!), ptr(backend, M[k]!), n, OH, OW, Ci, Co, bias ? ptr(backend, bias) : 0, relu ? 1 : 0],
  })));
  dispose(backend, ...tmp, xp, U, ...V, ...M);
  return y;
}

/**
 * Conv2DBackpropInput by F(m x m, 3x3). `dy` float32 [batch, outH, outW, outC], `filter` float32 [3, 3, inC, outC];
 * returns float32 [batch, inH, inW, inC]. Requires `winogradApplies(info)`.
 */
export function winogradGenericConv2DBackpropInput(backend: WasmBackend, simd: Simd, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info, m: GenericTile): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW, inHeight: H, inWidth: W } = info;
  const [Hx, Wx] = extent(info, m);
  const chunk = simd.WINOGRAD_GENERIC_CHUNK.value as number;
  const parts = imageParts(backend, B);
  const tmp = tileScratches(backend, m, parts.length, Math.max(Ci, Co));
  // The transform of the per-tap transposed filter.
  const wT = tapTransposedFilter(backend, simd, filter, Ci, Co);
  const UT = filterTransform(backend, simd, m, tmp[0]!, wT, Co, Ci);
  dispose(backend, wT);
  const DY = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Co)));
  const dV = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Ci)));
  // When the tiles' input extent is the input itself ('valid' and exact tiles: hwr-net's layers 2 and 3), the tiles
  // scatter straight into dx: no padded copy to crop.
  const direct = Hx === H && Wx === W && info.padInfo.top === 0 && info.padInfo.left === 0;
  const dxp = backend.makeOutput([B, Hx, Wx, Ci], 'float32');
  zeroFill(backend, dxp);
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradGenericConv2dBackpropInput',
    args: [m, ptr(backend, tmp[k]!), ptr(backend, dy) + b0 * OH * OW * Co * 4, ptr(backend, UT), ptr(backend, dxp) + b0 * Hx * Wx * Ci * 4,
      ptr(backend, DY[k]!), ptr(backend, dV[k]!), n, OH, OW, Ci, Co],
  })));
  if (direct) {
    dispose(backend, ...tmp, UT, ...DY, ...dV);
    return dxp;
  }
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  simd.cropCopy(ptr(backend, dxp), ptr(backend, dx), B, H, W, Ci, Hx, Wx, info.padInfo.top, info.padInfo.left);
  dispose(backend, ...tmp, UT, ...DY, ...dV, dxp);
  return dx;
}

/**
 * Conv2DBackpropFilter by F(m x m, 3x3). `x` float32 [batch, inH, inW, inC], `dy` float32 [batch, outH, outW, outC];
 * returns float32 [3, 3, inC, outC]. Requires `winogradApplies(info)`.
 */
export function winogradGenericConv2DBackpropFilter(backend: WasmBackend, simd: Simd, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info, m: GenericTile): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const [Hx, Wx] = extent(info, m);
  const chunk = simd.WINOGRAD_GENERIC_CHUNK.value as number;
  const parts = imageParts(backend, B);
  const tmp = tileScratches(backend, m, parts.length, Math.max(Ci, Co));
  const xp = paddedCopy(backend, simd, x, info, Hx, Wx);
  const V = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Ci)));
  const DY = parts.map(() => planes(backend, (m + 2) ** 2, simd.chunkPlane(chunk, Co)));
  const MW = parts.map(() => planes(backend, (m + 2) ** 2, simd.filterPlane(Ci, Co)));
  const dW = backend.makeOutput([3, 3, Ci, Co], 'float32');
  const partial = parts.slice(1).map(() => backend.makeOutput([9 * Ci * Co], 'float32'));
  const outs = [dW, ...partial];
  runParts(backend, simd as never, parts.map(([b0, n], k) => ({
    fn: 'winogradGenericConv2dBackpropFilter',
    args: [m, ptr(backend, tmp[k]!), ptr(backend, xp) + b0 * Hx * Wx * Ci * 4, ptr(backend, dy) + b0 * OH * OW * Co * 4, ptr(backend, outs[k]!),
      ptr(backend, V[k]!), ptr(backend, DY[k]!), ptr(backend, MW[k]!), n, OH, OW, Ci, Co],
  })));
  addInto(backend, dW, partial, 9 * Ci * Co);
  dispose(backend, ...tmp, xp, ...V, ...DY, ...MW, ...partial);
  return dW;
}

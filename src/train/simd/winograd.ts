/**
 * Winograd F(2x2, 3x3) for the 3x3 stride-1 convolutions of training: forward, input gradient and filter
 * gradient, with the transforms and the 16 per-chunk GEMMs in `assembly/winograd.ts` (Lavin & Gray 2016,
 * "Fast Algorithms for Convolutional Neural Networks"). A 2x2 output tile costs 16 multiply-adds per
 * (inC, outC) pair instead of 36, so a layer whose output tiles fit its size (the seed CNN's 11x11 layer:
 * 36 tiles of 4 outputs for 121) needs about half the multiply-adds of the direct convolution.
 *
 * Numerics: the transforms use only 1, -1 and 0.5, so results differ from the direct convolution by float32
 * rounding (checked against the cpu backend in test/train/kernels.test.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { dispose, type WasmBackend } from '../kernels/wasm_util.ts';

/** The Winograd exports of `kernels.wasm` (byte offsets on the wasm heap). */
export interface WinogradExports {
  WINOGRAD_CHUNK: WebAssembly.Global;
  padCopy(src: number, dst: number, B: number, H: number, W: number, C: number, Hp: number, Wp: number, padTop: number, padLeft: number): void;
  cropCopy(src: number, dst: number, B: number, H: number, W: number, C: number, Hp: number, Wp: number, padTop: number, padLeft: number): void;
  transpose(src: number, dst: number, rows: number, cols: number, dstStride: number): void;
  winogradFilter(w: number, U: number, Ci: number, Co: number): void;
  winogradConv2d(xp: number, U: number, y: number, V: number, M: number, B: number, OH: number, OW: number, Ci: number, Co: number): void;
  winogradConv2dBackpropInput(dy: number, UT: number, dxp: number, DY: number, dV: number, B: number, OH: number, OW: number, Ci: number, Co: number): void;
  winogradConv2dBackpropFilter(xp: number, dy: number, dw: number, V: number, DY: number, MW: number, B: number, OH: number, OW: number, Ci: number, Co: number): void;
}

type Info = tf.backend_util.Conv2DInfo;

/**
 * Whether Winograd covers `info` and is worth it: NHWC 3x3 filter, stride 1, dilation 1, inC % 8 == 0,
 * outC % 8 == 0, and output tiles that waste little (16 * tiles < 0.75 * 9 * outH * outW; a 3x3 output,
 * 64 vs 81, stays on the direct kernel).
 */
export function winogradCovers(info: Info): boolean {
  if (info.dataFormat !== 'channelsLast' || info.filterHeight !== 3 || info.filterWidth !== 3) return false;
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return false;
  if (info.inChannels % 8 !== 0 || info.outChannels % 8 !== 0) return false;
  const tiles = Math.ceil(info.outHeight / 2) * Math.ceil(info.outWidth / 2);
  return 16 * tiles < 0.75 * 9 * info.outHeight * info.outWidth;
}

function ptr(backend: WasmBackend, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

/** The padded input extent [Hx, Wx] that holds every 4x4 input tile. */
function tileExtent(info: Info): [number, number] {
  return [2 * Math.ceil(info.outHeight / 2) + 2, 2 * Math.ceil(info.outWidth / 2) + 2];
}

/** x copied into a zero-filled [batch, Hx, Wx, inC] at (padTop, padLeft). Caller disposes. */
function padInput(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, info: Info): tf.TensorInfo {
  const [Hx, Wx] = tileExtent(info);
  const xp = backend.makeOutput([info.batchSize, Hx, Wx, info.inChannels], 'float32');
  simd.padCopy(ptr(backend, x), ptr(backend, xp), info.batchSize, info.inHeight, info.inWidth, info.inChannels, Hx, Wx, info.padInfo.top, info.padInfo.left);
  return xp;
}

/** Transformed filter U [16, inC, outC] = G g G^T. Caller disposes. */
function filterTransform(backend: WasmBackend, simd: WinogradExports, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const U = backend.makeOutput([16, info.inChannels, info.outChannels], 'float32');
  simd.winogradFilter(ptr(backend, filter), ptr(backend, U), info.inChannels, info.outChannels);
  return U;
}

/** Conv2D forward. `x` float32 [batch, inH, inW, inC], `filter` float32 [3, 3, inC, outC]; returns [batch, outH, outW, outC]. */
export function winogradConv2D(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const chunk = simd.WINOGRAD_CHUNK.value as number;
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const xp = padInput(backend, simd, x, info);
  const U = filterTransform(backend, simd, filter, info);
  const V = backend.makeOutput([16, chunk, Ci], 'float32');
  const M = backend.makeOutput([16, chunk, Co], 'float32');
  const y = backend.makeOutput([B, OH, OW, Co], 'float32');
  simd.winogradConv2d(ptr(backend, xp), ptr(backend, U), ptr(backend, y), ptr(backend, V), ptr(backend, M), B, OH, OW, Ci, Co);
  dispose(backend, xp, U, V, M);
  return y;
}

/** Conv2DBackpropInput. `dy` float32 [batch, outH, outW, outC], `filter` float32 [3, 3, inC, outC]; returns [batch, inH, inW, inC]. */
export function winogradConv2DBackpropInput(backend: WasmBackend, simd: WinogradExports, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const chunk = simd.WINOGRAD_CHUNK.value as number;
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW, inHeight: H, inWidth: W } = info;
  const [Hx, Wx] = tileExtent(info);
  const U = filterTransform(backend, simd, filter, info);
  const UT = backend.makeOutput([16, Co, Ci], 'float32');
  const plane = Ci * Co * 4;
  for (let e = 0; e < 16; e++) simd.transpose(ptr(backend, U) + e * plane, ptr(backend, UT) + e * plane, Ci, Co, Ci);
  dispose(backend, U);
  const DY = backend.makeOutput([16, chunk, Co], 'float32');
  const dV = backend.makeOutput([16, chunk, Ci], 'float32');
  const dxp = backend.makeOutput([B, Hx, Wx, Ci], 'float32');
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  const at = ptr(backend, dxp);
  (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.fill(0, at, at + B * Hx * Wx * Ci * 4);
  simd.winogradConv2dBackpropInput(ptr(backend, dy), ptr(backend, UT), at, ptr(backend, DY), ptr(backend, dV), B, OH, OW, Ci, Co);
  simd.cropCopy(at, ptr(backend, dx), B, H, W, Ci, Hx, Wx, info.padInfo.top, info.padInfo.left);
  dispose(backend, UT, DY, dV, dxp);
  return dx;
}

/** Conv2DBackpropFilter. `x` float32 [batch, inH, inW, inC], `dy` float32 [batch, outH, outW, outC]; returns [3, 3, inC, outC]. */
export function winogradConv2DBackpropFilter(backend: WasmBackend, simd: WinogradExports, x: tf.TensorInfo, dy: tf.TensorInfo, info: Info): tf.TensorInfo {
  const chunk = simd.WINOGRAD_CHUNK.value as number;
  const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const xp = padInput(backend, simd, x, info);
  const V = backend.makeOutput([16, chunk, Ci], 'float32');
  const DY = backend.makeOutput([16, chunk, Co], 'float32');
  const MW = backend.makeOutput([16, Ci, Co], 'float32');
  const dW = backend.makeOutput([3, 3, Ci, Co], 'float32');
  simd.winogradConv2dBackpropFilter(ptr(backend, xp), ptr(backend, dy), ptr(backend, dW), ptr(backend, V), ptr(backend, DY), ptr(backend, MW), B, OH, OW, Ci, Co);
  dispose(backend, xp, V, DY, MW);
  return dW;
}

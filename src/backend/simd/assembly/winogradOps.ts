// The three Winograd operations, for F(2x2, 3x3) (m = 2, ./winograd.ts) and F(4x4, 3x3) (m = 4, ./winograd4.ts):
// per chunk of tiles, the input-side transform, one GEMM per transformed plane, and the output-side transform.
// Tiles: tilesH x tilesW per image ((OH + m - 1) / m each way), input tiles of (m + 2)^2 from x padded to
// [B, m*tilesH + 2, m*tilesW + 2, Ci]; see ./winograd.ts for the layouts.

import { WINOGRAD_CHUNK, filterPlane, gemmPlanes, gemmPlanesAtAccumulate, winogradFilterGrad, winogradGrad, winogradInput, winogradInputGrad, winogradOutput } from './winograd';
import { WINOGRAD4_CHUNK, winograd4FilterGrad, winograd4Grad, winograd4Input, winograd4InputGrad, winograd4Output } from './winograd4';

@inline function chunkOf(m: i32): i32 { return m == 2 ? WINOGRAD_CHUNK : WINOGRAD4_CHUNK; }
@inline function planesOf(m: i32): i32 { return (m + 2) * (m + 2); }

/**
 * Forward: y [B, OH, OW, Co] from xp (padded), U [planes][Ci][Co]; scratch V [planes][chunk][Ci], M [planes][chunk][Co]
 * and the GEMM panel P (`gemmPanelBytes(Ci)`).
 * `bias` (0 for none) and `relu` (1: max(0, .)) are FusedConv2D's epilogue, applied to each chunk's pixels right after
 * its output transform (while they are in cache): y = act(y + bias), the same operations as `biasActivation`.
 */
export function winogradConv2d(m: i32, xp: usize, U: usize, y: usize, V: usize, M: usize, P: usize, B: i32, OH: i32, OW: i32, Ci: i32, Co: i32, bias: usize, relu: i32): void {
  const tilesH = (OH + m - 1) / m, tilesW = (OW + m - 1) / m, Hx = m * tilesH + 2, Wx = m * tilesW + 2, T = B * tilesH * tilesW;
  const chunk = chunkOf(m);
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const n = min(chunk, T - t0);
    if (m == 2) winogradInput(xp, V, t0, n, tilesH, tilesW, Wx, Hx, Ci);
    else winograd4Input(xp, V, t0, n, tilesH, tilesW, Wx, Hx, Ci);
    gemmPlanes(planesOf(m), V, U, M, n, Ci, Co, P);
    if (m == 2) winogradOutput(M, y, t0, n, tilesH, tilesW, OH, OW, Co);
    else winograd4Output(M, y, t0, n, tilesH, tilesW, OH, OW, Co);
    if (bias || relu) tileEpilogue(m, y, t0, n, tilesH, tilesW, OH, OW, Co, bias, relu);
  }
}

/** y = act(y + bias) on the pixels (inside [OH, OW]) of the m x m tiles [t0, t0 + n); Co % 4 == 0. */
function tileEpilogue(m: i32, y: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, OH: i32, OW: i32, Co: i32, bias: usize, relu: i32): void {
  const cs = <usize>Co << 2, perImage = tilesH * tilesW, zero = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    const t = t0 + i, b = t / perImage, r = t - b * perImage, th = r / tilesW;
    const oh = m * th, ow = m * (r - th * tilesW);
    const rows = min(m, OH - oh), cols = min(m, OW - ow);
    for (let k = 0; k < rows; k++) {
      const row = y + ((<usize>b * OH + oh + k) * OW + ow) * cs;
      const end = row + <usize>cols * cs;
      for (let p = row; p < end; p += cs) {
        for (let c: usize = 0; c < cs; c += 16) {
          let v = v128.load(p + c);
          if (bias) v = f32x4.add(v, v128.load(bias + c));
          if (relu) v = f32x4.max(v, zero);
          v128.store(p + c, v);
        }
      }
    }
  }
}

/** Input gradient into dxp (padded as x, zero-filled by the caller) from dy and UT [planes][Co][Ci]; P: `gemmPanelBytes(Co)` of scratch. */
export function winogradConv2dBackpropInput(m: i32, dy: usize, UT: usize, dxp: usize, DY: usize, dV: usize, P: usize, B: i32, OH: i32, OW: i32, Ci: i32, Co: i32): void {
  const tilesH = (OH + m - 1) / m, tilesW = (OW + m - 1) / m, Hx = m * tilesH + 2, Wx = m * tilesW + 2, T = B * tilesH * tilesW;
  const chunk = chunkOf(m);
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const n = min(chunk, T - t0);
    if (m == 2) winogradGrad(dy, DY, t0, n, tilesH, tilesW, OH, OW, Co);
    else winograd4Grad(dy, DY, t0, n, tilesH, tilesW, OH, OW, Co);
    gemmPlanes(planesOf(m), DY, UT, dV, n, Co, Ci, P);
    if (m == 2) winogradInputGrad(dV, dxp, t0, n, tilesH, tilesW, Wx, Hx, Ci);
    else winograd4InputGrad(dV, dxp, t0, n, tilesH, tilesW, Wx, Hx, Ci);
  }
}

/** Filter gradient dw [3, 3, Ci, Co] from xp (padded) and dy; scratch V, DY, MW [planes][Ci][Co]. */
export function winogradConv2dBackpropFilter(m: i32, xp: usize, dy: usize, dw: usize, V: usize, DY: usize, MW: usize, B: i32, OH: i32, OW: i32, Ci: i32, Co: i32): void {
  const tilesH = (OH + m - 1) / m, tilesW = (OW + m - 1) / m, Hx = m * tilesH + 2, Wx = m * tilesW + 2, T = B * tilesH * tilesW;
  const chunk = chunkOf(m);
  memory.fill(MW, 0, <usize>planesOf(m) * filterPlane(Ci, Co));
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const n = min(chunk, T - t0);
    if (m == 2) winogradInput(xp, V, t0, n, tilesH, tilesW, Wx, Hx, Ci);
    else winograd4Input(xp, V, t0, n, tilesH, tilesW, Wx, Hx, Ci);
    if (m == 2) winogradGrad(dy, DY, t0, n, tilesH, tilesW, OH, OW, Co);
    else winograd4Grad(dy, DY, t0, n, tilesH, tilesW, OH, OW, Co);
    gemmPlanesAtAccumulate(planesOf(m), V, DY, MW, n, Ci, Co);
  }
  if (m == 2) winogradFilterGrad(MW, dw, Ci, Co);
  else winograd4FilterGrad(MW, dw, Ci, Co);
}

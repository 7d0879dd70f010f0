// A convolution of one input channel (stride 1, dilation 1) + bias + ReLU + 2x2 max pooling (stride 2, 'valid'), the
// seed CNN's first block, as one forward kernel and one filter-and-bias gradient kernel (../../kernels/ConvReluPool.ts
// and ../../convReluPool.ts say where they run). Neither writes or reads the convolution's full-size output or its
// gradient: the forward keeps each window's four outputs in registers and writes the pooled value and a one-byte code
// of the window's winner; the backward reads the pooled gradient and the codes.
//
// Windows: pooled pixel p = (b, ph, pw) covers the convolution's outputs (2ph + i, 2pw + j), i, j in {0, 1}, whose
// input windows start at the padded input's offsets base[p] + {0, 1, Wp, Wp + 1} (floats; one input channel). Window
// position k = 2i + j (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) is lane k of a "window vector":
//   V[p, t] = [xp[base[p] + row[t]], xp[base[p] + row[t] + 1], xp[base[p] + row[t] + Wp], xp[.. + Wp + 1]]
// for filter tap t = (kh, kw), row[t] = kh * Wp + kw. The convolution's outputs of a window for channel co are
// sum over t of V[p, t] * w[t, co], four at once.
//
// Codes: codes[p, co] (uint8) is 4 * k for the winning position k where the window's maximum is > 0, and
// NOT_POSITIVE + 4 * k where it is not (the ReLU's gradient is 0 there). Ties and the winner are those of
// `reluMaxPool2x2Grad` (pooling.ts): the later of a row's two wins only if greater, the bottom row's winner only if
// greater than the top row's. So the gradients are MaxPoolGrad's followed by the ReLU's, as there.
//
// Backward: dw[t, co] = sum over p of xp[window k(p, co) + row[t]] * g[p, co] over positive windows, i.e. of
// V[p, t][k] * g: the lane k of V is picked per channel with a byte swizzle whose indices are 4k..4k+3 (codes expanded),
// and NOT_POSITIVE's top bit makes the swizzle give 0. One multiply-add per tap and 4 channels, where the dense filter
// gradient does four (one per window position, three of them with a zero gradient).

import { madd, swz } from './fma';

/** Top bit of a code: the window's maximum is not > 0 (and a swizzle index with it set picks 0). */
const NOT_POSITIVE: i32 = 0x80;

/** Taps handled per pass of the gradient kernel (its accumulators: one v128 per tap). */
const TAP_BLOCK: i32 = 9;

/** `taps` rounded up to whole blocks of TAP_BLOCK: the window panel's entries per pooled pixel (zeros past `taps`). */
@inline function paddedTaps(taps: i32): i32 {
  return (taps + TAP_BLOCK - 1) / TAP_BLOCK * TAP_BLOCK;
}

/** Pooled pixels per panel in the gradient kernel: the panel ([pixels][paddedTaps][4] float32) within 32 KB. */
@inline function gradChunk(taps: i32): i32 {
  return max(8, 2048 / paddedTaps(taps));
}

/** Bytes of scratch `convReluPool` and `convReluPoolFilterGrad` need for `taps` filter taps. */
export function convReluPoolPanelBytes(taps: i32): usize {
  return <usize>gradChunk(taps) * paddedTaps(taps) << 4;
}

/** V[p, t] for t < taps at panel[t] (16 bytes each), from the window starting at byte address `b`. */
@inline function windowVectors(b: usize, row: usize, taps: i32, wpBytes: usize, panel: usize): void {
  for (let t = 0; t < taps; t++) {
    const o = b + (<usize>load<i32>(row + (<usize>t << 2)) << 2);
    v128.store(panel + (<usize>t << 4), v128.load64_lane(o + wpBytes, v128.load64_zero(o), 1));
  }
}

/**
 * Pools one 4-channel column of a window (y0..y3 the positions' ReLU outputs): stores the maximum (f32x4.max, NaN
 * propagating as MaxPool's) at `out` and returns the codes as i32 lanes.
 */
@inline function poolWindow(y0: v128, y1: v128, y2: v128, y3: v128, out: usize): v128 {
  v128.store(out, f32x4.max(f32x4.max(y0, y1), f32x4.max(y2, y3)));
  const topGt = f32x4.gt(y1, y0), bottomGt = f32x4.gt(y3, y2);
  const top = v128.bitselect(y1, y0, topGt), bottom = v128.bitselect(y3, y2, bottomGt);
  const winGt = f32x4.gt(bottom, top);
  const k = v128.bitselect(v128.bitselect(i32x4.splat(12), i32x4.splat(8), bottomGt), v128.and(i32x4.splat(4), topGt), winGt);
  const positive = f32x4.gt(v128.bitselect(bottom, top, winGt), f32x4.splat(0));
  return v128.or(k, v128.andnot(i32x4.splat(NOT_POSITIVE), positive));
}

/**
 * Forward. `xp` the padded input [B, Hp, Wp] (one channel), `w` [taps, Co], `bias` [Co] (0 for none), `pooled`
 * [PP, Co] float32, `codes` [PP, Co] uint8, `base` int32 [PP] (see the module comment), `row` int32 [taps], `panel`
 * scratch of `convReluPoolPanelBytes(taps)`. Co % 8 == 0. Per window and output channel: the taps' sum in order, + bias,
 * max(., 0) (FusedConv2D's epilogue), then the window's maximum.
 */
export function convReluPool(xp: usize, w: usize, bias: usize, pooled: usize, codes: usize, base: usize, row: usize, PP: i32, taps: i32, Wp: i32, Co: i32, panel: usize): void {
  const ws = <usize>Co << 2, wpBytes = <usize>Wp << 2;
  const panelEnd = panel + (<usize>taps << 4);
  const zero = f32x4.splat(0);
  for (let p = 0; p < PP; p++) {
    windowVectors(xp + (<usize>load<i32>(base + (<usize>p << 2)) << 2), row, taps, wpBytes, panel);
    const out = pooled + <usize>p * ws, code = codes + <usize>p * Co;
    for (let cb = 0; cb < Co; cb += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let b = w + (<usize>cb << 2);
      for (let ap = panel; ap < panelEnd; ap += 16) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        let s = v128.load32_splat(ap);
        c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
        s = v128.load32_splat(ap, 4);
        c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
        s = v128.load32_splat(ap, 8);
        c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
        s = v128.load32_splat(ap, 12);
        c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
        b += ws;
      }
      if (bias) {
        const b0 = v128.load(bias + (<usize>cb << 2)), b1 = v128.load(bias + (<usize>cb << 2), 16);
        c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1); c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1);
        c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1); c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1);
      }
      c00 = f32x4.max(c00, zero); c01 = f32x4.max(c01, zero); c10 = f32x4.max(c10, zero); c11 = f32x4.max(c11, zero);
      c20 = f32x4.max(c20, zero); c21 = f32x4.max(c21, zero); c30 = f32x4.max(c30, zero); c31 = f32x4.max(c31, zero);
      const o = out + (<usize>cb << 2);
      const lo = poolWindow(c00, c10, c20, c30, o), hi = poolWindow(c01, c11, c21, c31, o + 16);
      v128.store64_lane(code + <usize>cb, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(lo, hi), lo), 0);
    }
  }
}

/** Byte lane i of the result is lane i / 4 of the codes' first 4 bytes, plus i % 4: the swizzle indices of the picks. */
@inline function pickIndices(code: usize): v128 {
  const spread = i8x16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  return i8x16.add(swz(v128.load32_zero(code), spread), i8x16(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3));
}

/**
 * Filter and bias gradients from the pooled gradient `g` [PP, Co] float32 and the forward's `codes` [PP, Co]:
 * dw [taps, Co] float32 (overwritten) and acc [Co] float64 (the bias gradient's sums, added to). Other arguments as
 * `convReluPool`'s. Sums over the pixels of each chunk in float32, chunks added in float32 (dw) and float64 (acc).
 */
export function convReluPoolFilterGrad(xp: usize, g: usize, codes: usize, base: usize, row: usize, PP: i32, taps: i32, Wp: i32, Co: i32, dw: usize, acc: usize, panel: usize): void {
  const tapsP = paddedTaps(taps), chunk = gradChunk(taps);
  const wpBytes = <usize>Wp << 2, gs = <usize>Co << 2, entry = <usize>tapsP << 4;
  memory.fill(dw, 0, <usize>taps * gs);
  for (let p0 = 0; p0 < PP; p0 += chunk) {
    const n = min(chunk, PP - p0);
    for (let p = 0; p < n; p++) {
      const q = panel + <usize>p * entry;
      windowVectors(xp + (<usize>load<i32>(base + (<usize>(p0 + p) << 2)) << 2), row, taps, wpBytes, q);
      for (let t = taps; t < tapsP; t++) v128.store(q + (<usize>t << 4), f32x4.splat(0));
    }
    for (let tb = 0; tb < tapsP; tb += TAP_BLOCK) {
      for (let cg = 0; cg < Co; cg += 4) {
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0), a4 = f32x4.splat(0);
        let a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0), a8 = f32x4.splat(0), sum = f32x4.splat(0);
        let gp = g + ((<usize>p0 * Co + cg) << 2), cp = codes + <usize>p0 * Co + cg;
        let q = panel + (<usize>tb << 4);
        for (let p = 0; p < n; p++) {
          const idx = pickIndices(cp);
          // +0 for non-positive windows, and 0 + g (as MaxPoolGrad's zero plus the gradient) for the others.
          const gm = f32x4.add(f32x4.splat(0), v128.andnot(v128.load(gp), i32x4.shr_s(idx, 31)));
          sum = f32x4.add(sum, gm);
          a0 = madd(swz(v128.load(q), idx), gm, a0);
          a1 = madd(swz(v128.load(q, 16), idx), gm, a1);
          a2 = madd(swz(v128.load(q, 32), idx), gm, a2);
          a3 = madd(swz(v128.load(q, 48), idx), gm, a3);
          a4 = madd(swz(v128.load(q, 64), idx), gm, a4);
          a5 = madd(swz(v128.load(q, 80), idx), gm, a5);
          a6 = madd(swz(v128.load(q, 96), idx), gm, a6);
          a7 = madd(swz(v128.load(q, 112), idx), gm, a7);
          a8 = madd(swz(v128.load(q, 128), idx), gm, a8);
          gp += gs; cp += <usize>Co; q += entry;
        }
        const d = dw + ((<usize>tb * Co + cg) << 2);
        addRow(d, a0, tb, taps, gs, 0); addRow(d, a1, tb, taps, gs, 1); addRow(d, a2, tb, taps, gs, 2);
        addRow(d, a3, tb, taps, gs, 3); addRow(d, a4, tb, taps, gs, 4); addRow(d, a5, tb, taps, gs, 5);
        addRow(d, a6, tb, taps, gs, 6); addRow(d, a7, tb, taps, gs, 7); addRow(d, a8, tb, taps, gs, 8);
        if (tb == 0) {
          const s = acc + (<usize>cg << 3);
          v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(sum)));
          v128.store(s, f64x2.add(v128.load(s, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(sum, sum, 2, 3, 2, 3))), 16);
        }
      }
    }
  }
}

/** dw row tb + k (4 channels at d + k rows) += a, for rows below `taps`. */
@inline function addRow(d: usize, a: v128, tb: i32, taps: i32, gs: usize, k: i32): void {
  if (tb + k < taps) {
    const p = d + <usize>k * gs;
    v128.store(p, f32x4.add(v128.load(p), a));
  }
}

/**
 * The convolution's output gradient [B, OH, OW, Co] float32 from the pooled gradient `g` [B, OH/2, OW/2, Co] and the
 * codes: g at each window's winner where the window's maximum is > 0, +0 elsewhere (and in a last odd row or column):
 * MaxPoolGrad followed by the ReLU's gradient, as `reluMaxPool2x2Grad` writes it. For the input gradient, which a first
 * layer never needs.
 */
export function convReluPoolExpand(g: usize, codes: usize, dy: usize, B: i32, OH: i32, OW: i32, Co: i32): void {
  const PH = OH >> 1, PW = OW >> 1, cs = <usize>Co << 2, rs = <usize>OW * cs;
  if ((OH & 1) != 0 || (OW & 1) != 0) memory.fill(dy, 0, <usize>B * OH * rs);
  let gp = g, cp = codes;
  for (let b = 0; b < B; b++) {
    for (let ph = 0; ph < PH; ph++) {
      const top = dy + (<usize>b * OH + 2 * ph) * rs;
      for (let pw = 0; pw < PW; pw++) {
        const d = top + (<usize>pw << 1) * cs;
        for (let c: usize = 0; c < cs; c += 16) {
          const k = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(cp + (c >> 2))));
          const gv = f32x4.add(f32x4.splat(0), v128.load(gp + c));
          v128.store(d + c, v128.and(gv, i32x4.eq(k, i32x4.splat(0))));
          v128.store(d + cs + c, v128.and(gv, i32x4.eq(k, i32x4.splat(4))));
          v128.store(d + rs + c, v128.and(gv, i32x4.eq(k, i32x4.splat(8))));
          v128.store(d + rs + cs + c, v128.and(gv, i32x4.eq(k, i32x4.splat(12))));
        }
        gp += cs; cp += <usize>Co;
      }
    }
  }
}

/**
 * Sums over the batch of products of a one-channel input with itself shifted, for the second moments of a convolution's
 * input patches (src/backend/batchNormConvGradient.ts). x [B, H, W] float32; `out` [fH * (2 fW - 1) + 1, H, W] float32
 * (overwritten): plane dh * (2 fW - 1) + dw + fW - 1, for dh in [0, fH) and dw in (-fW, fW) with dh > 0 or dw >= 0,
 * holds at (i, j) the sum over b of x[b, i, j] * x[b, i + dh, j + dw] wherever (i + dh, j + dw) lies inside x
 * (elsewhere: a product with a pixel of another row, or 0 past the image; the planes with dh = 0 and dw < 0 are 0), and
 * the last plane the sum over b of x[b, i, j]. A box sum of plane (dh, dw) over the rows [kh, kh + OH) and columns
 * [kw, kw + OW) of a 'valid' fH x fW convolution (OH = H - fH + 1, OW = W - fW + 1), kh + dh < fH and 0 <= kw + dw < fW,
 * reads only entries of the first kind: it is the sum over every patch of tap (kh, kw) times tap (kh + dh, kw + dw).
 * Each plane is one run over the flattened image (x[e] * x[e + dh * W + dw]), not a loop over rows.
 */
export function patchLagSums(x: usize, B: i32, H: i32, W: i32, fH: i32, fW: i32, out: usize): void {
  const lagsW = 2 * fW - 1, n = H * W, plane = <usize>n << 2;
  memory.fill(out, 0, <usize>(fH * lagsW + 1) * plane);
  const sums = out + <usize>(fH * lagsW) * plane;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * plane;
    let e = 0;
    for (; e + 4 <= n; e += 4) {
      const o = <usize>e << 2;
      v128.store(sums + o, f32x4.add(v128.load(sums + o), v128.load(img + o)));
    }
    for (; e < n; e++) store<f32>(sums + (<usize>e << 2), load<f32>(sums + (<usize>e << 2)) + load<f32>(img + (<usize>e << 2)));
    for (let dh = 0; dh < fH; dh++) {
      for (let dw = dh == 0 ? 0 : 1 - fW; dw < fW; dw++) {
        const shift = dh * W + dw, end = n - shift;
        const d = out + <usize>(dh * lagsW + dw + fW - 1) * plane, c = img + (<usize>shift << 2);
        let j = 0;
        for (; j + 4 <= end; j += 4) {
          const o = <usize>j << 2;
          v128.store(d + o, madd(v128.load(img + o), v128.load(c + o), v128.load(d + o)));
        }
        for (; j < end; j++) {
          const o = <usize>j << 2;
          store<f32>(d + o, load<f32>(d + o) + load<f32>(img + o) * load<f32>(c + o));
        }
      }
    }
  }
}

/** Prefix sums (float64) of the float32 plane at `p` [H, W] into `S` [(H + 1) * (W + 1)]: S[i][j] = sum over rows < i, columns < j. */
function prefixSums(p: usize, H: i32, W: i32, S: usize): void {
  const w1 = W + 1;
  memory.fill(S, 0, <usize>w1 << 3);
  for (let i = 0; i < H; i++) {
    const above = S + (<usize>(i * w1) << 3), here = above + (<usize>w1 << 3), row = p + (<usize>(i * W) << 2);
    store<f64>(here, 0);
    let sum: f64 = 0;
    for (let j = 0; j < W; j++) {
      sum += <f64>load<f32>(row + (<usize>j << 2));
      store<f64>(here + (<usize>(j + 1) << 3), load<f64>(above + (<usize>(j + 1) << 3)) + sum);
    }
  }
}

/** Sum of the plane behind prefix sums `S` (row length W + 1) over rows [r0, r0 + OH) and columns [c0, c0 + OW). */
@inline function boxSum(S: usize, w1: i32, r0: i32, c0: i32, OH: i32, OW: i32): f64 {
  const top = S + (<usize>(r0 * w1 + c0) << 3), bottom = S + (<usize>((r0 + OH) * w1 + c0) << 3), right = <usize>OW << 3;
  return load<f64>(bottom + right) - load<f64>(top + right) - load<f64>(bottom) + load<f64>(top);
}

/**
 * From `patchLagSums`'s planes (`lags`, for x [B, H, W] and an fH x fW 'valid' convolution with N = B * OH * OW output
 * positions): `out` float64 [taps + taps * taps] (taps = fH * fW, tap t = kh * fW + kw) gets the patches' sums
 * s[t] = sum over positions of tap t, then their covariance sums cov[t][u] = sum of tap t times tap u - s[t] s[u] / N.
 * `scratch` holds (H + 1) * (W + 1) float64.
 */
export function patchMoments(lags: usize, H: i32, W: i32, fH: i32, fW: i32, N: f64, scratch: usize, out: usize): void {
  const lagsW = 2 * fW - 1, taps = fH * fW, OH = H - fH + 1, OW = W - fW + 1, w1 = W + 1, plane = <usize>(H * W) << 2;
  const cov = out + (<usize>taps << 3);
  prefixSums(lags + <usize>(fH * lagsW) * plane, H, W, scratch);
  for (let t = 0; t < taps; t++) store<f64>(out + (<usize>t << 3), boxSum(scratch, w1, t / fW, t % fW, OH, OW));
  for (let dh = 0; dh < fH; dh++) {
    for (let dw = dh == 0 ? 0 : 1 - fW; dw < fW; dw++) {
      prefixSums(lags + <usize>(dh * lagsW + dw + fW - 1) * plane, H, W, scratch);
      for (let kh = 0; kh + dh < fH; kh++) {
        for (let kw = max(0, -dw); kw + dw < fW && kw < fW; kw++) {
          const t = kh * fW + kw, u = (kh + dh) * fW + kw + dw;
          const v = boxSum(scratch, w1, kh, kw, OH, OW) - load<f64>(out + (<usize>t << 3)) * load<f64>(out + (<usize>u << 3)) / N;
          store<f64>(cov + (<usize>(t * taps + u) << 3), v);
          store<f64>(cov + (<usize>(u * taps + t) << 3), v);
        }
      }
    }
  }
}

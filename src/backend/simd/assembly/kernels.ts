// AssemblyScript source of hwr's wasm SIMD training kernels (compiled by `npm run build:simd` to
// ../kernels.wasm; see ../index.ts for the TypeScript side and the algorithms).
//
// Memory: the module imports the tfjs-backend-wasm heap (`env.memory`), so every pointer below is a byte
// offset of a tensor or scratch buffer on that heap. The module allocates nothing and has no data segment.
// Layouts are NHWC and row-major; all values are float32, offsets tables int32 (in floats, not bytes).
//
// Convolutions are "implicit GEMMs" over the padded input (Chellapilla et al. 2006 without the im2col copy):
//   output pixel p = (b, oh, ow) reads x at  pix[p] + row[r]   for r = (kh, kw, ci),
//   pix[p] = ((b * Hp + oh * sH) * Wp + ow * sW) * Ci,   row[r] = (kh * Wp + kw) * Ci + ci.
// The micro-kernels keep a 4 x 8 block of results in eight v128 registers (XNNPACK's 4x8 wasmsimd shape; a
// 6x8 block measured slower under V8, which spills registers).

export * from './adam';
export * from './batchNorm';
export * from './convReluPool';
export * from './crossEntropy';
export * from './dropout';
export * from './gemm';
export * from './pooling';
export * from './winograd';
export * from './winograd4';
export * from './winogradOps';
export * from './winogradGeneric';

import { madd } from './fma';

// ---------------------------------------------------------------------------------------------------------
// Offset tables and padding

/** pix[p] for p = (b, oh, ow) in [B, OH, OW] order. */
export function pixelOffsets(dst: usize, B: i32, OH: i32, OW: i32, Hp: i32, Wp: i32, Ci: i32, sH: i32, sW: i32): void {
  let p: usize = dst;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const rowBase = (b * Hp + oh * sH) * Wp;
      for (let ow = 0; ow < OW; ow++) {
        store<i32>(p, (rowBase + ow * sW) * Ci);
        p += 4;
      }
    }
  }
}

/** row[r] for r = (kh, kw, ci) in [KH, KW, Ci] order. */
export function rowOffsets(dst: usize, KH: i32, KW: i32, Ci: i32, Wp: i32): void {
  let p: usize = dst;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let ci = 0; ci < Ci; ci++) {
        store<i32>(p, (kh * Wp + kw) * Ci + ci);
        p += 4;
      }
    }
  }
}

/** Copies x [B, H, W, C] into the zero-filled dst [B, Hp, Wp, C] at (padTop, padLeft). */
export function padCopy(src: usize, dst: usize, B: i32, H: i32, W: i32, C: i32, Hp: i32, Wp: i32, padTop: i32, padLeft: i32): void {
  memory.fill(dst, 0, <usize>B * Hp * Wp * C * 4);
  const run = <usize>W * C * 4;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const to = dst + (((<usize>b * Hp + h + padTop) * Wp + padLeft) * C << 2);
      const from = src + ((<usize>b * H + h) * W * C << 2);
      memory.copy(to, from, run);
    }
  }
}

/** Copies the window at (padTop, padLeft) of src [B, Hp, Wp, C] into dst [B, H, W, C]. */
export function cropCopy(src: usize, dst: usize, B: i32, H: i32, W: i32, C: i32, Hp: i32, Wp: i32, padTop: i32, padLeft: i32): void {
  const run = <usize>W * C * 4;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const from = src + (((<usize>b * Hp + h + padTop) * Wp + padLeft) * C << 2);
      const to = dst + ((<usize>b * H + h) * W * C << 2);
      memory.copy(to, from, run);
    }
  }
}

/**
 * dst[c, r] = src[r, c] for src [rows, cols]; dst rows are `dstStride` floats long (>= rows). Blocks of 4 x 4 go
 * through registers (four loads, eight shuffles, four stores); the rows and columns past the last whole block are
 * copied one value at a time.
 */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32, dstStride: i32): void {
  const rows4 = rows & ~3, cols4 = cols & ~3;
  const ss = <usize>cols << 2, ds = <usize>dstStride << 2;
  for (let r = 0; r < rows4; r += 4) {
    const s0 = src + <usize>r * ss;
    let d = dst + (<usize>r << 2);
    for (let c: usize = 0; c < <usize>cols4 << 2; c += 16, d += ds << 2) {
      const r0 = v128.load(s0 + c), r1 = v128.load(s0 + ss + c), r2 = v128.load(s0 + 2 * ss + c), r3 = v128.load(s0 + 3 * ss + c);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(d + ds, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
      v128.store(d + 2 * ds, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
      v128.store(d + 3 * ds, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
    }
    for (let c = cols4; c < cols; c++) {
      for (let i = 0; i < 4; i++) store<f32>(dst + ((<usize>c * dstStride + r + i) << 2), load<f32>(s0 + <usize>i * ss + (<usize>c << 2)));
    }
  }
  for (let r = rows4; r < rows; r++) {
    const s = src + <usize>r * ss;
    for (let c = 0; c < cols; c++) store<f32>(dst + ((<usize>c * dstStride + r) << 2), load<f32>(s + (<usize>c << 2)));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter: dw[r, co] = sum_p x[pix[p] + row[r]] * dy[p, co]      (dw [R, Co], Co % 8 == 0)

/** Pixels per pass: a chunk's dy and x stay in L2 while every (r, co) block of dw sweeps it. */
const FILTER_CHUNK: i32 = 512;

/** The float32 values at p0..p3 as one v128: four broadcast loads and a tree of three shuffles (no lane-insert chain). */
@inline function gather4(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  const a = v128.load32_splat(p0), b = v128.load32_splat(p1), c = v128.load32_splat(p2), d = v128.load32_splat(p3);
  return v128.shuffle<f32>(v128.shuffle<f32>(a, b, 0, 4, 0, 4), v128.shuffle<f32>(c, d, 0, 4, 0, 4), 0, 1, 4, 5);
}

/** Bytes of scratch `conv2dBackpropFilter` needs: a panel [FILTER_CHUNK][4] of float32. */
export function filterPanelBytes(): usize {
  return <usize>FILTER_CHUNK << 4;
}

/**
 * `panel` is scratch of `filterPanelBytes()` bytes. Per chunk of pixels and block of 4 filter rows, the 4 rows' inputs
 * of every pixel are gathered once into the panel [pixels][4] (one v128 load when the 4 offsets are consecutive: one
 * tap, ci..ci+3), and each block of 8 output channels reads it through one pointer with broadcast loads (with four
 * row pointers plus a table offset per pixel, V8 spent an address add per load). The last row block repeats its last
 * row and stores only the valid ones.
 */
export function conv2dBackpropFilter(x: usize, dy: usize, dw: usize, pix: usize, row: usize, P: i32, R: i32, Co: i32, panel: usize): void {
  memory.fill(dw, 0, <usize>R * Co * 4);
  const dyStride = <usize>Co << 2;
  for (let p0 = 0; p0 < P; p0 += FILTER_CHUNK) {
    const p1 = min(P, p0 + FILTER_CHUNK);
    const panelEnd = panel + (<usize>(p1 - p0) << 4);
    const pixEnd = pix + (<usize>p1 << 2);
    for (let rb = 0; rb < R; rb += 4) {
      const last = R - 1;
      const o0 = load<i32>(row + (<usize>rb << 2));
      const o1 = load<i32>(row + (<usize>min(rb + 1, last) << 2));
      const o2 = load<i32>(row + (<usize>min(rb + 2, last) << 2));
      const o3 = load<i32>(row + (<usize>min(rb + 3, last) << 2));
      if (rb + 3 <= last && o1 == o0 + 1 && o2 == o0 + 2 && o3 == o0 + 3) {
        const xb = x + (<usize>o0 << 2);
        for (let pp = pix + (<usize>p0 << 2), q = panel; pp < pixEnd; pp += 4, q += 16) v128.store(q, v128.load(xb + (<usize>load<i32>(pp) << 2)));
      } else {
        const x0 = x + (<usize>o0 << 2), x1 = x + (<usize>o1 << 2), x2 = x + (<usize>o2 << 2), x3 = x + (<usize>o3 << 2);
        for (let pp = pix + (<usize>p0 << 2), q = panel; pp < pixEnd; pp += 4, q += 16) {
          const o = <usize>load<i32>(pp) << 2;
          v128.store(q, gather4(x0 + o, x1 + o, x2 + o, x3 + o));
        }
      }
      for (let cb = 0; cb < Co; cb += 8) {
        const out = dw + ((<usize>rb * Co + cb) << 2);
        let a00 = v128.load(out), a01 = v128.load(out, 16);
        let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a20 = f32x4.splat(0), a21 = f32x4.splat(0);
        let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
        if (rb + 1 <= last) { a10 = v128.load(out + dyStride); a11 = v128.load(out + dyStride, 16); }
        if (rb + 2 <= last) { a20 = v128.load(out + 2 * dyStride); a21 = v128.load(out + 2 * dyStride, 16); }
        if (rb + 3 <= last) { a30 = v128.load(out + 3 * dyStride); a31 = v128.load(out + 3 * dyStride, 16); }
        let d = dy + ((<usize>p0 * Co + cb) << 2);
        for (let ap = panel; ap < panelEnd; ap += 16) {
          const d0 = v128.load(d), d1 = v128.load(d, 16);
          let s = v128.load32_splat(ap);
          a00 = madd(s, d0, a00); a01 = madd(s, d1, a01);
          s = v128.load32_splat(ap, 4);
          a10 = madd(s, d0, a10); a11 = madd(s, d1, a11);
          s = v128.load32_splat(ap, 8);
          a20 = madd(s, d0, a20); a21 = madd(s, d1, a21);
          s = v128.load32_splat(ap, 12);
          a30 = madd(s, d0, a30); a31 = madd(s, d1, a31);
          d += dyStride;
        }
        v128.store(out, a00); v128.store(out, a01, 16);
        if (rb + 1 <= last) { v128.store(out + dyStride, a10); v128.store(out + dyStride, a11, 16); }
        if (rb + 2 <= last) { v128.store(out + 2 * dyStride, a20); v128.store(out + 2 * dyStride, a21, 16); }
        if (rb + 3 <= last) { v128.store(out + 3 * dyStride, a30); v128.store(out + 3 * dyStride, a31, 16); }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput: dxp[pix[p] + row[r]] += sum_co dy[p, co] * wT[co, r]
// (dxp the zero-filled padded input gradient; wT [Co, Rp] with Rp = R rounded up to 8, zero columns past R).

export function conv2dBackpropInput(dy: usize, wT: usize, dxp: usize, pix: usize, row: usize, P: i32, Co: i32, R: i32, Rp: i32): void {
  const aStride = <usize>Co << 2;
  const bStride = <usize>Rp << 2;
  for (let pb = 0; pb < P; pb += 4) {
    const last = P - 1;
    const a0 = dy + (<usize>pb * Co << 2);
    const a1 = dy + (<usize>min(pb + 1, last) * Co << 2);
    const a2 = dy + (<usize>min(pb + 2, last) * Co << 2);
    const a3 = dy + (<usize>min(pb + 3, last) * Co << 2);
    const q0 = dxp + (<usize>load<i32>(pix + (<usize>pb << 2)) << 2);
    const q1 = dxp + (<usize>load<i32>(pix + (<usize>min(pb + 1, last) << 2)) << 2);
    const q2 = dxp + (<usize>load<i32>(pix + (<usize>min(pb + 2, last) << 2)) << 2);
    const q3 = dxp + (<usize>load<i32>(pix + (<usize>min(pb + 3, last) << 2)) << 2);
    const rows = min(4, P - pb);
    for (let rb = 0; rb < R; rb += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let b = wT + (<usize>rb << 2);
      for (let k: usize = 0; k < aStride; k += 4) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        let s = f32x4.splat(load<f32>(a0 + k));
        c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
        s = f32x4.splat(load<f32>(a1 + k));
        c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
        s = f32x4.splat(load<f32>(a2 + k));
        c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
        s = f32x4.splat(load<f32>(a3 + k));
        c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
        b += bStride;
      }
      const o = load<i32>(row + (<usize>rb << 2));
      if (rb + 8 <= R && load<i32>(row + (<usize>(rb + 7) << 2)) == o + 7) {
        // 8 consecutive input channels of one tap: two vector read-add-writes per pixel.
        const off = <usize>o << 2;
        addTo(q0 + off, c00, c01);
        if (rows > 1) addTo(q1 + off, c10, c11);
        if (rows > 2) addTo(q2 + off, c20, c21);
        if (rows > 3) addTo(q3 + off, c30, c31);
      } else {
        const n = min(8, R - rb);
        scatter(q0, row + (<usize>rb << 2), n, c00, c01);
        if (rows > 1) scatter(q1, row + (<usize>rb << 2), n, c10, c11);
        if (rows > 2) scatter(q2, row + (<usize>rb << 2), n, c20, c21);
        if (rows > 3) scatter(q3, row + (<usize>rb << 2), n, c30, c31);
      }
    }
  }
}

@inline function addTo(p: usize, lo: v128, hi: v128): void {
  v128.store(p, f32x4.add(v128.load(p), lo));
  v128.store(p, f32x4.add(v128.load(p, 16), hi), 16);
}

function scatter(q: usize, row: usize, n: i32, lo: v128, hi: v128): void {
  for (let i = 0; i < n; i++) {
    const value = i < 4 ? laneOf(lo, i) : laneOf(hi, i - 4);
    const p = q + (<usize>load<i32>(row + (<usize>i << 2)) << 2);
    store<f32>(p, load<f32>(p) + value);
  }
}

@inline function laneOf(v: v128, i: i32): f32 {
  // Lane i (0..3) of v.
  return i == 1 ? f32x4.extract_lane(v, 1) : i == 2 ? f32x4.extract_lane(v, 2) : i == 3 ? f32x4.extract_lane(v, 3) : f32x4.extract_lane(v, 0);
}

// ---------------------------------------------------------------------------------------------------------
// Conv2D (forward): y[p, co] = act(sum over taps t and ci of x[pix[p] + row[t * Ci] + ci] * w[t * Ci + ci, co]
// + bias[co]) (y [P, Co] with Co % 8 == 0; w [R, Co] = the filter [fH, fW, Ci, Co]; `bias` 0 for none, `relu` 1 for
// max(0, .), 0 for linear: FusedConv2D's epilogue applied to the registers before the store, the same operations in
// the same order as `biasActivation` after the sum).

export function conv2d(x: usize, w: usize, y: usize, pix: usize, row: usize, P: i32, taps: i32, Ci: i32, Co: i32, bias: usize, relu: i32, panel: usize): void {
  const ys = <usize>Co << 2;
  const ciBytes = <usize>Ci << 2;
  const panelEnd = panel + (<usize>taps * Ci << 4);
  for (let pb = 0; pb < P; pb += 4) {
    const last = P - 1;
    const x0 = x + (<usize>load<i32>(pix + (<usize>pb << 2)) << 2);
    const x1 = x + (<usize>load<i32>(pix + (<usize>min(pb + 1, last) << 2)) << 2);
    const x2 = x + (<usize>load<i32>(pix + (<usize>min(pb + 2, last) << 2)) << 2);
    const x3 = x + (<usize>load<i32>(pix + (<usize>min(pb + 3, last) << 2)) << 2);
    const rows = min(4, P - pb);
    const out = y + (<usize>pb * Co << 2);
    if (Ci < 4) {
      // Few channels per tap (a first layer): the 4 pixels' inputs under every filter row, gathered once into a
      // panel [taps * Ci][4] (im2col of 4 pixels) that every block of 8 output channels then reads through one
      // pointer (four row pointers plus a table offset cost V8 an address add per load).
      for (let r = row, q = panel; q < panelEnd; r += 4, q += 16) {
        const o = <usize>load<i32>(r) << 2;
        v128.store(q, gather4(x0 + o, x1 + o, x2 + o, x3 + o));
      }
    }
    for (let cb = 0; cb < Co; cb += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let b = w + (<usize>cb << 2);
      if (Ci < 4) {
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
          b += ys;
        }
      } else {
        for (let t = 0; t < taps; t++) {
          const o = <usize>load<i32>(row + (<usize>t * Ci << 2)) << 2;
          for (let k: usize = 0; k < ciBytes; k += 4) {
            const b0 = v128.load(b), b1 = v128.load(b, 16);
            let s = f32x4.splat(load<f32>(x0 + o + k));
            c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
            s = f32x4.splat(load<f32>(x1 + o + k));
            c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
            s = f32x4.splat(load<f32>(x2 + o + k));
            c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
            s = f32x4.splat(load<f32>(x3 + o + k));
            c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
            b += ys;
          }
        }
      }
      if (bias) {
        const b0 = v128.load(bias + (<usize>cb << 2)), b1 = v128.load(bias + (<usize>cb << 2), 16);
        c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1); c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1);
        c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1); c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1);
      }
      if (relu) {
        const z = f32x4.splat(0);
        c00 = f32x4.max(c00, z); c01 = f32x4.max(c01, z); c10 = f32x4.max(c10, z); c11 = f32x4.max(c11, z);
        c20 = f32x4.max(c20, z); c21 = f32x4.max(c21, z); c30 = f32x4.max(c30, z); c31 = f32x4.max(c31, z);
      }
      const o = out + (<usize>cb << 2);
      v128.store(o, c00); v128.store(o, c01, 16);
      if (rows > 1) { v128.store(o + ys, c10); v128.store(o + ys, c11, 16); }
      if (rows > 2) { v128.store(o + 2 * ys, c20); v128.store(o + 2 * ys, c21, 16); }
      if (rows > 3) { v128.store(o + 3 * ys, c30); v128.store(o + 3 * ys, c31, 16); }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bias and activation: y[p, c] = act(x[p, c] + bias[c]) (x, y [P, C], C % 4 == 0; y may be x): the epilogue of
// FusedConv2D and the bias add of a layer (Add of [..., C] and [C]).

/** `bias` 0 for none; `relu` 1 for max(0, .), 0 for linear. */
export function biasActivation(x: usize, y: usize, bias: usize, P: i32, C: i32, relu: i32): void {
  const cs = <usize>C << 2;
  const end = x + <usize>P * cs;
  const zero = f32x4.splat(0);
  let out = y;
  for (let row = x; row < end; row += cs) {
    for (let c: usize = 0; c < cs; c += 16) {
      let v = v128.load(row + c);
      if (bias) v = f32x4.add(v, v128.load(bias + c));
      if (relu) v = f32x4.max(v, zero);
      v128.store(out + c, v);
    }
    out += cs;
  }
}

// Channel-broadcast product: y[p, c] = x[p, c] * v[c] (x, y [P, C], C % 4 == 0): batch norm's per-channel scales.

export function scaleChannels(x: usize, y: usize, v: usize, P: i32, C: i32): void {
  const cs = <usize>C << 2;
  const end = x + <usize>P * cs;
  let out = y;
  for (let row = x; row < end; row += cs) {
    for (let c: usize = 0; c < cs; c += 16) v128.store(out + c, f32x4.mul(v128.load(row + c), v128.load(v + c)));
    out += cs;
  }
}

// ReLU gradient: dx = dy * step(x) in one pass (TF.js: Step, Cast and Multiply), n % 4 == 0 handled with a scalar
// tail. step(x) is 1 for x > 0, 0 otherwise and NaN for NaN (as tfjs-core's Relu gradient); the zeros are +0.

export function reluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const nan = f32x4.splat(NaN);
  const vecEnd = <usize>(n & ~3) << 2;
  for (let i: usize = 0; i < vecEnd; i += 16) {
    const xv = v128.load(x + i);
    const keep = v128.and(v128.load(dy + i), f32x4.gt(xv, zero));
    v128.store(dx + i, v128.or(keep, v128.and(nan, f32x4.ne(xv, xv))));
  }
  for (let i = vecEnd; i < (<usize>n << 2); i += 4) {
    const xs = load<f32>(x + i);
    store<f32>(dx + i, xs > 0 ? load<f32>(dy + i) : xs != xs ? NaN : 0);
  }
}

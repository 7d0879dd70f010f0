// AssemblyScript GEMMs for few rows and wide outputs: a dense layer's three products in training (issue 13,
// notes/PERFORMANCE.md "session 21: hccr-vgg dense layer"). Compiled into kernels.wasm through kernels.ts.
//
// Why not the 1x1-convolution route of kernels.ts: its micro-kernels loop over 4-row blocks outermost, so for a
// [64, 256] x [256, 3755] product every block streams the whole 3.8 MB weight matrix (16 times per call), and they
// write 8 columns at once (n % 8 == 0 only). Here the weight matrix streams through memory once per call:
//   gemmPanels  C = op(A) B (the forward x W, + bias, ReLU; dW = x^T dy): op(A) packed once per call into 4-row
//                           panels (gemmPackPanels), then 8-column strips of B outermost, each packed into an L1
//                           buffer [kc, 8] (zero lanes past n), and every 4-row panel runs over that strip;
//   gemmNT      C = A B^T (dx = dy W^T): dot products of rows (both operands are contiguous along k), blocked over
//                                     k (KD floats) so a k-block of A stays in L2 while each group of 4 rows of B
//                                     streams once from memory; 2 x 4 dot accumulators, reduced at the end of a block.
// Leading dimensions (lda, ldb, ldc, in floats) let a caller run column ranges on separate threads.
// All values float32; pointers are byte offsets on the imported heap; `pk` is a scratch of at least
// gemmScratchFloats() floats (the caller's, one per thread). Sums over k in order within a k-block, blocks in order.

import { madd } from './fma';

/** k-block of the strip kernels: a packed strip [KC, 8] is 8 KB, so it stays in L1 while the rows of A pass. */
const KC: i32 = 256;
/** k-block of the dot kernel: a block of 4 rows of B is 8 KB (L1), the rows of A in it 2 KB each (L2). */
const KD: i32 = 512;

/** Floats of scratch that gemmPanels needs at `pk`: one packed strip and 8 floats for a partial store. */
export function gemmScratchFloats(): i32 {
  return KC * 8 + 8;
}

/** Packs B[0:kc, 0:w] (rows `ldb` floats apart) into pk [kc, 8], lanes past w zero. */
function packStrip(b: usize, ldb: i32, kc: i32, w: i32, pk: usize): void {
  const stride = <usize>ldb << 2;
  let p = pk;
  if (w == 8) {
    for (let kk = 0; kk < kc; kk++) {
      v128.store(p, v128.load(b));
      v128.store(p, v128.load(b, 16), 16);
      b += stride;
      p += 32;
    }
  } else {
    for (let kk = 0; kk < kc; kk++) {
      for (let c = 0; c < 8; c++) store<f32>(p + (<usize>c << 2), c < w ? load<f32>(b + (<usize>c << 2)) : 0);
      b += stride;
      p += 32;
    }
  }
}

/**
 * Writes one row of a 4x8 result block: C[0:w] = (first ? 0 : C[0:w]) + (lo, hi), then, when `last`, + bias[0:w]
 * (`bias` 0: none) and max(0, .) when `relu`. Lanes past w are not touched; `tmp` is 8 floats of scratch.
 */
@inline function finishRow(p: usize, lo: v128, hi: v128, w: i32, first: bool, last: bool, bias: usize, relu: i32, tmp: usize): void {
  if (w == 8) {
    let v0 = lo, v1 = hi;
    if (!first) {
      v0 = f32x4.add(v128.load(p), v0);
      v1 = f32x4.add(v128.load(p, 16), v1);
    }
    if (last) {
      if (bias) {
        v0 = f32x4.add(v0, v128.load(bias));
        v1 = f32x4.add(v1, v128.load(bias, 16));
      }
      if (relu) {
        v0 = f32x4.max(v0, f32x4.splat(0));
        v1 = f32x4.max(v1, f32x4.splat(0));
      }
    }
    v128.store(p, v0);
    v128.store(p, v1, 16);
  } else {
    v128.store(tmp, lo);
    v128.store(tmp, hi, 16);
    for (let c = 0; c < w; c++) {
      const q = p + (<usize>c << 2);
      let v = load<f32>(tmp + (<usize>c << 2));
      if (!first) v = load<f32>(q) + v;
      if (last) {
        if (bias) v += load<f32>(bias + (<usize>c << 2));
        if (relu) v = max<f32>(v, 0);
      }
      store<f32>(q, v);
    }
  }
}

/**
 * Packs op(A) [m, k] into 4-row panels: dst[(i / 4) * k * 4 + kk * 4 + i % 4] = op(A)[i, kk], rows past m zero
 * (dst holds ceil(m / 4) * 4 * k floats). op(A) is A [m, k] (rows lda apart) when `transposed` is 0, else A^T for
 * A [k, m]. The strip kernel then reads 4 rows' values at one k as 16 consecutive bytes, one panel after another.
 */
export function gemmPackPanels(a: usize, m: i32, k: i32, lda: i32, transposed: i32, dst: usize): void {
  const lda4 = <usize>lda << 2;
  let p = dst;
  for (let i0 = 0; i0 < m; i0 += 4) {
    const rows = min(4, m - i0);
    if (transposed) {
      let q = a + (<usize>i0 << 2);
      if (rows == 4) {
        for (let kk = 0; kk < k; kk++) { v128.store(p, v128.load(q)); q += lda4; p += 16; }
      } else {
        for (let kk = 0; kk < k; kk++) {
          for (let r = 0; r < 4; r++) store<f32>(p + (<usize>r << 2), r < rows ? load<f32>(q + (<usize>r << 2)) : 0);
          q += lda4; p += 16;
        }
      }
    } else {
      const row = a + (<usize>i0 * lda << 2);
      for (let r = 0; r < 4; r++) {
        let q = row + <usize>r * lda4;
        let o = p + (<usize>r << 2);
        for (let kk = 0; kk < k; kk++) { store<f32>(o, r < rows ? load<f32>(q) : 0); q += 4; o += 16; }
      }
      p += <usize>k << 4;
    }
  }
}

/**
 * C[m, n] = op(A) B (+ bias[n], then ReLU when `relu` is 1) for op(A) packed by gemmPackPanels (`panels`, m rows,
 * k columns) and B [k, n] (rows ldb floats apart; C rows ldc apart); `bias` 0 for none; `pk` scratch of
 * gemmScratchFloats() floats. Any m, k, n >= 1. Serves A B (forward, + bias, ReLU) and A^T B (dW = x^T dy).
 */
export function gemmPanels(panels: usize, b: usize, c: usize, m: i32, k: i32, n: i32, ldb: i32, ldc: i32, bias: usize, relu: i32, pk: usize): void {
  const tmp = pk + (<usize>KC * 8 << 2);
  const ldc4 = <usize>ldc << 2;
  const panelBytes = <usize>k << 4;
  for (let j0 = 0; j0 < n; j0 += 8) {
    const w = min(8, n - j0);
    const biasStrip = bias ? bias + (<usize>j0 << 2) : 0;
    for (let k0 = 0; k0 < k; k0 += KC) {
      const kc = min(KC, k - k0);
      packStrip(b + ((<usize>k0 * ldb + j0) << 2), ldb, kc, w, pk);
      const first = k0 == 0;
      const final = k0 + kc >= k;
      const pkEnd = pk + (<usize>kc << 5);
      let panel = panels + (<usize>k0 << 4);
      for (let i0 = 0; i0 < m; i0 += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let ap = panel;
        for (let bp = pk; bp < pkEnd; bp += 32) {
          // Each value of op(A) broadcast by a load (vbroadcastss: a load port, not a shuffle on the FP pipes).
          const b0 = v128.load(bp), b1 = v128.load(bp, 16);
          let s = v128.load32_splat(ap);
          c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
          s = v128.load32_splat(ap, 4);
          c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
          s = v128.load32_splat(ap, 8);
          c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
          s = v128.load32_splat(ap, 12);
          c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
          ap += 16;
        }
        panel += panelBytes;
        const rows = min(4, m - i0);
        const out = c + ((<usize>i0 * ldc + j0) << 2);
        finishRow(out, c00, c01, w, first, final, biasStrip, relu, tmp);
        if (rows > 1) finishRow(out + ldc4, c10, c11, w, first, final, biasStrip, relu, tmp);
        if (rows > 2) finishRow(out + 2 * ldc4, c20, c21, w, first, final, biasStrip, relu, tmp);
        if (rows > 3) finishRow(out + 3 * ldc4, c30, c31, w, first, final, biasStrip, relu, tmp);
      }
    }
  }
}

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** C[p] = value when `first`, else C[p] + value. */
@inline function put(p: usize, value: f32, first: bool): void {
  store<f32>(p, first ? value : load<f32>(p) + value);
}

/**
 * C[m, n] = A B^T for A [m, k] and B [n, k] (row-major, rows lda, ldb floats apart; C rows ldc apart). Any m, k,
 * n >= 1. Each k-block of KD floats: per 2 rows of A and 4 rows of B, eight 4-lane partial dot products, summed
 * across lanes at the end of the block (the k % 4 tail added in scalars) and added into C.
 */
export function gemmNT(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, lda: i32, ldb: i32, ldc: i32): void {
  const lastRow = m - 1, lastCol = n - 1;
  const ldc4 = <usize>ldc << 2;
  for (let k0 = 0; k0 < k; k0 += KD) {
    const kc = min(KD, k - k0);
    const vecBytes = <usize>(kc & ~3) << 2;
    const kcBytes = <usize>kc << 2;
    const first = k0 == 0;
    for (let j0 = 0; j0 < n; j0 += 4) {
      const b0 = b + ((<usize>j0 * ldb + k0) << 2);
      const b1 = b + ((<usize>min(j0 + 1, lastCol) * ldb + k0) << 2);
      const b2 = b + ((<usize>min(j0 + 2, lastCol) * ldb + k0) << 2);
      const b3 = b + ((<usize>min(j0 + 3, lastCol) * ldb + k0) << 2);
      const cols = min(4, n - j0);
      for (let i0 = 0; i0 < m; i0 += 2) {
        const a0 = a + ((<usize>i0 * lda + k0) << 2);
        const a1 = a + ((<usize>min(i0 + 1, lastRow) * lda + k0) << 2);
        let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
        let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
        for (let o: usize = 0; o < vecBytes; o += 16) {
          const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
          let y = v128.load(b0 + o);
          s00 = madd(x0, y, s00); s10 = madd(x1, y, s10);
          y = v128.load(b1 + o);
          s01 = madd(x0, y, s01); s11 = madd(x1, y, s11);
          y = v128.load(b2 + o);
          s02 = madd(x0, y, s02); s12 = madd(x1, y, s12);
          y = v128.load(b3 + o);
          s03 = madd(x0, y, s03); s13 = madd(x1, y, s13);
        }
        let r00 = hsum(s00), r01 = hsum(s01), r02 = hsum(s02), r03 = hsum(s03);
        let r10 = hsum(s10), r11 = hsum(s11), r12 = hsum(s12), r13 = hsum(s13);
        for (let o = vecBytes; o < kcBytes; o += 4) {
          const x0 = load<f32>(a0 + o), x1 = load<f32>(a1 + o);
          const y0 = load<f32>(b0 + o), y1 = load<f32>(b1 + o), y2 = load<f32>(b2 + o), y3 = load<f32>(b3 + o);
          r00 += x0 * y0; r01 += x0 * y1; r02 += x0 * y2; r03 += x0 * y3;
          r10 += x1 * y0; r11 += x1 * y1; r12 += x1 * y2; r13 += x1 * y3;
        }
        const out = c + ((<usize>i0 * ldc + j0) << 2);
        put(out, r00, first);
        if (cols > 1) put(out + 4, r01, first);
        if (cols > 2) put(out + 8, r02, first);
        if (cols > 3) put(out + 12, r03, first);
        if (i0 + 1 < m) {
          const out1 = out + ldc4;
          put(out1, r10, first);
          if (cols > 1) put(out1 + 4, r11, first);
          if (cols > 2) put(out1 + 8, r12, first);
          if (cols > 3) put(out1 + 12, r13, first);
        }
      }
    }
  }
}

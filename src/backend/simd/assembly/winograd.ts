// Winograd F(2x2, 3x3) transforms and the per-plane GEMMs of both variants, for 3x3 stride-1 convolutions in NHWC
// and their two gradients (the operations that chain them are in ./winogradOps.ts)
// (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks", CVPR; the gradients by the
// transposition of the same bilinear algorithm, as in their section 5).
//
// A 4x4 input tile d at (2*th, 2*tw) and a 3x3 filter g give the 2x2 output tile
//   y = A^T [ (G g G^T) .* (B^T d B) ] A
// with the 16 products summed over input channels as 16 GEMMs [tiles, Ci] x [Ci, Co] (2.25x fewer
// multiply-adds than the direct convolution). Differentiating the same expression:
//   dd = B [ (G g G^T) .* (A dy A^T) ] B^T      (input gradient, tiles overlap: scatter-add)
//   dg = G^T [ sum over tiles of (B^T d B) .* (A dy A^T) ] G      (filter gradient)
// Matrices (Lavin & Gray, section 4.1):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
//
// Tiles are numbered t = (b, th, tw) and processed in chunks, so a chunk's transformed data stays in L2.
// Layouts: transformed input V [16][chunk][Ci], transformed output gradient DY [16][chunk][Co], products
// M [16][chunk][Co] (forward) or [16][chunk][Ci] (input gradient), transformed filter U [16][Ci][Co], its
// transpose UT [16][Co][Ci], filter-gradient sums MW [16][Ci][Co]. All pointers are byte offsets.
// The input x is given already padded to [B, 2*tilesH + 2, 2*tilesW + 2, Ci] (zeros outside the image),
// so that every tile lies inside it. Channel counts: Ci % 4 == 0 and Co % 8 == 0 (forward, filter
// gradient), Ci % 8 == 0 (input gradient).

import { madd } from './fma';

/** Tiles per chunk. */
export const WINOGRAD_CHUNK: i32 = 64;

/**
 * Padding after each plane of the transformed buffers, in bytes. Without it a plane is a power-of-two number
 * of bytes long for the usual channel counts, so the 16 or 36 planes that a transform touches at the same
 * offset fall into the same L1 cache set and evict each other (measured 1.3 to 4x slower transforms).
 */
const PLANE_PAD: usize = 64;

/** Bytes from one plane of a chunk buffer (n tiles x c channels, e.g. V, DY, M) to the next. */
export function chunkPlane(n: i32, c: i32): usize {
  return ((<usize>n * c) << 2) + PLANE_PAD;
}

/** Bytes from one plane of a transformed filter (c1 x c2: U, UT, MW) to the next. */
export function filterPlane(c1: i32, c2: i32): usize {
  return ((<usize>c1 * c2) << 2) + PLANE_PAD;
}

// ---- transforms (v128 = 4 channels) ----

/** V[.][tc][ci] = B^T d B for the tiles [t0, t0 + n) of x (padded as above). */
export function winogradInput(x: usize, V: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, Wx: i32, Hx: i32, Ci: i32): void {
  const cs = <usize>Ci << 2;
  const rowBytes = <usize>Wx * cs;
  const plane = chunkPlane(n, Ci);
  const perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    const b = t / perImage;
    const r = t - b * perImage;
    const th = r / tilesW;
    const tw = r - th * tilesW;
    const src = x + ((<usize>b * Hx + 2 * th) * Wx + 2 * tw) * cs;
    const dst = V + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      // Rows of B^T d (4 columns each), then columns.
      const p0 = src + c, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      for (let j: usize = 0; j < 4; j++) {
        // Column j of d: d0..d3 (rows), transformed along rows into e0..e3.
        const d0 = v128.load(p0 + j * cs), d1 = v128.load(p1 + j * cs), d2 = v128.load(p2 + j * cs), d3 = v128.load(p3 + j * cs);
        // Store B^T d temporarily in the V planes of row 0..3 at column j; the column pass reads them back.
        v128.store(dst + (0 * 4 + j) * plane + c, f32x4.sub(d0, d2));
        v128.store(dst + (1 * 4 + j) * plane + c, f32x4.add(d1, d2));
        v128.store(dst + (2 * 4 + j) * plane + c, f32x4.sub(d2, d1));
        v128.store(dst + (3 * 4 + j) * plane + c, f32x4.sub(d1, d3));
      }
      for (let k: usize = 0; k < 4; k++) {
        const q = dst + k * 4 * plane + c;
        const e0 = v128.load(q), e1 = v128.load(q + plane), e2 = v128.load(q + 2 * plane), e3 = v128.load(q + 3 * plane);
        v128.store(q, f32x4.sub(e0, e2));
        v128.store(q + plane, f32x4.add(e1, e2));
        v128.store(q + 2 * plane, f32x4.sub(e2, e1));
        v128.store(q + 3 * plane, f32x4.sub(e1, e3));
      }
    }
  }
}

/** DY[.][tc][co] = A dy A^T for the tiles [t0, t0 + n) of dy [B, OH, OW, Co] (zeros past OH, OW). */
export function winogradGrad(dy: usize, DY: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, OH: i32, OW: i32, Co: i32): void {
  const cs = <usize>Co << 2;
  const plane = chunkPlane(n, Co);
  const perImage = tilesH * tilesW;
  const zero = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    const b = t / perImage;
    const r = t - b * perImage;
    const oh = 2 * (r / tilesW);
    const ow = 2 * (r - (r / tilesW) * tilesW);
    const hasRow1 = oh + 1 < OH, hasCol1 = ow + 1 < OW;
    const base = dy + ((<usize>b * OH + oh) * OW + ow) * cs;
    const dst = DY + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      const a00 = v128.load(base + c);
      const a01 = hasCol1 ? v128.load(base + cs + c) : zero;
      const a10 = hasRow1 ? v128.load(base + <usize>OW * cs + c) : zero;
      const a11 = hasRow1 && hasCol1 ? v128.load(base + <usize>OW * cs + cs + c) : zero;
      // A a: rows [a0, a0 + a1, a0 - a1, -a1] (per column), then the same along columns.
      const r00 = a00, r01 = a01;
      const r10 = f32x4.add(a00, a10), r11 = f32x4.add(a01, a11);
      const r20 = f32x4.sub(a00, a10), r21 = f32x4.sub(a01, a11);
      const r30 = f32x4.neg(a10), r31 = f32x4.neg(a11);
      storeRowA(dst + 0 * 4 * plane + c, plane, r00, r01);
      storeRowA(dst + 1 * 4 * plane + c, plane, r10, r11);
      storeRowA(dst + 2 * 4 * plane + c, plane, r20, r21);
      storeRowA(dst + 3 * 4 * plane + c, plane, r30, r31);
    }
  }
}

@inline function storeRowA(q: usize, plane: usize, u0: v128, u1: v128): void {
  v128.store(q, u0);
  v128.store(q + plane, f32x4.add(u0, u1));
  v128.store(q + 2 * plane, f32x4.sub(u0, u1));
  v128.store(q + 3 * plane, f32x4.neg(u1));
}

/** y (+ the tiles [t0, t0 + n)) = A^T M A, for M [16][n][Co]; writes only pixels inside [OH, OW]. */
export function winogradOutput(M: usize, y: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, OH: i32, OW: i32, Co: i32): void {
  const cs = <usize>Co << 2;
  const plane = chunkPlane(n, Co);
  const perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    const b = t / perImage;
    const r = t - b * perImage;
    const oh = 2 * (r / tilesW);
    const ow = 2 * (r - (r / tilesW) * tilesW);
    const hasRow1 = oh + 1 < OH, hasCol1 = ow + 1 < OW;
    const base = y + ((<usize>b * OH + oh) * OW + ow) * cs;
    const src = M + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      // A^T m along rows: s_j = m0j + m1j + m2j, u_j = m1j - m2j - m3j; then along columns.
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, u0 = s0, u1 = s0, u2 = s0, u3 = s0;
      for (let j: usize = 0; j < 4; j++) {
        const m0 = v128.load(src + j * plane + c), m1 = v128.load(src + (4 + j) * plane + c);
        const m2 = v128.load(src + (8 + j) * plane + c), m3 = v128.load(src + (12 + j) * plane + c);
        const s = f32x4.add(f32x4.add(m0, m1), m2);
        const u = f32x4.sub(f32x4.sub(m1, m2), m3);
        if (j == 0) { s0 = s; u0 = u; } else if (j == 1) { s1 = s; u1 = u; } else if (j == 2) { s2 = s; u2 = u; } else { s3 = s; u3 = u; }
      }
      v128.store(base + c, f32x4.add(f32x4.add(s0, s1), s2));
      if (hasCol1) v128.store(base + cs + c, f32x4.sub(f32x4.sub(s1, s2), s3));
      if (hasRow1) {
        v128.store(base + <usize>OW * cs + c, f32x4.add(f32x4.add(u0, u1), u2));
        if (hasCol1) v128.store(base + <usize>OW * cs + cs + c, f32x4.sub(f32x4.sub(u1, u2), u3));
      }
    }
  }
}

/** dx (padded as x) += B dV B^T for the tiles [t0, t0 + n), dV [16][n][Ci]. */
export function winogradInputGrad(dV: usize, dx: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, Wx: i32, Hx: i32, Ci: i32): void {
  const cs = <usize>Ci << 2;
  const rowBytes = <usize>Wx * cs;
  const plane = chunkPlane(n, Ci);
  const perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    const b = t / perImage;
    const r = t - b * perImage;
    const th = r / tilesW;
    const tw = r - th * tilesW;
    const dst = dx + ((<usize>b * Hx + 2 * th) * Wx + 2 * tw) * cs;
    const src = dV + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      // B v = [v0, v1 - v2 + v3, -v0 + v1 + v2, -v3] along rows, kept in the dV planes, then along columns.
      for (let j: usize = 0; j < 4; j++) {
        const q = src + j * plane + c;
        const v0 = v128.load(q), v1 = v128.load(q + 4 * plane), v2 = v128.load(q + 8 * plane), v3 = v128.load(q + 12 * plane);
        v128.store(q + 4 * plane, f32x4.add(f32x4.sub(v1, v2), v3));
        v128.store(q + 8 * plane, f32x4.sub(f32x4.add(v1, v2), v0));
        v128.store(q + 12 * plane, f32x4.neg(v3));
      }
      for (let k: usize = 0; k < 4; k++) {
        const q = src + k * 4 * plane + c;
        const v0 = v128.load(q), v1 = v128.load(q + plane), v2 = v128.load(q + 2 * plane), v3 = v128.load(q + 3 * plane);
        const row = dst + k * rowBytes + c;
        addV(row, v0);
        addV(row + cs, f32x4.add(f32x4.sub(v1, v2), v3));
        addV(row + 2 * cs, f32x4.sub(f32x4.add(v1, v2), v0));
        addV(row + 3 * cs, f32x4.neg(v3));
      }
    }
  }
}

@inline function addV(p: usize, v: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v));
}

/** U[.][ci][co] = G g G^T for the filter w [3, 3, Ci, Co]. */
export function winogradFilter(w: usize, U: usize, Ci: i32, Co: i32): void {
  const tap = (<usize>Ci * Co) << 2;
  const ps = filterPlane(Ci, Co);
  const half = f32x4.splat(0.5);
  for (let e: usize = 0; e < tap; e += 16) {
    // G g along kh for each kw: [g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2], then along kw.
    for (let kw: usize = 0; kw < 3; kw++) {
      const g0 = v128.load(w + (0 * 3 + kw) * tap + e), g1 = v128.load(w + (1 * 3 + kw) * tap + e), g2 = v128.load(w + (2 * 3 + kw) * tap + e);
      const sum = f32x4.add(g0, g2);
      v128.store(U + (0 * 4 + kw) * ps + e, g0);
      v128.store(U + (1 * 4 + kw) * ps + e, f32x4.mul(half, f32x4.add(sum, g1)));
      v128.store(U + (2 * 4 + kw) * ps + e, f32x4.mul(half, f32x4.sub(sum, g1)));
      v128.store(U + (3 * 4 + kw) * ps + e, g2);
    }
    for (let k: usize = 0; k < 4; k++) {
      const q = U + k * 4 * ps + e;
      const g0 = v128.load(q), g1 = v128.load(q + ps), g2 = v128.load(q + 2 * ps);
      const sum = f32x4.add(g0, g2);
      v128.store(q + ps, f32x4.mul(half, f32x4.add(sum, g1)));
      v128.store(q + 2 * ps, f32x4.mul(half, f32x4.sub(sum, g1)));
      v128.store(q + 3 * ps, g2);
    }
  }
}

/** dw [3, 3, Ci, Co] = G^T MW G, for MW [16][Ci][Co] (overwritten). */
export function winogradFilterGrad(MW: usize, dw: usize, Ci: i32, Co: i32): void {
  const tap = (<usize>Ci * Co) << 2;
  const ps = filterPlane(Ci, Co);
  const half = f32x4.splat(0.5);
  for (let e: usize = 0; e < tap; e += 16) {
    // G^T m along rows: [m0 + (m1+m2)/2, (m1-m2)/2, (m1+m2)/2 + m3] (kept in MW rows 0..2), then along columns.
    for (let j: usize = 0; j < 4; j++) {
      const q = MW + j * ps + e;
      const m0 = v128.load(q), m1 = v128.load(q + 4 * ps), m2 = v128.load(q + 8 * ps), m3 = v128.load(q + 12 * ps);
      const s = f32x4.mul(half, f32x4.add(m1, m2));
      v128.store(q, f32x4.add(m0, s));
      v128.store(q + 4 * ps, f32x4.mul(half, f32x4.sub(m1, m2)));
      v128.store(q + 8 * ps, f32x4.add(s, m3));
    }
    for (let kh: usize = 0; kh < 3; kh++) {
      const q = MW + kh * 4 * ps + e;
      const m0 = v128.load(q), m1 = v128.load(q + ps), m2 = v128.load(q + 2 * ps), m3 = v128.load(q + 3 * ps);
      const s = f32x4.mul(half, f32x4.add(m1, m2));
      v128.store(dw + (kh * 3 + 0) * tap + e, f32x4.add(m0, s));
      v128.store(dw + (kh * 3 + 1) * tap + e, f32x4.mul(half, f32x4.sub(m1, m2)));
      v128.store(dw + (kh * 3 + 2) * tap + e, f32x4.add(s, m3));
    }
  }
}

// ---- the GEMMs of a chunk, one per transformed plane ----

/**
 * For each of `planes` planes: C[n, N] = A[n, K] x B[K, N] (row-major; planes `chunkPlane(n, K)`, `filterPlane(K, N)`
 * and `chunkPlane(n, N)` bytes apart). N % 8 == 0, K % 4 == 0; rows past n are clamped (computed from the last row,
 * not stored). `P` is scratch of `gemmPanelBytes(K)` bytes: each block of 4 rows of A is first packed there as a panel
 * [K][4] (4x4 transposes), so that the inner loop reads A through one pointer with constant offsets, as
 * ./gemm.ts does: with four row pointers, V8's code spent an address add per row and iteration (13 against
 * 16-17 GMAC/s, notes/PERFORMANCE.md).
 */
export function gemmPlanes(planes: usize, A: usize, B: usize, C: usize, n: i32, K: i32, N: i32, P: usize): void {
  const aPlane = chunkPlane(n, K), bPlane = filterPlane(K, N), cPlane = chunkPlane(n, N);
  const ks = <usize>K << 2, ns = <usize>N << 2, panelEnd = P + (ks << 2);
  for (let e: usize = 0; e < planes; e++) {
    const a = A + e * aPlane, b = B + e * bPlane, c = C + e * cPlane;
    for (let i = 0; i < n; i += 4) {
      const last = n - 1;
      const a0 = a + <usize>i * ks, a1 = a + <usize>min(i + 1, last) * ks;
      const a2 = a + <usize>min(i + 2, last) * ks, a3 = a + <usize>min(i + 3, last) * ks;
      for (let k: usize = 0, q = P; k < ks; k += 16, q += 64) {
        const r0 = v128.load(a0 + k), r1 = v128.load(a1 + k), r2 = v128.load(a2 + k), r3 = v128.load(a3 + k);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        v128.store(q, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(q, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(q, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(q, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
      }
      const rows = min(4, n - i);
      const out = c + <usize>i * ns;
      for (let j: usize = 0; j < ns; j += 32) {
        let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        let bp = b + j;
        for (let ap = P; ap < panelEnd; ap += 16) {
          const b0 = v128.load(bp), b1 = v128.load(bp, 16);
          let s = v128.load32_splat(ap);
          c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
          s = v128.load32_splat(ap, 4);
          c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
          s = v128.load32_splat(ap, 8);
          c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
          s = v128.load32_splat(ap, 12);
          c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
          bp += ns;
        }
        const o = out + j;
        v128.store(o, c00); v128.store(o, c01, 16);
        if (rows > 1) { v128.store(o + ns, c10); v128.store(o + ns, c11, 16); }
        if (rows > 2) { v128.store(o + 2 * ns, c20); v128.store(o + 2 * ns, c21, 16); }
        if (rows > 3) { v128.store(o + 3 * ns, c30); v128.store(o + 3 * ns, c31, 16); }
      }
    }
  }
}

/** Bytes of scratch `gemmPlanes` needs for an inner dimension K: a panel [K][4] of float32. */
export function gemmPanelBytes(K: i32): usize {
  return <usize>K << 4;
}

/**
 * For each of `planes` planes: C[M, N] += A[n, M]^T x B[n, N] (planes `chunkPlane(n, M)`, `chunkPlane(n, N)` and
 * `filterPlane(M, N)` bytes apart). M % 4 == 0, N % 8 == 0.
 */
export function gemmPlanesAtAccumulate(planes: usize, A: usize, B: usize, C: usize, n: i32, M: i32, N: i32): void {
  const aPlane = chunkPlane(n, M), bPlane = chunkPlane(n, N), cPlane = filterPlane(M, N);
  const ms = <usize>M << 2, ns = <usize>N << 2;
  for (let e: usize = 0; e < planes; e++) {
    const a = A + e * aPlane, b = B + e * bPlane, c = C + e * cPlane;
    for (let i: usize = 0; i < ms; i += 16) {
      for (let j: usize = 0; j < ns; j += 32) {
        const o = c + (i >> 2) * ns + j;
        let c00 = v128.load(o), c01 = v128.load(o, 16);
        let c10 = v128.load(o + ns), c11 = v128.load(o + ns, 16);
        let c20 = v128.load(o + 2 * ns), c21 = v128.load(o + 2 * ns, 16);
        let c30 = v128.load(o + 3 * ns), c31 = v128.load(o + 3 * ns, 16);
        let ap = a + i, bp = b + j;
        const bEnd = bp + <usize>n * ns;
        while (bp < bEnd) {
          const b0 = v128.load(bp), b1 = v128.load(bp, 16);
          let s = v128.load32_splat(ap);
          c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
          s = v128.load32_splat(ap, 4);
          c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
          s = v128.load32_splat(ap, 8);
          c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
          s = v128.load32_splat(ap, 12);
          c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
          ap += ms; bp += ns;
        }
        v128.store(o, c00); v128.store(o, c01, 16);
        v128.store(o + ns, c10); v128.store(o + ns, c11, 16);
        v128.store(o + 2 * ns, c20); v128.store(o + 2 * ns, c21, 16);
        v128.store(o + 3 * ns, c30); v128.store(o + 3 * ns, c31, 16);
      }
    }
  }
}

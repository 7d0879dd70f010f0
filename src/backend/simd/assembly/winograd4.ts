// Winograd F(4x4, 3x3) transforms: the counterparts of ./winograd.ts's with 4x4 output tiles and 6x6 input
// tiles (Lavin & Gray 2016, section 4.2): 36 multiply-adds per output tile and (inC, outC) pair instead
// of 144, i.e. 4x fewer than the direct convolution on whole tiles. Matrices:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Layouts as in ./winograd.ts with 36 planes; x padded to [B, 4*tilesH + 2, 4*tilesW + 2, Ci].
// Each 2-D transform is a 1-D transform along tile rows (into the planes) and then along tile columns
// (in place); the 1-D transforms below read `n` vectors at p + i*s and write at q + j*t.

import { chunkPlane, filterPlane } from './winograd';

/** Tiles per chunk. */
export const WINOGRAD4_CHUNK: i32 = 32;

@inline function f(v: f32): v128 { return f32x4.splat(v); }
@inline function ld(p: usize): v128 { return v128.load(p); }
@inline function add(a: v128, b: v128): v128 { return f32x4.add(a, b); }
@inline function sub(a: v128, b: v128): v128 { return f32x4.sub(a, b); }
@inline function mul(a: v128, b: v128): v128 { return f32x4.mul(a, b); }

/** B^T d for 6 values. */
@inline function bt(p: usize, s: usize, q: usize, t: usize): void {
  const d0 = ld(p), d1 = ld(p + s), d2 = ld(p + 2 * s), d3 = ld(p + 3 * s), d4 = ld(p + 4 * s), d5 = ld(p + 5 * s);
  const four = f(4), five = f(5), two = f(2);
  const a = sub(d4, mul(four, d2)); // d4 - 4 d2
  const b = sub(d3, mul(four, d1)); // d3 - 4 d1
  const c = sub(d4, d2);            // d4 - d2
  const e = mul(two, sub(d3, d1));  // 2 (d3 - d1)
  v128.store(q, add(sub(mul(four, d0), mul(five, d2)), d4));
  v128.store(q + t, add(a, b));
  v128.store(q + 2 * t, sub(a, b));
  v128.store(q + 3 * t, add(c, e));
  v128.store(q + 4 * t, sub(c, e));
  v128.store(q + 5 * t, add(sub(mul(four, d1), mul(five, d3)), d5));
}

/** B v for 6 values (the transpose of `bt`): the input gradient's transform. */
@inline function bv(p: usize, s: usize, q: usize, t: usize): void {
  const v0 = ld(p), v1 = ld(p + s), v2 = ld(p + 2 * s), v3 = ld(p + 3 * s), v4 = ld(p + 4 * s), v5 = ld(p + 5 * s);
  const four = f(4), five = f(5), two = f(2);
  v128.store(q, mul(four, v0));
  v128.store(q + t, add(add(mul(four, sub(v2, v1)), mul(two, sub(v4, v3))), mul(four, v5)));
  v128.store(q + 2 * t, sub(sub(f32x4.neg(mul(five, v0)), mul(four, add(v1, v2))), add(v3, v4)));
  v128.store(q + 3 * t, sub(add(sub(v1, v2), mul(two, sub(v3, v4))), mul(five, v5)));
  v128.store(q + 4 * t, add(add(add(v0, v1), add(v2, v3)), v4));
  v128.store(q + 5 * t, v5);
}

/** B v for 6 values, added to the destination (scatter-add of overlapping input tiles). */
@inline function bvAdd(p: usize, s: usize, q: usize, t: usize): void {
  const v0 = ld(p), v1 = ld(p + s), v2 = ld(p + 2 * s), v3 = ld(p + 3 * s), v4 = ld(p + 4 * s), v5 = ld(p + 5 * s);
  const four = f(4), five = f(5), two = f(2);
  v128.store(q, add(ld(q), mul(four, v0)));
  v128.store(q + t, add(ld(q + t), add(add(mul(four, sub(v2, v1)), mul(two, sub(v4, v3))), mul(four, v5))));
  v128.store(q + 2 * t, add(ld(q + 2 * t), sub(sub(f32x4.neg(mul(five, v0)), mul(four, add(v1, v2))), add(v3, v4))));
  v128.store(q + 3 * t, add(ld(q + 3 * t), sub(add(sub(v1, v2), mul(two, sub(v3, v4))), mul(five, v5))));
  v128.store(q + 4 * t, add(ld(q + 4 * t), add(add(add(v0, v1), add(v2, v3)), v4)));
  v128.store(q + 5 * t, add(ld(q + 5 * t), v5));
}

/** G g for 3 values -> 6. */
@inline function gg(p: usize, s: usize, q: usize, t: usize): void {
  const g0 = ld(p), g1 = ld(p + s), g2 = ld(p + 2 * s);
  const sum = add(g0, g2);
  const q0 = mul(f(1.0 / 24), g0), q1 = mul(f(1.0 / 12), g1), q2 = mul(f(1.0 / 6), g2);
  v128.store(q, mul(f(0.25), g0));
  v128.store(q + t, mul(f(-1.0 / 6), add(sum, g1)));
  v128.store(q + 2 * t, mul(f(-1.0 / 6), sub(sum, g1)));
  v128.store(q + 3 * t, add(add(q0, q1), q2));
  v128.store(q + 4 * t, add(sub(q0, q1), q2));
  v128.store(q + 5 * t, g2);
}

/** G^T m for 6 values -> 3 (the filter gradient's transform). */
@inline function gtm(p: usize, s: usize, q: usize, t: usize): void {
  const m0 = ld(p), m1 = ld(p + s), m2 = ld(p + 2 * s), m3 = ld(p + 3 * s), m4 = ld(p + 4 * s), m5 = ld(p + 5 * s);
  const s12 = add(m1, m2), s34 = add(m3, m4);
  v128.store(q, add(sub(mul(f(0.25), m0), mul(f(1.0 / 6), s12)), mul(f(1.0 / 24), s34)));
  v128.store(q + t, add(mul(f(1.0 / 6), sub(m2, m1)), mul(f(1.0 / 12), sub(m3, m4))));
  v128.store(q + 2 * t, add(mul(f(1.0 / 6), sub(s34, s12)), m5));
}

/** A^T m for 6 values -> 4 (the forward output transform). */
@inline function atm(p: usize, s: usize, q: usize, t: usize): void {
  const m0 = ld(p), m1 = ld(p + s), m2 = ld(p + 2 * s), m3 = ld(p + 3 * s), m4 = ld(p + 4 * s), m5 = ld(p + 5 * s);
  const s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4);
  v128.store(q, add(add(m0, s12), s34));
  v128.store(q + t, add(d12, mul(f(2), d34)));
  v128.store(q + 2 * t, add(s12, mul(f(4), s34)));
  v128.store(q + 3 * t, add(add(d12, mul(f(8), d34)), m5));
}

/** A a for 4 values -> 6 (the output gradient's transform), zeros for the rows past `rows`. */
@inline function aa(a0: v128, a1: v128, a2: v128, a3: v128, q: usize, t: usize): void {
  const s02 = add(a0, a2), s13 = add(a1, a3);
  const u = add(a0, mul(f(4), a2)), w = add(mul(f(2), a1), mul(f(8), a3));
  v128.store(q, a0);
  v128.store(q + t, add(s02, s13));
  v128.store(q + 2 * t, sub(s02, s13));
  v128.store(q + 3 * t, add(u, w));
  v128.store(q + 4 * t, sub(u, w));
  v128.store(q + 5 * t, a3);
}

// Tile t = (b, th, tw) -> its image b and the top-left (row, col) of its output tile.
@inline function tileImage(t: i32, perImage: i32): i32 { return t / perImage; }

/** V[36][n][Ci] = B^T d B for the tiles [t0, t0 + n). */
export function winograd4Input(x: usize, V: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, Wx: i32, Hx: i32, Ci: i32): void {
  const cs = <usize>Ci << 2, rowBytes = <usize>Wx * cs, plane = chunkPlane(n, Ci), perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i, b = tileImage(t, perImage), r = t - b * perImage, th = r / tilesW, tw = r - th * tilesW;
    const src = x + ((<usize>b * Hx + 4 * th) * Wx + 4 * tw) * cs;
    const dst = V + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      for (let j: usize = 0; j < 6; j++) bt(src + j * cs + c, rowBytes, dst + j * plane + c, 6 * plane);
      for (let k: usize = 0; k < 6; k++) bt(dst + k * 6 * plane + c, plane, dst + k * 6 * plane + c, plane);
    }
  }
}

/** DY[36][n][Co] = A dy A^T for the tiles [t0, t0 + n) of dy [B, OH, OW, Co] (zeros past OH, OW). */
export function winograd4Grad(dy: usize, DY: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, OH: i32, OW: i32, Co: i32): void {
  const cs = <usize>Co << 2, plane = chunkPlane(n, Co), perImage = tilesH * tilesW, zero = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    const t = t0 + i, b = tileImage(t, perImage), r = t - b * perImage;
    const oh = 4 * (r / tilesW), ow = 4 * (r - (r / tilesW) * tilesW);
    const rows = min(4, OH - oh), cols = min(4, OW - ow);
    const base = dy + ((<usize>b * OH + oh) * OW + ow) * cs;
    const dst = DY + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      // Along rows: column j of the tile (4 values, zero past `rows`) -> 6 values into planes (k*6 + j).
      for (let j: usize = 0; j < 4; j++) {
        const q = dst + j * plane + c;
        if (<i32>j >= cols) {
          for (let k: usize = 0; k < 6; k++) v128.store(q + k * 6 * plane, zero);
          continue;
        }
        const p = base + j * cs + c, rs = <usize>OW * cs;
        const a0 = v128.load(p);
        const a1 = rows > 1 ? v128.load(p + rs) : zero;
        const a2 = rows > 2 ? v128.load(p + 2 * rs) : zero;
        const a3 = rows > 3 ? v128.load(p + 3 * rs) : zero;
        aa(a0, a1, a2, a3, q, 6 * plane);
      }
      // Along columns, in place: planes (k*6 + 0..3) -> (k*6 + 0..5).
      for (let k: usize = 0; k < 6; k++) {
        const q = dst + k * 6 * plane + c;
        aa(v128.load(q), v128.load(q + plane), v128.load(q + 2 * plane), v128.load(q + 3 * plane), q, plane);
      }
    }
  }
}

/** y = A^T M A for the tiles [t0, t0 + n), M [36][n][Co]; writes only pixels inside [OH, OW]. */
export function winograd4Output(M: usize, y: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, OH: i32, OW: i32, Co: i32): void {
  const cs = <usize>Co << 2, plane = chunkPlane(n, Co), perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i, b = tileImage(t, perImage), r = t - b * perImage;
    const oh = 4 * (r / tilesW), ow = 4 * (r - (r / tilesW) * tilesW);
    const rows = min(4, OH - oh), cols = min(4, OW - ow);
    const base = y + ((<usize>b * OH + oh) * OW + ow) * cs;
    const src = M + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      // Along rows (in place: planes (0..5)*6 + j -> (0..3)*6 + j), then along columns straight into y.
      for (let j: usize = 0; j < 6; j++) atm(src + j * plane + c, 6 * plane, src + j * plane + c, 6 * plane);
      for (let k = 0; k < rows; k++) {
        const q = src + <usize>k * 6 * plane + c;
        const out = base + <usize>k * OW * cs + c;
        if (cols == 4) {
          atm(q, plane, out, cs);
        } else {
          // A partial tile: transform in place in the planes, then copy the columns inside y.
          atm(q, plane, q, plane);
          for (let j = 0; j < cols; j++) v128.store(out + <usize>j * cs, v128.load(q + <usize>j * plane));
        }
      }
    }
  }
}

/** dx (padded as x) += B dV B^T for the tiles [t0, t0 + n), dV [36][n][Ci] (overwritten). */
export function winograd4InputGrad(dV: usize, dx: usize, t0: i32, n: i32, tilesH: i32, tilesW: i32, Wx: i32, Hx: i32, Ci: i32): void {
  const cs = <usize>Ci << 2, rowBytes = <usize>Wx * cs, plane = chunkPlane(n, Ci), perImage = tilesH * tilesW;
  for (let i = 0; i < n; i++) {
    const t = t0 + i, b = tileImage(t, perImage), r = t - b * perImage, th = r / tilesW, tw = r - th * tilesW;
    const dst = dx + ((<usize>b * Hx + 4 * th) * Wx + 4 * tw) * cs;
    const src = dV + <usize>i * cs;
    for (let c: usize = 0; c < cs; c += 16) {
      for (let j: usize = 0; j < 6; j++) bv(src + j * plane + c, 6 * plane, src + j * plane + c, 6 * plane);
      for (let k: usize = 0; k < 6; k++) bvAdd(src + k * 6 * plane + c, plane, dst + k * rowBytes + c, cs);
    }
  }
}

/** U[36][Ci][Co] = G g G^T for the filter w [3, 3, Ci, Co]. */
export function winograd4Filter(w: usize, U: usize, Ci: i32, Co: i32): void {
  const tap = (<usize>Ci * Co) << 2, ps = filterPlane(Ci, Co);
  for (let e: usize = 0; e < tap; e += 16) {
    for (let kw: usize = 0; kw < 3; kw++) gg(w + kw * tap + e, 3 * tap, U + kw * ps + e, 6 * ps);
    // Along kw: planes (k*6 + 0..2) -> (k*6 + 0..5); the source values are read before any is overwritten.
    for (let k: usize = 0; k < 6; k++) gg(U + k * 6 * ps + e, ps, U + k * 6 * ps + e, ps);
  }
}

/** dw [3, 3, Ci, Co] = G^T MW G, for MW [36][Ci][Co] (overwritten). */
export function winograd4FilterGrad(MW: usize, dw: usize, Ci: i32, Co: i32): void {
  const tap = (<usize>Ci * Co) << 2, ps = filterPlane(Ci, Co);
  for (let e: usize = 0; e < tap; e += 16) {
    for (let j: usize = 0; j < 6; j++) gtm(MW + j * ps + e, 6 * ps, MW + j * ps + e, 6 * ps);
    for (let kh: usize = 0; kh < 3; kh++) gtm(MW + kh * 6 * ps + e, ps, dw + kh * 3 * tap + e, tap);
  }
}

// Batch normalization in training mode (Ioffe & Szegedy 2015) over x [P, C] (P = batch x height x width rows of C
// channels, NHWC), C % 4 == 0: one kernel for the forward pass (batch statistics + normalization) and one for the
// backward pass (dx, dgamma, dbeta). TF.js runs about 20 element-wise kernels per layer for the same (tf.moments,
// FusedBatchNorm and their gradients); see src/backend/kernels/BatchNormTraining.ts for the TypeScript side and the
// formulas.
//
// Sums run over blocks of 8 rows in float32 (a tree of adds), each block's sum added to a float64 accumulator per
// channel; the variance comes from sums of d = x - shift and d * d with shift = the first row of x (a sample of each
// channel, so the one-pass formula E[d^2] - E[d]^2 does not cancel catastrophically when |mean| >> deviation).
// Scratch: 8 * C floats (float64 accumulators, then float32 per-channel coefficients).

/** Lanes 0, 1 of an f32x4 as f64x2. */
@inline function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Lanes 2, 3 of an f32x4 as f64x2. */
@inline function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** acc[0..4) (float64, 32 bytes at `a`) += v (f32x4). */
@inline function accumulate(a: usize, v: v128): void {
  v128.store(a, f64x2.add(v128.load(a), lo(v)));
  v128.store(a, f64x2.add(v128.load(a, 16), hi(v)), 16);
}

@inline function sum8(a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.add(a, b), f32x4.add(c, d)), f32x4.add(f32x4.add(e, f), f32x4.add(g, h)));
}

/**
 * Forward: mean [C] and (biased) variance [C] of x [P, C] over its rows, then
 * y = (x - mean) * (gamma / sqrt(variance + eps)) + beta, and max(y, 0) when `relu` is 1 (a ReLU fused after it).
 * Pointers are byte offsets; `scratch` holds 8 * C floats.
 */
export function batchNormTrainForward(x: usize, y: usize, P: i32, C: i32, gamma: usize, beta: usize, mean: usize,
  variance: usize, eps: f64, scratch: usize, relu: i32): void {
  batchStatistics(x, P, C, gamma, mean, variance, eps, scratch);
  const stride = <usize>C << 2;
  const factor = scratch + (<usize>C << 4);
  const end = x + <usize>P * stride;
  const zero = f32x4.splat(0);
  let out = y;
  for (let row = x; row < end; row += stride, out += stride) {
    for (let j: usize = 0; j < stride; j += 16) {
      const centered = f32x4.sub(v128.load(row + j), v128.load(mean + j));
      const v = f32x4.add(f32x4.mul(centered, v128.load(factor + j)), v128.load(beta + j));
      v128.store(out + j, relu ? f32x4.max(v, zero) : v);
    }
  }
}

/**
 * The forward's first pass: mean [C] and (biased) variance [C] of x [P, C] over its rows, and the per-channel factor
 * gamma / sqrt(variance + eps) as float32 at `scratch` + 16 C bytes (after the float64 sums).
 */
function batchStatistics(x: usize, P: i32, C: i32, gamma: usize, mean: usize, variance: usize, eps: f64, scratch: usize): void {
  const stride = <usize>C << 2;
  const accS = scratch;
  const accQ = scratch + (<usize>C << 3);
  const factor = scratch + (<usize>C << 4);
  memory.fill(scratch, 0, <usize>C << 4);
  let p = x;
  let r = 0;
  for (; r + 8 <= P; r += 8, p += stride << 3) {
    for (let j: usize = 0; j < stride; j += 16) {
      const k = v128.load(x + j);
      const q = p + j;
      const d0 = f32x4.sub(v128.load(q), k), d1 = f32x4.sub(v128.load(q + stride), k);
      const d2 = f32x4.sub(v128.load(q + 2 * stride), k), d3 = f32x4.sub(v128.load(q + 3 * stride), k);
      const d4 = f32x4.sub(v128.load(q + 4 * stride), k), d5 = f32x4.sub(v128.load(q + 5 * stride), k);
      const d6 = f32x4.sub(v128.load(q + 6 * stride), k), d7 = f32x4.sub(v128.load(q + 7 * stride), k);
      accumulate(accS + (j << 1), sum8(d0, d1, d2, d3, d4, d5, d6, d7));
      accumulate(accQ + (j << 1), sum8(f32x4.mul(d0, d0), f32x4.mul(d1, d1), f32x4.mul(d2, d2), f32x4.mul(d3, d3),
        f32x4.mul(d4, d4), f32x4.mul(d5, d5), f32x4.mul(d6, d6), f32x4.mul(d7, d7)));
    }
  }
  for (; r < P; r++, p += stride) {
    for (let j: usize = 0; j < stride; j += 16) {
      const d = f32x4.sub(v128.load(p + j), v128.load(x + j));
      accumulate(accS + (j << 1), d);
      accumulate(accQ + (j << 1), f32x4.mul(d, d));
    }
  }
  const n = <f64>P;
  for (let c: usize = 0; c < <usize>C; c++) {
    const m1 = load<f64>(accS + (c << 3)) / n;
    const v = <f32>Math.max(load<f64>(accQ + (c << 3)) / n - m1 * m1, 0);
    store<f32>(mean + (c << 2), <f32>(<f64>load<f32>(x + (c << 2)) + m1));
    store<f32>(variance + (c << 2), v);
    store<f32>(factor + (c << 2), scaleFactor(load<f32>(gamma + (c << 2)), v, eps));
  }
}

/** gamma / sqrt(variance + eps) in float64, rounded to float32: the forward's per-channel scale (and the backward's, recomputed). */
@inline function scaleFactor(gamma: f32, variance: f32, eps: f64): f32 {
  return <f32>(<f64>gamma / Math.sqrt(<f64>variance + eps));
}

/** g with the lanes where the saved forward output at `yp` is not > 0 zeroed: a fused ReLU's gradient. */
@inline function reluMasked(g: v128, yp: usize): v128 {
  return v128.and(g, f32x4.gt(v128.load(yp), f32x4.splat(0)));
}

/**
 * Backward, for upstream gradients dy [P, C] (of y), dmean [C] and dvariance [C] (of the batch statistics):
 * with s = 1 / sqrt(variance + eps), S1 = sum dy, S2 = sum dy * (x - mean) over the rows,
 *   dbeta = S1, dgamma = s * S2,
 *   dx = a * dy + k * (x - mean) + c,  a = gamma * s,  k = (2 * dvariance - a * s^2 * S2) / P,  c = (dmean - a * S1) / P.
 * With `y` (not 0: the forward's output [P, C] after a fused ReLU, max(y, 0)), dy is first masked by y > 0, the ReLU's
 * gradient (recomputing y from x instead measured slower: the mask's arithmetic made the sums pass compute-bound).
 * Pointers are byte offsets; `scratch` holds 8 * C floats.
 */
export function batchNormTrainBackward(dy: usize, x: usize, dx: usize, P: i32, C: i32, mean: usize, variance: usize,
  gamma: usize, dmean: usize, dvariance: usize, eps: f64, dgamma: usize, dbeta: usize, scratch: usize, y: usize): void {
  const stride = <usize>C << 2;
  const accS = scratch;
  const accQ = scratch + (<usize>C << 3);
  const coefA = scratch + (<usize>C << 4);
  const coefK = coefA + stride;
  const coefC = coefK + stride;
  memory.fill(scratch, 0, <usize>C << 4);
  const yOff = y - dy; // y's row at dy's row + yOff (y != 0 only)
  let p = x;
  let g = dy;
  let r = 0;
  for (; r + 8 <= P; r += 8, p += stride << 3, g += stride << 3) {
    for (let j: usize = 0; j < stride; j += 16) {
      const m = v128.load(mean + j);
      const q = p + j;
      const e = g + j;
      let g0 = v128.load(e), g1 = v128.load(e + stride), g2 = v128.load(e + 2 * stride), g3 = v128.load(e + 3 * stride);
      let g4 = v128.load(e + 4 * stride), g5 = v128.load(e + 5 * stride), g6 = v128.load(e + 6 * stride), g7 = v128.load(e + 7 * stride);
      if (y) {
        const h = e + yOff;
        g0 = reluMasked(g0, h); g1 = reluMasked(g1, h + stride); g2 = reluMasked(g2, h + 2 * stride); g3 = reluMasked(g3, h + 3 * stride);
        g4 = reluMasked(g4, h + 4 * stride); g5 = reluMasked(g5, h + 5 * stride); g6 = reluMasked(g6, h + 6 * stride); g7 = reluMasked(g7, h + 7 * stride);
      }
      accumulate(accS + (j << 1), sum8(g0, g1, g2, g3, g4, g5, g6, g7));
      accumulate(accQ + (j << 1), sum8(
        f32x4.mul(g0, f32x4.sub(v128.load(q), m)), f32x4.mul(g1, f32x4.sub(v128.load(q + stride), m)),
        f32x4.mul(g2, f32x4.sub(v128.load(q + 2 * stride), m)), f32x4.mul(g3, f32x4.sub(v128.load(q + 3 * stride), m)),
        f32x4.mul(g4, f32x4.sub(v128.load(q + 4 * stride), m)), f32x4.mul(g5, f32x4.sub(v128.load(q + 5 * stride), m)),
        f32x4.mul(g6, f32x4.sub(v128.load(q + 6 * stride), m)), f32x4.mul(g7, f32x4.sub(v128.load(q + 7 * stride), m))));
    }
  }
  for (; r < P; r++, p += stride, g += stride) {
    for (let j: usize = 0; j < stride; j += 16) {
      let gv = v128.load(g + j);
      if (y) gv = reluMasked(gv, g + yOff + j);
      accumulate(accS + (j << 1), gv);
      accumulate(accQ + (j << 1), f32x4.mul(gv, f32x4.sub(v128.load(p + j), v128.load(mean + j))));
    }
  }
  backwardCoefficients(P, C, variance, gamma, dmean, dvariance, eps, dgamma, dbeta, scratch);
  const end = x + <usize>P * stride;
  g = dy;
  let out = dx;
  for (let row = x; row < end; row += stride, g += stride, out += stride) {
    for (let j: usize = 0; j < stride; j += 16) {
      let gv = v128.load(g + j);
      if (y) gv = reluMasked(gv, g + yOff + j);
      const centered = f32x4.sub(v128.load(row + j), v128.load(mean + j));
      const t = f32x4.add(f32x4.mul(v128.load(coefA + j), gv), f32x4.mul(v128.load(coefK + j), centered));
      v128.store(out + j, f32x4.add(t, v128.load(coefC + j)));
    }
  }
}

/**
 * The backward's per-channel results from the float64 sums S1 (at `scratch`) and S2 (at `scratch` + 8 C bytes) over
 * P rows: dbeta, dgamma, and the float32 coefficients a, k, c of dx = a * dy + k * (x - mean) + c at `scratch` + 16 C,
 * + 20 C and + 24 C bytes (see batchNormTrainBackward).
 */
function backwardCoefficients(P: i32, C: i32, variance: usize, gamma: usize, dmean: usize, dvariance: usize, eps: f64,
  dgamma: usize, dbeta: usize, scratch: usize): void {
  const accS = scratch;
  const accQ = scratch + (<usize>C << 3);
  const coefA = scratch + (<usize>C << 4);
  const coefK = coefA + (<usize>C << 2);
  const coefC = coefK + (<usize>C << 2);
  const n = <f64>P;
  for (let c: usize = 0; c < <usize>C; c++) {
    const s1 = load<f64>(accS + (c << 3));
    const s2 = load<f64>(accQ + (c << 3));
    const s = 1 / Math.sqrt(<f64>load<f32>(variance + (c << 2)) + eps);
    const a = <f64>load<f32>(gamma + (c << 2)) * s;
    store<f32>(dbeta + (c << 2), <f32>s1);
    store<f32>(dgamma + (c << 2), <f32>(s * s2));
    store<f32>(coefA + (c << 2), <f32>a);
    store<f32>(coefK + (c << 2), <f32>((2 * <f64>load<f32>(dvariance + (c << 2)) - a * s * s * s2) / n));
    store<f32>(coefC + (c << 2), <f32>((<f64>load<f32>(dmean + (c << 2)) - a * s1) / n));
  }
}

// Batch norm, ReLU and 2x2 max pooling (stride 2, 'valid', H and W even) as one forward and one backward kernel: the
// conv, batch norm, ReLU, max-pool blocks of hwr-net and hccr-vgg (src/backend/batchNormTraining.ts). The forward
// writes the pooled output [B, H/2, W/2, C]; the ReLU output itself is never stored. The backward recomputes the batch
// norm's output from x (which it reads anyway) to find each window's winner (MaxPoolGrad's tie rule: the later of a
// row's two only when strictly greater, then the bottom winner only when strictly greater), and reads the pooled
// gradient instead of a full-size gradient and the ReLU output: about half the memory traffic of the three kernels
// apart (notes/PERFORMANCE.md, session 24).

/**
 * Forward: statistics as batchNormTrainForward, then z = (x - mean) * factor + beta (the same float32 operations) and
 * per 2x2 window max(maximum of z, 0) (`pooled` [B, H/2, W/2, C] float32): max pooling of the separate kernels' ReLU
 * output, bit for bit. x [B, H, W, C], C % 4 == 0, H and W even; `scratch` holds 8 * C floats.
 */
export function batchNormReluPoolForward(x: usize, pooled: usize, B: i32, H: i32, W: i32, C: i32, gamma: usize,
  beta: usize, mean: usize, variance: usize, eps: f64, scratch: usize): void {
  batchStatistics(x, B * H * W, C, gamma, mean, variance, eps, scratch);
  const factor = scratch + (<usize>C << 4);
  const cs = <usize>C << 2, rs = <usize>W * cs, OH = H >> 1, OW = W >> 1;
  const zero = f32x4.splat(0);
  let out = pooled;
  for (let r = 0; r < B * OH; r++) {
    const row = x + (<usize>r << 1) * rs; // image rows 2 oh, 2 oh + 1 of image b (r = b * OH + oh)
    for (let ow = 0; ow < OW; ow++, out += cs) {
      const p = row + (<usize>ow << 1) * cs;
      for (let j: usize = 0; j < cs; j += 16) {
        const m = v128.load(mean + j), f = v128.load(factor + j), bt = v128.load(beta + j);
        // The window's maximum before the ReLU, then the ReLU: max(max(z, 0) over the window) = max(max over z, 0).
        const z00 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(p + j), m), f), bt);
        const z01 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(p + cs + j), m), f), bt);
        const z10 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(p + rs + j), m), f), bt);
        const z11 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(p + rs + cs + j), m), f), bt);
        const topGt = f32x4.gt(z01, z00), bottomGt = f32x4.gt(z11, z10);
        const top = v128.bitselect(z01, z00, topGt), bottom = v128.bitselect(z11, z10, bottomGt);
        const winGt = f32x4.gt(bottom, top);
        v128.store(out + j, f32x4.max(v128.bitselect(bottom, top, winGt), zero));
      }
    }
  }
}

/**
 * Backward of batchNormReluPoolForward, for the pooled output's gradient `dp` [B, H/2, W/2, C]: each window's winner is
 * found in z recomputed from x (the forward's operations, so the same winner), and the batch norm's upstream gradient is
 * dp there where z > 0 (0 elsewhere); then dx, dgamma, dbeta as batchNormTrainBackward (S1 and S2 summed per row of
 * windows in float32, then in float64). x, dx [B, H, W, C]; `scratch` holds 8 * C floats; `codes` is
 * B * (H/2) * (W/2) * C bytes: each window's winner as convReluPool.ts's codes (4 * its position 0..3 row-major where
 * z > 0 there, 0x80 where not), from the first pass to the second.
 * With `dx` = 0 it stops after the first pass: dgamma, dbeta, the codes, and the coefficients a, k, c of
 * dx = a * dy + k * (x - mean) + c at `scratch` + 16 C, + 20 C and + 24 C bytes, for a caller that needs dx only
 * through a convolution's filter gradient (src/backend/batchNormConvGradient.ts).
 */
export function batchNormReluPoolBackward(dp: usize, x: usize, dx: usize, B: i32, H: i32, W: i32, C: i32,
  mean: usize, variance: usize, gamma: usize, beta: usize, dmean: usize, dvariance: usize, eps: f64, dgamma: usize,
  dbeta: usize, scratch: usize, codes: usize): void {
  const cs = <usize>C << 2, rs = <usize>W * cs, OH = H >> 1, OW = W >> 1, ws = <usize>OW * cs, bs = <usize>OW * C;
  const accS = scratch;
  const accQ = scratch + (<usize>C << 3);
  const factor = scratch + (<usize>C << 2) * 7;
  memory.fill(scratch, 0, <usize>C << 4);
  for (let c: usize = 0; c < <usize>C; c++) {
    store<f32>(factor + (c << 2), scaleFactor(load<f32>(gamma + (c << 2)), load<f32>(variance + (c << 2)), eps));
  }
  const zero = f32x4.splat(0);
  const i0 = i32x4.splat(0), i1 = i32x4.splat(4), i2 = i32x4.splat(8), i3 = i32x4.splat(12), none = i32x4.splat(0x80);
  for (let r = 0; r < B * OH; r++) {
    const row = x + (<usize>r << 1) * rs, g0 = dp + <usize>r * ws, a0 = codes + <usize>r * bs;
    for (let j: usize = 0; j < cs; j += 16) {
      const m = v128.load(mean + j), f = v128.load(factor + j), bt = v128.load(beta + j);
      let s1 = zero, s2 = zero;
      for (let ow = 0; ow < OW; ow++) {
        const p = row + (<usize>ow << 1) * cs + j, o = <usize>ow * cs + j;
        const c00 = f32x4.sub(v128.load(p), m), c01 = f32x4.sub(v128.load(p + cs), m);
        const c10 = f32x4.sub(v128.load(p + rs), m), c11 = f32x4.sub(v128.load(p + rs + cs), m);
        const z00 = f32x4.add(f32x4.mul(c00, f), bt), z01 = f32x4.add(f32x4.mul(c01, f), bt);
        const z10 = f32x4.add(f32x4.mul(c10, f), bt), z11 = f32x4.add(f32x4.mul(c11, f), bt);
        const topGt = f32x4.gt(z01, z00), bottomGt = f32x4.gt(z11, z10);
        const top = v128.bitselect(z01, z00, topGt), bottom = v128.bitselect(z11, z10, bottomGt);
        const winGt = f32x4.gt(bottom, top);
        const positive = f32x4.gt(v128.bitselect(bottom, top, winGt), zero);
        const at = v128.bitselect(v128.bitselect(v128.bitselect(i3, i2, bottomGt), v128.bitselect(i1, i0, topGt), winGt), none, positive);
        const narrow = i16x8.narrow_i32x4_s(at, at);
        v128.store32_lane(a0 + <usize>ow * C + (j >> 2), i8x16.narrow_i16x8_u(narrow, narrow), 0);
        const g = v128.and(v128.load(g0 + o), positive);
        const c = v128.bitselect(v128.bitselect(c11, c10, bottomGt), v128.bitselect(c01, c00, topGt), winGt);
        s1 = f32x4.add(s1, g);
        s2 = f32x4.add(s2, f32x4.mul(g, c));
      }
      accumulate(accS + (j << 1), s1);
      accumulate(accQ + (j << 1), s2);
    }
  }
  backwardCoefficients(B * H * W, C, variance, gamma, dmean, dvariance, eps, dgamma, dbeta, scratch);
  if (dx == 0) return;
  const coefA = scratch + (<usize>C << 4), coefK = coefA + cs, coefC = coefK + cs;
  for (let r = 0; r < B * OH; r++) {
    const row = x + (<usize>r << 1) * rs, drow = dx + (<usize>r << 1) * rs, g0 = dp + <usize>r * ws, a0 = codes + <usize>r * bs;
    for (let ow = 0; ow < OW; ow++) {
      const q = (<usize>ow << 1) * cs, o = <usize>ow * cs;
      for (let j: usize = 0; j < cs; j += 16) {
        const at = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(a0 + <usize>ow * C + (j >> 2))));
        const g = v128.and(v128.load(g0 + o + j), i32x4.lt_s(at, none));
        const m = v128.load(mean + j), A = v128.load(coefA + j), K = v128.load(coefK + j), cc = v128.load(coefC + j);
        poolGradOut(row + q + j, drow + q + j, v128.and(g, i32x4.eq(at, i0)), m, A, K, cc);
        poolGradOut(row + q + cs + j, drow + q + cs + j, v128.and(g, i32x4.eq(at, i1)), m, A, K, cc);
        poolGradOut(row + q + rs + j, drow + q + rs + j, v128.and(g, i32x4.eq(at, i2)), m, A, K, cc);
        poolGradOut(row + q + rs + cs + j, drow + q + rs + cs + j, v128.and(g, i32x4.eq(at, i3)), m, A, K, cc);
      }
    }
  }
}

/** dx at `out` = a * dy + k * (x at `xp` - mean) + c, the operations of batchNormTrainBackward's second pass. */
@inline function poolGradOut(xp: usize, out: usize, dy: v128, m: v128, a: v128, k: v128, c: v128): void {
  const centered = f32x4.sub(v128.load(xp), m);
  v128.store(out, f32x4.add(f32x4.add(f32x4.mul(a, dy), f32x4.mul(k, centered)), c));
}

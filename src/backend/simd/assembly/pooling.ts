// AssemblyScript source of hwr's pooling and reduction kernels (re-exported by kernels.ts, compiled into
// ../kernels.wasm; see ../pooling.ts for the TypeScript side).
//
// Same memory rules as kernels.ts: pointers are byte offsets on the tfjs-backend-wasm heap, the module
// allocates nothing. Layouts are NHWC / row-major float32. The SIMD loops take 4 channels (or columns) at a
// time, a scalar loop takes the last C % 4. Both kernels give bit-identical results to the JS kernels they
// replace (src/backend/kernels/MaxPoolGrad.ts, Sum.ts): same comparisons, same summation order.

// ---------------------------------------------------------------------------------------------------------
// MaxPoolGrad: dx[first argmax of x over window (b, oh, ow), c] += dy[b, oh, ow, c]
//
// Vector form: a window's scan keeps, per lane, the running maximum and the window position k of its first
// occurrence (a strictly greater value wins, so ties keep the first); the gradient then goes to every pixel
// of the window as dy & (k == winner), which needs no per-lane scatter.

/**
 * Max-pooling gradient. x and dx [B, H, W, C], dy [B, OH, OW, C], float32; window fH x fW, strides sH, sW,
 * padding padTop, padLeft (window (oh, ow) starts at (oh * sH - padTop, ow * sW - padLeft); its pixels in
 * the padding are skipped). Writes all of dx.
 * Ties go to the first pixel in row-major window order as in tfjs-backend-cpu (pool_utils.ts maxPoolPositions);
 * a clipped window of 2 x 2 pixels is a tournament (row winners, then the better row), as in the JS kernel.
 */
export function maxPoolGrad(x: usize, dy: usize, dx: usize, B: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  fH: i32, fW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32): void {
  const C4 = C & ~3;
  // Windows that share no pixel store their results; overlapping ones add into the zeroed dx.
  const disjoint = sH >= fH && sW >= fW;
  // Disjoint windows that cover every pixel (2x2 stride 2 on an even size) write all of dx themselves.
  const tiled = disjoint && sH == fH && sW == fW && C4 == C && OH * sH - padTop >= H && OW * sW - padLeft >= W;
  if (!tiled) memory.fill(dx, 0, <usize>B * H * W * C << 2);
  const pixel = <usize>C << 2;
  const row = <usize>W * C << 2;
  let g = dy;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sH - padTop;
      const hFrom = max(0, h0);
      const rows = min(H, h0 + fH) - hFrom;
      for (let ow = 0; ow < OW; ow++, g += pixel) {
        const w0 = ow * sW - padLeft;
        const wFrom = max(0, w0);
        const cols = min(W, w0 + fW) - wFrom;
        if (rows <= 0 || cols <= 0) continue; // window entirely in the padding
        const corner = ((<usize>b * H + hFrom) * W + wFrom) * C << 2;
        const xc = x + corner;
        const dc = dx + corner;
        if (rows == 2 && cols == 2) {
          for (let c: usize = 0; c < <usize>C4 << 2; c += 16) pool2x2(xc + c, dc + c, g + c, pixel, row, disjoint);
        } else {
          for (let c: usize = 0; c < <usize>C4 << 2; c += 16) poolWindow(xc + c, dc + c, g + c, pixel, row, rows, cols, disjoint);
        }
        for (let c: usize = <usize>C4 << 2; c < pixel; c += 4) poolChannel(xc + c, dc + c, g + c, pixel, row, rows, cols);
      }
    }
  }
}

/** dx[p] = v (disjoint windows) or dx[p] += v. `v + 0` turns -0 into +0, as `0 + v` does in the JS kernel. */
@inline function put(p: usize, v: v128, disjoint: bool): void {
  v128.store(p, disjoint ? f32x4.add(v, f32x4.splat(0)) : f32x4.add(v128.load(p), v));
}

/** 4 channels of a 2 x 2 window at xp (gradient gp, dx at dp). */
@inline function pool2x2(xp: usize, dp: usize, gp: usize, pixel: usize, row: usize, disjoint: bool): void {
  const a = v128.load(xp);
  const b = v128.load(xp + pixel);
  const c = v128.load(xp + row);
  const d = v128.load(xp + row + pixel);
  const topRight = f32x4.gt(b, a);
  const bottomRight = f32x4.gt(d, c);
  const down = f32x4.gt(v128.bitselect(d, c, bottomRight), v128.bitselect(b, a, topRight));
  const g = v128.load(gp);
  const top = v128.andnot(g, down);
  const bottom = v128.and(g, down);
  put(dp, v128.andnot(top, topRight), disjoint);
  put(dp + pixel, v128.and(top, topRight), disjoint);
  put(dp + row, v128.andnot(bottom, bottomRight), disjoint);
  put(dp + row + pixel, v128.and(bottom, bottomRight), disjoint);
}

/** 4 channels of a rows x cols window at xp: first-maximum scan, then the masked gradient to every pixel. */
@inline function poolWindow(xp: usize, dp: usize, gp: usize, pixel: usize, row: usize, rows: i32, cols: i32, disjoint: bool): void {
  let best = v128.load(xp);
  let winner = i32x4.splat(0);
  let k = 0;
  for (let h = 0; h < rows; h++) {
    let p = xp + <usize>h * row;
    for (let w = 0; w < cols; w++, k++, p += pixel) {
      const v = v128.load(p);
      const greater = f32x4.gt(v, best);
      best = v128.bitselect(v, best, greater);
      winner = v128.bitselect(i32x4.splat(k), winner, greater);
    }
  }
  const g = v128.load(gp);
  k = 0;
  for (let h = 0; h < rows; h++) {
    let p = dp + <usize>h * row;
    for (let w = 0; w < cols; w++, k++, p += pixel) put(p, v128.and(g, i32x4.eq(winner, i32x4.splat(k))), disjoint);
  }
}

/** One channel of a window (the C % 4 tail), branch-free as the JS kernel: dx[argmax] += dy. dx is zeroed. */
function poolChannel(xp: usize, dp: usize, gp: usize, pixel: usize, row: usize, rows: i32, cols: i32): void {
  let at = xp;
  if (rows == 2 && cols == 2) {
    const top = select(xp + pixel, xp, load<f32>(xp + pixel) > load<f32>(xp));
    const bottom = select(xp + row + pixel, xp + row, load<f32>(xp + row + pixel) > load<f32>(xp + row));
    at = select(bottom, top, load<f32>(bottom) > load<f32>(top));
  } else {
    for (let h = 0; h < rows; h++) {
      let p = xp + <usize>h * row;
      for (let w = 0; w < cols; w++, p += pixel) at = select(p, at, load<f32>(p) > load<f32>(at));
    }
  }
  const d = dp + (at - xp);
  store<f32>(d, load<f32>(d) + load<f32>(gp));
}

// ---------------------------------------------------------------------------------------------------------
// MaxPool (forward): y[b, oh, ow, c] = max of x[b, h, w, c] over the window's pixels inside x

/**
 * Max pooling. x [B, H, W, C] and y [B, OH, OW, C] float32, C % 4 == 0; window, strides and padding as in
 * `maxPoolGrad` (pixels in the padding are skipped; a window with no pixel inside x gives -Infinity). `f32x4.max`
 * per pixel in row-major window order: a NaN in a window gives NaN. One pass over x (a 2 x 2 window: four vector
 * loads and three maxima per 4 channels).
 */
export function maxPool(x: usize, y: usize, B: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  fH: i32, fW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32): void {
  const pixel = <usize>C << 2;
  const row = <usize>W * C << 2;
  const lowest = f32x4.splat(-Infinity);
  let out = y;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sH - padTop;
      const hFrom = max(0, h0);
      const rows = min(H, h0 + fH) - hFrom;
      for (let ow = 0; ow < OW; ow++, out += pixel) {
        const w0 = ow * sW - padLeft;
        const wFrom = max(0, w0);
        const cols = min(W, w0 + fW) - wFrom;
        const xc = x + (((<usize>b * H + hFrom) * W + wFrom) * C << 2);
        if (rows == 2 && cols == 2) {
          for (let c: usize = 0; c < pixel; c += 16) {
            const top = f32x4.max(v128.load(xc + c), v128.load(xc + pixel + c));
            const bottom = f32x4.max(v128.load(xc + row + c), v128.load(xc + row + pixel + c));
            v128.store(out + c, f32x4.max(top, bottom));
          }
        } else {
          for (let c: usize = 0; c < pixel; c += 16) {
            let m = lowest;
            for (let h = 0; h < rows; h++) {
              let p = xc + <usize>h * row + c;
              for (let w = 0; w < cols; w++, p += pixel) m = f32x4.max(m, v128.load(p));
            }
            v128.store(out + c, m);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Column sums (Sum and Mean over leading axes): out[j] = scale * sum_i x[i, j], accumulated in float64

/**
 * out [cols] float32 = f32(scale * sum over rows of x [rows, cols] float32), with acc [cols] float64 scratch.
 * Order as `columnSums` in src/backend/kernels/Sum.ts, so bit-identical to it: blocks of 8 rows summed as
 * ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) in float64 and added to acc, then the last rows one by one.
 */
export function columnSums(x: usize, rows: i32, cols: i32, scale: f64, out: usize, acc: usize): void {
  memory.fill(acc, 0, <usize>cols << 3);
  const stride = <usize>cols << 2;
  const cols4 = <usize>(cols & ~3);
  let r = 0;
  let p = x;
  for (; r + 8 <= rows; r += 8, p += stride << 3) {
    for (let j: usize = 0; j < cols4; j += 4) {
      const q = p + (j << 2);
      const v0 = v128.load(q), v1 = v128.load(q + stride), v2 = v128.load(q + 2 * stride), v3 = v128.load(q + 3 * stride);
      const v4 = v128.load(q + 4 * stride), v5 = v128.load(q + 5 * stride), v6 = v128.load(q + 6 * stride), v7 = v128.load(q + 7 * stride);
      const a = acc + (j << 3);
      v128.store(a, f64x2.add(v128.load(a), tree(lo(v0), lo(v1), lo(v2), lo(v3), lo(v4), lo(v5), lo(v6), lo(v7))));
      v128.store(a, f64x2.add(v128.load(a, 16), tree(hi(v0), hi(v1), hi(v2), hi(v3), hi(v4), hi(v5), hi(v6), hi(v7))), 16);
    }
    for (let j: usize = cols4; j < <usize>cols; j++) {
      const q = p + (j << 2);
      const a = acc + (j << 3);
      store<f64>(a, load<f64>(a) + (
        <f64>load<f32>(q) + <f64>load<f32>(q + stride) + (<f64>load<f32>(q + 2 * stride) + <f64>load<f32>(q + 3 * stride)) +
        (<f64>load<f32>(q + 4 * stride) + <f64>load<f32>(q + 5 * stride) + (<f64>load<f32>(q + 6 * stride) + <f64>load<f32>(q + 7 * stride)))));
    }
  }
  for (; r < rows; r++, p += stride) {
    for (let j: usize = 0; j < cols4; j += 4) {
      const v = v128.load(p + (j << 2));
      const a = acc + (j << 3);
      v128.store(a, f64x2.add(v128.load(a), lo(v)));
      v128.store(a, f64x2.add(v128.load(a, 16), hi(v)), 16);
    }
    for (let j: usize = cols4; j < <usize>cols; j++) store<f64>(acc + (j << 3), load<f64>(acc + (j << 3)) + <f64>load<f32>(p + (j << 2)));
  }
  for (let j: usize = 0; j < <usize>cols; j++) store<f32>(out + (j << 2), <f32>(load<f64>(acc + (j << 3)) * scale));
}

/**
 * The ReLU gradient and its column sums in one pass: dx = dy * step(x) as `reluGrad` (./kernels.ts: dy where x > 0,
 * NaN where x is NaN, else +0), and out[j] = f32(sum over rows of dx[i, j]) in `columnSums`' order (so bit-identical to
 * `reluGrad` followed by `columnSums` with scale 1). x, dy, dx [rows, cols], cols % 4 == 0; acc [cols] float64 scratch.
 * The gradient of a convolution's bias under a fused ReLU (FusedConv2D's gradient).
 */
export function reluGradColumnSums(dy: usize, x: usize, dx: usize, rows: i32, cols: i32, out: usize, acc: usize): void {
  memory.fill(acc, 0, <usize>cols << 3);
  const stride = <usize>cols << 2;
  const rowBytes = <usize>cols << 2;
  let r = 0;
  let off: usize = 0;
  for (; r + 8 <= rows; r += 8, off += stride << 3) {
    for (let j: usize = 0; j < rowBytes; j += 16) {
      const q = off + j;
      const v0 = relu1(dy, x, dx, q), v1 = relu1(dy, x, dx, q + stride), v2 = relu1(dy, x, dx, q + 2 * stride), v3 = relu1(dy, x, dx, q + 3 * stride);
      const v4 = relu1(dy, x, dx, q + 4 * stride), v5 = relu1(dy, x, dx, q + 5 * stride), v6 = relu1(dy, x, dx, q + 6 * stride), v7 = relu1(dy, x, dx, q + 7 * stride);
      const a = acc + (j << 1);
      v128.store(a, f64x2.add(v128.load(a), tree(lo(v0), lo(v1), lo(v2), lo(v3), lo(v4), lo(v5), lo(v6), lo(v7))));
      v128.store(a, f64x2.add(v128.load(a, 16), tree(hi(v0), hi(v1), hi(v2), hi(v3), hi(v4), hi(v5), hi(v6), hi(v7))), 16);
    }
  }
  for (; r < rows; r++, off += stride) {
    for (let j: usize = 0; j < rowBytes; j += 16) {
      const v = relu1(dy, x, dx, off + j);
      const a = acc + (j << 1);
      v128.store(a, f64x2.add(v128.load(a), lo(v)));
      v128.store(a, f64x2.add(v128.load(a, 16), hi(v)), 16);
    }
  }
  for (let j: usize = 0; j < <usize>cols; j++) store<f32>(out + (j << 2), <f32>load<f64>(acc + (j << 3)));
}

/** dx at byte offset q = dy * step(x) for 4 values (stored), returned. */
@inline function relu1(dy: usize, x: usize, dx: usize, q: usize): v128 {
  const xv = v128.load(x + q);
  const keep = v128.and(v128.load(dy + q), f32x4.gt(xv, f32x4.splat(0)));
  const g = v128.or(keep, v128.and(f32x4.splat(NaN), f32x4.ne(xv, xv)));
  v128.store(dx + q, g);
  return g;
}

/** Lanes 0, 1 of an f32x4 as f64x2. */
@inline function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Lanes 2, 3 of an f32x4 as f64x2. */
@inline function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** ((a + b) + (c + d)) + ((e + f) + (g + h)) in f64x2, the JS kernel's order. */
@inline function tree(a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): v128 {
  return f64x2.add(f64x2.add(f64x2.add(a, b), f64x2.add(c, d)), f64x2.add(f64x2.add(e, f), f64x2.add(g, h)));
}

// ---------------------------------------------------------------------------------------------------------
// The gradient of 2x2 max pooling (stride 2, 'valid') of a ReLU's output through both the pooling and that ReLU: a
// convolution + ReLU + max-pool block (the seed CNN's) in training without MaxPoolGrad's full-size output and the ReLU
// gradient's pass over it (src/backend/kernels/ReluMaxPool.ts).

/**
 * dx [B, H, W, C] = 0 + dp at each 2x2 window's winning position of y where the window's maximum is > 0, +0 everywhere
 * else (rows and columns outside every window included): MaxPoolGrad (a zero-filled output, each gradient added at the
 * winner: the later of a row's two only when strictly greater, then the bottom winner only when strictly greater)
 * followed by the ReLU's gradient (dy where its output y is > 0, else +0), the same values bit for bit; and sums [C] =
 * dx summed over every axis but the last (the bias gradient of the convolution under that ReLU), in float64 (per row
 * of windows in registers, then into `acc`: C float64 of scratch), then rounded to float32. y [B, H, W, C] (the ReLU's output), dp [B, H/2, W/2, C]
 * (halves rounded down); C % 4 == 0.
 */
export function reluMaxPool2x2Grad(dp: usize, y: usize, dx: usize, B: i32, H: i32, W: i32, C: i32, sums: usize, acc: usize): void {
  const cs = <usize>C << 2, rs = <usize>W * cs, OH = H >> 1, OW = W >> 1, ws = <usize>OW * cs;
  const zero = f32x4.splat(0);
  if ((H & 1) != 0 || (W & 1) != 0) memory.fill(dx, 0, <usize>B * H * rs);
  memory.fill(acc, 0, <usize>C << 3);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const offset = (<usize>b * H + 2 * oh) * rs;
      const row = y + offset, drow = dx + offset, g0 = dp + (<usize>b * OH + oh) * ws;
      // Channels outermost within a row of windows, so that the float64 sums of 4 channels stay in two registers.
      for (let j: usize = 0; j < cs; j += 16) {
        let lo = f64x2.splat(0), hi = f64x2.splat(0);
        for (let ow = 0; ow < OW; ow++) {
          const p = row + (<usize>ow << 1) * cs + j, d = drow + (<usize>ow << 1) * cs + j;
          const y00 = v128.load(p), y01 = v128.load(p + cs), y10 = v128.load(p + rs), y11 = v128.load(p + rs + cs);
          const topGt = f32x4.gt(y01, y00), bottomGt = f32x4.gt(y11, y10);
          const top = v128.bitselect(y01, y00, topGt), bottom = v128.bitselect(y11, y10, bottomGt);
          const winGt = f32x4.gt(bottom, top);
          // 0 + dp where the winner is > 0 (MaxPoolGrad's zero plus the gradient, then the ReLU's mask), else +0.
          const g = f32x4.add(zero, v128.and(v128.load(g0 + <usize>ow * cs + j), f32x4.gt(v128.bitselect(bottom, top, winGt), zero)));
          const gTop = v128.andnot(g, winGt), gBottom = v128.and(g, winGt);
          v128.store(d, v128.andnot(gTop, topGt));
          v128.store(d + cs, v128.and(gTop, topGt));
          v128.store(d + rs, v128.andnot(gBottom, bottomGt));
          v128.store(d + rs + cs, v128.and(gBottom, bottomGt));
          lo = f64x2.add(lo, f64x2.promote_low_f32x4(g));
          hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(g, g, 2, 3, 2, 3)));
        }
        const q = acc + (j << 1);
        v128.store(q, f64x2.add(v128.load(q), lo));
        v128.store(q, f64x2.add(v128.load(q, 16), hi), 16);
      }
    }
  }
  for (let c: usize = 0; c < <usize>C; c++) store<f32>(sums + (c << 2), <f32>load<f64>(acc + (c << 3)));
}

// Adam's update (Kingma & Ba 2015) of one variable in one pass, in the order and float32 rounding of tfjs-core's
// AdamOptimizer.applyGradients (tfjs-core/src/optimizers/adam_optimizer.ts), whose element-wise kernels each round
// to float32: the results are bit-identical to that chain. See src/backend/kernels/AdamUpdate.ts.

/**
 * For i < n (n % 4 == 0 handled with a scalar tail), with f32 scalars b1 = beta1, c1 = 1 - beta1, b2, c2 = 1 - beta2,
 * d1 = 1 - beta1^t, d2 = 1 - beta2^t, eps, lr = -learningRate:
 *   m' = m * b1 + g * c1;  v' = v * b2 + (g * g) * c2;
 *   x' = ((m' / d1) / (sqrt(v' / d2) + eps)) * lr + x,
 * where g = g1 when `g2` is 0, else g = g1 * w1 + g2 * w2 (each product and the sum rounded to float32, as tfjs-core's
 * `mul` and `add` round them: the weighted average of two shards' gradients in data-parallel training).
 * Writes x', m', v' to `xOut`, `mOut`, `vOut` (byte offsets; may not alias the inputs).
 */
export function adamUpdate(x: usize, m: usize, v: usize, g1: usize, g2: usize, xOut: usize, mOut: usize, vOut: usize, n: i32,
  w1: f32, w2: f32, b1: f32, c1: f32, b2: f32, c2: f32, d1: f32, d2: f32, eps: f32, lr: f32): void {
  const vw1 = f32x4.splat(w1), vw2 = f32x4.splat(w2);
  const vb1 = f32x4.splat(b1), vc1 = f32x4.splat(c1), vb2 = f32x4.splat(b2), vc2 = f32x4.splat(c2);
  const vd1 = f32x4.splat(d1), vd2 = f32x4.splat(d2), veps = f32x4.splat(eps), vlr = f32x4.splat(lr);
  const vecEnd = <usize>(n & ~3) << 2;
  for (let i: usize = 0; i < vecEnd; i += 16) {
    const gv = g2 == 0 ? v128.load(g1 + i) : f32x4.add(f32x4.mul(v128.load(g1 + i), vw1), f32x4.mul(v128.load(g2 + i), vw2));
    const m1 = f32x4.add(f32x4.mul(v128.load(m + i), vb1), f32x4.mul(gv, vc1));
    const v1 = f32x4.add(f32x4.mul(v128.load(v + i), vb2), f32x4.mul(f32x4.mul(gv, gv), vc2));
    const step = f32x4.div(f32x4.div(m1, vd1), f32x4.add(f32x4.sqrt(f32x4.div(v1, vd2)), veps));
    v128.store(mOut + i, m1);
    v128.store(vOut + i, v1);
    v128.store(xOut + i, f32x4.add(f32x4.mul(step, vlr), v128.load(x + i)));
  }
  for (let i = vecEnd; i < (<usize>n << 2); i += 4) {
    const gs = g2 == 0 ? load<f32>(g1 + i) : load<f32>(g1 + i) * w1 + load<f32>(g2 + i) * w2;
    const m1 = load<f32>(m + i) * b1 + gs * c1;
    const v1 = load<f32>(v + i) * b2 + (gs * gs) * c2;
    const step = (m1 / d1) / (Mathf.sqrt(v1 / d2) + eps);
    store<f32>(mOut + i, m1);
    store<f32>(vOut + i, v1);
    store<f32>(xOut + i, step * lr + load<f32>(x + i));
  }
}

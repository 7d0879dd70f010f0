// AssemblyScript kernels of tfjs-layers' categorical cross-entropy of probabilities and its gradient (see
// src/backend/kernels/CategoricalCrossentropy.ts for the formulas and the JS reference these follow). Rows of C
// floats; `t` targets, `p` probabilities, both [rows, C] float32; pointers are byte offsets on the imported heap.
// The row sum s runs in four float32 lanes; every other sum in float64. Only the columns with t != 0 (or a NaN p)
// enter a loss term, found 4 at a time with one vector compare, so a one-hot row costs about two passes.

/** Sum of the C floats at `row`, in four float32 lanes (added in lane order), then the tail. */
function rowSum(row: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  const vecEnd = row + (<usize>(C & ~3) << 2);
  let q = row;
  for (; q < vecEnd; q += 16) acc = f32x4.add(acc, v128.load(q));
  let s: f32 = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  const end = row + (<usize>C << 2);
  for (; q < end; q += 4) s += load<f32>(q);
  return s;
}

/** Whether column j of the row needs its term: t_j != 0, or p_j is NaN. */
@inline function active(t: f32, p: f32): bool {
  return t != 0 || p != p;
}

/** Whether any of the 4 columns at byte offset o (o + 16 <= row bytes) needs its term. */
@inline function anyActive(tRow: usize, pRow: usize, o: usize): bool {
  const pv = v128.load(pRow + o);
  return v128.any_true(v128.or(f32x4.ne(v128.load(tRow + o), f32x4.splat(0)), f32x4.ne(pv, pv)));
}

/** loss[i] = -sum_j t_ij log(clip(p_ij / s_i, lo, hi)) for rows i of [rows, C]; lo, hi the float32 clip bounds. */
export function categoricalCrossentropy(t: usize, p: usize, loss: usize, rows: i32, C: i32, lo: f32, hi: f32): void {
  const rowBytes = <usize>C << 2;
  const vecBytes = <usize>(C & ~3) << 2;
  for (let i = 0; i < rows; i++) {
    const tRow = t + <usize>i * rowBytes, pRow = p + <usize>i * rowBytes;
    const s = rowSum(pRow, C);
    let acc: f64 = 0;
    for (let o: usize = 0; o < rowBytes; o += 16) {
      if (o < vecBytes && !anyActive(tRow, pRow, o)) continue;
      const end = min(o + 16, rowBytes);
      for (let q = o; q < end; q += 4) {
        const tj = load<f32>(tRow + q), pj = load<f32>(pRow + q);
        if (!active(tj, pj)) continue;
        const x = pj / s;
        const c = x < lo ? lo : x > hi ? hi : x;
        acc += <f64>(tj * <f32>Math.log(<f64>c));
      }
    }
    store<f32>(loss + (<usize>i << 2), -<f32>acc);
  }
}

/**
 * dp = d(sum_i dy_i loss_i)/dp for rows of [rows, C] (dy [rows]): dp_ij = g_ij / s_i + dS_i with
 * g_ij = -dy_i t_ij / q_ij where lo <= q_ij <= hi (else 0), q_ij = p_ij / s_i, dS_i = -sum_j g_ij p_ij / s_i^2.
 */
export function categoricalCrossentropyGrad(t: usize, p: usize, dy: usize, dp: usize, rows: i32, C: i32, lo: f32, hi: f32): void {
  const rowBytes = <usize>C << 2;
  const vecBytes = <usize>(C & ~3) << 2;
  for (let i = 0; i < rows; i++) {
    const tRow = t + <usize>i * rowBytes, pRow = p + <usize>i * rowBytes, dRow = dp + <usize>i * rowBytes;
    const s = rowSum(pRow, C);
    const minusDy = -load<f32>(dy + (<usize>i << 2));
    const s2 = s * s;
    let dS: f64 = 0;
    for (let o: usize = 0; o < rowBytes; o += 16) {
      if (o < vecBytes && !anyActive(tRow, pRow, o)) continue;
      const end = min(o + 16, rowBytes);
      for (let q = o; q < end; q += 4) {
        const tj = load<f32>(tRow + q), pj = load<f32>(pRow + q);
        if (!active(tj, pj)) continue;
        const x = pj / s;
        const g: f32 = x >= lo && x <= hi ? (minusDy * tj) / x : 0;
        dS += <f64>((g * pj) / s2);
      }
    }
    const dSum = -<f32>dS;
    // Every column gets dS; the active ones then add g / s.
    const fill = f32x4.splat(dSum);
    let o: usize = 0;
    for (; o < vecBytes; o += 16) v128.store(dRow + o, fill);
    for (; o < rowBytes; o += 4) store<f32>(dRow + o, dSum);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      if (o < vecBytes && !anyActive(tRow, pRow, o)) continue;
      const end = min(o + 16, rowBytes);
      for (let q = o; q < end; q += 4) {
        const tj = load<f32>(tRow + q), pj = load<f32>(pRow + q);
        if (!active(tj, pj)) continue;
        const x = pj / s;
        const g: f32 = x >= lo && x <= hi ? (minusDy * tj) / x : 0;
        store<f32>(dRow + q, g / s + dSum);
      }
    }
  }
}

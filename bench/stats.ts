/** Order statistics of the benchmark's samples (ms per call, images/s per round). */

/** The median of `xs` (the mean of the two middle values for an even count); `xs` is not modified. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The `p`-quantile of `xs`, p in [0, 1], by the nearest-rank method (the value at floor(p * n), clamped). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

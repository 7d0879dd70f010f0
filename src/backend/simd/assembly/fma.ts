// The GEMM micro-kernels' multiply-accumulate, built two ways from the same sources (scripts/build-simd.mjs):
//   kernels.wasm, kernels-shared.wasm (wasm SIMD): acc + a * b as f32x4.mul then f32x4.add (two roundings);
//   kernels-relaxed.wasm, kernels-shared-relaxed.wasm (+ relaxed SIMD, `--enable relaxed-simd`): f32x4.relaxed_madd,
//     which V8 lowers to one fused multiply-add (vfmadd231ps, one rounding) where the CPU has FMA3, else to mul, add.
// Relaxed SIMD: the WebAssembly relaxed-simd proposal (W3C WebAssembly CG; part of WebAssembly 3.0), f32x4.relaxed_madd.
// Where an engine lacks relaxed SIMD (Node 20 without `--experimental-wasm-relaxed-simd`, for one), ../index.ts loads
// the plain build. Only the GEMM inner loops use `madd`; element-wise kernels (Adam, batch norm) keep their exact
// mul/add roundings, which their tests compare bit for bit.

/** acc + a * b per lane (float32x4): fused in the relaxed-SIMD build, else rounded after the product and the sum. */
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * Byte lanes of `a` picked by `s` (i8x16.swizzle): lane i is a[s[i]] for s[i] < 16, else 0. Callers pass indices in
 * 0..15 or with the top bit set (>= 128), for which relaxed_swizzle is defined the same on every engine (x86 pshufb
 * zeroes a lane whose index has the top bit set; ARM tbl any index >= 16), so both builds compute the same bytes.
 */
@inline export function swz(a: v128, s: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(a, s);
  return i8x16.swizzle(a, s);
}

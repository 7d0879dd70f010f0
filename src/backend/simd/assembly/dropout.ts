// SeededDropout's mask (src/models/seededDropout.ts `dropoutMask`, the reference these values equal bit for bit):
// element i is `keep` when fmix32(key + i * 0x9e3779b9) >= threshold (unsigned), else 0, where fmix32 is MurmurHash3's
// 32-bit finalizer (Appleby). Four elements per v128: i32 multiplies and shifts wrap as JS's Math.imul and >>> do.

/** Writes the mask of `n` float32 at `out` (a byte offset). `threshold` is an unsigned 32-bit value passed as i32. */
export function dropoutMask(out: usize, n: i32, key: i32, threshold: i32, keep: f32): void {
  const c1 = i32x4.splat(0x85ebca6b), c2 = i32x4.splat(0xc2b2ae35), t = i32x4.splat(threshold), k = f32x4.splat(keep);
  const step = i32x4.splat(<i32>0x9e3779b9 * 4);
  let x = i32x4.add(i32x4.splat(key), i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(0x9e3779b9)));
  const vecEnd = out + (<usize>(n & ~3) << 2);
  let p = out;
  for (; p < vecEnd; p += 16) {
    let h = v128.xor(x, i32x4.shr_u(x, 16));
    h = i32x4.mul(h, c1);
    h = v128.xor(h, i32x4.shr_u(h, 13));
    h = i32x4.mul(h, c2);
    h = v128.xor(h, i32x4.shr_u(h, 16));
    v128.store(p, v128.and(i32x4.ge_u(h, t), k));
    x = i32x4.add(x, step);
  }
  for (let i = n & ~3; i < n; i++) {
    let h = key + i * <i32>0x9e3779b9;
    h ^= <i32>(<u32>h >> 16);
    h *= <i32>0x85ebca6b;
    h ^= <i32>(<u32>h >> 13);
    h *= <i32>0xc2b2ae35;
    h ^= <i32>(<u32>h >> 16);
    store<f32>(out + (<usize>i << 2), <u32>h >= <u32>threshold ? keep : 0);
  }
}

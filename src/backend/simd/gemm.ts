/**
 * Matrix products for few rows and wide outputs on hwr's SIMD kernels (`assembly/gemm.ts`): a dense layer's
 * forward product x W (+ bias, ReLU), its weight gradient x^T dy and its input gradient dy W^T in training.
 *
 * Why: at batch 64 a dense layer has few rows and, for a large vocabulary (hccr-vgg: [64, 256] x [256, 3755]),
 * a weight matrix (3.8 MB) far larger than the caches. The 1x1-convolution route of ./index.ts streams the whole
 * weight matrix once per 4-row block and needs n % 8 == 0; XNNPACK repacks it on every call. These kernels stream
 * it once per call for any n (the last strip of fewer than 8 columns is packed with zero lanes and stored lane by
 * lane). Algorithms: GEMM blocked over k and n with a packed 8-column strip of B in L1 and a 4x8 register block
 * (Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication", with one strip per pack), and
 * for A B^T, dot products of contiguous rows blocked over k.
 *
 * Numerics: float32 throughout; sums over k in order within blocks of 256 (A B, A^T B) or 512 (A B^T, 4-lane
 * partial sums), so results differ from the cpu backend's by float32 rounding only (tested in
 * test/backend/gemm.test.ts).
 *
 * Threads: with kernel threads (./threads.ts), the output's columns split in runs of whole 8-column strips
 * (4 columns for A B^T), one run per thread, each with its own scratch.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { dispose, heapOffset as ptr, type WasmBackend } from '../kernels/wasm_util.ts';
import { runParts, threadCount, type SimdExports } from './index.ts';
import type { KernelCall } from './threads.ts';

/** The GEMM exports of `kernels.wasm` (pointers are byte offsets on the heap; leading dimensions in floats). */
export interface GemmExports {
  /** Floats of scratch that gemmPanels needs (per thread). */
  gemmScratchFloats(): number;
  /** Packs op(A) [m, k] (A [m, k], or A^T for A [k, m] when transposed = 1) into 4-row panels: ceil(m/4)*4*k floats. */
  gemmPackPanels(a: number, m: number, k: number, lda: number, transposed: number, dst: number): void;
  /** C[m, n] = op(A) B (+ bias[n], then ReLU when relu = 1) for op(A) packed in panels, B [k, n]; bias 0 for none. */
  gemmPanels(panels: number, b: number, c: number, m: number, k: number, n: number, ldb: number, ldc: number, bias: number, relu: number, pk: number): void;
  /** C[m, n] = A B^T for A [m, k], B [n, k]. */
  gemmNT(a: number, b: number, c: number, m: number, k: number, n: number, lda: number, ldb: number, ldc: number): void;
}

/** Which product: 'nn' A B, 'tn' A^T B, 'nt' A B^T. */
export type GemmForm = 'nn' | 'tn' | 'nt';

/**
 * Below this k, A B^T transposes B and runs the strip kernel (a 2x4 block of the dot kernel sums 8 vectors across
 * lanes per k-block: at k = 10, [64, 10] x [5408, 10]^T took 1.65 ms against 0.6 for XNNPACK; load 6).
 */
const DOT_MIN_K = 64;

/** Below this many multiply-adds a product runs on one thread (a helper's wake-up costs about 0.05-0.2 ms). */
const SPLIT_MIN_MACS = 2_000_000;

/**
 * Column runs `[first, count]` of an n-column output for `threads` threads, cut at multiples of `align`
 * (8: whole strips), as even as the alignment allows; fewer runs when n is small.
 */
export function columnParts(n: number, threads: number, align: number): Array<[number, number]> {
  const units = Math.ceil(n / align);
  const parts = Math.max(1, Math.min(threads, units));
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let t = 0; t < parts; t++) {
    const end = t === parts - 1 ? n : Math.min(n, Math.round((units * (t + 1)) / parts) * align);
    if (end > start) out.push([start, end - start]);
    start = end;
  }
  return out;
}

/**
 * op(A) x op(B) (+ bias, ReLU for 'nn') on the SIMD GEMM kernels. `a`, `b` float32 on `backend`'s heap, read as
 * row-major matrices: 'nn' A [m, k], B [k, n]; 'tn' A [k, m], B [k, n]; 'nt' A [m, k], B [n, k]. `bias` (float32,
 * n values) and `relu` only for 'nn'. Returns a new float32 tensor [m, n] (the caller reshapes it). m, k, n >= 1.
 * @throws Error when a bias or ReLU is asked of another form
 */
export function simdGemm(
  backend: WasmBackend, simd: SimdExports, form: GemmForm, a: tf.TensorInfo, b: tf.TensorInfo,
  m: number, k: number, n: number, bias?: tf.TensorInfo, relu = false,
): tf.TensorInfo {
  if (form !== 'nn' && (bias || relu)) throw new Error(`simdGemm: bias and ReLU only for 'nn', not '${form}'`);
  if (form === 'nt' && k < DOT_MIN_K) {
    // Short rows: the dot kernel's per-block lane sums would dominate; transpose B ([n, k] -> [k, n], n * k floats)
    // and take the strip kernel instead.
    const bT = backend.makeOutput([k, n], 'float32');
    simd.transpose(ptr(backend, b), ptr(backend, bT), n, k, n);
    const c = simdGemm(backend, simd, 'nn', a, bT, m, k, n);
    dispose(backend, bT);
    return c;
  }
  const c = backend.makeOutput([m, n], 'float32');
  const threads = m * k * n >= SPLIT_MIN_MACS ? threadCount(backend) : 1;
  const parts = columnParts(n, threads, form === 'nt' ? 4 : 8);
  const scratchFloats = simd.gemmScratchFloats();
  const scratch = form === 'nt' ? [] : parts.map(() => backend.makeOutput([scratchFloats], 'float32'));
  // op(A) packed once into 4-row panels, shared read-only by the threads (see assembly/gemm.ts).
  const panels = form === 'nt' ? undefined : backend.makeOutput([Math.ceil(m / 4) * 4 * k], 'float32');
  if (panels) simd.gemmPackPanels(ptr(backend, a), m, k, form === 'tn' ? m : k, form === 'tn' ? 1 : 0, ptr(backend, panels));
  const [ap, bp, cp, biasp] = [ptr(backend, panels ?? a), ptr(backend, b), ptr(backend, c), bias ? ptr(backend, bias) : 0];
  const calls: KernelCall[] = parts.map(([j0, w], t) => {
    const cj = cp + j0 * 4;
    if (form === 'nt') return { fn: 'gemmNT', args: [ap, bp + j0 * k * 4, cj, m, k, w, k, k, n] };
    return { fn: 'gemmPanels', args: [ap, bp + j0 * 4, cj, m, k, w, n, n, biasp ? biasp + j0 * 4 : 0, relu ? 1 : 0, ptr(backend, scratch[t]!)] };
  });
  runParts(backend, simd, calls);
  dispose(backend, ...scratch, ...(panels ? [panels] : []));
  return c;
}

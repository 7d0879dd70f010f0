/**
 * The environment of each PyTorch process that `npm run bench` starts (bench/torch_bench.py), issue 13.
 *
 * Two configurations, each in its own process per thread count (the variables below are read once, when the
 * process starts or OpenBLAS loads, so they cannot change between requests):
 * - `default`: Debian's `python3-torch` as installed, in the environment the benchmark inherited: whatever
 *   `libblas.so.3` update-alternatives points at (the reference `libblas3` on a machine that installed only
 *   python3-torch; OpenBLAS where `libopenblas0-*` is installed too), OpenBLAS's own thread count (all cores), and
 *   glibc's default heap.
 * - `tuned`: the best this machine offers without building anything:
 *   - `LD_LIBRARY_PATH` starts with the directory of Debian's `libopenblas0-pthread` when it exists, so that
 *     Debian's torch (built with BLAS_INFO=generic, linked to `libblas.so.3` by name) loads OpenBLAS's
 *     `libblas.so.3` whatever update-alternatives says; when it is absent the process runs on the system's
 *     `libblas.so.3`, and the benchmark says so (torch_bench.py's `info` reports the library it mapped);
 *   - `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` unset: some environments set them for older OpenBLAS builds, and
 *     with them OpenBLAS 0.3.21 picks slower kernels (issue 13: seed-cnn 900-1,200 images/s instead of about 5,000);
 *   - `OPENBLAS_NUM_THREADS` and `OMP_NUM_THREADS` = the thread count under test, so that a 1-thread run does not
 *     use both cores inside BLAS;
 *   - `GLIBC_TUNABLES` with fixed malloc mmap and trim thresholds ({@link HEAP_TUNABLES}): by default glibc gives
 *     large blocks back to the kernel and maps them again, so that PyTorch's batch-256 inference sometimes ran 4-5
 *     times slower from minor page faults (44 per image); these settings keep the heap;
 *   - with 2 or more threads, `OMP_WAIT_POLICY=PASSIVE` unless the inherited environment sets it: libgomp's
 *     threads otherwise spin at every barrier, and on a machine shared with other jobs (this project's) a
 *     descheduled thread leaves the other spinning. Measured with load average 5-6 (notes/PERFORMANCE.md, "Honest
 *     PyTorch reference"): 2-thread training 1,828-2,073 images/s passive against 322-581 spinning (seed-cnn),
 *     1,764-1,933 against 263-897 (hwr-net); in quieter moments the two were within about 20% of each other.
 */
import { existsSync } from 'node:fs';

/** `default`: PyTorch as installed, inherited environment; `tuned`: OpenBLAS, pinned threads, stable heap, passive waits. */
export type TorchConfig = 'default' | 'tuned';

/** Both configurations, in the order the benchmark reports them. */
export const TORCH_CONFIGS: readonly TorchConfig[] = ['default', 'tuned'];

/** Where Debian's `libopenblas0-pthread` installs its `libblas.so.3` (x86_64 and arm64 multiarch directories). */
export const OPENBLAS_DIRS: readonly string[] = ['/usr/lib/x86_64-linux-gnu/openblas-pthread', '/usr/lib/aarch64-linux-gnu/openblas-pthread'];

/**
 * glibc heap settings for the tuned process: blocks under 32 MiB (the largest mmap threshold glibc accepts on 64-bit,
 * HEAP_MAX_SIZE / 2) come from the heap, and the heap is trimmed only above 1 GiB, so that the same buffers are
 * reused step after step instead of being unmapped and faulted in again. Setting either threshold also turns off
 * glibc's dynamic threshold adjustment (glibc manual, "Memory Allocation Tunables").
 */
export const HEAP_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824';

/** The first of `dirs` that holds a `libblas.so.3`, or null (OpenBLAS not installed). */
export function findOpenBlasDir(dirs: readonly string[] = OPENBLAS_DIRS, exists: (path: string) => boolean = existsSync): string | null {
  return dirs.find((dir) => exists(`${dir}/libblas.so.3`)) ?? null;
}

/**
 * The environment of one PyTorch process.
 *
 * @param config `default` returns a copy of `base`; `tuned` changes it as the module comment says.
 * @param threads the thread count under test (an integer >= 1), for OpenBLAS and OpenMP.
 * @param base the inherited environment (not modified).
 * @param openblasDir the directory of OpenBLAS's `libblas.so.3` ({@link findOpenBlasDir}), or null to leave the
 *   library to the system.
 * @returns a new environment object.
 * @throws RangeError when `threads` is not an integer >= 1.
 */
export function torchProcessEnv(config: TorchConfig, threads: number, base: NodeJS.ProcessEnv, openblasDir: string | null): NodeJS.ProcessEnv {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
  const env = { ...base };
  if (config === 'default') return env;
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  env.OPENBLAS_NUM_THREADS = String(threads);
  env.OMP_NUM_THREADS = String(threads);
  if (threads >= 2 && !base.OMP_WAIT_POLICY) env.OMP_WAIT_POLICY = 'PASSIVE';
  // glibc applies tunables left to right: ours come last so that they win over an inherited setting of the same name.
  env.GLIBC_TUNABLES = base.GLIBC_TUNABLES ? `${base.GLIBC_TUNABLES}:${HEAP_TUNABLES}` : HEAP_TUNABLES;
  if (openblasDir) env.LD_LIBRARY_PATH = base.LD_LIBRARY_PATH ? `${openblasDir}:${base.LD_LIBRARY_PATH}` : openblasDir;
  return env;
}

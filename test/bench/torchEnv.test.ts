/** bench/torchEnv.ts: the environment of the benchmark's PyTorch processes (issue 13). */
import { describe, expect, it } from 'vitest';
import { findOpenBlasDir, HEAP_TUNABLES, torchProcessEnv } from '../../bench/torchEnv.ts';

const DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
const inherited = { PATH: '/usr/bin', OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '262144', OPENBLAS_NUM_THREADS: '8' };

describe('torchProcessEnv', () => {
  it('default: a copy of the inherited environment, unchanged', () => {
    const env = torchProcessEnv('default', 1, inherited, DIR);
    expect(env).toEqual(inherited);
    expect(env).not.toBe(inherited);
  });

  it('tuned: OpenBLAS first on the library path, its core and L2 overrides unset, threads pinned, stable heap', () => {
    const base = { ...inherited };
    const env = torchProcessEnv('tuned', 2, base, DIR);
    expect(env).toEqual({ PATH: '/usr/bin', OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE', GLIBC_TUNABLES: HEAP_TUNABLES, LD_LIBRARY_PATH: DIR });
    expect(base).toEqual(inherited); // the base is not modified
  });

  it('tuned: passive OpenMP waits only with 2 or more threads, and never over an inherited choice', () => {
    expect(torchProcessEnv('tuned', 1, {}, DIR).OMP_WAIT_POLICY).toBeUndefined();
    expect(torchProcessEnv('tuned', 2, { OMP_WAIT_POLICY: 'ACTIVE' }, DIR).OMP_WAIT_POLICY).toBe('ACTIVE');
  });

  it('tuned: keeps an inherited library path and tunables after / before its own', () => {
    const env = torchProcessEnv('tuned', 1, { LD_LIBRARY_PATH: '/opt/lib', GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, DIR);
    expect(env.LD_LIBRARY_PATH).toBe(`${DIR}:/opt/lib`);
    // glibc applies tunables left to right: ours last, so they win over an inherited setting of the same name.
    expect(env.GLIBC_TUNABLES).toBe(`glibc.malloc.arena_max=2:${HEAP_TUNABLES}`);
  });

  it('tuned without OpenBLAS: the library path is left to the system', () => {
    const env = torchProcessEnv('tuned', 1, { PATH: '/usr/bin' }, null);
    expect(env.LD_LIBRARY_PATH).toBeUndefined();
    expect(env.OPENBLAS_NUM_THREADS).toBe('1');
  });

  it('refuses a thread count that is not a positive integer', () => {
    expect(() => torchProcessEnv('tuned', 0, {}, DIR)).toThrow(RangeError);
    expect(() => torchProcessEnv('tuned', 1.5, {}, DIR)).toThrow(RangeError);
  });
});

describe('findOpenBlasDir', () => {
  it('the first directory that holds a libblas.so.3, or null', () => {
    const present = new Set(['/b/libblas.so.3', '/c/libblas.so.3']);
    expect(findOpenBlasDir(['/a', '/b', '/c'], (path) => present.has(path))).toBe('/b');
    expect(findOpenBlasDir(['/a'], (path) => present.has(path))).toBeNull();
  });
});

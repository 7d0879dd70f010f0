/**
 * The plain wasm SIMD build (`kernels.wasm`: multiply then add, two roundings) against the cpu backend, as every
 * other test file checks the default relaxed-SIMD build (`kernels-relaxed.wasm`: fused multiply-add, relaxed
 * swizzle). Engines without relaxed SIMD (and Node 20 with `HWR_RELAXED_SIMD=0`) run this one. The convolution, GEMM,
 * one-kernel convolution + pooling and deferred batch-norm convolution gradient suites (kernels.test.ts, gemm.test.ts,
 * convReluPoolFused.test.ts, batchNormConvGradient.test.ts) run here again with `HWR_RELAXED_SIMD=0`, which this file's fresh module graph
 * reads when it first compiles the kernels.
 */
import { afterAll, describe, expect, it } from 'vitest';

process.env.HWR_RELAXED_SIMD = '0';
afterAll(() => {
  delete process.env.HWR_RELAXED_SIMD;
});

describe('the plain SIMD build is the one under test here', () => {
  it('simdBuild() is "simd"', async () => {
    const { simdBuild } = await import('../../src/backend/simd/index.ts');
    expect(simdBuild()).toBe('simd');
  });
});

await import('./kernels.test.ts');
await import('./gemm.test.ts');
await import('./convReluPoolFused.test.ts');
await import('./batchNormConvGradient.test.ts');

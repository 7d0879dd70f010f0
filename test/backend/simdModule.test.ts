/**
 * Where the SIMD kernel module comes from (`loadSimdModule` of src/backend/simd/index.ts): its default file, bytes, a
 * URL; and that a module that cannot be had is a warning and the XNNPACK fallback, never an error. Each case imports
 * a fresh copy of the module (`vi.resetModules`), since a thread compiles it once.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

type SimdModule = typeof import('../../src/backend/simd/index.ts');

async function freshSimdModule(): Promise<SimdModule> {
  vi.resetModules();
  return import('../../src/backend/simd/index.ts');
}

describe('loadSimdModule', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('compiles the built kernels.wasm by default, and its SIMD_WASM_URL is a file: URL beside the module in Node', async () => {
    const simd = await freshSimdModule();
    expect(simd.SIMD_WASM_URL.protocol).toBe('file:');
    expect(simd.SIMD_WASM_URL.pathname).toMatch(/src\/backend\/simd\/kernels\.wasm$/);
    expect(await simd.loadSimdModule()).toBe(true);
    expect(simd.simdKernelsAvailable()).toBe(true);
  });

  it('takes the module as bytes (what a page may fetch itself)', async () => {
    const simd = await freshSimdModule();
    const bytes = readFileSync(new URL('../../src/backend/simd/kernels.wasm', import.meta.url));
    expect(await simd.loadSimdModule(new Uint8Array(bytes))).toBe(true);
    expect(simd.simdKernelsAvailable()).toBe(true);
  });

  it('warns and falls back when the bytes are not a wasm module', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const simd = await freshSimdModule();
    expect(await simd.loadSimdModule(new Uint8Array([1, 2, 3, 4]))).toBe(false);
    expect(simd.simdKernelsAvailable()).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/SIMD training kernels could not be loaded .* slower XNNPACK kernels/);
  });

  it('warns and falls back when the file is missing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const simd = await freshSimdModule();
    expect(await simd.loadSimdModule('file:///nonexistent/hwr/kernels.wasm')).toBe(false);
    expect(simd.simdKernelsAvailable()).toBe(false);
    expect(String(warn.mock.calls[0]![0])).toMatch(/kernels\.wasm is missing \(run `npm run build:simd`\)/);
  });

  it('compiles once: later sources are ignored', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const simd = await freshSimdModule();
    expect(await simd.loadSimdModule()).toBe(true);
    expect(await simd.loadSimdModule(new Uint8Array([1, 2, 3, 4]))).toBe(true);
  });
});

describe('the default build: relaxed SIMD where the engine has it', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('loads kernels-relaxed.wasm (fused multiply-add) where relaxed SIMD compiles, which Node 20 gets from its V8 flag', async () => {
    const simd = await freshSimdModule();
    expect(simd.SIMD_RELAXED_WASM_URL.pathname).toMatch(/src\/backend\/simd\/kernels-relaxed\.wasm$/);
    expect(simd.relaxedSimdSupported()).toBe(true);
    expect(await simd.loadSimdModule()).toBe(true);
    expect(simd.simdBuild()).toBe('relaxed-simd');
  });

  it('loads the plain kernels.wasm after setRelaxedSimdPreferred(false)', async () => {
    const simd = await freshSimdModule();
    simd.setRelaxedSimdPreferred(false);
    expect(simd.relaxedSimdSupported()).toBe(false);
    expect(await simd.loadSimdModule()).toBe(true);
    expect(simd.simdBuild()).toBe('simd');
  });

  it('loads the plain kernels.wasm when HWR_RELAXED_SIMD is 0', async () => {
    vi.stubEnv('HWR_RELAXED_SIMD', '0');
    const simd = await freshSimdModule();
    expect(simd.simdKernelsAvailable()).toBe(true);
    expect(simd.simdBuild()).toBe('simd');
  });

  it('compiles the relaxed build passed in as bytes (Node 20 gets V8\'s flag first)', async () => {
    const simd = await freshSimdModule();
    expect(await simd.loadSimdModule(readFileSync(new URL('../../src/backend/simd/kernels-relaxed.wasm', import.meta.url)))).toBe(true);
    expect(simd.simdBuild()).toBe('given');
  });

  it('says "given" for a module passed in', async () => {
    const simd = await freshSimdModule();
    expect(await simd.loadSimdModule(readFileSync(new URL('../../src/backend/simd/kernels.wasm', import.meta.url)))).toBe(true);
    expect(simd.simdBuild()).toBe('given');
  });
});

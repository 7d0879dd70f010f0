#!/usr/bin/env node
/**
 * Builds hwr's SIMD training kernels (src/backend/simd/assembly/kernels.ts, AssemblyScript) into the four modules
 * that src/backend/simd/index.ts chooses from at run time (`npm run build:simd`; `npm install` runs it as `prepare`):
 *
 *   kernels.wasm                 wasm SIMD (128-bit), for the wasm backend's own heap;
 *   kernels-relaxed.wasm         the same + relaxed SIMD: the GEMM loops' multiply-accumulate is f32x4.relaxed_madd
 *                                (assembly/fma.ts), a fused multiply-add on CPUs with FMA3;
 *   kernels-shared.wasm          wasm SIMD on a shared memory (TF.js's threaded build; `--enable threads`);
 *   kernels-shared-relaxed.wasm  both.
 *
 * Each module is written to a temporary name and renamed, so an interrupted build never leaves a truncated module.
 * Exit status 1, with the compiler's message, when a build fails.
 */
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const dir = fileURLToPath(new URL('../src/backend/simd/', import.meta.url));
const common = [`${dir}assembly/kernels.ts`, '-O3', '--enable', 'simd', '--runtime', 'stub', '--importMemory', '--noAssert', '--use', 'abort='];
const relaxed = ['--enable', 'relaxed-simd'];
const shared = ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'];
const builds = [
  ['kernels.wasm', []],
  ['kernels-relaxed.wasm', relaxed],
  ['kernels-shared.wasm', shared],
  ['kernels-shared-relaxed.wasm', [...shared, ...relaxed]],
];

for (const [name, flags] of builds) {
  const out = `${dir}${name}`;
  const tmp = `${out}.${process.pid}.tmp`;
  const { error, stderr } = await asc.main([...common, ...flags, '-o', tmp]);
  if (error) {
    console.error(`build:simd: ${name} failed: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
  renameSync(tmp, out);
}
console.log(`build:simd: ${builds.map(([name]) => name).join(', ')} in ${dir}`);

/**
 * `HwrDropoutMask` (our kernel name; TF.js has none): SeededDropout's mask (src/models/seededDropout.ts
 * `dropoutMask`, the reference) written straight into the backend's memory, so a training step makes no mask in
 * JavaScript and uploads nothing (in JS the hash loop took about 0.9 ms per hwr-net step: notes/PERFORMANCE.md,
 * session 22). No inputs; attrs `DropoutMaskAttrs` (shape, rate, seed); output float32 [...shape].
 *
 * Backends: 'wasm' (hwr's SIMD kernel, simd/assembly/dropout.ts, four hashes per v128; the JS loop on the heap
 * when kernels.wasm is not loaded) and 'cpu' (the JS loop). All three write the same values bit for bit
 * (test/models/seededDropout.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DROPOUT_MASK, dropoutMask, dropoutMaskParams, type DropoutMaskAttrs } from '../../models/seededDropout.ts';
import { simdKernels } from '../simd/index.ts';
import { f32, heapOffset, type WasmBackend } from './wasm_util.ts';

/** The export of `assembly/dropout.ts` (`out` a byte offset on the wasm heap; `threshold` unsigned, passed as i32). */
export interface DropoutExports {
  dropoutMask(out: number, n: number, key: number, threshold: number, keep: number): void;
}

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs: tf.NamedAttrMap };
type CpuBackend = { makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };

function maskWasm(args: Args<WasmBackend>): tf.TensorInfo {
  const { backend } = args;
  const { shape, rate, seed } = args.attrs as unknown as DropoutMaskAttrs;
  const out = backend.makeOutput(shape, 'float32');
  const size = tf.util.sizeFromShape(shape);
  const simd = simdKernels(backend);
  if (simd) {
    const { key, threshold, keep } = dropoutMaskParams(rate, seed);
    simd.dropoutMask(heapOffset(backend, out), size, key | 0, threshold | 0, keep);
  } else {
    f32(backend, out).set(dropoutMask(size, rate, seed));
  }
  return out;
}

function maskCpu(args: Args<CpuBackend>): tf.TensorInfo {
  const { shape, rate, seed } = args.attrs as unknown as DropoutMaskAttrs;
  return args.backend.makeTensorInfo(shape, 'float32', dropoutMask(tf.util.sizeFromShape(shape), rate, seed));
}

/** `HwrDropoutMask` on 'wasm' and 'cpu'; `setupBackend` registers them (src/backend/backend.ts). */
export const dropoutMaskKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: DROPOUT_MASK, backendName: 'wasm', kernelFunc: maskWasm as unknown as tf.KernelFunc },
  { kernelName: DROPOUT_MASK, backendName: 'cpu', kernelFunc: maskCpu as unknown as tf.KernelFunc },
];

/**
 * Slice for the wasm backend: a float32 rank-4 slice that keeps whole rows of the innermost dimension (begin 0 and the
 * full size on the last axis: an NHWC spatial crop, or a crop of any leading ranges) as one `memory.copy` per row run
 * (`cropCopy`, simd/assembly/kernels.ts).
 *
 * Why: the stock wasm Slice copies a non-contiguous slice in JavaScript, one `subarray` and `set` per innermost row:
 * 1.16 ms for the seed CNN's crop of [64, 13, 13, 32] to [64, 12, 12, 32] (src/backend/convReluPool.ts
 * `poolCroppedInput`; notes/PERFORMANCE.md, session 25), against a copy of 1.2 MB. Contiguous slices (the stock
 * kernel's `subarray` fast path), other ranks, dtypes and slices of part of the last axis run the stock kernel.
 * Reference semantics: tfjs-backend-wasm/src/kernels/Slice.ts; the values are copied unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/index.ts';
import { heapOffset as ptr, runStockKernel, type WasmBackend } from './wasm_util.ts';

type Args = { inputs: tf.SliceInputs; backend: WasmBackend; attrs: tf.SliceAttrs };

/** Kernel function. Input `x`; attrs `begin`, `size` as tf.slice. Returns the slice, of `x`'s dtype. */
export function slice(args: Args): tf.TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as tf.TensorInfo;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs.begin, args.attrs.size);
  const simd = simdKernels(backend);
  if (!simd || x.dtype !== 'float32' || x.shape.length !== 4 || begin[3] !== 0 || size[3] !== x.shape[3]
    || tf.slice_util.isSliceContinous(x.shape, begin, size) || size.some((s) => s === 0)) {
    return runStockKernel(tf.Slice, args);
  }
  const [, H, W, C] = x.shape as [number, number, number, number];
  const [B, h, w] = size as [number, number, number];
  const out = backend.makeOutput(size, 'float32');
  // cropCopy reads the window at (begin[1], begin[2]) of each image [H, W, C] from the first sliced image on.
  simd.cropCopy(ptr(backend, x) + begin[0]! * H * W * C * 4, ptr(backend, out), B, h, w, C, H, W, begin[1]!, begin[2]!);
  return out;
}

/** Registration record for `Slice` on 'wasm'. */
export const sliceConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  kernelFunc: slice as unknown as tf.KernelFunc,
};

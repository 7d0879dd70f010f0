/**
 * Per-channel broadcast binary ops on the SIMD kernels: a float32 tensor [..., C] with a vector [C] (a layer's
 * bias, batch norm's scales), shared by the Add and Multiply kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels, type SimdExports } from '../simd/index.ts';
import { heapOffset, runStockKernel, type WasmBackend } from './wasm_util.ts';

/**
 * The operands of a per-channel broadcast: `[x, v]` when one input is float32 [..., C] and the other float32
 * [C] or [1, ..., 1, C] (either order; x has more elements), with C % 4 == 0 (one SIMD vector holds 4 channels);
 * null otherwise. The bias add of a layer and batch norm's per-channel scales have this form.
 */
export function channelOperands(a: tf.TensorInfo, b: tf.TensorInfo): [tf.TensorInfo, tf.TensorInfo] | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
  const [x, v] = size(a) >= size(b) ? [a, b] : [b, a];
  const channels = x.shape[x.shape.length - 1];
  if (channels === undefined || channels % 4 !== 0 || size(x) === size(v) || v.shape.length > x.shape.length) return null;
  const vLast = v.shape[v.shape.length - 1];
  return vLast === channels && size(v) === channels ? [x, v] : null;
}

/**
 * Runs a per-channel broadcast binary kernel: `simdOp(x, y, v, rows, channels)` (byte offsets on the heap) into a
 * new float32 output of x's shape when `channelOperands` finds [x, v] and the SIMD kernels are available, else the
 * stock kernel `stockName`. Shared by Add and Multiply.
 */
export function runChannelOp(
  args: { inputs: tf.BinaryInputs; backend: WasmBackend },
  stockName: string,
  simdOp: (simd: SimdExports, x: number, y: number, v: number, rows: number, channels: number) => void,
): tf.TensorInfo {
  const { backend, inputs } = args;
  const operands = channelOperands(inputs.a as tf.TensorInfo, inputs.b as tf.TensorInfo);
  const simd = operands ? simdKernels(backend) : undefined;
  if (!operands || !simd) return runStockKernel(stockName, args);
  const [x, v] = operands;
  const channels = x.shape[x.shape.length - 1]!;
  const y = backend.makeOutput(x.shape, 'float32');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  simdOp(simd, at(x), at(y), at(v), tf.util.sizeFromShape(x.shape) / channels, channels);
  return y;
}

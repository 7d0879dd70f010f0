/**
 * Linear quantization shared by the ONNX and TFLite writers (Jacob et al., "Quantization and Training of Neural
 * Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018; Krishnamoorthi, "Quantizing deep
 * convolutional networks for efficient inference: A whitepaper", 2018), with the conventions of TensorFlow Lite's
 * int8 specification (https://ai.google.dev/edge/litert/models/quantization_spec) that ONNX Runtime also runs fast:
 *
 * - weights: int8, symmetric (zero point 0), one scale per output channel, values in [-127, 127];
 * - activations: int8, asymmetric, one scale and zero point per tensor, from a calibrated range that holds 0;
 * - biases: int32 with scale `inputScale * weightScale[channel]` and zero point 0.
 *
 * A real value r and its quantized value q relate as `r = scale * (q - zeroPoint)`.
 */
import { hwrError } from '../core/errors.ts';
import type { ActivationRange } from './lower.ts';

/** Quantization modes of `hwr export --quantize`: none (float32 weights), float16 weights, int8 weights and activations. */
export type QuantizeMode = 'float32' | 'float16' | 'int8';

/** Per-tensor affine quantization of an activation: `r = scale * (q - zeroPoint)`, q int8 in [-128, 127]. */
export interface ActivationQuantization {
  scale: number;
  zeroPoint: number;
}

/**
 * Int8 parameters of an activation tensor from its calibrated range (widened to hold 0, so that zero padding and
 * ReLU's zeros are exact): `scale = (max - min) / 255`, `zeroPoint = round(-128 - min / scale)` clamped to [-128, 127].
 * A range of width 0 gets scale 1 (every value is 0).
 */
export function activationQuantization(range: ActivationRange): ActivationQuantization {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw hwrError('BAD_ARGUMENT', `calibration range [${range.min}, ${range.max}] is not finite`);
  if (max === min) return { scale: 1, zeroPoint: 0 };
  const scale = (max - min) / 255;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - min / scale)));
  return { scale, zeroPoint };
}

/** Int8 weights with one scale per output channel (zero point 0). */
export interface ChannelQuantizedWeights {
  /** Same layout and length as the float weights. */
  values: Int8Array;
  /** `[channels]`: real = scale[c] * q. */
  scales: Float32Array;
}

/**
 * Symmetric per-channel int8 quantization of a weight tensor whose output channel is `channelOf(i)` for flat index i
 * (for TF.js HWIO conv kernels and `[inputs, units]` dense kernels, the last axis: `i % channels`):
 * `scale[c] = max |w| over channel c / limit` (1 for an all-zero channel), `q = round(w / scale[c])` in [-limit, limit].
 *
 * @param limit largest |q|: 127 (default, TFLite's int8 spec) or 63 for 7-bit weights ("reduce range", ONNX Runtime's
 *   quantizer option): x86 CPUs without AVX-512 VNNI multiply uint8 activations by int8 weights with `vpmaddubsw`,
 *   whose int16 pair sums saturate when both are large (255 * 127 * 2 > 32767); 7-bit weights cannot saturate
 *   (https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html: the saturation of U8S8 on AVX2
 *   and AVX-512 without VNNI, and `reduce_range`; reproduced in src/export/onnx.ts `OnnxOptions.reduceRange`)
 */
export function quantizeWeightsPerChannel(weights: Float32Array, channels: number, channelOf: (index: number) => number = (i) => i % channels, limit = 127): ChannelQuantizedWeights {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < weights.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(weights[i]!);
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / limit : 1;
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    values[i] = Math.max(-limit, Math.min(limit, Math.round(weights[i]! / scales[channelOf(i)]!)));
  }
  return { values, scales };
}

/**
 * Int32 bias for an int8 convolution or dense layer: `q[c] = round(bias[c] / (inputScale * weightScales[c]))`, the
 * scale TFLite and ONNX's QLinearConv require (zero point 0).
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { values: Int32Array; scales: Float32Array } {
  const values = new Int32Array(bias.length);
  const scales = new Float32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    scales[c] = inputScale * weightScales[c]!;
    values[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(bias[c]! / scales[c]!)));
  }
  return { values, scales };
}

/** Parses `--quantize`: `float32` (or absent), `float16`, `int8`. @throws HwrError `BAD_ARGUMENT` naming the choices. */
export function parseQuantizeMode(value: string | undefined): QuantizeMode {
  if (value === undefined || value === 'float32' || value === 'none') return 'float32';
  if (value === 'float16' || value === 'int8') return value;
  throw hwrError('BAD_ARGUMENT', `--quantize: expected float16 or int8 (or float32 for none), got "${value}"`);
}

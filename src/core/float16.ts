/**
 * IEEE 754 half precision (binary16) encoding, shared by the model writers (TF.js weights, ONNX, TFLite). Imports
 * nothing Node-only.
 */

/**
 * Converts float32 values to IEEE 754 half precision (round to nearest even), as TF.js's
 * float16 weight quantization expects (`tfjs-core/src/io/io_utils.ts`, `getFloat16Decoder`).
 */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
      } else {
        mantissa |= 0x800000;
        const shift = 14 - e;
        let half = mantissa >> shift;
        const rest = mantissa & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rest > halfway || (rest === halfway && half & 1)) half++;
        out[i] = sign | half;
      }
    } else {
      let half = (e << 10) | (mantissa >> 13);
      const rest = mantissa & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
      out[i] = sign | half;
    }
  }
  return out;
}

/**
 * Convolution + bias + ReLU of a training step as one `FusedConv2D` kernel, with the lazy gradient of
 * `gradients/FusedConv2D_grad.ts`, instead of tfjs-core's unfused chain.
 *
 * Why: tfjs-core's `fused.conv2d` fuses only when no gradient tape records or the activation is linear
 * (tfjs-core ops/fused_util.ts `shouldFuse`), so in training a `tf.layers.conv2d({ activation: 'relu' })` runs
 * `Conv2D`, `Add` (bias) and `Relu`, three passes over the output and three tape nodes (the seed CNN: about
 * 1.4 ms of Add and Relu per step, notes/PERFORMANCE.md, 2026-11-30 session 21). tfjs-core's fused op has a
 * gradient for 'relu' (`getFusedDyActivation`), and the wasm `FusedConv2D` kernel (kernels/FusedConv2D.ts) adds the
 * bias and applies the ReLU in one pass over the convolution's output.
 *
 * `installConvReluTraining` patches the `call` of tfjs-layers' `Conv2D` class (found in the serialization registry,
 * as `installBatchNormTraining` does, so no layer is created and no layer-name counter moves). While a gradient
 * tape records, on the 'wasm' backend, for a 2-D convolution with a ReLU activation, NHWC, dilation 1 and a float32
 * rank-4 input, the patched call runs `fusedConv2dTraining`; everything else (inference, other activations, other
 * backends, the switch off) runs the original `call`. Class, config and weights are untouched, so saved models load
 * and predict as before. Where the layer's only reader is a 2x2 max pooling (src/backend/convReluPool.ts), a convolution
 * of one input channel runs with the pooling as one kernel (`convReluPoolLayer`), and one whose last output row or
 * column the pooling never reads convolves a cropped input (`poolCroppedInput`).
 *
 * Results: the forward values are the same operations in the same order (the convolution, then + bias, then
 * max(., 0)); the gradient is ReLU's (dy where y > 0, NaN where y is NaN, else +0; `HwrReluGrad` on the activation's
 * output, where y > 0 exactly when the pre-activation is) followed by the same bias sum and convolution gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { layerPrototype, type PoolingLayerConfig, singleInput } from './layerPatch.ts';
import { convReluPoolLayer, poolCroppedInput } from './convReluPool.ts';

/** The parts of tfjs-layers' Conv2D layer that the patched `call` reads. */
interface Conv2DLayer {
  rank: number;
  kernel: { read(): tf.Tensor } | null;
  bias: { read(): tf.Tensor } | null;
  activation: { getClassName(): string } | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  outboundNodes?: Array<{ outboundLayer?: PoolingLayerConfig }>;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

let enabled = true;

/** Turns the fused training path off (`false`: tfjs-core's Conv2D, Add and Relu) or back on, for A/B benchmarks and tests. */
export function setConvReluTrainingEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the patched `call` takes the fused path for `layer` on `input` (see the module comment). */
export function convReluTrainingApplies(layer: Conv2DLayer, input: tf.Tensor): boolean {
  if (!enabled || (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth === 0) return false;
  if (layer.rank !== 2 || layer.kernel == null || layer.activation?.getClassName() !== 'relu') return false;
  if (input.dtype !== 'float32' || input.rank !== 4 || layer.dataFormat !== 'channelsLast') return false;
  const dilations = Array.isArray(layer.dilationRate) ? layer.dilationRate : [layer.dilationRate];
  if (dilations.some((d) => d !== 1) || (layer.padding !== 'same' && layer.padding !== 'valid')) return false;
  return tf.getBackend() === 'wasm';
}

/**
 * relu(conv2d(x, filter) + bias) through the `FusedConv2D` kernel, differentiable in x, filter and bias also while
 * a tape records (tfjs-core's fused branch of `fused.conv2d`, recorded under the same tape name, `fusedConv2d__op`,
 * so the gradient registered by `installFusedConv2DGradient` applies).
 * @param x float32 [batch, inH, inW, inC] (NHWC)
 * @param filter float32 [fH, fW, inC, outC]
 * @param bias float32 [outC], or null for none
 * @param strides [strideH, strideW]
 * @param pad 'same' or 'valid'
 * @returns float32 [batch, outH, outW, outC]
 */
export function fusedConv2dTraining(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, strides: [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  return fusedConvOp(x, filter, bias, strides, pad);
}

const fusedConvOp = tf.op({
  // The key names the tape node: op() turns 'fusedConv2d_' into tfjs-core's own scope name 'fusedConv2d__op'.
  fusedConv2d_: (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, strides: [number, number], pad: 'same' | 'valid'): tf.Tensor4D => {
    const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, activation: 'relu' };
    const run = (inputs: tf.NamedTensorMap) => tf.engine().runKernel(tf.FusedConv2D, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    // The registered gradient (FusedConv2D_grad.ts) replaces this one; it is only reached if none is registered.
    const unregistered = () => {
      throw new Error('fusedConv2dTraining: no gradient registered for fusedConv2d__op (call installFusedConv2DGradient)');
    };
    if (bias == null) {
      return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const [xs, ws, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
        const y = run({ x: xs, filter: ws });
        save([ws, xs, y]);
        return { value: y, gradFunc: unregistered };
      })(x, filter) as tf.Tensor4D;
    }
    return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xs, ws, bs, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const y = run({ x: xs, filter: ws, bias: bs });
      save([ws, xs, y, bs]);
      return { value: y, gradFunc: unregistered };
    })(x, filter, bias) as tf.Tensor4D;
  },
});

let installed = false;

/**
 * Patches `Conv2D.prototype.call` of tfjs-layers (see the module comment). Needs the lazy fused-conv gradient
 * (`installFusedConv2DGradient`, part of `registerTrainingGradients`). Idempotent; affects every model of this
 * thread, built before or after.
 * @throws Error when tfjs-layers' Conv2D class is not registered (tfjs-layers not loaded).
 */
export function installConvReluTraining(): void {
  if (installed) return;
  const proto = layerPrototype<Conv2DLayer>('Conv2D');
  if (!proto) throw new Error('installConvReluTraining: tfjs-layers Conv2D is not registered');
  installed = true;
  const original = proto.call;
  proto.call = function (this: Conv2DLayer, inputs, kwargs) {
    const input = singleInput(inputs);
    if (!input || !convReluTrainingApplies(this, input)) return original.call(this, inputs, kwargs);
    // A one-channel convolution that only a 2x2 max pooling reads: all three in one kernel (src/backend/convReluPool.ts).
    const pooled = convReluPoolLayer(this, input);
    if (pooled) return pooled;
    return tf.tidy(() => fusedConv2dTraining(poolCroppedInput(this, input) as tf.Tensor4D, this.kernel!.read() as tf.Tensor4D,
      this.bias ? (this.bias.read() as tf.Tensor1D) : null, this.strides as [number, number], this.padding as 'same' | 'valid'));
  };
}

/**
 * A convolution + ReLU + 2x2 max-pooling block in training (the seed CNN's) with the pooling's and the ReLU's
 * gradients in one pass: the MaxPooling2D layer, reading the output of a convolution whose ReLU ran in its
 * `FusedConv2D` kernel (src/backend/convReluTraining.ts), pools with `HwrReluMaxPool`, whose gradient writes the
 * ReLU-masked gradient of the convolution's output directly (kernels/ReluMaxPool.ts). That gradient's data is
 * marked with its bias sums (`markReluMaskedGradient`), and the fused convolution's gradient
 * (gradients/FusedConv2D_grad.ts) then skips its ReLU gradient and bias sum: the gradient the same values, bit for bit,
 * as MaxPoolGrad followed by `HwrReluGradSum`, the bias gradient float64 sums of the same values in another order,
 * without writing and reading a full-size gradient twice more (notes/PERFORMANCE.md, session 24).
 *
 * The pooling layer's forward output is `maxPool`'s, unchanged. Where the convolution's output has another reader, its
 * accumulated gradient is a new tensor (a sum) without the mark and gets the ReLU gradient as before, which leaves the
 * pooling's already-masked part unchanged. `installConvReluPool` patches tfjs-layers' `MaxPooling2D.call` (pool 2,
 * stride 2, 'valid', NHWC, training, wasm with the SIMD kernels, C % 4 == 0); `setConvReluPoolEnabled(false)` turns
 * it off for A/B benchmarks and tests.
 *
 * A convolution of one input channel (a first layer: the seed CNN's 28x28x1 -> 26x26x32) goes further: its Conv2D layer,
 * when its only reader is such a pooling, runs convolution, ReLU and pooling as one kernel (`HwrConvReluPool`,
 * kernels/ConvReluPool.ts) and the pooling layer passes the result on (`markPoolApplied`). Its gradient computes the
 * filter and bias gradients straight from the pooled gradient and the forward's window codes
 * (`HwrConvReluPoolGrad`), and the input gradient, where something needs it, through the full-size gradient
 * (`HwrConvReluPoolExpand`, then Conv2DBackpropInput). `convReluPoolLayer` is the Conv2D patch's entry
 * (src/backend/convReluTraining.ts); `setFusedConvReluPoolEnabled(false)` turns it off.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { isMaxPool2x2, layerPrototype, markPoolApplied, poolAppliedTo, type PoolingLayerConfig, readOnlyByMaxPool2x2, singleInput, trackModelOutputLayers } from './layerPatch.ts';
import { isReluConvOutput, markReluMaskedGradient } from './gradients/FusedConv2D_grad.ts';
import { RELU_MAX_POOL, RELU_MAX_POOL_GRAD, reluMaxPoolApplies, reluMaxPoolKernelConfigs } from './kernels/ReluMaxPool.ts';
import { CONV_RELU_POOL, CONV_RELU_POOL_EXPAND, CONV_RELU_POOL_GRAD, convReluPoolApplies, convReluPoolInfo, convReluPoolKernelConfigs } from './kernels/ConvReluPool.ts';
import { registerMissingKernels } from './kernels/wasm_util.ts';

/** Gradient of `HwrReluMaxPool`: the ReLU-masked gradient of x, marked with its per-channel sums. */
export const reluMaxPoolGradConfig: tf.GradConfig = {
  kernelName: RELU_MAX_POOL,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved as [tf.Tensor];
    const [dx, sums] = tf.engine().runKernel(RELU_MAX_POOL_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor[];
    markReluMaskedGradient(dx!, sums!);
    return { x: () => dx! };
  },
};

/** The tape name of `convReluPoolOp`'s `customGrad` node (tfjs-core's `op` appends '_op' to the key 'convReluPool_'). */
export const CONV_RELU_POOL_OP = 'convReluPool__op';

/** The forward's padding and filter shape by the data id of its codes (saved for the gradient; weak: no leak). */
const forwardAttrs = new WeakMap<object, { pad: 'valid' | 'same'; filterShape: number[] }>();

/**
 * Gradient config for the tape name `convReluPool__op`. Saved tensors: x [B, H, W, 1], filter [fH, fW, 1, Co], codes
 * (the forward's). Lazy gradients for x (key '0': the full-size gradient through Conv2DBackpropInput), filter ('1') and
 * bias ('2'), the last two from one `HwrConvReluPoolGrad` call made at once.
 * @throws Error when the forward's attributes are missing (the op did not run `HwrConvReluPool`).
 */
export const convReluPoolGradConfig: tf.GradConfig = {
  kernelName: CONV_RELU_POOL_OP,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x, filter, codes] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor];
    const attrs = forwardAttrs.get(codes.dataId);
    if (!attrs) throw new Error(`${CONV_RELU_POOL_OP} gradient: the forward's attributes were not recorded`);
    const engine = tf.engine();
    // Both from one kernel call, made here: the engine runs each input's function in a tidy of its own, which would
    // dispose the other result. (The engine calls this only when an input leads back to a variable, and a trained
    // first layer needs both.)
    const [dfilter, dbias] = engine.runKernel(CONV_RELU_POOL_GRAD, { x, dy: dy as tf.Tensor, codes },
      attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor];
    return {
      0: () => {
        const { outShape } = convReluPoolInfo(x.shape, attrs.filterShape, attrs.pad);
        const full = engine.runKernel(CONV_RELU_POOL_EXPAND, { dy: dy as tf.Tensor, codes }, { outShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return engine.runKernel(tf.Conv2DBackpropInput, { dy: full, filter },
          { strides: [1, 1], pad: attrs.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
      1: () => dfilter,
      2: () => dbias,
    };
  },
};

/**
 * maxPool2x2(relu(conv2d(x, filter, stride 1, pad) + bias)) through `HwrConvReluPool`, differentiable in x, filter and
 * bias while a tape records (the registered `convReluPoolGradConfig`).
 * @param x float32 [B, H, W, 1] (NHWC)
 * @param filter float32 [fH, fW, 1, Co], Co % 8 == 0
 * @param bias float32 [Co], or null for none
 * @returns float32 [B, OH/2, OW/2, Co] for the convolution's output size OH x OW
 * @throws Error where `convReluPoolApplies` is false
 */
export function convReluPoolOp(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, pad: 'valid' | 'same'): tf.Tensor4D {
  return convReluPoolOpFn(x, filter, bias, pad);
}

const convReluPoolOpFn = tf.op({
  convReluPool_: (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, pad: 'valid' | 'same'): tf.Tensor4D => {
    const run = (inputs: tf.NamedTensorMap, save: tf.GradSaveFunc, xs: tf.Tensor, ws: tf.Tensor) => {
      const [pooled, codes] = tf.engine().runKernel(CONV_RELU_POOL, inputs, { pad }) as [tf.Tensor4D, tf.Tensor];
      forwardAttrs.set(codes.dataId, { pad, filterShape: ws.shape.slice() });
      save([xs, ws, codes]);
      return pooled;
    };
    // The registered gradient replaces this one; it is only reached if none is registered.
    const unregistered = () => {
      throw new Error(`convReluPoolOp: no gradient registered for ${CONV_RELU_POOL_OP} (call installConvReluPool)`);
    };
    if (bias == null) {
      return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const [xs, ws, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
        return { value: run({ x: xs, filter: ws }, save, xs, ws), gradFunc: unregistered };
      })(x, filter) as tf.Tensor4D;
    }
    return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xs, ws, bs, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      return { value: run({ x: xs, filter: ws, bias: bs }, save, xs, ws), gradFunc: unregistered };
    })(x, filter, bias) as tf.Tensor4D;
  },
});

let fusedEnabled = true;

/** Runs a one-channel convolution + ReLU + 2x2 max pooling as one kernel in training (default, `true`) or not. */
export function setFusedConvReluPoolEnabled(on: boolean): void {
  fusedEnabled = on;
}

/** The parts of tfjs-layers' Conv2D layer that `convReluPoolLayer` reads. */
interface Conv2DLayerLike {
  kernel: { read(): tf.Tensor } | null;
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: string;
  outboundNodes?: Array<{ outboundLayer?: PoolingLayerConfig }>;
}

/**
 * For the patched Conv2D call in training (src/backend/convReluTraining.ts, which has checked a ReLU activation, NHWC
 * and dilation 1): the pooled output of `layer` on `input` through `convReluPoolOp`, marked so that the MaxPooling2D
 * layer after it passes it on, where that pooling is the layer's only reader and the kernels apply (stride 1, one input
 * channel, wasm SIMD); else undefined (the caller runs the convolution alone).
 */
export function convReluPoolLayer(layer: Conv2DLayerLike, input: tf.Tensor): tf.Tensor | undefined {
  if (!fusedEnabled || !enabled || !installed || layer.kernel == null || layer.strides.some((s) => s !== 1)) return undefined;
  if (!readOnlyByMaxPool2x2(layer) || input.dtype !== 'float32') return undefined;
  const filter = layer.kernel.read();
  if (!convReluPoolApplies(tf.backend(), input.shape, filter.shape, layer.padding)) return undefined;
  const out = tf.tidy(() => convReluPoolOp(input as tf.Tensor4D, filter as tf.Tensor4D, layer.bias ? (layer.bias.read() as tf.Tensor1D) : null,
    layer.padding as 'valid' | 'same'));
  markPoolApplied(out);
  return out;
}

let cropEnabled = true;

/**
 * Crops the input of a convolution whose odd output row or column no pooling window reads (default, `true`), or not.
 * The same values either way; for A/B benchmarks and tests.
 */
export function setConvPoolCropEnabled(on: boolean): void {
  cropEnabled = on;
}

/**
 * For the patched Conv2D call in training: `input` cropped to the rows and columns that the kept outputs read, where
 * the layer's only reader is a 2x2 stride-2 'valid' max pooling, the padding is 'valid' and the output height or width
 * is odd (the pooling never reads the last output row or column: the seed CNN's 11x11 and 3x3 outputs); else `input`
 * itself. The convolution then computes 10x10 (or 2x2) outputs instead of 11x11 (or 3x3): 17% (or 56%) fewer, on a
 * size the Winograd tiles cover exactly (F(5x5), F(2x2)); the crop's gradient (tfjs-core's slice gradient, a pad) puts
 * zeros where the dropped inputs' gradient is zero anyway. Pooled values and gradients are the same, up to the
 * convolution algorithm's rounding.
 */
export function poolCroppedInput(layer: Conv2DLayerLike & { dilationRate: number | number[] }, input: tf.Tensor): tf.Tensor {
  if (!cropEnabled || layer.padding !== 'valid' || layer.kernel == null || input.rank !== 4 || !readOnlyByMaxPool2x2(layer)) return input;
  const info = tf.backend_util.computeConv2DInfo(input.shape as [number, number, number, number],
    layer.kernel.read().shape as [number, number, number, number], layer.strides as [number, number],
    layer.dilationRate as number | [number, number], 'valid');
  const { outHeight: OH, outWidth: OW } = info;
  if (OH < 2 || OW < 2 || (OH % 2 === 0 && OW % 2 === 0)) return input;
  // The input rows (columns) that the first OH & ~1 output rows (columns) read.
  const Hc = ((OH & ~1) - 1) * info.strideHeight + info.effectiveFilterHeight;
  const Wc = ((OW & ~1) - 1) * info.strideWidth + info.effectiveFilterWidth;
  return tf.slice(input, [0, 0, 0, 0], [info.batchSize, Hc, Wc, info.inChannels]);
}

let enabled = true;

/** Pools a ReLU convolution's output with `HwrReluMaxPool` in training (default, `true`) or with MaxPool (`false`). */
export function setConvReluPoolEnabled(on: boolean): void {
  enabled = on;
}

/** The parts of tfjs-layers' MaxPooling2D layer that the patched `call` reads. */
interface MaxPooling2DLayer extends PoolingLayerConfig {
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

let installed = false;

/**
 * Registers the kernels and the gradient and patches `MaxPooling2D.prototype.call` (see the module comment).
 * Idempotent; affects every model of this thread.
 */
export function installConvReluPool(): void {
  if (installed) return;
  installed = true;
  trackModelOutputLayers();
  registerMissingKernels([...reluMaxPoolKernelConfigs, ...convReluPoolKernelConfigs]);
  tf.registerGradient(reluMaxPoolGradConfig);
  tf.registerGradient(convReluPoolGradConfig);
  const proto = layerPrototype<MaxPooling2DLayer>('MaxPooling2D');
  if (!proto) return;
  const original = proto.call;
  proto.call = function (this: MaxPooling2DLayer, inputs, kwargs) {
    const input = singleInput(inputs);
    // A convolution that pooled already (convReluPoolLayer): its output as it is (a clone: same data, no kernel).
    if (input && poolAppliedTo(input)) return input;
    if (enabled && kwargs?.['training'] && input && input.dtype === 'float32' && isReluConvOutput(input) && isMaxPool2x2(this)
      && reluMaxPoolApplies(tf.backend(), input.shape)) {
      return tf.engine().runKernel(RELU_MAX_POOL, { x: input }, {}) as tf.Tensor;
    }
    return original.call(this, inputs, kwargs);
  };
}

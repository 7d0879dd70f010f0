/**
 * Gradient of `tf.fused.conv2d` (tfjs-core/src/ops/fused/conv2d.ts) with lazily computed input and filter gradients.
 *
 * tfjs-core runs the fused convolution through `customGrad`, whose gradient function computes every input's
 * gradient eagerly: the input gradient (`Conv2DBackpropInput`) of a network's first layer, which nothing consumes,
 * cost 2.9 to 6.9 ms of a 90 to 110 ms hwr-net training step (notes/PERFORMANCE.md, 2026-11-30). The engine records
 * a `customGrad` op on its tape under the op's scope name (`fusedConv2d__op`) and looks that name up in the gradient
 * registry before it falls back to the op's own function (tfjs-core engine.ts `addTapeNode`), so a gradient
 * registered under that name replaces the eager one. Registered gradients return one function per input, and the
 * engine calls only those of inputs that lead back to a variable (tfjs-core tape.ts `getFilteredNodesXToY`): the
 * first layer's input gradient is then never computed. The derivatives are the same ops with the same arguments as
 * tfjs-core's (`Conv2DBackpropInput`, `Conv2DBackpropFilter`, the bias sum), so the gradients are bit-identical.
 *
 * The op's attributes (strides, padding, activation) are not on the tape node; `installFusedConv2DGradient` wraps
 * the engine's `runKernel` to remember them for every `FusedConv2D` kernel call made while a gradient tape records,
 * keyed by the output's data id (the op saves that output, sharing its data, for its gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELU_GRAD, RELU_GRAD_SUM, reluGradSumApplies } from '../kernels/ReluGrad.ts';
import type { WasmBackend } from '../kernels/wasm_util.ts';
import { simdKernels } from '../simd/index.ts';
import { deferrableConvolution, deferredFilterGradient, isDeferred, materializeDeferred } from '../batchNormConvGradient.ts';

/** The tape name of `tf.fused.conv2d`'s `customGrad` node: the op's scope (tfjs-core ops/operation.ts `op`). */
export const FUSED_CONV2D_OP = 'fusedConv2d__op';

/** FusedConv2D attributes by the data id of the kernel's output, while a tape records (weak: no leak). */
const attrsByOutput = new WeakMap<object, tf.FusedConv2DAttrs>();

/**
 * Whether `t` is the output of a `FusedConv2D` with a ReLU activation run while a gradient tape records (its data:
 * a layer's clone counts too): src/backend/convReluPool.ts pools such outputs with positions.
 */
export function isReluConvOutput(t: tf.Tensor): boolean {
  return attrsByOutput.get(t.dataId)?.activation === 'relu';
}

/**
 * The attributes of the `FusedConv2D` whose output `t` is (its data), where it ran while a gradient tape recorded with no
 * activation (`'linear'` or none): src/backend/batchNormTraining.ts defers a batch norm's gradient for such outputs.
 */
export function linearConvOutputAttrs(t: tf.Tensor): tf.FusedConv2DAttrs | undefined {
  const attrs = attrsByOutput.get(t.dataId);
  return attrs && (attrs.activation == null || attrs.activation === 'linear') ? attrs : undefined;
}

/** Upstream gradients that already went through the ReLU's gradient, by data id, with their sums (see below). */
const reluMasked = new WeakMap<object, tf.Tensor>();

/**
 * Marks `gradient` (of a ReLU convolution's output) as already masked by the ReLU's gradient, with `sums` [outC], its
 * sums over every axis but the last: `HwrReluMaxPoolGrad` writes MaxPoolGrad's result followed by the ReLU's
 * gradient and sums it (src/backend/convReluPool.ts). The fused convolution's gradient then uses both as they are
 * instead of `HwrReluGradSum`. Both tensors live until the end of the backward pass (the engine's scope).
 */
export function markReluMaskedGradient(gradient: tf.Tensor, sums: tf.Tensor): void {
  reluMasked.set(gradient.dataId, sums);
}

interface EngineInternals {
  runKernel(name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor | tf.Tensor[];
  state: { gradientDepth: number };
}

/**
 * Gradient config for the tape name `fusedConv2d__op`. Saved tensors (tfjs-core's order): filter
 * [fH, fW, inC, outC], x [batch, inH, inW, inC], y [batch, outH, outW, outC], optional bias; all float32 NHWC.
 * Returns lazy gradients for x (key '0'), filter ('1') and bias ('2', when the op had one).
 * @throws Error when the op's attributes were not recorded (`installFusedConv2DGradient` not called before the
 *   forward pass) or the activation has no gradient in tfjs-core either (anything but 'linear' and 'relu').
 */
export const fusedConv2DGradConfig: tf.GradConfig = {
  kernelName: FUSED_CONV2D_OP,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [filter, x4D, y, bias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
    const attrs = attrsByOutput.get(y.dataId);
    if (!attrs) throw new Error('fused conv2d gradient: the forward attributes were not recorded (call installFusedConv2DGradient first)');
    const { strides, pad, dataFormat, dilations, activation } = attrs;
    if (dataFormat !== 'NHWC') throw new Error(`Error in gradient of fused conv2D: got dataFormat of ${dataFormat} but only NHWC is currently supported.`);
    const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations ?? [1, 1];
    if (dh !== 1 || dw !== 1) throw new Error(`Error in gradient of fused conv2D: dilation rates greater than 1 are not yet supported in gradients. Got dilations '${dilations}'`);
    const engine = tf.engine();
    // A batch norm's gradient whose values are deferred (src/backend/batchNormConvGradient.ts): written now unless only
    // the filter gradient, which can do without them, reads it.
    const deferredDy = isDeferred(dy as tf.Tensor);
    if (deferredDy && ((activation != null && activation !== 'linear') || bias != null)) materializeDeferred(dy as tf.Tensor);
    // An upstream gradient already masked by the ReLU's gradient (a max pooling with positions after this layer).
    const maskedSums = activation === 'relu' ? reluMasked.get((dy as tf.Tensor).dataId) : undefined;
    const masked = maskedSums !== undefined && !maskedSums.isDisposed;
    // A bias under a ReLU on wasm: the ReLU gradient and the bias gradient in one pass (the same values).
    const oneKernel = !masked && bias != null && activation === 'relu' && tf.getBackend() === 'wasm' && y.dtype === 'float32'
      && reluGradSumApplies(tf.backend() as WasmBackend, y.shape) && bias.size === y.shape[3];
    const [dyActivation, biasSums] = masked
      ? [dy as tf.Tensor, bias != null && bias.size === maskedSums.size ? maskedSums : undefined]
      : oneKernel
        ? engine.runKernel(RELU_GRAD_SUM, { dy: dy as tf.Tensor, x: y }) as [tf.Tensor, tf.Tensor]
        : [fusedDyActivation(dy as tf.Tensor, y, activation), undefined];
    const grads: Record<string, () => tf.Tensor> = {
      0: () => {
        if (deferredDy) materializeDeferred(dyActivation);
        return engine.runKernel(tf.Conv2DBackpropInput, { dy: dyActivation, filter },
          { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: x4D.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
      1: () => {
        if (deferredDy) {
          const dW = strides !== undefined && deferrableConvolution(filter.shape, strides, pad, dilations) ? deferredFilterGradient(x4D, filter, dyActivation) : undefined;
          if (dW) return dW;
          materializeDeferred(dyActivation);
        }
        return engine.runKernel(tf.Conv2DBackpropFilter, { x: x4D, dy: dyActivation },
          { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
    };
    if (bias && biasSums) grads[2] = () => tf.reshape(biasSums, bias.shape);
    else if (bias) {
      grads[2] = () => {
        const axes = tf.backend_util.getReductionAxes(bias.shape, dyActivation.shape);
        return tf.reshape(axes.length > 0 ? tf.sum(dyActivation, axes) : dyActivation, bias.shape);
      };
    }
    if (lazy) return grads;
    // tfjs-core's behaviour (A/B benchmarks): every gradient computed now.
    const eager = Object.fromEntries(Object.entries(grads).map(([k, f]) => [k, f()]));
    return Object.fromEntries(Object.keys(eager).map((k) => [k, () => eager[k]!]));
  },
};

/**
 * tfjs-core's `getFusedDyActivation`: dy through the fused activation's derivative (y is the activation's output).
 * For 'relu' on the wasm backend with kernels.wasm, one `HwrReluGrad` pass (dy where y > 0, NaN where y is NaN, else
 * +0) instead of tfjs-core's Step and Multiply (the same values, but -0 where dy < 0 and y = 0).
 */
function fusedDyActivation(dy: tf.Tensor, y: tf.Tensor, activation: string | undefined): tf.Tensor {
  if (activation == null || activation === 'linear') return dy;
  if (activation === 'relu') {
    const simd = tf.getBackend() === 'wasm' && y.dtype === 'float32' && simdKernels(tf.backend() as WasmBackend) !== undefined;
    return simd ? (tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as tf.Tensor) : tf.mul(dy, tf.step(y));
  }
  throw new Error(`Cannot compute gradient for fused activation ${activation}.`);
}

let lazy = true;

/** Computes every gradient of the fused convolution, as tfjs-core does (`false`), or only the needed ones (default). */
export function setLazyFusedConv2DGradient(on: boolean): void {
  lazy = on;
}

let installed = false;

/**
 * Installs the lazy fused-conv2d gradient: registers `fusedConv2DGradConfig` and wraps the engine's `runKernel` to
 * record each `FusedConv2D` call's attributes while a gradient tape records (`state.gradientDepth > 0`; one
 * comparison per kernel call otherwise). Idempotent; affects every backend.
 */
export function installFusedConv2DGradient(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  const runKernel = engine.runKernel;
  engine.runKernel = function (this: EngineInternals, name, inputs, attrs) {
    const out = runKernel.call(this, name, inputs, attrs);
    if (name === tf.FusedConv2D && this.state.gradientDepth > 0 && !Array.isArray(out)) {
      attrsByOutput.set(out.dataId, attrs as unknown as tf.FusedConv2DAttrs);
    }
    return out;
  };
  tf.registerGradient(fusedConv2DGradConfig);
}

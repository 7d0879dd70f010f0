/**
 * Batch normalization in training mode as one forward and one backward kernel (`HwrBatchNormTrain`,
 * `HwrBatchNormTrainGrad`, src/backend/kernels/BatchNormTraining.ts) instead of tfjs-layers' chain of `tf.moments`,
 * `tf.batchNorm` and their gradients (about twenty element-wise kernels per layer and step).
 *
 * `installBatchNormTraining` patches the `call` of tfjs-layers' `BatchNormalization` class (found in the
 * serialization registry, so no layer is created and no layer-name counter moves). In training mode, for a float32
 * input normalized over its last axis with `center` and `scale` (the defaults, and every hwr model), on a backend
 * that has the kernel ('wasm', 'cpu'), the patched call computes the output and the batch statistics with
 * `batchNormTraining` and updates the moving averages exactly as tfjs-layers does
 * (tfjs-layers/src/layers/normalization.ts: moving = moving - (moving - batch) * (1 - momentum), with the biased
 * batch variance). Everything else (inference, other axes, `center`/`scale` off, other backends, a disabled switch)
 * runs the original `call`. The layer's class, config, weights and their names are untouched, so saved models load
 * and predict as before. A ReLU layer that is the batch norm's only reader is fused into it in training
 * (`reluFollows`, `setBatchNormReluFusionEnabled`), and so is a 2x2 max-pooling layer that is that ReLU's only reader
 * (`poolFollows`, `setBatchNormReluPoolFusionEnabled`).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { layerPrototype, markPoolApplied, poolAppliedTo, type PoolingLayerConfig, readOnlyByMaxPool2x2, singleInput, soleReader, trackModelOutputLayers } from './layerPatch.ts';
import {
  BATCH_NORM_RELU_POOL,
  BATCH_NORM_RELU_POOL_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  type BatchNormTrainAttrs,
  batchNormReluPoolApplies,
  MOVING_AVERAGES,
  registerBatchNormTrainingKernels,
} from './kernels/BatchNormTraining.ts';
import { deferrableConvolution, deferredBatchNormPoolGradient, markDeferrableConvOutput } from './batchNormConvGradient.ts';
import { linearConvOutputAttrs } from './gradients/FusedConv2D_grad.ts';

/**
 * Gradient of `HwrBatchNormTrain`: one `HwrBatchNormTrainGrad` call for dx, dgamma and dbeta. Upstream gradients of
 * the mean and variance outputs (zeros from the engine when only y leads to the loss) enter dx.
 */
export const batchNormTrainGradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ['x', 'gamma'],
  // y for a fused ReLU's mask; without one it is kept alive until the backward pass, as the ReLU layer after every
  // hwr batch norm keeps it anyway.
  outputsToSave: [true, true, true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [dy, dmean, dvariance] = dys as tf.Tensor[];
    const [x, gamma, y, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const inputs = { dy: dy!, x, mean, variance, gamma, dmean: dmean!, dvariance: dvariance!, ...((attrs as unknown as BatchNormTrainAttrs).relu ? { y } : {}) };
    const [dx, dgamma, dbeta] = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, inputs, attrs) as tf.Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
};

/**
 * Gradient of `HwrBatchNormReluPool`: one `HwrBatchNormReluPoolGrad` call from the pooled output's gradient, x and the
 * statistics (it finds the windows' winners again from x, gamma and beta).
 */
export const batchNormReluPoolGradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_RELU_POOL,
  inputsToSave: ['x', 'gamma', 'beta'],
  outputsToSave: [false, true, true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [dy, dmean, dvariance] = dys as tf.Tensor[];
    const [x, gamma, beta, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const inputs = { dy: dy!, x, mean, variance, gamma, beta, dmean: dmean!, dvariance: dvariance! };
    // For a one-channel convolution's output, dx stays unwritten unless its reader needs it (batchNormConvGradient.ts).
    const [dx, dgamma, dbeta] = deferredBatchNormPoolGradient(inputs, attrs)
      ?? tf.engine().runKernel(BATCH_NORM_RELU_POOL_GRAD, inputs, attrs) as tf.Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
};

/**
 * Batch normalization in training, a ReLU and 2x2 max pooling (stride 2, 'valid') as one kernel: the output of the
 * three layers apart, bit for bit, with half their memory traffic (notes/PERFORMANCE.md, session 24).
 * @param x float32 [B, H, W, C], H and W even, C % 4 == 0
 * @param gamma float32 [C]; @param beta float32 [C]
 * @returns [pooled float32 [B, H/2, W/2, C], mean float32 [C], variance float32 [C] (biased)]
 * @throws Error where the wasm backend's SIMD kernels do not cover x (`batchNormReluPoolApplies`)
 */
export function batchNormReluPool(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, varianceEpsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(BATCH_NORM_RELU_POOL, { x, gamma, beta }, { varianceEpsilon }) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * Batch normalization with batch statistics over every axis but the last (differentiable in x, gamma, beta).
 * @param x float32 [..., C] (rank >= 1)
 * @param gamma float32 [C], the scale
 * @param beta float32 [C], the offset
 * @param varianceEpsilon added to the variance under the square root
 * @param relu return max(0, y) (a ReLU fused after the batch norm; the gradient masks by y > 0). Default false.
 * @returns [y float32 of x's shape, mean float32 [C], variance float32 [C] (biased, as `tf.moments`)]
 * @throws Error when the active backend has no `HwrBatchNormTrain` kernel (call `installBatchNormTraining` first;
 *   'wasm' and 'cpu' have one).
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, varianceEpsilon: number, relu = false): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const attrs: BatchNormTrainAttrs = { varianceEpsilon, relu };
  return tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** The parts of tfjs-layers' BatchNormalization that the patched `call` reads. */
interface BatchNormalizationLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: LayerVariableLike | null;
  beta: LayerVariableLike | null;
  movingMean: LayerVariableLike;
  movingVariance: LayerVariableLike;
  /** The graph nodes that read this layer's output (tfjs-layers' `Layer.outboundNodes`). */
  outboundNodes?: Array<{ outboundLayer?: OutboundLayer }>;
  /** The graph nodes whose layers feed this one (tfjs-layers' `Layer.inboundNodes`). */
  inboundNodes?: Array<{ inboundLayers?: InboundLayer[] }>;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** What the fusion checks read of the layers after a batch norm (ReLU, MaxPooling2D). */
interface OutboundLayer extends PoolingLayerConfig {
  maxValue?: number | null;
  outboundNodes?: Array<{ outboundLayer?: OutboundLayer }>;
}

/** What the deferred convolution gradient's check reads of the layer before a batch norm. */
interface InboundLayer {
  getClassName(): string;
  kernel?: { shape: number[] } | null;
  bias?: unknown;
  /** The graph nodes that read the layer's output (`soleReader`). */
  outboundNodes?: Array<{ outboundLayer?: unknown }>;
}

interface LayerVariableLike {
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}

let enabled = true;
let movingAveragesKernel = true;
let reluFusion = true;

/**
 * Outputs of batch-norm layers that already applied the ReLU layer that follows them (see `reluFollows`); that ReLU
 * layer passes them on unchanged.
 */
const reluApplied = new WeakSet<tf.Tensor>();

/**
 * Fuses a ReLU layer into the batch norm before it in training (default, `true`), or not (`false`: the ReLU layer
 * runs its own kernels, as before session 22). Bit-identical either way. For A/B benchmarks and tests.
 */
export function setBatchNormReluFusionEnabled(on: boolean): void {
  reluFusion = on;
}

/**
 * Whether the only reader of `layer`'s output in the layer graph is a plain ReLU layer (tfjs-layers' `ReLU`, no
 * `maxValue`): hwr-net's and hccr-vgg's conv, batch norm, ReLU blocks. Then the batch norm applies the ReLU inside its
 * kernel (one pass less forward, and the ReLU's gradient pass folds into the batch norm's backward) and the ReLU
 * layer passes the result on. Values and gradients are those of the two layers apart, bit for bit. A batch norm whose
 * output something else reads (a second layer, or a model output ending at it with the ReLU elsewhere) would see the
 * ReLU applied, so it is fused only when the graph shows the ReLU as its sole reader; a layer called outside a model
 * (no outbound nodes) is never fused.
 */
function reluFollows(layer: BatchNormalizationLayer): boolean {
  return reluFusion && reluAfter(layer) !== undefined;
}

/** The plain ReLU layer that is the only reader of `layer`'s output, if there is one. */
function reluAfter(layer: { outboundNodes?: Array<{ outboundLayer?: OutboundLayer }> }): OutboundLayer | undefined {
  const next = soleReader(layer);
  return next != null && next.getClassName() === 'ReLU' && next.maxValue == null ? next : undefined;
}

let poolFusion = true;


/**
 * Fuses a ReLU layer and a 2x2 max-pooling layer after a batch norm into one kernel pair in training (default,
 * `true`), or not (`false`: the batch norm with the ReLU, then the pooling layer's own kernels, as before session 24).
 * The same values either way (the pooled output and the gradients' formulas; sums in another order). For A/B
 * benchmarks and tests.
 */
export function setBatchNormReluPoolFusionEnabled(on: boolean): void {
  poolFusion = on;
}

/**
 * Whether `layer` is followed by a plain ReLU layer that only a MaxPooling2D layer of pool 2, stride 2, 'valid' padding
 * and NHWC reads, the ReLU being the batch norm's only reader (hwr-net's first two blocks, hccr-vgg's last convolution
 * of every stage but the last). Then, on the wasm backend with the SIMD kernels and an input of even height and width
 * with C % 4 == 0, the batch norm computes all three (`batchNormReluPool`) and the other two layers pass its output on.
 */
function poolFollows(layer: BatchNormalizationLayer): boolean {
  if (!poolFusion || !reluFusion) return false;
  const relu = reluAfter(layer);
  return relu != null && readOnlyByMaxPool2x2(relu);
}

/**
 * Whether `input` is the output of a Conv2D layer without a bias whose only reader is `layer` (the layer graph: one
 * inbound node, the convolution's sole reader), computed by a linear `FusedConv2D` under the gradient tape, with one
 * input channel, Co % 8 == 0, stride 1 and 'valid' padding: then the pooled batch norm's gradient may leave dx
 * unwritten and the convolution's filter gradient do without it (src/backend/batchNormConvGradient.ts).
 */
function convGradientDeferrable(layer: BatchNormalizationLayer, input: tf.Tensor): boolean {
  const attrs = linearConvOutputAttrs(input);
  const nodes = layer.inboundNodes;
  if (!attrs || nodes?.length !== 1 || nodes[0]!.inboundLayers?.length !== 1) return false;
  const conv = nodes[0]!.inboundLayers[0]!;
  if (conv.getClassName() !== 'Conv2D' || soleReader(conv) !== layer || conv.kernel == null || conv.bias != null) return false;
  return deferrableConvolution(conv.kernel.shape, attrs.strides, attrs.pad, attrs.dilations);
}

/**
 * Updates the moving mean and variance with one `HwrMovingAverages` kernel (default, `true`) or with tfjs-layers'
 * three ops per statistic (`false`); bit-identical either way. For A/B benchmarks and tests.
 */
export function setMovingAveragesKernelEnabled(on: boolean): void {
  movingAveragesKernel = on;
}

/** Turns the fused training path off (`false`: tfjs-layers' own ops) or back on, for A/B benchmarks and tests. */
export function setBatchNormTrainingEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the patched `call` takes the fused path for `layer` on `input` in training mode (see the module comment). */
export function batchNormTrainingApplies(layer: BatchNormalizationLayer, input: tf.Tensor): boolean {
  if (!enabled || input.dtype !== 'float32' || input.rank < 1 || layer.gamma == null || layer.beta == null) return false;
  if (typeof layer.axis !== 'number') return false;
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + input.rank;
  return axis === input.rank - 1 && tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) != null;
}

/** tfjs-layers' `doMovingAverage`: variable = variable - (variable - value) * (1 - momentum). */
function movingAverage(variable: LayerVariableLike, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const decay = 1 - momentum;
    const origValue = variable.read();
    const updateDelta = tf.mul(tf.sub(origValue, value), decay);
    variable.write(tf.sub(origValue, updateDelta));
  });
}

let installed = false;

/**
 * Registers the two kernels ('wasm', 'cpu') and their gradient, and patches `BatchNormalization.prototype.call`
 * (see the module comment). Idempotent; affects every model of this thread, built before or after.
 * @throws Error when tfjs-layers' BatchNormalization class is not registered (tfjs-layers not loaded).
 */
export function installBatchNormTraining(): void {
  if (installed) return;
  const proto = layerPrototype<BatchNormalizationLayer>('BatchNormalization');
  if (!proto) throw new Error('installBatchNormTraining: tfjs-layers BatchNormalization is not registered');
  installed = true;
  trackModelOutputLayers();
  registerBatchNormTrainingKernels();
  tf.registerGradient(batchNormTrainGradConfig);
  tf.registerGradient(batchNormReluPoolGradConfig);
  const original = proto.call;
  proto.call = function (this: BatchNormalizationLayer, inputs, kwargs) {
    const input = singleInput(inputs);
    if (!kwargs?.['training'] || !input || !batchNormTrainingApplies(this, input)) return original.call(this, inputs, kwargs);
    const relu = reluFollows(this);
    const pool = relu && poolFollows(this) && batchNormReluPoolApplies(tf.backend(), input.shape);
    const out = tf.tidy(() => {
      const [y, mean, variance] = pool
        ? batchNormReluPool(input, this.gamma!.read(), this.beta!.read(), this.epsilon)
        : batchNormTraining(input, this.gamma!.read(), this.beta!.read(), this.epsilon, relu);
      if (movingAveragesKernel && tf.getKernel(MOVING_AVERAGES, tf.getBackend()) != null) {
        // Both updates in one kernel call instead of six (the same float32 operations).
        const [movingMean, movingVariance] = tf.engine().runKernel(MOVING_AVERAGES,
          { movingMean: this.movingMean.read(), movingVariance: this.movingVariance.read(), mean, variance },
          { momentum: this.momentum }) as tf.Tensor[];
        this.movingMean.write(movingMean!);
        this.movingVariance.write(movingVariance!);
      } else {
        movingAverage(this.movingMean, mean, this.momentum);
        movingAverage(this.movingVariance, variance, this.momentum);
      }
      return y;
    });
    if (relu) reluApplied.add(out);
    if (pool) {
      markPoolApplied(out);
      if (convGradientDeferrable(this, input)) markDeferrableConvOutput(input);
    }
    return out;
  };
  // The ReLU layer after a fused batch norm returns its input (Layer.apply hands on a clone: same data, no kernel).
  const reluProto = layerPrototype<{ call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] }>('ReLU');
  if (reluProto) {
    const reluCall = reluProto.call;
    reluProto.call = function (this: unknown, inputs, kwargs) {
      const input = singleInput(inputs);
      if (input && reluApplied.has(input)) return input;
      return reluCall.call(this, inputs, kwargs);
    };
  }
  // The MaxPooling2D layer after a batch norm that pooled returns its input (a clone of the batch norm's output).
  const poolProto = layerPrototype<{ call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] }>('MaxPooling2D');
  if (poolProto) {
    const poolCall = poolProto.call;
    poolProto.call = function (this: unknown, inputs, kwargs) {
      const input = singleInput(inputs);
      if (input && poolAppliedTo(input)) return input;
      return poolCall.call(this, inputs, kwargs);
    };
  }
}

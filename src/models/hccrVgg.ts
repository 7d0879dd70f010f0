import * as tf from '@tensorflow/tfjs';
import { SeededDropout } from './seededDropout.ts';

/** The shape of a compact VGG-style HCCR network: one entry per stage. */
export interface HccrVggConfig {
  /** Stride of the first convolution (5x5): 2 halves the input at once, the cheapest way into a 64 px input. */
  stemStride: 1 | 2;
  /** Filters of the stem convolution. */
  stemFilters: number;
  /** Per stage after the stem: filters, and how many 3x3 convolutions (each with batch norm and ReLU). */
  stages: { filters: number; convolutions: number }[];
  /** Dropout before the classifier, in [0, 1). */
  dropout: number;
}

/**
 * The configuration of the registered `hccr-vgg`, chosen by measured training speed for a 90-minute budget on
 * 2 cores (bench/hccr-candidates.ts, notes/HANZI.md): the stride-2 stem keeps it at about 20 M multiply-adds per
 * 64x64 image; with 3,755 classes it has about 1.6 M parameters, most of them in the classifier.
 */
export const HCCR_VGG: HccrVggConfig = {
  stemStride: 2,
  stemFilters: 32,
  stages: [
    { filters: 64, convolutions: 1 },
    { filters: 128, convolutions: 1 },
    { filters: 256, convolutions: 1 },
  ],
  dropout: 0.3,
};

/**
 * `hccr-vgg`: a compact VGG-style convolutional network for handwritten Chinese character recognition (HCCR) with
 * large vocabularies: stacks of 3x3 convolutions (Simonyan and Zisserman 2015), each followed by batch
 * normalization (Ioffe and Szegedy 2015) and ReLU, a 2x2 max-pool after every stage but the last, then global
 * average pooling (Lin, Chen and Yan, "Network in Network", 2014) instead of large fully connected layers, dropout
 * and one softmax layer. Global average pooling keeps the parameters (and the model file) small for 3,755 classes
 * and makes the network indifferent to the input size. Compact HCCR CNNs of this family (Zhang, Bengio and Liu 2017;
 * Xiao et al. 2017) reach 95-97% on ICDAR 2013 with far larger budgets; this one is sized for CPU training.
 *
 * Layers: Conv 5x5 `stemFilters` stride `stemStride` (same padding), BN, ReLU, MaxPool 2; per stage:
 * `convolutions` x (Conv 3x3 same, BN, ReLU), MaxPool 2 (not after the last stage); GlobalAveragePooling,
 * Dropout, Dense `classes` softmax. Convolutions have no bias (batch norm's beta replaces it).
 *
 * Input `[batch, inputSize, inputSize, 1]` float32 in [0, 1] (ink = 1), default 64 px; output `[batch, classes]`.
 */
export function createHccrVgg(options: { classes: number; seed: number; inputSize?: number }, config: HccrVggConfig = HCCR_VGG): tf.LayersModel {
  const { classes, seed, inputSize = 64 } = options;
  const init = (offset: number) => tf.initializers.heNormal({ seed: seed + offset });
  const layers: tf.layers.Layer[] = [
    tf.layers.conv2d({ inputShape: [inputSize, inputSize, 1], filters: config.stemFilters, kernelSize: 5, strides: config.stemStride, padding: 'same', useBias: false, kernelInitializer: init(1) }),
    tf.layers.batchNormalization({ momentum: 0.9 }),
    tf.layers.reLU(),
    tf.layers.maxPooling2d({ poolSize: 2 }),
  ];
  let offset = 2;
  config.stages.forEach((stage, s) => {
    for (let c = 0; c < stage.convolutions; c++) {
      layers.push(
        tf.layers.conv2d({ filters: stage.filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(offset++) }),
        tf.layers.batchNormalization({ momentum: 0.9 }),
        tf.layers.reLU(),
      );
    }
    if (s < config.stages.length - 1) layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  layers.push(
    tf.layers.globalAveragePooling2d({}),
    new SeededDropout({ rate: config.dropout, seed: seed * 1_000_003 + 30_000 }),
    tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }) }),
  );
  return tf.sequential({ name: 'hccr_vgg', layers });
}

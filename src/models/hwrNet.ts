import * as tf from '@tensorflow/tfjs';
import { SeededDropout } from './seededDropout.ts';

/**
 * `hwr-net`: the default digit model. The seed CNN's three convolution stages, with the changes that are known
 * to close most of the gap to state-of-the-art small MNIST models (Ioffe and Szegedy 2015, batch normalization;
 * Srivastava et al. 2014, dropout; Simard, Steinkraus and Platt 2003, training on distorted copies):
 *
 * - Conv2D 32 5x5 valid, BatchNorm, ReLU      -> 24x24x32, MaxPool 2 -> 12x12x32
 * - Conv2D 64 3x3 valid, BatchNorm, ReLU      -> 10x10x64, MaxPool 2 -> 5x5x64
 * - Conv2D 128 3x3 valid, BatchNorm, ReLU     -> 3x3x128
 * - Flatten 1152, Dropout 0.4, Dense 128 (BatchNorm, ReLU), Dropout 0.4, Dense `classes` softmax
 *
 * Convolutions have no bias (the BatchNorm beta replaces it). About 6 MFLOP per forward pass,
 * as cheap as the seed CNN, so it trains at the same speed. Augmentation is applied by the training loop, not here.
 *
 * Input `[batch, 28, 28, 1]` float32 in [0, 1] (ink = 1); output `[batch, classes]` softmax probabilities.
 */
export function createHwrNet(options: { classes: number; seed: number; inputSize?: number }): tf.LayersModel {
  const { classes, seed, inputSize = 28 } = options;
  const init = (offset: number) => tf.initializers.heNormal({ seed: seed + offset });
  const convBlock = (filters: number, kernelSize: number, offset: number, first = false): tf.layers.Layer[] => [
    tf.layers.conv2d({
      ...(first ? { inputShape: [inputSize, inputSize, 1] } : {}),
      filters,
      kernelSize,
      useBias: false,
      kernelInitializer: init(offset),
    }),
    tf.layers.batchNormalization({ momentum: 0.9 }),
    tf.layers.reLU(),
  ];
  return tf.sequential({
    name: 'hwr_net',
    layers: [
      ...convBlock(32, 5, 1, true),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      ...convBlock(64, 3, 2),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      ...convBlock(128, 3, 3),
      tf.layers.flatten(),
      new SeededDropout({ rate: 0.4, seed: seed * 1_000_003 + 10_000 }),
      tf.layers.dense({ units: 128, useBias: false, kernelInitializer: init(4) }),
      tf.layers.batchNormalization({ momentum: 0.9 }),
      tf.layers.reLU(),
      new SeededDropout({ rate: 0.4, seed: seed * 1_000_003 + 20_000_000 }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 5 }) }),
    ],
  });
}

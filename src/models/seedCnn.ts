import * as tf from '@tensorflow/tfjs';

/**
 * `seed-cnn`: the Keras model of the seed article, layer for layer:
 * Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Conv2D 128 3x3 relu, MaxPool 2,
 * Flatten, Dense 64 relu, Dense 10 softmax. 101,578 parameters for 28x28x1 inputs and 10 classes.
 * The article reports 0.9839 MNIST test accuracy after 10 epochs.
 *
 * Input `[batch, 28, 28, 1]` float32 in [0, 1] (ink = 1); output `[batch, classes]` softmax probabilities.
 */
export function createSeedCnn(options: { classes: number; seed: number; inputSize?: number }): tf.LayersModel {
  const { classes, seed, inputSize = 28 } = options;
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: 'seed_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [inputSize, inputSize, 1], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 128, kernelSize: 3, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(4) }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(5) }),
    ],
  });
}

import * as tf from '@tensorflow/tfjs';

/**
 * `lenet5`: the LeNet of the second seed article (PyTorch), after LeCun et al. 1998,
 * "Gradient-based learning applied to document recognition": Conv2D 6 5x5 (same padding, so 28x28 stays 28x28
 * as in the article's `padding=2`) relu, MaxPool 2, Conv2D 16 5x5 relu, MaxPool 2, Flatten,
 * Dense 120 relu, Dense 84 relu, Dense 10 softmax. 61,706 parameters for 28x28x1 inputs and 10 classes.
 *
 * Input `[batch, 28, 28, 1]` float32 in [0, 1] (ink = 1); output `[batch, classes]` softmax probabilities.
 */
export function createLenet5(options: { classes: number; seed: number; inputSize?: number }): tf.LayersModel {
  const { classes, seed, inputSize = 28 } = options;
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: 'lenet5',
    layers: [
      tf.layers.conv2d({ inputShape: [inputSize, inputSize, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: init(4) }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(5) }),
    ],
  });
}

import type * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import { createHccrVgg } from './hccrVgg.ts';
import { createHwrNet } from './hwrNet.ts';
import { createLenet5 } from './lenet5.ts';
import { createSeedCnn } from './seedCnn.ts';

/** Options every architecture takes: number of output classes, seed for weight initialization and dropout, input side in px. */
export interface ArchitectureOptions {
  classes: number;
  seed: number;
  inputSize?: number;
}

/** One trainable architecture of the registry. */
export interface Architecture {
  name: string;
  description: string;
  /** Whether training should apply random affine augmentation by default. */
  augment: boolean;
  /**
   * Whether training on MNIST adds a rejection class ("not a digit", trained on synthetic negatives) and synthetic
   * digits in the styles MNIST lacks, by default (see src/train/rejection.ts).
   */
  reject: boolean;
  /** Side in px of the input the architecture is made for; GNT data (`--data hwdb:DIR`) is normalized to it. Default 28. */
  inputSize?: number;
  /** Classes of the task it is made for, as `hwr summary NAME` shows it (the data decides when training). Default 10. */
  classes?: number;
  create(options: ArchitectureOptions): tf.LayersModel;
}

/** The architectures `hwr train --model NAME` knows, the default first. */
export const ARCHITECTURES: readonly Architecture[] = [
  { name: 'hwr-net', description: 'default: 3 conv stages with batch norm, dropout, trained with augmentation', augment: true, reject: true, create: createHwrNet },
  { name: 'seed-cnn', description: "the seed article's Keras CNN (3 conv + 2 dense, 101,578 parameters)", augment: false, reject: false, create: createSeedCnn },
  { name: 'lenet5', description: "the second article's PyTorch LeNet-5 (6 and 16 5x5 filters, 120-84-10)", augment: false, reject: false, create: createLenet5 },
  {
    name: 'hccr-vgg',
    description: 'compact VGG-style CNN for large vocabularies (Chinese characters): batch norm, global average pooling, 64x64 input',
    augment: true,
    reject: false,
    inputSize: 64,
    classes: 3755,
    create: createHccrVgg,
  },
];

/** Name of the default architecture. */
export const DEFAULT_ARCHITECTURE = ARCHITECTURES[0]!.name;

/**
 * Looks an architecture up by name.
 * @throws HwrError `UNKNOWN_MODEL` naming the known architectures.
 */
export function getArchitecture(name: string): Architecture {
  const found = ARCHITECTURES.find((a) => a.name === name);
  if (!found) {
    throw hwrError('UNKNOWN_MODEL', `unknown model "${name}": choose one of ${ARCHITECTURES.map((a) => a.name).join(', ')}`);
  }
  return found;
}

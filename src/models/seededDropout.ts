import * as tf from '@tensorflow/tfjs';

/**
 * Dropout (Srivastava et al. 2014) whose random mask is reproducible: step `i` of training uses seed `seed + i`.
 * tfjs-layers' own `Dropout` with a `seed` draws the same mask at every step, and without one it seeds from
 * `Math.random`, so `--seed` could not make runs repeatable.
 *
 * It serializes as a plain Keras `Dropout` layer (same class name and config), so saved models load anywhere,
 * the browser included, with no custom layer registered; at inference dropout is the identity either way.
 *
 * Input and output: any shape, float32.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'Dropout';
  private readonly rate: number;
  private readonly seed: number;
  /** Training steps taken so far; set it when resuming so the masks continue the same sequence. */
  step = 0;

  constructor(args: { rate: number; seed: number; name?: string }) {
    super({ name: args.name });
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs.training || this.rate <= 0) return input;
    const seed = this.seed + this.step++;
    return tf.dropout(input, this.rate, undefined, seed);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}

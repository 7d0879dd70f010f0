/**
 * Starting a run from a trained model (`hwr train --init DIR`): fine-tuning, as in Keras's transfer-learning guide
 * (load the weights, then keep training at a lower learning rate). The typical use is adding a class to a trained
 * model, e.g. the rejection class ("not a digit") to a 10-class digit model: every weight whose shape matches is
 * copied; an output layer with more units gets the trained units copied into its first columns and keeps its fresh
 * initialization for the new ones.
 */
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import { loadModel } from '../node/modelFiles.ts';

/**
 * Copies the weights of the model in folder `dir` into `model`, weight by weight in order.
 * A pair of weights may differ only in its last dimension, where the source has fewer entries (a grown output
 * layer): the source fills the leading entries.
 *
 * @param model  freshly built model of the same architecture
 * @param dir    model folder (`model.json`, weights, checked against its `SHA256SUMS`)
 * @returns the number of weights copied whole and the number grown
 * @throws HwrError `BAD_MODEL` when the folder cannot be loaded or a weight does not fit (naming it and both shapes)
 */
export async function initializeFrom(model: tf.LayersModel, dir: string): Promise<{ copied: number; grown: number }> {
  const source = await loadModel(dir);
  try {
    const from = source.getWeights();
    const to = model.getWeights();
    const names = model.weights.map((w) => w.originalName);
    if (from.length !== to.length) {
      throw hwrError('BAD_MODEL', `--init ${dir}: its model has ${from.length} weights, the architecture ${to.length}; choose the same --model`);
    }
    let copied = 0;
    let grown = 0;
    const values = tf.tidy(() =>
      to.map((target, i) => {
        const weight = from[i]!;
        const same = weight.shape.length === target.shape.length && weight.shape.every((d, k) => d === target.shape[k]);
        if (same) {
          copied++;
          return weight.clone();
        }
        const last = target.shape.length - 1;
        const fits = weight.shape.length === target.shape.length && weight.shape.every((d, k) => (k === last ? d <= target.shape[k]! : d === target.shape[k]));
        if (!fits) {
          throw hwrError('BAD_MODEL', `--init ${dir}: weight ${names[i]} is ${JSON.stringify(weight.shape)}, the architecture needs ${JSON.stringify(target.shape)}`);
        }
        grown++;
        const fresh = target.slice(new Array<number>(target.shape.length).fill(0).map((_, k) => (k === last ? weight.shape[last]! : 0)));
        return tf.concat([weight, fresh], last);
      }),
    );
    model.setWeights(values);
    tf.dispose(values);
    return { copied, grown };
  } finally {
    source.dispose();
  }
}

import * as tf from '@tensorflow/tfjs';
import { ARCHITECTURES } from '../models/index.ts';
import { loadModel } from '../node/modelFiles.ts';
import { resolveModelDir } from '../node/recognizer.ts';
import { setupBackend } from '../backend/backend.ts';

/**
 * The layer table of a model: layer name and class, output shape, parameter count, and totals
 * (trainable and non-trainable), like Keras's `model.summary()`.
 */
export function layerTable(model: tf.LayersModel): string {
  const rows = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer').map((layer) => {
    const shape = layer.outputShape;
    return [`${layer.name} (${layer.getClassName()})`, JSON.stringify(shape).replace(/null/g, 'None'), String(layer.countParams())];
  });
  const header = ['Layer (type)', 'Output shape', 'Params'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('   ');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 3, -3));
  const trainable = model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const total = model.countParams();
  return [
    `Model: ${model.name}`,
    rule,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${total.toLocaleString('en-US')}`,
    `Trainable params: ${trainable.toLocaleString('en-US')}`,
    `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
  ].join('\n');
}

/** `hwr summary`: an architecture name from the registry, or a saved model (folder or shipped name). */
export async function summaryCommand(flags: { model: string }): Promise<void> {
  await setupBackend();
  const architecture = ARCHITECTURES.find((a) => a.name === flags.model);
  const model = architecture ? architecture.create({ classes: architecture.classes ?? 10, seed: 1 }) : await loadModel(resolveModelDir(flags.model));
  process.stdout.write(`${layerTable(model)}\n`);
  model.dispose();
}

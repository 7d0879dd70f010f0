/**
 * Worker thread of `DataParallelTrainer` (src/train/parallel.ts): holds one replica of the model on its own
 * single-threaded wasm backend, computes the gradient of its shard of each batch, and applies the averaged update.
 * Started by `DataParallelTrainer.attach` with a `WorkerInit` as `workerData`; answers through shared memory
 * (`SharedMemory`): it writes its results, then the command's `seq` into `control[2 * index]`, and notifies.
 * Not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from '../models/index.ts';
import { setupBackend } from '../backend/backend.ts';
import { applyWeightedGradients } from '../backend/adam.ts';
import { ERROR_BYTES, replicaOf, shardGradients, uploadFlat, writeFlat, type WorkerCommand, type WorkerInit } from './parallel.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const control = new Int32Array(init.shared.control);

/** Acknowledges command `seq` (and wakes the main thread), marking a failure with its message first. */
function acknowledge(seq: number, error?: unknown): void {
  if (error !== undefined) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const bytes = new Uint8Array(init.shared.errors, init.index * ERROR_BYTES, ERROR_BYTES);
    const { written } = new TextEncoder().encodeInto(text.slice(0, ERROR_BYTES / 4 - 1), bytes);
    bytes[Math.min(written, ERROR_BYTES - 1)] = 0;
    Atomics.store(control, 2 * init.index + 1, 1);
  }
  Atomics.store(control, 2 * init.index, seq);
  Atomics.notify(control, 2 * init.index);
}

async function start(): Promise<void> {
  await setupBackend();
  const model = getArchitecture(init.architecture).create(init.modelOptions);
  const [optimizerClass, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[init.optimizer.className]!;
  const optimizer = fromConfig(optimizerClass, init.optimizer.config) as tf.Optimizer;
  model.compile({ optimizer, loss: init.loss, metrics: init.metrics });
  model.setWeights(init.weights.map((w) => tf.tensor(w.values, w.shape, 'float32')));
  if (init.optimizerState.length > 0) {
    await optimizer.setWeights(init.optimizerState.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape, 'float32') })));
  }
  const replica = replicaOf(model);
  const gradient = new Float32Array(init.shared.gradients[init.index]!);
  const scalars = new Float64Array(init.shared.scalars[init.index]!);
  const broadcast = new Float32Array(init.shared.broadcast);

  const run = (command: Exclude<WorkerCommand, { type: 'getWeights' }>): void => {
    if (command.type === 'compute') {
      replica.dropouts.forEach((d, j) => (d.step = command.dropoutSteps[j]!));
      const xs = tf.tensor(command.xs, command.xsShape, 'float32');
      const ys = tf.tensor(command.ys, command.ysShape, 'float32');
      try {
        scalars.set(shardGradients(replica, xs, ys, gradient));
      } finally {
        tf.dispose([xs, ys]);
      }
    } else if (command.type === 'apply') {
      (optimizer as unknown as { learningRate: number }).learningRate = command.learningRate;
      const parts = command.shards.map(({ replica: k, weight }) => ({ weight, gradients: uploadFlat(replica, new Float32Array(init.shared.gradients[k]!)) }));
      try {
        applyWeightedGradients(optimizer, replica.variables, parts);
      } finally {
        tf.dispose(parts.flatMap((part) => part.gradients));
      }
    } else {
      replica.variables.forEach((v, i) => {
        const value = tf.tensor(broadcast.subarray(replica.offsets[i]!, replica.offsets[i + 1]!), v.shape, 'float32');
        v.assign(value);
        value.dispose();
      });
    }
  };

  port.on('message', (command: WorkerCommand) => {
    if (command.type === 'getWeights') {
      const weights = new Float32Array(replica.offsets[replica.offsets.length - 1]!);
      writeFlat(replica.variables, weights, replica.offsets);
      port.postMessage({ type: 'weights', weights }, [weights.buffer]);
      return;
    }
    try {
      run(command);
      acknowledge(command.seq);
    } catch (error) {
      acknowledge(command.seq, error);
    }
  });
  port.postMessage({ type: 'ready' });
}

start().catch((error: unknown) => port.postMessage({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));

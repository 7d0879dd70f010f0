/**
 * Synchronous data-parallel training on several CPU cores, for the single-threaded wasm backend in Node.
 *
 * Why: the wasm backend's own multithreaded build cannot run in Node (its thread pool starts workers from
 * blob: URLs, which `worker_threads` rejects with ERR_WORKER_PATH), so one TF.js process trains on one core.
 * Here the main thread and `threads - 1` worker threads each hold an identical replica of the model, with its own
 * single-threaded wasm backend (`src/train/parallelWorker.ts`). Every training step:
 *
 * 1. the batch is cut into `threads` contiguous shards (sizes differ by at most one image); shard 0 is computed on
 *    the main thread, shard k by worker k;
 * 2. each replica computes the gradient of the mean loss over its shard (`shardGradients`, the same loss, metrics
 *    and regularization terms as `LayersModel.makeTrainFunction`);
 * 3. the gradients are averaged with weights `shard size / batch size`, which for layers without batch statistics
 *    is exactly (up to float rounding) the gradient of the mean loss over the whole batch. With Adam and two
 *    threads the weighted sum is made inside the fused Adam kernel (`applyWeightedGradients`, src/backend/adam.ts),
 *    bit-identical to summing first with tfjs-core's `mul` and `add`;
 * 4. the update reaches every replica, by one of two `ReplicaSync` strategies:
 *    - `'weights'` (default): only the main thread's optimizer steps; it then broadcasts its trainable weights, so
 *      the replicas are identical by construction;
 *    - `'gradients'`: every replica applies the same averaged gradient with an identical optimizer (same class,
 *      config, state, learning rate), so the weights stay bit-identical without being sent (this relies on every
 *      thread running the same deterministic kernels); the workers' optimizer steps overlap the main thread's.
 *    Measured on 2 cores (notes/PERFORMANCE.md): the same speed within noise (seed-cnn 1,865 vs 1,935 img/s,
 *    hwr-net 1,115 vs 1,106 img/s, medians of 7 alternating rounds; again in session 23 with the fused weighted
 *    Adam, 20.5-21.1 vs 20.6-21.7 ms per hwr-net step), so the default is the one that cannot drift.
 *
 * Memory: gradients, loss and metrics come back, and shard 0's gradient or the weights go out, through
 * `SharedArrayBuffer`s; the main thread blocks on `Atomics.wait` until the workers are done (allowed in Node),
 * which keeps a step synchronous, as `model.fitDataset` needs. Shards go out by `postMessage` (transferred).
 *
 * What differs from one thread (documented choices):
 * - Batch normalization normalizes each shard with that shard's statistics ("ghost batch norm", Hoffer et al. 2017),
 *   and the moving mean/variance kept are those of replica 0 (the main thread's model, the one that is saved).
 * - `SeededDropout` layers: at global step `s` shard `k` of `N` uses mask step `s * N + k`: distinct masks per shard,
 *   deterministic for a given seed and thread count (with N = 1 this is the single-thread sequence).
 * - The learning rate is read from the main optimizer at every step, so `LearningRateScheduler` keeps working.
 * So one seed gives the same weights for the same thread count, and a different (equally good) run for another.
 *
 * Sources: Goyal et al. 2017, "Accurate, Large Minibatch SGD" (synchronous data parallelism, gradient averaging);
 * Node.js worker_threads and Atomics documentation.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import type { ArchitectureOptions } from '../models/index.ts';
import { SeededDropout } from '../models/seededDropout.ts';
import { applyWeightedGradients, weightedSum, type WeightedGradients } from '../backend/adam.ts';
import { f32, type WasmBackend } from '../backend/kernels/wasm_util.ts';

/** How the averaged update reaches the worker replicas (see the module comment). */
export type ReplicaSync = 'gradients' | 'weights';

/** Options of `DataParallelTrainer.attach`. */
export interface DataParallelOptions {
  /** Threads in all, the main thread included; an integer >= 2. */
  threads: number;
  /** Registry name of the model's architecture; each worker builds its replica with `getArchitecture(name).create`. */
  architecture: string;
  /** The options the model was created with (classes, seed, input size). */
  modelOptions: ArchitectureOptions;
  /** Default `'weights'`. */
  sync?: ReplicaSync;
  /** How long the main thread waits for a worker's answer before giving up, in ms; default 300,000. */
  timeoutMs?: number;
}

/** One model replica as `shardGradients` uses it: the compiled (inner) model and what is read from it. */
export interface Replica {
  /** The `LayersModel` that `compile` and `fitDataset` act on (a `Sequential`'s inner model). */
  model: tf.LayersModel;
  /** Trainable variables in `model.trainableWeights` order: the order of every flat gradient vector. */
  variables: tf.Variable[];
  /** Offsets of each variable in a flat gradient vector (length `variables.length + 1`; the last is the total). */
  offsets: number[];
  /** The model's `SeededDropout` layers, in layer order. */
  dropouts: SeededDropout[];
}

/** What a worker gets at start (`workerData`): enough to build, compile and load an identical replica. */
export interface WorkerInit {
  /** 1-based worker number k (the main thread is replica 0): its shard, its slots in `SharedMemory`. */
  index: number;
  /** Threads in all, the main thread included. */
  threads: number;
  /** Registry name and creation options of the architecture. */
  architecture: string;
  modelOptions: ArchitectureOptions;
  /** The main model's compiled loss and metrics, by name. */
  loss: string;
  metrics: string[];
  /** The main optimizer's registered class name (e.g. `Adam`) and `getConfig()`. */
  optimizer: { className: string; config: tf.serialization.ConfigDict };
  /** Every weight of the main model (`model.getWeights()` order), trainable or not. */
  weights: Array<{ shape: number[]; values: Float32Array }>;
  /** The main optimizer's state (`optimizer.getWeights()`), empty before its first step. */
  optimizerState: Array<{ name: string; shape: number[]; values: Float32Array }>;
  shared: SharedMemory;
}

/**
 * Messages from the main thread to a worker, handled in order; each `seq` is acknowledged through
 * `SharedMemory.control`. `compute`: the shard (`xs` `[n, ...inputShape]`, `ys` `[n, classes]` float32) and the
 * `SeededDropout` step of each dropout layer; `apply`: apply the weighted sum of the shard gradients in
 * `SharedMemory.gradients` (`shards`: replica numbers with their weights, in the order the main thread sums them) at
 * this learning rate; `setWeights`: load the trainable weights in `broadcast`; `getWeights` (tests) answers by
 * `postMessage`.
 */
export type WorkerCommand =
  | { type: 'compute'; seq: number; xs: Float32Array; ys: Float32Array; xsShape: number[]; ysShape: number[]; dropoutSteps: number[] }
  | { type: 'apply'; seq: number; learningRate: number; shards: Array<{ replica: number; weight: number }> }
  | { type: 'setWeights'; seq: number }
  | { type: 'getWeights' };

/**
 * Memory shared by the main thread and the workers.
 * - `control`: Int32Array `[threads * 2]`: at `2k` the last `seq` worker k finished, at `2k + 1` 1 when it failed.
 * - `gradients[k]`: Float32Array `[parameters]`, replica k's shard gradient (index 0, the main thread's, is written
 *   in `'gradients'` mode only: the workers apply it with their own).
 * - `scalars[k]`: Float64Array `[1 + metrics]`, worker k's shard loss and metrics.
 * - `broadcast`: Float32Array `[parameters]`, the weights after the update (`'weights'` mode).
 * - `errors`: UTF-8 error messages, `ERROR_BYTES` per worker, zero-terminated.
 */
export interface SharedMemory {
  control: SharedArrayBuffer;
  gradients: SharedArrayBuffer[];
  scalars: SharedArrayBuffer[];
  broadcast: SharedArrayBuffer;
  errors: SharedArrayBuffer;
}

/**
 * Where the main thread's time in `trainStep` goes, in ms summed over steps since `resetPhaseTimes`:
 * `waitBefore` (the workers finishing the previous step's update), `mainShard` (shard 0's forward and backward),
 * `waitShards` (the workers' shards after shard 0), `average` (the workers' gradients into tensors on the main
 * thread's backend), `apply` (the weighted sum and the main optimizer's step, and in `'gradients'` mode copying shard
 * 0's gradient out for the workers), `broadcast` (`'weights'` mode: copying the weights out); `steps` counts the steps.
 */
export interface PhaseTimes {
  waitBefore: number;
  mainShard: number;
  waitShards: number;
  average: number;
  apply: number;
  broadcast: number;
  steps: number;
}

const noPhaseTimes = (): PhaseTimes => ({ waitBefore: 0, mainShard: 0, waitShards: 0, average: 0, apply: 0, broadcast: 0, steps: 0 });

/** Bytes of error text per worker in `SharedMemory.errors`. */
export const ERROR_BYTES = 2048;

/**
 * The number of training threads used when none is asked for: 2 where the machine has 2 or more cores, else 1.
 * Measured on 2-core machines (notes/PERFORMANCE.md, bench/results.md): 2 threads train seed-cnn and hwr-net 1.1 to
 * 1.5x as fast as 1 at batch 64 (session 23: 1.24x and 1.20x in the bench, a full hwr-net epoch 1.38x). More than 2 threads were not measured
 * (no such machine), so they are never the default; `--threads N` asks for them.
 */
export function defaultTrainingThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** The `LayersModel` that `fitDataset` trains: a `Sequential` delegates to an inner model. */
function innerModel(model: tf.LayersModel): tf.LayersModel {
  return model instanceof tf.Sequential ? (model as unknown as { model: tf.LayersModel }).model : model;
}

/**
 * Describes a compiled model as a `Replica` (works for `Sequential` and functional models).
 * @throws HwrError `BAD_ARGUMENT` when the model is not compiled or has more than one input or output.
 */
export function replicaOf(model: tf.LayersModel): Replica {
  const inner = innerModel(model);
  if (!inner?.optimizer || !inner.lossFunctions?.length) throw hwrError('BAD_ARGUMENT', 'parallel training: compile the model first');
  if (inner.inputs.length !== 1 || inner.outputs.length !== 1) {
    throw hwrError('BAD_ARGUMENT', `parallel training: models with one input and one output only (this one has ${inner.inputs.length} and ${inner.outputs.length})`);
  }
  const variables = inner.trainableWeights.map((w) => w.read() as tf.Variable);
  const offsets = [0];
  for (const v of variables) offsets.push(offsets[offsets.length - 1]! + v.size);
  const dropouts = model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
  return { model: inner, variables, offsets, dropouts };
}

/**
 * Gradient of one shard: runs the replica forward in training mode on `xs` (`[n, ...inputShape]` float32),
 * computes the mean loss against `ys` (`[n, ...outputShape]` float32) plus the regularization losses, exactly as
 * `LayersModel.makeTrainFunction` does, and returns d(loss)/d(variable) for every trainable variable as tensors
 * (`replica.variables` order; the caller disposes them). Updates batch-norm moving statistics, as any training
 * forward pass does.
 * @returns `grads`, and `values` `[loss, ...metrics]`: the shard's mean loss and the mean of each compiled metric.
 */
export function shardGradientTensors(replica: Replica, xs: tf.Tensor, ys: tf.Tensor): { grads: tf.Tensor[]; values: number[] } {
  const { model, variables } = replica;
  const metricTensors: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const output = model.apply(xs, { training: true }) as tf.Tensor;
    let total = tf.mean(model.lossFunctions[0]!(ys, output)) as tf.Scalar;
    for (const [metric] of model.metricsTensors) metricTensors.push(tf.keep(tf.mean(metric(ys, output)) as tf.Scalar));
    for (const penalty of model.calculateLosses()) total = tf.add(total, penalty);
    return total;
  }, variables);
  const values = [value.dataSync()[0]!, ...metricTensors.map((m) => m.dataSync()[0]!)];
  tf.dispose([value, ...metricTensors]);
  return { grads: variables.map((v) => grads[v.name]!), values };
}

/**
 * Writes `tensors` (float32, one per variable in `replica.variables` order) into `out`, flat in the `offsets` layout
 * (`Replica.offsets`: tensor i at `offsets[i]`). Reads each tensor synchronously; does not dispose them. On the wasm
 * backend it copies straight from the wasm heap, where `dataSync` would copy twice (0.04 against 0.12-0.16 ms for
 * hwr-net's 243k parameters).
 */
export function writeFlat(tensors: readonly tf.Tensor[], out: Float32Array, offsets: readonly number[]): void {
  const wasm = tf.getBackend() === 'wasm' ? (tf.backend() as WasmBackend) : null;
  tensors.forEach((t, i) => {
    const onHeap = wasm !== null && t.dtype === 'float32' && wasm.dataIdMap.has(t.dataId);
    out.set(onHeap ? f32(wasm, t) : (t.dataSync() as Float32Array), offsets[i]!);
  });
}

/**
 * `shardGradientTensors` with the gradient written into `out` (flat, `replica.offsets` layout) instead.
 * @returns `[loss, ...metrics]`: the shard's mean loss and the mean of each compiled metric (e.g. accuracy).
 */
export function shardGradients(replica: Replica, xs: tf.Tensor, ys: tf.Tensor, out: Float32Array): number[] {
  const { grads, values } = shardGradientTensors(replica, xs, ys);
  writeFlat(grads, out, replica.offsets);
  tf.dispose(grads);
  return values;
}

/**
 * One tensor per variable of `replica` (its shape, float32) holding that variable's part of a flat vector (`flat`,
 * `replica.offsets` layout); the caller disposes them.
 */
export function uploadFlat(replica: Replica, flat: Float32Array): tf.Tensor[] {
  return replica.variables.map((v, i) => tf.tensor(flat.subarray(replica.offsets[i]!, replica.offsets[i + 1]!), v.shape, 'float32'));
}

/** Shard sizes of a batch of `count` images over `threads` replicas: contiguous, differing by at most one. */
export function shardSizes(count: number, threads: number): number[] {
  return Array.from({ length: threads }, (_, k) => Math.floor(count / threads) + (k < count % threads ? 1 : 0));
}

/** URL of tsx's ESM API, which the worker bootstrap registers so that the worker can import TypeScript. */
function tsxApiUrl(): string {
  return import.meta.resolve('tsx/esm/api');
}

/** Reads worker k's zero-terminated error message from `SharedMemory.errors`. */
function errorText(errors: SharedArrayBuffer, k: number): string {
  const bytes = new Uint8Array(errors, k * ERROR_BYTES, ERROR_BYTES);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.slice(0, end < 0 ? ERROR_BYTES : end));
}

/**
 * Synchronous data-parallel training of one compiled model over `threads` threads (see the module comment).
 * Create it with `attach` after the model's weights and optimizer state are final (e.g. after `--resume` loaded
 * them); from then on `model.fitDataset` trains in parallel, with every callback unchanged. `dispose` stops the
 * workers and restores the model's own training function.
 */
export class DataParallelTrainer {
  readonly threads: number;
  readonly sync: ReplicaSync;
  private readonly main: Replica;
  private readonly workers: Worker[];
  private readonly shared: SharedMemory;
  private readonly control: Int32Array;
  private readonly seq: number[];
  private readonly timeoutMs: number;
  private restore: (() => void) | null = null;
  private phases: PhaseTimes = noPhaseTimes();
  /** Why worker k (index k - 1) stopped, once its 'exit' event has been seen (the main thread's event loop ran). */
  private readonly stopped: Array<string | null>;

  private constructor(main: Replica, workers: Worker[], shared: SharedMemory, options: DataParallelOptions) {
    this.main = main;
    this.workers = workers;
    this.shared = shared;
    this.threads = options.threads;
    this.sync = options.sync ?? 'weights';
    this.timeoutMs = options.timeoutMs ?? 300_000;
    this.control = new Int32Array(shared.control);
    this.seq = workers.map(() => 0);
    this.stopped = workers.map(() => null);
    workers.forEach((worker, i) => {
      let error: Error | null = null;
      worker.on('error', (e) => (error = e));
      worker.on('exit', (code) => {
        if (this.restore) this.stopped[i] = `exited with code ${code}${error ? `: ${error.message}` : ''}`;
      });
    });
  }

  /**
   * Starts `threads - 1` workers, each with a replica of `model` (same architecture and options, the model's
   * current weights, and in `'gradients'` mode the optimizer's class, config and state), and makes `model.fitDataset`
   * (and `trainOnBatch`) train through `trainStep`. Takes about a second per worker (tsx, TF.js, wasm start-up).
   * @throws HwrError `BAD_ARGUMENT` for a bad thread count, an uncompiled model, a loss or metric that is not named
   *   by a string, or an optimizer that is not registered for serialization; Error when a worker fails to start.
   */
  static async attach(model: tf.LayersModel, options: DataParallelOptions): Promise<DataParallelTrainer> {
    const { threads } = options;
    if (!Number.isInteger(threads) || threads < 2) throw hwrError('BAD_ARGUMENT', `parallel training: expected 2 or more threads, got ${threads}`);
    const main = replicaOf(model);
    const loss = main.model.loss;
    const metrics = (main.model.metrics ?? []) as unknown;
    if (typeof loss !== 'string' || !Array.isArray(metrics) || !metrics.every((m) => typeof m === 'string')) {
      throw hwrError('BAD_ARGUMENT', 'parallel training: the loss and the metrics must be given by name (e.g. "categoricalCrossentropy", ["accuracy"])');
    }
    const optimizer = main.model.optimizer;
    const className = optimizer.getClassName();
    if (!tf.serialization.SerializationMap.getMap().classNameMap[className]) {
      throw hwrError('BAD_ARGUMENT', `parallel training: optimizer ${className} is not registered for serialization`);
    }
    // Read the optimizer state and load it back, so that the main optimizer holds exactly what the workers get
    // (Adam recomputes its beta powers on load, which may differ in the last bit from the running products).
    const state = await optimizer.getWeights();
    const optimizerState = state.map((w) => ({ name: w.name, shape: w.tensor.shape, values: w.tensor.dataSync() as Float32Array }));
    if (state.length > 0) {
      await optimizer.setWeights(state);
      tf.dispose(state.map((w) => w.tensor)); // setWeights made copies; these are the replaced ones
    }
    const weights = model.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync() as Float32Array }));

    const parameters = main.offsets[main.offsets.length - 1]!;
    const scalarCount = 1 + main.model.metricsTensors.length;
    const shared: SharedMemory = {
      control: new SharedArrayBuffer(threads * 2 * Int32Array.BYTES_PER_ELEMENT),
      gradients: Array.from({ length: threads }, (_, k) => new SharedArrayBuffer(k === 0 && options.sync !== 'gradients' ? 0 : parameters * 4)),
      scalars: Array.from({ length: threads }, (_, k) => new SharedArrayBuffer(k === 0 ? 0 : scalarCount * 8)),
      broadcast: new SharedArrayBuffer(parameters * 4),
      errors: new SharedArrayBuffer(threads * ERROR_BYTES),
    };
    // The worker file has this module's extension (.ts from source, .js from a build).
    const workerUrl = new URL(`./parallelWorker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url).href;
    const bootstrap = `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); })`;
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => {
          const init: WorkerInit = {
            index: i + 1,
            threads,
            architecture: options.architecture,
            modelOptions: options.modelOptions,
            loss,
            metrics: metrics as string[],
            optimizer: { className, config: optimizer.getConfig() },
            weights,
            optimizerState,
            shared,
          };
          const worker = new Worker(bootstrap, { eval: true, workerData: init });
          workers.push(worker);
          return new Promise<void>((resolveReady, reject) => {
            worker.once('message', (message: { type: string; message?: string }) => {
              if (message.type === 'ready') resolveReady();
              else reject(new Error(`parallel training: worker ${i + 1} failed to start: ${message.message}`));
            });
            worker.once('error', (error) => reject(new Error(`parallel training: worker ${i + 1} failed to start: ${error.message}`, { cause: error })));
            worker.once('exit', (code) => reject(new Error(`parallel training: worker ${i + 1} exited (code ${code}) while starting`)));
          });
        }),
      );
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    const trainer = new DataParallelTrainer(main, workers, shared, options);
    trainer.install();
    return trainer;
  }

  /** Makes the model's training function (used by `fitDataset`, `fit`, `trainOnBatch`) call `trainStep`. */
  private install(): void {
    const inner = this.main.model as unknown as { makeTrainFunction: () => (data: tf.Tensor[]) => tf.Scalar[] };
    const original = inner.makeTrainFunction;
    inner.makeTrainFunction = () => (data) => this.trainStep(data);
    this.restore = () => {
      inner.makeTrainFunction = original;
    };
  }

  /**
   * Blocks until worker `k` (1-based) has finished command `seq`.
   * @throws Error when it failed, has stopped (seen at once where its exit was noticed before the wait began; a
   *   worker that stops in the middle of a command and leaves no word is noticed at the timeout), or timed out.
   */
  private waitFor(k: number, seq: number): void {
    // performance.now() is monotonic (libuv's uv_hrtime; on Linux CLOCK_MONOTONIC, which stands still while the
    // machine is suspended), unlike Date.now(): a laptop closed mid-step does not count as a worker that gave no answer.
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      const done = Atomics.load(this.control, 2 * k);
      if (Atomics.load(this.control, 2 * k + 1) !== 0) throw new Error(`parallel training: worker ${k} failed: ${errorText(this.shared.errors, k)}`);
      if (done >= seq) return;
      this.throwIfStopped(k);
      if (performance.now() > deadline) throw new Error(`parallel training: worker ${k} gave no answer in ${this.timeoutMs / 1000} s`);
      Atomics.wait(this.control, 2 * k, done, 1000);
    }
  }

  /** @throws Error naming worker `k` (1-based) and how it exited, once its exit has been seen. */
  private throwIfStopped(k: number): void {
    const stopped = this.stopped[k - 1];
    if (stopped) throw new Error(`parallel training: worker ${k} has stopped (${stopped}); restart the training (--resume continues from the last checkpoint)`);
  }

  /** Sends a command to worker `k` (1-based), transferring `transfer` (the shard's buffers). */
  private post(k: number, command: WorkerCommand, transfer: ArrayBuffer[] = []): void {
    this.throwIfStopped(k);
    this.workers[k - 1]!.postMessage(command, transfer);
  }

  /** Blocks until every worker has finished every command sent so far. */
  private waitForAll(): void {
    for (let k = 1; k < this.threads; k++) this.waitFor(k, this.seq[k - 1]!);
  }

  /**
   * The averaged gradient of the mean loss over a batch, computed in shards by all replicas, without applying it.
   * `xs` `[n, ...inputShape]` float32, `ys` `[n, classes]` float32. Advances `SeededDropout` steps by one.
   * @returns `gradient`: flat float32 `[parameters]` in `model.trainableWeights` order (a copy);
   *   `values`: `[loss, ...metrics]` averaged over the batch.
   */
  computeGradients(xs: tf.Tensor, ys: tf.Tensor): { gradient: Float32Array; values: number[] } {
    const { parts, values } = this.shardStep(xs, ys);
    const average = weightedSum(parts, this.main.variables.length);
    tf.dispose(parts.flatMap((part) => part.gradients));
    const gradient = new Float32Array(this.main.offsets[this.main.offsets.length - 1]!);
    writeFlat(average, gradient, this.main.offsets);
    tf.dispose(average);
    return { gradient, values };
  }

  /**
   * Computes a batch's shard gradients: shard 0 on this thread, shard k by worker k (which writes it flat into
   * `SharedMemory.gradients[k]`), and waits for all of them.
   * @returns `parts`: for each non-empty shard in replica order, the replica's number, its weight (shard size / batch
   *   size) and one gradient tensor per variable in `replica.variables` order (shard 0's as the backward pass made
   *   them, the workers' uploaded from shared memory; the caller disposes them); `values`: `[loss, ...metrics]`
   *   averaged over the batch. The weighted sum itself is left to the optimizer step (`applyWeightedGradients`:
   *   inside the fused Adam kernel) or to `computeGradients`.
   */
  private shardStep(xs: tf.Tensor, ys: tf.Tensor): { parts: Array<WeightedGradients & { replica: number }>; values: number[] } {
    const count = xs.shape[0]!;
    const shards = shardSizes(count, this.threads);
    const xsShape = xs.shape.slice(1);
    const ysShape = ys.shape.slice(1);
    const xPer = xs.size / count;
    const yPer = ys.size / count;
    const globalSteps = this.main.dropouts.map((d) => d.step);
    // The shared buffers are about to be rewritten: every worker must be done reading the previous ones.
    let t = performance.now();
    this.waitForAll();
    t = this.phase('waitBefore', t);
    const xData = xs.dataSync() as Float32Array;
    const yData = ys.dataSync() as Float32Array;
    let start = shards[0]!;
    for (let k = 1; k < this.threads; k++) {
      const n = shards[k]!;
      if (n === 0) continue;
      const x = xData.slice(start * xPer, (start + n) * xPer);
      const y = yData.slice(start * yPer, (start + n) * yPer);
      this.post(k, { type: 'compute', seq: ++this.seq[k - 1]!, xs: x, ys: y, xsShape: [n, ...xsShape], ysShape: [n, ...ysShape], dropoutSteps: globalSteps.map((s) => s * this.threads + k) }, [x.buffer, y.buffer]);
      start += n;
    }
    this.main.dropouts.forEach((d, j) => (d.step = globalSteps[j]! * this.threads));
    const [x0, y0] = tf.tidy(() => [tf.slice(xs, 0, shards[0]), tf.slice(ys, 0, shards[0])]);
    let values: number[];
    let mainGrads: tf.Tensor[];
    try {
      ({ grads: mainGrads, values } = shardGradientTensors(this.main, x0!, y0!));
    } finally {
      tf.dispose([x0!, y0!]);
      this.main.dropouts.forEach((d, j) => (d.step = globalSteps[j]! + 1));
    }
    t = this.phase('mainShard', t);
    this.waitForAll();
    t = this.phase('waitShards', t);

    const parts: Array<WeightedGradients & { replica: number }> = [{ replica: 0, weight: shards[0]! / count, gradients: mainGrads }];
    for (let k = 1; k < this.threads; k++) {
      if (shards[k] === 0) continue;
      parts.push({ replica: k, weight: shards[k]! / count, gradients: uploadFlat(this.main, new Float32Array(this.shared.gradients[k]!)) });
    }
    this.phase('average', t);
    values = values.map((v) => v * parts[0]!.weight);
    for (const { replica: k, weight } of parts.slice(1)) {
      const scalars = new Float64Array(this.shared.scalars[k]!);
      values = values.map((v, j) => v + scalars[j]! * weight);
    }
    return { parts, values };
  }

  /**
   * One synchronous training step on a batch; the contract of `LayersModel.makeTrainFunction`'s function:
   * `data` is `[xs, ys]` (no sample weights), the result `[loss, ...metrics]` as scalars (the caller disposes them).
   * After it returns, every replica holds the updated weights (or, in `'gradients'` mode, is applying them).
   * @throws HwrError `BAD_ARGUMENT` for sample or class weights; Error when a worker fails.
   */
  trainStep(data: tf.Tensor[]): tf.Scalar[] {
    if (data.length !== 2) throw hwrError('BAD_ARGUMENT', 'parallel training: sample and class weights are not supported');
    const { parts, values } = this.shardStep(data[0]!, data[1]!);
    const optimizer = this.main.model.optimizer;
    const { variables, offsets } = this.main;
    let t = performance.now();
    if (this.sync === 'gradients') {
      // Every worker sums exactly these shard gradients in this order with the same kernels: the replicas stay bit-identical.
      writeFlat(parts[0]!.gradients, new Float32Array(this.shared.gradients[0]!), offsets);
      const learningRate = (optimizer as unknown as { learningRate: number }).learningRate;
      const shards = parts.map(({ replica, weight }) => ({ replica, weight }));
      for (let k = 1; k < this.threads; k++) this.post(k, { type: 'apply', seq: ++this.seq[k - 1]!, learningRate, shards });
    }
    applyWeightedGradients(optimizer, variables, parts);
    tf.dispose(parts.flatMap((part) => part.gradients));
    t = this.phase('apply', t);
    if (this.sync === 'weights') {
      writeFlat(variables, new Float32Array(this.shared.broadcast), offsets);
      for (let k = 1; k < this.threads; k++) this.post(k, { type: 'setWeights', seq: ++this.seq[k - 1]! });
      this.phase('broadcast', t);
    }
    this.phases.steps++;
    return values.map((v) => tf.scalar(v));
  }

  /** Adds the time since `since` (a `performance.now()`) to `name`; returns now. */
  private phase(name: Exclude<keyof PhaseTimes, 'steps'>, since: number): number {
    const now = performance.now();
    this.phases[name] += now - since;
    return now;
  }

  /** The main thread's time per phase of `trainStep` since the last `resetPhaseTimes` (see `PhaseTimes`); a copy. */
  phaseTimes(): PhaseTimes {
    return { ...this.phases };
  }

  /** Sets every phase time and the step count to 0. */
  resetPhaseTimes(): void {
    this.phases = noPhaseTimes();
  }

  /**
   * The trainable weights of worker `k`'s replica (1-based), flat in `model.trainableWeights` order: for tests that
   * check the replicas stay identical. Waits for the worker's pending commands first.
   */
  replicaWeights(k: number): Promise<Float32Array> {
    this.waitForAll();
    return new Promise((resolveWeights, reject) => {
      const worker = this.workers[k - 1];
      if (!worker) return reject(hwrError('BAD_ARGUMENT', `replicaWeights: no worker ${k} (threads ${this.threads})`));
      worker.once('message', (message: { type: string; weights: Float32Array }) => resolveWeights(message.weights));
      worker.postMessage({ type: 'getWeights' } satisfies WorkerCommand);
    });
  }

  /** The main replica's trainable weights, flat in `model.trainableWeights` order. */
  mainWeights(): Float32Array {
    const out = new Float32Array(this.main.offsets[this.main.offsets.length - 1]!);
    writeFlat(this.main.variables, out, this.main.offsets);
    return out;
  }

  /**
   * Stops the workers and restores the model's own training function. Does not wait for a pending `'apply'`: the
   * main replica already holds the updated weights, and a worker's failure was reported by the step that caused it.
   */
  async dispose(): Promise<void> {
    this.restore?.();
    this.restore = null;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

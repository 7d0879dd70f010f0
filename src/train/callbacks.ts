/**
 * Training callbacks (Keras style: the loop stays small, everything else hooks in here):
 * progress bar, learning-rate schedule, checkpoints with the best model kept, and loss/accuracy curves.
 * Node only (terminal, files).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { renderTrainingCurves } from '../plot/curves.ts';
import { writeFileAtomic } from '../node/files.ts';
import type { ModelMetadata } from '../core/types.ts';
import { writeCheckpoint, type EpochRecord, type TrainingState } from './checkpoint.ts';

/** Reads a value of TF.js callback logs, which may be a number or a scalar tensor, as a number (NaN when absent). */
export function logValue(logs: tf.Logs | undefined, key: string): number {
  const value = (logs as Record<string, unknown> | undefined)?.[key];
  if (typeof value === 'number') return value;
  if (value instanceof tf.Tensor) return value.dataSync()[0]!;
  return NaN;
}

/**
 * Cosine learning-rate decay (Loshchilov and Hutter 2017, SGDR, without restarts) from `initial` at epoch 0
 * to `initial * floor` after the last epoch. `epoch` is 0-based.
 */
export function cosineLearningRate(initial: number, epoch: number, epochs: number, floor = 0.02): number {
  const progress = epochs <= 1 ? 0 : epoch / (epochs - 1);
  return initial * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Sets the learning rate of the model's optimizer at the start of each epoch. */
export class LearningRateScheduler extends tf.Callback {
  current = 0;

  constructor(private readonly schedule: (epoch: number) => number) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.current = this.schedule(epoch);
    // Adam, SGD and RMSProp read `learningRate` at every step; TF.js exposes no setter.
    (this.model.optimizer as unknown as { learningRate: number }).learningRate = this.current;
  }
}

/**
 * A progress bar per epoch (batch, loss, accuracy, images/s, ETA) on a terminal, and one summary line per
 * epoch everywhere (logs and CI too). Without a terminal (a log file, `nohup`), a progress line every
 * `logIntervalSeconds` (default 60 s) instead of the bar, so a long epoch is not silent for an hour.
 * Also measures images/s and epoch time, read by the other callbacks.
 */
export class ProgressCallback extends tf.Callback {
  private bar: cliProgress.SingleBar | null = null;
  private epochStart = 0;
  private images = 0;
  /** Sums of batch loss and accuracy weighted by batch size, for the running means the bar shows (as Keras does). */
  private lossSum = 0;
  private accuracySum = 0;
  private trainSeconds = 0;
  private lastLog = 0;
  private epoch = 0;
  /** Images/s and seconds of the last finished epoch. */
  last = { imagesPerSecond: 0, seconds: 0 };

  constructor(
    private readonly batchesPerEpoch: number,
    private readonly epochs: number,
    private readonly print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    private readonly interactive = Boolean(process.stdout.isTTY),
    /** Seconds between progress lines when not `interactive`; 0 = none. */
    private readonly logIntervalSeconds = 60,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epochStart = performance.now();
    this.images = 0;
    this.lossSum = 0;
    this.accuracySum = 0;
    this.lastLog = this.epochStart;
    this.epoch = epoch;
    if (this.interactive) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `epoch ${epoch + 1}/${this.epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {speed} img/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(this.batchesPerEpoch, 0, { loss: '-', acc: '-', speed: '-' });
    }
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const size = logValue(logs, 'size') || 0;
    this.images += size;
    this.lossSum += logValue(logs, 'loss') * size;
    this.accuracySum += logValue(logs, 'acc') * size;
    if (!this.bar) {
      const now = performance.now();
      if (this.logIntervalSeconds > 0 && now - this.lastLog >= this.logIntervalSeconds * 1000) {
        this.lastLog = now;
        const seconds = (now - this.epochStart) / 1000;
        const done = batch + 1;
        const eta = Math.round((seconds / done) * (this.batchesPerEpoch - done));
        this.print(
          `epoch ${this.epoch + 1}/${this.epochs}: batch ${done}/${this.batchesPerEpoch} | loss ${(this.lossSum / this.images).toFixed(4)} | ` +
            `acc ${(this.accuracySum / this.images).toFixed(4)} | ${Math.round(this.images / seconds)} img/s | ETA ${Math.floor(eta / 60)} min ${eta % 60} s`,
        );
      }
      return;
    }
    if (batch % 5 !== 0) return;
    const seconds = (performance.now() - this.epochStart) / 1000;
    this.bar.update(batch + 1, {
      loss: (this.lossSum / this.images).toFixed(4),
      acc: (this.accuracySum / this.images).toFixed(4),
      speed: Math.round(this.images / seconds),
    });
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const seconds = (performance.now() - this.epochStart) / 1000;
    this.trainSeconds += seconds;
    this.last = { imagesPerSecond: this.images / seconds, seconds };
    if (this.bar) {
      this.bar.update(this.batchesPerEpoch);
      this.bar.stop();
      this.bar = null;
    }
    const valAccuracy = logValue(logs, 'val_acc');
    const val = Number.isNaN(valAccuracy) ? '' : ` | val_loss ${logValue(logs, 'val_loss').toFixed(4)} | val_acc ${valAccuracy.toFixed(4)}`;
    this.print(
      `epoch ${epoch + 1}/${this.epochs}: loss ${logValue(logs, 'loss').toFixed(4)} | acc ${logValue(logs, 'acc').toFixed(4)}${val} | ` +
        `${Math.round(this.last.imagesPerSecond)} img/s | ${seconds.toFixed(1)} s`,
    );
  }
}

/** Options of `CheckpointCallback`. */
export interface CheckpointOptions {
  outDir: string;
  state: TrainingState;
  progress: ProgressCallback;
  scheduler: LearningRateScheduler;
  /** Builds the metadata to store with the best model, from the state after the epoch. */
  metadata: (state: TrainingState) => ModelMetadata;
  /** The checkpoint a resumed run continues from; null for a new run. */
  previous: string | null;
  print?: (line: string) => void;
}

/**
 * After every epoch: records the epoch in the state, writes the epoch's checkpoint as a whole (weights, optimizer
 * state, `state.json` with the recipe, the best model so far, SHA256SUMS; see ./checkpoint.ts), publishes the model
 * to `outDir` when its validation accuracy is the best so far (float16 weights, with `metadata.json`), and redraws
 * `history.json` and `curves.png`. A run killed at any moment leaves a complete checkpoint to resume from.
 */
export class CheckpointCallback extends tf.Callback {
  /** Folder of the newest checkpoint written (or resumed from). */
  latest: string | null;

  constructor(private readonly options: CheckpointOptions) {
    super();
    this.latest = options.previous;
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const { outDir, state, progress, scheduler } = this.options;
    const valAccuracy = logValue(logs, 'val_acc');
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: logValue(logs, 'loss'),
      accuracy: logValue(logs, 'acc'),
      ...(Number.isNaN(valAccuracy) ? {} : { valLoss: logValue(logs, 'val_loss'), valAccuracy }),
      learningRate: scheduler.current,
      seconds: progress.last.seconds,
      imagesPerSecond: progress.last.imagesPerSecond,
    };
    state.history.push(record);
    state.epochsDone = epoch + 1;
    state.trainingSeconds += progress.last.seconds;
    const score = record.valAccuracy ?? record.accuracy;
    const model = this.model as unknown as tf.LayersModel;
    const isBest = score > state.bestValAccuracy || state.bestEpoch === 0;
    if (isBest) {
      state.bestValAccuracy = score;
      state.bestEpoch = epoch + 1;
    }
    this.latest = await writeCheckpoint({ outDir, model, state, newBest: isBest ? this.options.metadata(state) : undefined, previous: this.latest });
    if (isBest) this.options.print?.(`  best so far (validation accuracy ${score.toFixed(4)}): saved to ${outDir}`);
    await writeFileAtomic(join(outDir, 'history.json'), JSON.stringify(state.history, null, 2));
    const png = await renderTrainingCurves(
      state.history.map((h) => ({ epoch: h.epoch, loss: h.loss, accuracy: h.accuracy, valLoss: h.valLoss, valAccuracy: h.valAccuracy })),
      { title: `${state.recipe.model} training` },
    );
    await writeFileAtomic(join(outDir, 'curves.png'), png);
  }
}

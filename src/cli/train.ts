import type { Command } from 'commander';
import { DEFAULT_ARCHITECTURE } from '../models/index.ts';
import { train } from '../train/train.ts';

/** Flags of `hwr train` as parsed by commander. */
export interface TrainFlags {
  model?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  out: string;
  data?: string;
  resume?: boolean;
  limit?: number;
  augment?: boolean;
  /** Rejection class and synthetic styles; unset: the architecture decides (hwr-net on MNIST: yes). */
  reject?: boolean;
  /** Model folder to start from (fine-tuning). */
  init?: string;
  /** With `--data hwdb:DIR`: the named class set (`gb2312-1`) instead of the characters found in the data. */
  charset?: string;
  /** Training threads (data-parallel); unset: `defaultTrainingThreads()`. */
  threads?: number;
  /** With `--data hwdb:DIR`: skip corrupt GNT samples with a warning each instead of failing at the first. */
  skipCorrupt?: boolean;
}

/** The recipe flags that `--resume` takes from the checkpoint unless they are given on the command line. */
const RECIPE_FLAGS = ['model', 'epochs', 'batchSize', 'learningRate', 'seed', 'data', 'limit', 'augment', 'reject', 'init', 'threads', 'charset', 'skipCorrupt'] as const;

/**
 * `hwr train`: see `train()` in src/train/train.ts. With `--resume`, only the flags given on the command line are
 * passed on (commander's defaults are dropped), so the run continues with the recipe of its checkpoint.
 */
export async function trainCommand(flags: TrainFlags, command?: Command): Promise<void> {
  const started = performance.now();
  if (flags.resume && command) {
    const given = flags as unknown as Record<string, unknown>;
    for (const name of RECIPE_FLAGS) if (command.getOptionValueSource(name) !== 'cli') delete given[name];
  }
  const result = await train({
    model: flags.model,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.learningRate,
    seed: flags.seed,
    outDir: flags.out === 'runs/<model>' ? `runs/${flags.model ?? DEFAULT_ARCHITECTURE}` : flags.out,
    dataDir: flags.data,
    resume: flags.resume,
    limit: flags.limit,
    // Unset: the architecture decides (hwr-net augments, the seed models do not, as in the articles).
    augment: flags.augment,
    reject: flags.reject,
    init: flags.init,
    threads: flags.threads,
    charset: flags.charset,
    skipCorrupt: flags.skipCorrupt,
  });
  if (!result.nothingToDo) process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

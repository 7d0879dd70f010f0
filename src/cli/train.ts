import { train } from '../train/train.ts';

/** Flags of `hwr train` as parsed by commander. */
export interface TrainFlags {
  model: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  out: string;
  data?: string;
  resume?: boolean;
  limit?: number;
  augment?: boolean;
  /** Training threads (data-parallel); unset: `defaultTrainingThreads()`. */
  threads?: number;
}

/** `hwr train`: see `train()` in src/train/train.ts. */
export async function trainCommand(flags: TrainFlags): Promise<void> {
  const started = performance.now();
  await train({
    model: flags.model,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.learningRate,
    seed: flags.seed,
    outDir: flags.out === 'runs/<model>' ? `runs/${flags.model}` : flags.out,
    dataDir: flags.data,
    resume: flags.resume,
    limit: flags.limit,
    // Unset: the architecture decides (hwr-net augments, the seed models do not, as in the articles).
    augment: flags.augment,
    threads: flags.threads,
  });
  process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

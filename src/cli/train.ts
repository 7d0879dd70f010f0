import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { DEFAULT_ARCHITECTURE } from '../models/index.ts';
import { teachScript } from '../node/inkScript.ts';
import { DEFAULT_TEACHING_BASE, type TrainingProgress } from '../train/inkScript.ts';
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
  /** With `--data ink:FILE.json`: the pretrained model whose features are learned from (`digits`, `hanzi` or a folder). */
  base?: string;
  /** With `--data ink:FILE.json`: augmented variants per drawn sample. */
  variants?: number;
  /** Training threads (data-parallel); unset: `defaultTrainingThreads()`, or 1 with `kernelThreads` above 1. */
  threads?: number;
  /** Threads for each step's kernels within one model (`TrainOptions.kernelThreads`); default 1. */
  kernelThreads?: number;
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
  if (flags.data?.startsWith('ink:')) {
    await teachCommand(flags, command);
    process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    return;
  }
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
    // --kernel-threads uses the cores inside one model: no data-parallel replicas unless --threads asks for them.
    threads: flags.threads ?? ((flags.kernelThreads ?? 1) > 1 && !flags.resume ? 1 : undefined),
    kernelThreads: flags.kernelThreads,
    charset: flags.charset,
    skipCorrupt: flags.skipCorrupt,
  });
  if (!result.nothingToDo) process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

/**
 * `hwr train --data ink:FILE.json`: teaches the script of an `hwr-ink-dataset` file (`teachScript`, src/node/inkScript.ts)
 * from `--base` (default `DEFAULT_TEACHING_BASE`, glyphs-latin), or continues from `--init DIR` (personalization); `--epochs` sets the fine-tune
 * epochs (default the recipe's), `--seed` the seed; the model folder goes to `--out` (default `runs/<script>`).
 * Progress: a bar on a terminal, else one line per phase and epoch.
 */
async function teachCommand(flags: TrainFlags, command?: Command): Promise<void> {
  const given = (name: string): boolean => !command || command.getOptionValueSource(name) === 'cli';
  const data = flags.data!.slice('ink:'.length);
  const outDir = flags.out === 'runs/<model>' ? undefined : flags.out;
  const fineTuneEpochs = given('epochs') ? flags.epochs : undefined;
  // With --init the base is not used (the model continued from has the features).
  const parts = ['npx hwr train', `--data ink:${data}`, ...(flags.init ? [] : [`--base ${flags.base ?? DEFAULT_TEACHING_BASE}`]), `--seed ${flags.seed ?? 1}`];
  if (fineTuneEpochs !== undefined) parts.push(`--epochs ${fineTuneEpochs}`);
  if (flags.variants) parts.push(`--variants ${flags.variants}`);
  if (flags.init) parts.push(`--init ${flags.init}`);
  const progress = teachProgress();
  try {
    const result = await teachScript({
      data,
      outDir,
      base: flags.base,
      startFrom: flags.init,
      seed: flags.seed,
      fineTuneEpochs,
      variantsPerSample: flags.variants,
      onProgress: progress.update,
      command: [...parts, ...(outDir ? [`--out ${outDir}`] : [])].join(' '),
    });
    progress.stop();
    const accuracy = result.metadata.testAccuracy;
    process.stdout.write(
      `${result.metadata.name}: ${result.metadata.classes.length} classes, ${result.metadata.architecture}` +
        `${accuracy === null ? '' : `, held-out variants top-1 ${(accuracy * 100).toFixed(1)}%`}; model written to ${result.outDir}\n`,
    );
  } finally {
    progress.stop();
  }
}

/** Prints `TrainingProgress`: a cli-progress bar on a terminal, else a line at each phase change and epoch end. */
function teachProgress(): { update: (progress: TrainingProgress) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  let last = '';
  const line = (p: TrainingProgress): string => {
    const epoch = p.epochs > 0 ? ` epoch ${p.epoch}/${p.epochs}` : '';
    const figures = p.loss === null ? '' : ` | loss ${p.loss.toFixed(4)} | acc ${(p.accuracy ?? 0).toFixed(4)}`;
    return `${p.phase}${epoch}${figures} | ${(p.elapsedMs / 1000).toFixed(1)} s${p.usable && p.phase === 'head' && p.loss === null ? ' | usable' : ''}`;
  };
  return {
    update(p) {
      if (process.stdout.isTTY) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: '{phase} [{bar}] {percentage}% | {detail} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
          bar.start(1000, 0, { phase: p.phase, detail: '' });
        }
        bar.update(Math.round(p.fraction * 1000), { phase: p.phase, detail: line(p).slice(p.phase.length + 1) });
        return;
      }
      // A line at each phase change, at each epoch's end (with its loss), and when the model becomes usable.
      const key = `${p.phase} ${p.usable}`;
      if (key === last && p.loss === null) return;
      last = key;
      process.stdout.write(`${line(p)}\n`);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

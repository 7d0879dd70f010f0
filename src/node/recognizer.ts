/**
 * `loadRecognizer` for Node: resolves a shipped model name (`digits`, `hanzi`) or a model folder, prepares the
 * TF.js backend, and loads the model from files. The browser uses `src/core/recognizer.ts` directly with a URL.
 */
import { existsSync, statSync, type Dirent } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hwrError } from '../core/errors.ts';
import { createRecognizer, type Recognizer } from '../core/recognizer.ts';
import { setupBackend } from '../train/backend.ts';
import { loadModel, MODEL_JSON, readMetadata } from './modelFiles.ts';

/** Folder of the models shipped with hwr (`<repo>/models`). */
export const SHIPPED_MODELS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');

/** Name of the shipped default model. */
export const DEFAULT_MODEL = 'digits';

/** What a model name may be: letters, digits, `_` and `-` (a folder name under models/, never a path). */
export const MODEL_NAME_PATTERN = /^[\w-]+$/;

/**
 * Resolves `nameOrDir` to a model folder: a folder holding `model.json` (a training `--out` folder or a copy),
 * else the name of a model in `modelsDir` (default the shipped models, `models/`).
 * @throws HwrError `UNKNOWN_MODEL` naming what was tried.
 */
export function resolveModelDir(nameOrDir: string = DEFAULT_MODEL, modelsDir: string = SHIPPED_MODELS_DIR): string {
  const asDir = resolve(nameOrDir);
  if (existsSync(join(asDir, MODEL_JSON))) return asDir;
  if (MODEL_NAME_PATTERN.test(nameOrDir) && existsSync(join(modelsDir, nameOrDir, MODEL_JSON))) {
    return join(modelsDir, nameOrDir);
  }
  const isDir = existsSync(asDir) && statSync(asDir).isDirectory();
  throw hwrError(
    'UNKNOWN_MODEL',
    isDir
      ? `${nameOrDir}: no ${MODEL_JSON} in this folder (train one with "hwr train --out ${nameOrDir}")`
      : `unknown model "${nameOrDir}": not a folder with ${MODEL_JSON}, nor a model in ${modelsDir}`,
  );
}

/**
 * Names of the models in `modelsDir` (default the shipped ones): its subfolders that hold `model.json` and whose
 * name matches `MODEL_NAME_PATTERN`, sorted, e.g. `['digits', 'hanzi']`. Reads the folder listing only.
 * @returns `[]` when `modelsDir` does not exist.
 */
export async function listModelNames(modelsDir: string = SHIPPED_MODELS_DIR): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(modelsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const names = entries.filter((entry) => entry.isDirectory() && MODEL_NAME_PATTERN.test(entry.name)).map((entry) => entry.name);
  const withModel = await Promise.all(names.map((name) => access(join(modelsDir, name, MODEL_JSON)).then(() => true, () => false)));
  return names.filter((_, i) => withModel[i]).sort();
}

/**
 * Loads a model for recognition in Node: `loadRecognizer()` is the shipped digit model,
 * `loadRecognizer('runs/my-model')` a trained one, `loadRecognizer('hanzi', otherModelsDir)` one from another
 * models folder. Sets up the wasm backend first.
 * @throws HwrError `UNKNOWN_MODEL` or `BAD_MODEL`.
 */
export async function loadRecognizer(nameOrDir: string = DEFAULT_MODEL, modelsDir: string = SHIPPED_MODELS_DIR): Promise<Recognizer> {
  const dir = resolveModelDir(nameOrDir, modelsDir);
  await setupBackend();
  const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
  return createRecognizer(model, metadata);
}

/**
 * `loadRecognizer` for Node: resolves a shipped model name (`digits`) or a model folder, prepares the
 * TF.js backend, and loads the model from files. The browser uses `src/core/recognizer.ts` directly with a URL.
 */
import { existsSync, statSync } from 'node:fs';
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

/**
 * Resolves `nameOrDir` to a model folder: a folder holding `model.json` (a training `--out` folder or a copy),
 * else the name of a shipped model in `models/`.
 * @throws HwrError `UNKNOWN_MODEL` naming what was tried.
 */
export function resolveModelDir(nameOrDir: string = DEFAULT_MODEL): string {
  const asDir = resolve(nameOrDir);
  if (existsSync(join(asDir, MODEL_JSON))) return asDir;
  if (/^[\w-]+$/.test(nameOrDir) && existsSync(join(SHIPPED_MODELS_DIR, nameOrDir, MODEL_JSON))) {
    return join(SHIPPED_MODELS_DIR, nameOrDir);
  }
  const isDir = existsSync(asDir) && statSync(asDir).isDirectory();
  throw hwrError(
    'UNKNOWN_MODEL',
    isDir
      ? `${nameOrDir}: no ${MODEL_JSON} in this folder (train one with "hwr train --out ${nameOrDir}")`
      : `unknown model "${nameOrDir}": not a folder with ${MODEL_JSON}, nor a shipped model in ${SHIPPED_MODELS_DIR}`,
  );
}

/**
 * Loads a model for recognition in Node: `loadRecognizer()` is the shipped digit model,
 * `loadRecognizer('runs/my-model')` a trained one. Sets up the wasm backend first.
 * @throws HwrError `UNKNOWN_MODEL` or `BAD_MODEL`.
 */
export async function loadRecognizer(nameOrDir: string = DEFAULT_MODEL): Promise<Recognizer> {
  const dir = resolveModelDir(nameOrDir);
  await setupBackend();
  const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
  return createRecognizer(model, metadata);
}

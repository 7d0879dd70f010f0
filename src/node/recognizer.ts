/**
 * `loadRecognizer` for Node: resolves a shipped model name (`digits`, `hanzi`) or a model folder and loads the model
 * from files into a recognizer run by ONNX Runtime (./onnxEngine.ts, on the folder's ONNX form: ./onnxCache.ts) or
 * by TF.js (the wasm backend), as `options.engine` chooses. The browser uses `src/core/recognizer.ts` directly with a
 * URL.
 */
import { existsSync, statSync, type Dirent } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hwrError, isHwrError } from '../core/errors.ts';
import { createRecognizer, type Recognizer } from '../core/recognizer.ts';
import type { ModelMetadata } from '../core/types.ts';
import { setupBackend } from '../backend/backend.ts';
import { loadModel, MODEL_JSON, readMetadata } from './modelFiles.ts';
import { findOnnxForm, generateOnnxForm, modelWeightsSha256, type OnnxForm, type OnnxFormOptions } from './onnxCache.ts';
import { isRuntimeMissing, loadOnnxRuntime, onnxruntimeEngine, type OnnxEngine } from './onnxEngine.ts';

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
 * Which engine runs a model in Node: `onnx` (ONNX Runtime on the model's ONNX form), `tfjs` (TF.js, wasm backend), or
 * `auto`: ONNX Runtime when it loads here and the model can be lowered to ONNX, else TF.js with a one-line warning.
 */
export type EngineChoice = 'auto' | 'onnx' | 'tfjs';

/** The values of `EngineChoice`, for CLI choices and checks. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];

/**
 * Parses an engine choice from a flag or an environment variable (`where` names it in the error); undefined or empty
 * is `auto`.
 * @throws HwrError `BAD_ARGUMENT` for any other value than `auto`, `onnx` or `tfjs`
 */
export function parseEngineChoice(value: string | undefined, where: string): EngineChoice {
  if (value === undefined || value === '') return 'auto';
  if ((ENGINE_CHOICES as readonly string[]).includes(value)) return value as EngineChoice;
  throw hwrError('BAD_ARGUMENT', `${where} must be one of ${ENGINE_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** Options of `loadRecognizer`. */
export interface LoadRecognizerOptions {
  /** The engine; default `auto`. */
  engine?: EngineChoice;
  /** Intra-op threads of an ONNX Runtime session; default 1 (the server's pool runs one worker per core). */
  threads?: number;
  /** Receives each warning line (an `auto` fallback to TF.js, an ignored model.onnx, an unwritable cache); default stderr. */
  warn?: (line: string) => void;
  /** Environment for the ONNX cache folder (`HWR_CACHE_DIR`, `XDG_CACHE_HOME`); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const warnOnStderr = (line: string): void => {
  process.stderr.write(`hwr: warning: ${line}\n`);
};

/**
 * Loads a model for recognition in Node: `loadRecognizer()` is the shipped digit model,
 * `loadRecognizer('runs/my-model')` a trained one, `loadRecognizer('hanzi', otherModelsDir)` one from another
 * models folder. `options.engine` picks what runs it (`EngineChoice`, default `auto`); `recognizer.engine` says
 * which did (`onnxruntime` or `tfjs`). Probabilities, calibration and decoding are the same with either engine
 * (ONNX Runtime and TF.js agree within about 1e-6).
 * @throws HwrError `UNKNOWN_MODEL` or `BAD_MODEL` (the folder's files); with `engine: 'onnx'`, `UNSUPPORTED_MODEL`
 *   when ONNX Runtime cannot be loaded here or the model cannot be lowered to ONNX (no fallback).
 */
export async function loadRecognizer(nameOrDir: string = DEFAULT_MODEL, modelsDir: string = SHIPPED_MODELS_DIR, options: LoadRecognizerOptions = {}): Promise<Recognizer> {
  const dir = resolveModelDir(nameOrDir, modelsDir);
  const engine = options.engine ?? 'auto';
  if (engine === 'tfjs') return loadTfjsRecognizer(dir);
  if (engine === 'onnx') return loadOnnxRecognizer(dir, options);
  if (engine !== 'auto') throw hwrError('BAD_ARGUMENT', `engine must be one of ${ENGINE_CHOICES.join(', ')}, got ${JSON.stringify(engine)}`);
  try {
    return await loadOnnxRecognizer(dir, options);
  } catch (onnxError) {
    // A broken folder fails with TF.js too, and then TF.js's error is the one reported (as before engines existed).
    const recognizer = await loadTfjsRecognizer(dir);
    const reason = onnxError instanceof Error ? onnxError.message : String(onnxError);
    (options.warn ?? warnOnStderr)(`${reason} -- running ${dir} with TF.js instead of ONNX Runtime`);
    return recognizer;
  }
}

/** The model of folder `dir` run by TF.js on the wasm backend. */
async function loadTfjsRecognizer(dir: string): Promise<Recognizer> {
  await setupBackend();
  const [model, metadata] = await Promise.all([loadModel(dir), readMetadata(dir)]);
  return createRecognizer(model, metadata);
}

/**
 * The model of folder `dir` run by ONNX Runtime on its ONNX form (`findOnnxForm`: the folder's model.onnx or the
 * cache), generated when there is none or when the one found does not load or does not fit the metadata.
 * @throws HwrError `BAD_MODEL` for the folder's files; `UNSUPPORTED_MODEL` when onnxruntime-node cannot be loaded,
 *   the model has a layer the exporter cannot lower, or its generated ONNX form does not run
 */
async function loadOnnxRecognizer(dir: string, options: LoadRecognizerOptions): Promise<Recognizer> {
  const formOptions: OnnxFormOptions = { warn: options.warn ?? warnOnStderr, ...(options.env ? { env: options.env } : {}) };
  // Missing ONNX Runtime fails first, before any file is read or generated.
  await loadOnnxRuntime();
  const [metadata, checksum] = await Promise.all([readMetadata(dir), modelWeightsSha256(dir)]);
  const found = await findOnnxForm(dir, checksum, formOptions);
  if (found) {
    try {
      return createRecognizer(await engineFor(found, metadata, options.threads), metadata);
    } catch (error) {
      if (isRuntimeMissing(error)) throw error;
      // The cache is ours to replace silently; an exported model.onnx that the runtime refuses deserves a word.
      if (found.source === 'exported') formOptions.warn!(`${(error as Error).message}; ignored`);
    }
  }
  await setupBackend();
  const generated = await generateOnnxForm(dir, metadata, checksum, formOptions);
  try {
    return createRecognizer(await engineFor(generated, metadata, options.threads), metadata);
  } catch (error) {
    if (isRuntimeMissing(error) || !isHwrError(error)) throw error;
    throw hwrError('UNSUPPORTED_MODEL', `${dir}: its ONNX form does not run in ONNX Runtime: ${error.message}`, error);
  }
}

/**
 * An ONNX Runtime engine on `form`, checked against the metadata.
 * @throws HwrError `BAD_MODEL` when the runtime refuses it or its input or output shape differs from the metadata's
 */
async function engineFor(form: OnnxForm, metadata: ModelMetadata, threads: number | undefined): Promise<OnnxEngine> {
  const name = form.path ?? `the ONNX form of ${metadata.name}`;
  const engine = await onnxruntimeEngine(form.bytes, { threads: threads ?? 1, name });
  const [height, width] = metadata.inputShape;
  if (engine.inputShape[0] !== height || engine.inputShape[1] !== width || engine.classes !== metadata.classes.length) {
    engine.dispose();
    throw hwrError(
      'BAD_MODEL',
      `${name}: takes ${engine.inputShape.join('x')} images to ${engine.classes} classes, but the model's metadata says ${height}x${width} to ${metadata.classes.length}`,
    );
  }
  return engine;
}

/**
 * Loading what the line reader (`readLine`, src/core/line/readLine.ts) uses beside a character model, in Node: its
 * pair model for touching characters (`ReadLineOptions.pairs`; the shipped `digit-segments` serves `digits`, the
 * segment verifier `hanzi-segments` serves `hanzi`). A pair
 * model names the character model it serves in its metadata (`ModelMetadata.pairsFor`); nothing here knows of digits.
 *
 *   const recognizer = await loadRecognizer('digits');
 *   const pairs = await loadPairRecognizer(recognizer);                 // models/digit-segments, or null
 *   const reading = await readLine(recognizer, { image }, { pairs: pairs ?? undefined });
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Recognizer } from '../core/recognizer.ts';
import { METADATA_JSON, MODEL_JSON } from './modelFiles.ts';
import { loadRecognizer, SHIPPED_MODELS_DIR, type LoadRecognizerOptions } from './recognizer.ts';

/**
 * The folder of the pair model that serves the character model named `modelName`: a subfolder of `modelsDir` holding
 * `model.json` whose `metadata.json` has `pairsFor: modelName` (the first by folder name when several do).
 * @param modelsDir default the shipped models (`models/`)
 * @returns the folder, or null when there is none (a missing or unreadable `modelsDir` included)
 */
export async function findPairModelDir(modelName: string, modelsDir: string = SHIPPED_MODELS_DIR): Promise<string | null> {
  let entries: Dirent[];
  try {
    entries = await readdir(modelsDir, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(modelsDir, entry.name);
    try {
      const metadata = JSON.parse(await readFile(join(dir, METADATA_JSON), 'utf8')) as { pairsFor?: unknown };
      if (metadata.pairsFor === modelName && (await readdir(dir)).includes(MODEL_JSON)) return dir;
    } catch {
      // not a model folder (or a broken one): not a pair model
    }
  }
  return null;
}

const cache = new Map<string, Promise<Recognizer | null>>();

/**
 * Loads the pair model of a character model (see `findPairModelDir`), once per folder and engine (later calls share
 * the loaded recognizer: dispose it never, or only at exit).
 * @param recognizer the character model (its `metadata.name` is looked up)
 * @param options as `loadRecognizer`'s, plus `modelsDir` (default the shipped models)
 * @returns the pair recognizer, or null when no pair model serves this model
 * @throws HwrError `BAD_MODEL` when the pair model's folder is found but broken (as `loadRecognizer`)
 */
export async function loadPairRecognizer(recognizer: Pick<Recognizer, 'metadata'>, options: LoadRecognizerOptions & { modelsDir?: string } = {}): Promise<Recognizer | null> {
  const { modelsDir, ...loadOptions } = options;
  const dir = await findPairModelDir(recognizer.metadata.name, modelsDir ?? SHIPPED_MODELS_DIR);
  if (dir === null) return null;
  const key = `${dir}\u0000${loadOptions.engine ?? 'auto'}`;
  let loaded = cache.get(key);
  if (!loaded) {
    loaded = loadRecognizer(dir, undefined, loadOptions);
    cache.set(key, loaded);
    loaded.catch(() => cache.delete(key));
  }
  return loaded;
}

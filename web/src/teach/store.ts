/**
 * What the page keeps in the browser (IndexedDB, database `hwr`): taught scripts with their samples, the models
 * trained or improved in the page, and each script's personal dataset (corrected samples for "Improve").
 *
 * Object stores (version 1), all values structured-cloned as they are:
 * - `scripts`, key the script's name: `TaughtScript` (its `hwr-ink-dataset`, reference pictures included);
 * - `models`, key a page script (`digits`, `hanzi`, `taught:<name>`): `StoredModel` (the model in use, and the model
 *   it replaced when it was improved);
 * - `personal`, key a page script: `InkDataset`, the samples the user corrected.
 *
 * A small promise wrapper over the raw IndexedDB API (https://w3c.github.io/IndexedDB/): one transaction per call,
 * so a write either lands whole or not at all.
 */
import type { InkDataset } from '../../../src/data/inkDataset.ts';
import type { ModelFiles } from '../training/types.ts';

/** The database's name and version. */
export const TEACH_DB_NAME = 'hwr';
const TEACH_DB_VERSION = 1;

/** A script taught in the page. */
export interface TaughtScript {
  /** Its name, unique in the page, e.g. `hylian` (also `dataset.script`). */
  name: string;
  /** The classes, samples and reference pictures (`dataset.pictures`, data URLs). */
  dataset: InkDataset;
  /** How many samples of each symbol to ask for; default 5. */
  samplesPerSymbol: number;
  /** When it was created and last changed (ms since the epoch). */
  created: number;
  updated: number;
}

/** A model trained or improved in the page, kept for a page script. */
export interface StoredModel {
  /** The model in use. */
  model: ModelFiles;
  /**
   * The model before "Improve" replaced it: a taught script's trained model (undefined for a shipped script, whose
   * original is the shipped model, and before any improvement). "Reset to the original model" goes back to it.
   */
  original?: ModelFiles;
  /** True when `model` is an improvement on the original (the personal dataset fine-tuned in). */
  improved: boolean;
  /** ms since the epoch. */
  saved: number;
}

type StoreName = 'scripts' | 'models' | 'personal';

let opening: Promise<IDBDatabase> | null = null;

/** Opens (and on first use creates) the database; one connection per page. */
function database(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new Error('this browser has no IndexedDB: taught scripts and models cannot be kept'));
      return;
    }
    const open = indexedDB.open(TEACH_DB_NAME, TEACH_DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      for (const name of ['scripts', 'models', 'personal'] as const) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
      }
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error ?? new Error('IndexedDB could not be opened'));
    open.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page: close it and reload'));
  });
  opening.catch(() => {
    opening = null;
  });
  return opening;
}

/** Runs `work` in one transaction on `store` and resolves once the transaction has committed. */
async function transact<T>(store: StoreName, mode: IDBTransactionMode, work: (objects: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await database();
  return new Promise<T>((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const req = work(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(req.result);
    transaction.onerror = () => reject(transaction.error ?? req.error ?? new Error(`IndexedDB ${mode} on ${store} failed`));
    transaction.onabort = () => reject(transaction.error ?? new Error(`IndexedDB ${mode} on ${store} was aborted (storage full?)`));
  });
}

/** Every taught script, by name. */
export async function listScripts(): Promise<TaughtScript[]> {
  const scripts = await transact('scripts', 'readonly', (objects) => objects.getAll() as IDBRequest<TaughtScript[]>);
  return scripts.sort((a, b) => a.name.localeCompare(b.name));
}

/** The taught script `name`, or undefined. */
export async function getScript(name: string): Promise<TaughtScript | undefined> {
  return transact('scripts', 'readonly', (objects) => objects.get(name) as IDBRequest<TaughtScript | undefined>);
}

/** Writes (creates or replaces) a taught script. */
export async function putScript(script: TaughtScript): Promise<void> {
  await transact('scripts', 'readwrite', (objects) => objects.put(script, script.name));
}

/** Deletes a taught script with its model and personal dataset. */
export async function deleteScript(name: string): Promise<void> {
  await transact('scripts', 'readwrite', (objects) => objects.delete(name));
  await transact('models', 'readwrite', (objects) => objects.delete(`taught:${name}`));
  await transact('personal', 'readwrite', (objects) => objects.delete(`taught:${name}`));
}

/** The model kept for a page script (`digits`, `hanzi`, `taught:<name>`), or undefined. */
export async function getModel(script: string): Promise<StoredModel | undefined> {
  return transact('models', 'readonly', (objects) => objects.get(script) as IDBRequest<StoredModel | undefined>);
}

/** Every kept model, by page script. */
export async function listModels(): Promise<Map<string, StoredModel>> {
  const db = await database();
  return new Promise((resolve, reject) => {
    const found = new Map<string, StoredModel>();
    const cursor = db.transaction('models', 'readonly').objectStore('models').openCursor();
    cursor.onsuccess = () => {
      const at = cursor.result;
      if (!at) {
        resolve(found);
        return;
      }
      found.set(String(at.key), at.value as StoredModel);
      at.continue();
    };
    cursor.onerror = () => reject(cursor.error ?? new Error('IndexedDB could not list the models'));
  });
}

/** Keeps a model for a page script, replacing any. */
export async function putModel(script: string, stored: StoredModel): Promise<void> {
  await transact('models', 'readwrite', (objects) => objects.put(stored, script));
}

/** Forgets the model kept for a page script (a shipped script then uses its shipped model again). */
export async function deleteModel(script: string): Promise<void> {
  await transact('models', 'readwrite', (objects) => objects.delete(script));
}

/** The personal dataset of a page script (corrected samples), or undefined. */
export async function getPersonal(script: string): Promise<InkDataset | undefined> {
  return transact('personal', 'readonly', (objects) => objects.get(script) as IDBRequest<InkDataset | undefined>);
}

/** Writes the personal dataset of a page script. */
export async function putPersonal(script: string, dataset: InkDataset): Promise<void> {
  await transact('personal', 'readwrite', (objects) => objects.put(dataset, script));
}

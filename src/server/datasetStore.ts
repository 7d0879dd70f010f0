/**
 * The server's store of `hwr-ink-dataset` files (src/data/inkDataset.ts) behind `/api/datasets`: one file
 * `<name>.json` per dataset in one folder, written atomically (`writeFileAtomic`: a temporary file, fsync, rename, so
 * a reader or a crash never sees half a file and a failed write leaves the old one), re-validated whenever it is read
 * (the folder may be edited by hand), bounded in size per dataset and in count and bytes for the folder.
 *
 * Writes (and deletes) run one at a time, so the folder's limits hold under concurrent requests.
 *
 * ```ts
 * const store = new DatasetStore(datasetStoreOptionsFromEnv(process.env));
 * await store.write('hylian', dataset);   // { created: true, summary }
 * const { text } = await store.read('hylian');
 * ```
 */
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hwrError, isHwrError } from '../core/errors.ts';
import { readInkDataset, serializeInkDataset, type InkDataset } from '../data/inkDataset.ts';
import { writeFileAtomic } from '../node/files.ts';
import { ApiError } from './errors.ts';

/** A dataset's name in the API and its file's stem: a lowercase slug, so no path, dot file or case clash can be named. */
export const DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Default limits of the store (each overridable by an environment variable, see `datasetStoreOptionsFromEnv`). */
export const DATASET_STORE_DEFAULTS = {
  /** Folder of the files, relative to the working directory (`HWR_DATA_DIR`). */
  dir: 'data/datasets',
  /** Most bytes of one dataset, as sent and as stored (`HWR_DATASET_MAX_BYTES`): 5 MiB, about 1,000 samples of 600 points. */
  maxBytes: 5 * 1024 * 1024,
  /** Most datasets in the folder (`HWR_DATASET_MAX_COUNT`). */
  maxCount: 100,
  /** Most bytes of all datasets together (`HWR_DATASET_MAX_TOTAL_BYTES`): 200 MiB. */
  maxTotalBytes: 200 * 1024 * 1024,
} as const;

/** Options of `DatasetStore`. */
export interface DatasetStoreOptions {
  /** Folder of the `<name>.json` files; created on the first write. */
  dir: string;
  /** Bearer token that write routes need (`HWR_DATASET_TOKEN`); absent or empty: writes are off. Used by the plugin. */
  token?: string;
  /** Most bytes of one dataset file. */
  maxBytes: number;
  /** Most datasets in the folder. */
  maxCount: number;
  /** Most bytes of all dataset files together. */
  maxTotalBytes: number;
}

/** One entry of `GET /api/datasets`: a valid dataset's summary, or (for a file that fails validation) its `error`. */
export interface DatasetSummary {
  name: string;
  /** The dataset's `script`. */
  script?: string;
  /** Number of classes. */
  classes?: number;
  /** Number of samples. */
  samples?: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Last modification of the file, ISO 8601. */
  modified: string;
  /** Why the stored file is not a valid dataset (fix or delete it). */
  error?: { code: string; message: string };
}

/**
 * Store options from the environment: `HWR_DATA_DIR` (the folder, default `data/datasets` under `cwd`),
 * `HWR_DATASET_TOKEN`, `HWR_DATASET_MAX_BYTES`, `HWR_DATASET_MAX_COUNT`, `HWR_DATASET_MAX_TOTAL_BYTES` (positive
 * integers; defaults in `DATASET_STORE_DEFAULTS`).
 * @throws HwrError `BAD_ARGUMENT` naming the variable for a limit that is not a positive integer
 */
export function datasetStoreOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DatasetStoreOptions {
  const limit = (variable: string, fallback: number): number => {
    const text = env[variable];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1) throw hwrError('BAD_ARGUMENT', `${variable} must be a positive integer, got ${JSON.stringify(text)}`);
    return value;
  };
  return {
    dir: resolve(cwd, env.HWR_DATA_DIR || DATASET_STORE_DEFAULTS.dir),
    ...(env.HWR_DATASET_TOKEN ? { token: env.HWR_DATASET_TOKEN } : {}),
    maxBytes: limit('HWR_DATASET_MAX_BYTES', DATASET_STORE_DEFAULTS.maxBytes),
    maxCount: limit('HWR_DATASET_MAX_COUNT', DATASET_STORE_DEFAULTS.maxCount),
    maxTotalBytes: limit('HWR_DATASET_MAX_TOTAL_BYTES', DATASET_STORE_DEFAULTS.maxTotalBytes),
  };
}

/** A parsed file's summary, kept while the file's size and modification time are unchanged. */
interface Cached {
  size: number;
  mtimeMs: number;
  summary: DatasetSummary;
}

/** See the module comment. */
export class DatasetStore {
  readonly options: DatasetStoreOptions;
  private readonly summaries = new Map<string, Cached>();
  /** The last write or delete; the next one waits for it. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(options: DatasetStoreOptions) {
    this.options = options;
  }

  /**
   * Every `<name>.json` of the folder, by name; an empty list when the folder does not exist yet. A file that fails
   * validation is listed with its `error`. Files are parsed once and then while unchanged served from memory.
   */
  async list(): Promise<DatasetSummary[]> {
    let files: string[];
    try {
      files = await readdir(this.options.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const names = files.filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -5)).filter((name) => DATASET_NAME.test(name)).sort();
    const summaries = await Promise.all(names.map((name) => this.summary(name).catch(() => undefined)));
    return summaries.filter((summary): summary is DatasetSummary => summary !== undefined);
  }

  /**
   * The file of dataset `name` as stored, validated now.
   * @throws ApiError 400 for a bad name, 404 `NOT_FOUND`, 500 `BAD_DATASET` naming the file when it is not a valid dataset
   */
  async read(name: string): Promise<{ text: string; summary: DatasetSummary }> {
    const path = this.pathOf(name);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(name);
      throw error;
    }
    // One open file for the size, the date and the text: a write renaming a new file in meanwhile does not mix them.
    let text: string;
    let info;
    try {
      info = await handle.stat();
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    const dataset = this.validateStored(name, text);
    const summary = summarize(name, dataset, info.size, info.mtime);
    this.summaries.set(name, { size: info.size, mtimeMs: info.mtimeMs, summary });
    return { text, summary };
  }

  /**
   * Stores `dataset` (already validated by `parseInkDataset`) as `<name>.json`, replacing the old file atomically.
   * @returns whether the dataset is new, and its summary
   * @throws ApiError 400 for a bad name, or a dataset that cannot be written as JSON (nested too deep); 413
   *   `BODY_TOO_LARGE` over `maxBytes`; 413 `STORAGE_FULL` when the folder would hold more than `maxCount` datasets
   *   or `maxTotalBytes` bytes
   */
  write(name: string, dataset: InkDataset): Promise<{ created: boolean; summary: DatasetSummary }> {
    const path = this.pathOf(name);
    let text: string;
    try {
      text = serializeInkDataset(dataset);
    } catch (error) {
      // Unknown fields are kept; one nested deeper than JSON.stringify's stack allows is refused here.
      throw new ApiError(400, 'BAD_DATASET', `body: the dataset cannot be written as JSON (${(error as Error).message})`, { cause: error });
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.options.maxBytes) {
      throw new ApiError(413, 'BODY_TOO_LARGE', `dataset "${name}" is ${bytes} bytes as stored, over the limit of ${this.options.maxBytes} bytes (HWR_DATASET_MAX_BYTES)`);
    }
    return this.exclusively(async () => {
      const sizes = await this.fileSizes();
      const created = !sizes.has(name);
      if (created && sizes.size >= this.options.maxCount) {
        throw new ApiError(413, 'STORAGE_FULL', `the data folder holds ${sizes.size} datasets, the limit (HWR_DATASET_MAX_COUNT); delete one first`);
      }
      let total = bytes;
      for (const [other, size] of sizes) if (other !== name) total += size;
      if (total > this.options.maxTotalBytes) {
        throw new ApiError(413, 'STORAGE_FULL', `storing "${name}" would bring the data folder to ${total} bytes, over the limit of ${this.options.maxTotalBytes} bytes (HWR_DATASET_MAX_TOTAL_BYTES); delete a dataset first`);
      }
      await writeFileAtomic(path, text);
      const info = await stat(path);
      const summary = summarize(name, dataset, info.size, info.mtime);
      this.summaries.set(name, { size: info.size, mtimeMs: info.mtimeMs, summary });
      return { created, summary };
    });
  }

  /**
   * Deletes dataset `name`.
   * @throws ApiError 400 for a bad name, 404 `NOT_FOUND`
   */
  delete(name: string): Promise<void> {
    const path = this.pathOf(name);
    return this.exclusively(async () => {
      try {
        await rm(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(name);
        throw error;
      }
      this.summaries.delete(name);
    });
  }

  /** The file of `name`. @throws ApiError 400 `BAD_REQUEST` when `name` is not a `DATASET_NAME` slug */
  private pathOf(name: string): string {
    if (!DATASET_NAME.test(name)) {
      throw new ApiError(400, 'BAD_REQUEST', `dataset name ${JSON.stringify(name.slice(0, 80))} is not allowed: use 1 to 64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit`);
    }
    return join(this.options.dir, `${name}.json`);
  }

  /** Summary of `name`, from memory while its file is unchanged. @throws as `read`, but a corrupt file gives a summary with `error` */
  private async summary(name: string): Promise<DatasetSummary> {
    const info = await stat(this.pathOf(name));
    const cached = this.summaries.get(name);
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.summary;
    try {
      return (await this.read(name)).summary;
    } catch (error) {
      if (!(error instanceof ApiError) || error.statusCode !== 500) throw error;
      const summary: DatasetSummary = { name, bytes: info.size, modified: info.mtime.toISOString(), error: { code: error.code, message: error.message } };
      this.summaries.set(name, { size: info.size, mtimeMs: info.mtimeMs, summary });
      return summary;
    }
  }

  /** Validates a stored file's text. @throws ApiError 500 `BAD_DATASET` naming the dataset and its file */
  private validateStored(name: string, text: string): InkDataset {
    try {
      return readInkDataset(text, `${name}.json`);
    } catch (error) {
      if (!isHwrError(error) && !(error instanceof RangeError)) throw error;
      throw new ApiError(500, 'BAD_DATASET', `the stored dataset "${name}" is not a valid hwr-ink-dataset (fix or delete ${name}.json in the data folder): ${(error as Error).message}`, { cause: error });
    }
  }

  /** Sizes of the dataset files in the folder, by name (none when it does not exist yet). */
  private async fileSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    let files: string[];
    try {
      files = await readdir(this.options.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return sizes;
      throw error;
    }
    await Promise.all(files.filter((file) => file.endsWith('.json') && DATASET_NAME.test(file.slice(0, -5))).map(async (file) => {
      try {
        sizes.set(file.slice(0, -5), (await stat(join(this.options.dir, file))).size);
      } catch {
        // deleted meanwhile (by hand): not counted
      }
    }));
    return sizes;
  }

  /** Runs `work` after every earlier write or delete has finished. */
  private exclusively<T>(work: () => Promise<T>): Promise<T> {
    const result = this.writing.then(work, work);
    this.writing = result.catch(() => {});
    return result;
  }
}

function notFound(name: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `no dataset named "${name}"`);
}

function summarize(name: string, dataset: InkDataset, bytes: number, modified: Date): DatasetSummary {
  return { name, script: dataset.script, classes: dataset.classes.length, samples: dataset.samples.length, bytes, modified: modified.toISOString() };
}

/**
 * The models the server knows, by name: every folder of its models folder (default the shipped `models/`) that holds
 * `model.json`, plus the default model (`HWR_MODEL`), which may be a folder elsewhere (a training `--out` folder).
 *
 * Only metadata is read here (`metadata.json`, checked against `SHA256SUMS`), never weights: listing the models and
 * resolving a request's `model` stay cheap. Each entry's metadata is cached and read again when the folder's files
 * change, and a model's `version` (its files' sizes and modification times) changes with them, so that the workers,
 * which key their loaded models by folder and version, load a replaced model afresh.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { ModelMetadata } from '../core/types.ts';
import { readMetadata } from '../node/modelFiles.ts';
import { listModelNames, MODEL_NAME_PATTERN, resolveModelDir } from '../node/recognizer.ts';
import { ApiError } from './errors.ts';

/** A model as the server addresses it: its name, its folder, and the version of its files. */
export interface ModelRef {
  /** Name in the API, e.g. `hanzi`. */
  name: string;
  /** Absolute path of the model folder. */
  dir: string;
  /** Sizes and modification times (ms) of the folder's files, e.g. `model.json:10631:1764444473143|...`; changes when they change. */
  version: string;
}

/** One entry of `GET /api/models`: what a client needs to choose a model, without its class list. */
export interface ModelListing {
  /** Name to send as `model`, e.g. `hanzi`. */
  name: string;
  /** True for the model a request without `model` gets (`HWR_MODEL`, default `digits`). */
  default: boolean;
  /** Number of classes, e.g. 3755. */
  classes?: number;
  /** `[height, width, channels]` of the model's input, e.g. `[64, 64, 1]`. */
  inputShape?: [number, number, number];
  /** Preprocessing profile and version, e.g. `cjk-fit-v1`. */
  preprocessing?: string;
  /** Named character set of the classes, e.g. `gb2312-1`; absent when the metadata names none. */
  charset?: string;
  /** Architecture name, e.g. `hccr-vgg`. */
  architecture?: string;
  /**
   * For a pair model (two characters at once, for reading lines: `models/digit-segments`), the model it serves, e.g.
   * `digits` (`ModelMetadata.pairsFor`); absent for ordinary models.
   */
  pairsFor?: string;
  /** Trainable and non-trainable parameters. */
  parameters?: number;
  /** Top-1 test accuracy in [0, 1]; null when not measured. */
  testAccuracy?: number | null;
  /** Top-3 test accuracy in [0, 1]; null when not measured. */
  top3Accuracy?: number | null;
  /** Top-k test accuracies (large vocabularies), when measured. */
  topKAccuracy?: { k: number; accuracy: number }[];
  /** Test set of those figures. */
  testData?: string | null;
  /** Why the metadata could not be read (the model then cannot serve either); absent when it could. */
  error?: { code: string; message: string };
}

/** Options of `ModelCatalog`. */
export interface ModelCatalogOptions {
  /** Folder whose subfolders are the models, by name. */
  modelsDir: string;
  /** The default model: a name in `modelsDir` or a model folder elsewhere. */
  defaultModel: string;
}

/** Metadata read from a folder, with the version of the files it was read from. */
interface CachedMetadata {
  version: string;
  metadata: Promise<ModelMetadata>;
}

/** Milliseconds a folder's version is trusted before its files are looked at again. */
const VERSION_TTL_MS = 1000;

/** The server's models by name; see the module comment. */
export class ModelCatalog {
  /** Name of the default model in the API, e.g. `digits`. */
  readonly defaultName: string;
  /** Folder of the default model, or null when it does not resolve (the server then reports it failed to load). */
  readonly defaultDir: string | null;
  private readonly modelsDir: string;
  private readonly metadataCache = new Map<string, CachedMetadata>();
  private readonly versionCache = new Map<string, { version: Promise<string>; until: number }>();

  constructor(options: ModelCatalogOptions) {
    this.modelsDir = resolve(options.modelsDir);
    let dir: string | null = null;
    try {
      dir = resolveModelDir(options.defaultModel, this.modelsDir);
    } catch {
      // Not resolvable: the server's load of it fails and says why; the catalog lists the other models.
    }
    this.defaultDir = dir;
    this.defaultName = defaultNameOf(options.defaultModel, dir);
  }

  /** Names of all models, sorted, the default included, e.g. `['digits', 'hanzi']`. Reads the folder listing only. */
  async names(): Promise<string[]> {
    const names = new Set(await listModelNames(this.modelsDir));
    names.add(this.defaultName);
    return [...names].sort();
  }

  /** Describes every model from its metadata (`GET /api/models`); a model whose metadata cannot be read is listed with its `error`. */
  async list(): Promise<ModelListing[]> {
    const names = await this.names();
    return Promise.all(names.map(async (name): Promise<ModelListing> => {
      const isDefault = name === this.defaultName;
      try {
        const { metadata } = await this.resolve(name);
        return listingOf(name, isDefault, metadata);
      } catch (error) {
        // The metadata's own error (BAD_MODEL: not JSON, checksum mismatch), not the 503 a request for the model gets.
        const reason = error instanceof ApiError && error.cause !== undefined ? error.cause : error;
        const { code = 'BAD_MODEL', message = String(reason) } = reason as { code?: string; message?: string };
        return { name, default: isDefault, error: { code, message } };
      }
    }));
  }

  /**
   * Finds model `name` (the default when undefined) and reads its metadata.
   * @param name  a request's `model`, already checked against `MODEL_NAME_PATTERN` by the caller or not
   * @throws ApiError 400 `BAD_REQUEST` for a name that is not `^[\w-]+$` (a path, say); 404 `UNKNOWN_MODEL` for a
   *   name the server does not have, listing those it has; 503 `MODEL_NOT_READY` when the model's metadata cannot be
   *   read (missing, not JSON, checksum mismatch), naming the model and the reason.
   */
  async resolve(name: string = this.defaultName): Promise<{ ref: ModelRef; metadata: ModelMetadata }> {
    checkModelName(name, 'model');
    const dir = await this.dirOf(name);
    const version = await this.versionOf(dir);
    let cached = this.metadataCache.get(dir);
    if (!cached || cached.version !== version) {
      cached = { version, metadata: readMetadata(dir) };
      // A failed read is not kept: the next request reads again (the files may have been repaired).
      cached.metadata.catch(() => this.metadataCache.delete(dir));
      this.metadataCache.set(dir, cached);
    }
    try {
      return { ref: { name, dir, version }, metadata: await cached.metadata };
    } catch (error) {
      throw modelFailed(name, error);
    }
  }

  /** Folder of model `name`. @throws ApiError 404 `UNKNOWN_MODEL`, listing the known models. */
  private async dirOf(name: string): Promise<string> {
    if (name === this.defaultName && this.defaultDir) return this.defaultDir;
    const names = await this.names();
    if (name !== this.defaultName && names.includes(name)) return join(this.modelsDir, name);
    if (name === this.defaultName) {
      throw new ApiError(503, 'MODEL_NOT_READY', `model "${name}" failed to load: no model.json where it was configured (HWR_MODEL)`);
    }
    throw new ApiError(404, 'UNKNOWN_MODEL', `unknown model "${name}"; this server has: ${names.join(', ')}`);
  }

  /** The version of folder `dir`'s files, looked at no more than once a second. */
  private versionOf(dir: string): Promise<string> {
    const now = Date.now();
    const cached = this.versionCache.get(dir);
    if (cached && cached.until > now) return cached.version;
    const version = folderVersion(dir);
    this.versionCache.set(dir, { version, until: now + VERSION_TTL_MS });
    return version;
  }
}

/**
 * Checks that `value` is a model name (`^[\w-]+$`), never a path.
 * @param where the request field it came from, quoted in the message, e.g. `query model`
 * @throws ApiError 400 `BAD_REQUEST`
 */
export function checkModelName(value: unknown, where: string): asserts value is string {
  if (typeof value !== 'string' || !MODEL_NAME_PATTERN.test(value)) {
    throw new ApiError(400, 'BAD_REQUEST',
      `${where} must be a model name (letters, digits, "_" and "-"; see GET /api/models), got ${JSON.stringify(value)}`);
  }
}

/** The error for a model that cannot serve: 503 `MODEL_NOT_READY` naming it and the reason (an ApiError passes through). */
export function modelFailed(name: string, error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(503, 'MODEL_NOT_READY', `model "${name}" failed to load: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/**
 * The API name of the default model: its name when given by name, else its folder's name (characters outside
 * `[\w-]` replaced by `-`). A folder named like a model in the models folder takes that model's place.
 */
function defaultNameOf(defaultModel: string, dir: string | null): string {
  if (MODEL_NAME_PATTERN.test(defaultModel) && (dir === null || basename(dir) === defaultModel)) return defaultModel;
  const name = basename(dir ?? resolve(defaultModel)).replace(/[^\w-]+/g, '-');
  return name || 'default';
}

/** Sizes and modification times of the files in `dir`; '' when it cannot be listed. */
async function folderVersion(dir: string): Promise<string> {
  try {
    const files = (await readdir(dir)).sort();
    const stats = await Promise.all(files.map((file) => stat(join(dir, file)).then((s) => `${file}:${s.size}:${s.mtimeMs}`, () => file)));
    return stats.join('|');
  } catch {
    return '';
  }
}

/** The listing of a model from its metadata. */
function listingOf(name: string, isDefault: boolean, metadata: ModelMetadata): ModelListing {
  return {
    name,
    default: isDefault,
    classes: Array.isArray(metadata.classes) ? metadata.classes.length : 0,
    inputShape: metadata.inputShape,
    preprocessing: metadata.preprocessing,
    ...(metadata.charset !== undefined ? { charset: metadata.charset } : {}),
    architecture: metadata.architecture,
    ...(metadata.pairsFor !== undefined ? { pairsFor: metadata.pairsFor } : {}),
    parameters: metadata.parameters,
    testAccuracy: metadata.testAccuracy ?? null,
    top3Accuracy: metadata.top3Accuracy ?? null,
    ...(metadata.topKAccuracy !== undefined ? { topKAccuracy: metadata.topKAccuracy } : {}),
    testData: metadata.testData ?? null,
  };
}

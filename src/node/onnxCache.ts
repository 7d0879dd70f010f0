/**
 * The ONNX form of a model folder, for the ONNX Runtime engine (./onnxEngine.ts), found or made in this order:
 *
 * 1. `DIR/model.onnx` (written by `hwr export --format onnx --out DIR/model.onnx`) when the checksum of the weights
 *    it was exported from (its `hwr` metadata_props JSON, `exportedBy.sourceWeightsSha256`) equals the folder's
 *    current one (`modelWeightsSha256`); one exported from other weights is ignored with a warning;
 * 2. the cache file `<cache>/onnx/<checksum>.onnx`, where `<cache>` is `HWR_CACHE_DIR`, else
 *    `$XDG_CACHE_HOME/hwr`, else `~/.cache/hwr` (the XDG Base Directory convention,
 *    https://specifications.freedesktop.org/basedir-spec/latest/); a cached file whose embedded checksum differs,
 *    or that ONNX Runtime cannot load, is regenerated;
 * 3. generated: the TF.js model lowered (src/export/lower.ts) and written as float32 ONNX (src/export/onnx.ts) with
 *    the export sidecar (src/export/sidecar.ts) as its `hwr` metadata, then saved atomically into the cache. A cache
 *    folder that cannot be written is not an error: the bytes are kept in memory for this process, with one warning.
 *
 * The checksum ties the ONNX form to the exact weights: editing or retraining the model gives another checksum, so
 * a stale ONNX form is never used.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hwrError } from '../core/errors.ts';
import type { ModelMetadata } from '../core/types.ts';
import { writeFileAtomic } from './files.ts';
import { loadModel, MODEL_JSON, parseJsonObject, readChecksums, verifyChecksum } from './modelFiles.ts';

/** File name of a model folder's exported ONNX form. */
export const MODEL_ONNX = 'model.onnx';

/** The hwr version written into exported and generated files (`exportedBy.version`, ONNX `producer_version`), from package.json. */
export const HWR_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** What `exportedBy.command` says in a generated (not exported) ONNX form. */
export const GENERATED_BY = 'generated on first use by loadRecognizer (src/node/onnxCache.ts)';

/**
 * The folder of hwr's caches: `HWR_CACHE_DIR`, else `$XDG_CACHE_HOME/hwr`, else `~/.cache/hwr`.
 * ONNX forms go into its `onnx/` subfolder.
 */
export function hwrCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HWR_CACHE_DIR) return env.HWR_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hwr');
}

/** Path of the cached ONNX form of weights with SHA-256 `checksum`. */
export function onnxCachePath(checksum: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(hwrCacheDir(env), 'onnx', `${checksum}.onnx`);
}

async function readModelFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw hwrError('BAD_MODEL', `${path}: no such file (${what})`);
    throw hwrError('BAD_MODEL', `${path}: cannot read ${what}: ${(error as Error).message}`, error);
  }
}

/**
 * SHA-256 (lowercase hex) of a model folder's weights as TF.js stores them: the bytes of `model.json` followed by
 * those of each weight shard its `weightsManifest` lists (normally `weights.bin`), in manifest order. It names the
 * cache file of the model's ONNX form and is what `hwr export` records as `exportedBy.sourceWeightsSha256`.
 * Each file is also checked against the folder's `SHA256SUMS` when it has one.
 * @throws HwrError `BAD_MODEL` naming the file when model.json or a shard is missing, unreadable, not a layers model
 *   or fails its checksum
 */
export async function modelWeightsSha256(dir: string): Promise<string> {
  const checksums = await readChecksums(dir);
  const jsonPath = join(dir, MODEL_JSON);
  const json = await readModelFile(jsonPath, 'model topology');
  verifyChecksum(dir, MODEL_JSON, json, checksums);
  const manifest = parseJsonObject(json, jsonPath).weightsManifest as Array<{ paths?: unknown }> | undefined;
  if (!Array.isArray(manifest)) throw hwrError('BAD_MODEL', `${jsonPath}: not a TF.js layers model (weightsManifest missing)`);
  const hash = createHash('sha256').update(json);
  for (const group of manifest) {
    if (!Array.isArray(group?.paths)) throw hwrError('BAD_MODEL', `${jsonPath}: weightsManifest entries need a "paths" list`);
    for (const path of group.paths) {
      const name = String(path).replace(/^(\.\/)+/, '');
      const shard = await readModelFile(join(dir, name), 'weights shard');
      verifyChecksum(dir, name, shard, checksums);
      hash.update(shard);
    }
  }
  return hash.digest('hex');
}

/** Where an ONNX form came from: the folder's exported `model.json`, the cache, or generated just now. */
export type OnnxFormSource = 'exported' | 'cache' | 'generated';

/** The ONNX form of a model folder. */
export interface OnnxForm {
  bytes: Uint8Array;
  source: OnnxFormSource;
  /** The file it was read from or written to; absent for a generated form kept in memory (unwritable cache). */
  path?: string;
  /** `modelWeightsSha256` of the folder. */
  checksum: string;
}

/** Options of `findOnnxForm` and `generateOnnxForm`. */
export interface OnnxFormOptions {
  /** Receives one line per warning (an ignored model.onnx, an unwritable cache); default stderr, `hwr: warning: ...`. */
  warn?: (line: string) => void;
  /** Environment for `HWR_CACHE_DIR` / `XDG_CACHE_HOME`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const defaultWarn = (line: string): void => {
  process.stderr.write(`hwr: warning: ${line}\n`);
};

/** Generated ONNX forms that could not be written to the cache, by checksum, for the rest of this process. */
const inMemory = new Map<string, Uint8Array>();
/** Cache folders already warned about as unwritable. */
const warnedUnwritable = new Set<string>();

/**
 * `exportedBy.sourceWeightsSha256` of an ONNX model's `hwr` metadata, or null when it has none or it is not JSON.
 * @throws HwrError `BAD_MODEL` naming `name` when the bytes are not an ONNX model
 */
export async function onnxSourceChecksum(bytes: Uint8Array, name: string): Promise<string | null> {
  const { readOnnxMetadata } = await import('../export/onnx.ts');
  const text = readOnnxMetadata(bytes, name).hwr;
  if (text === undefined) return null;
  try {
    const checksum = (JSON.parse(text) as { exportedBy?: { sourceWeightsSha256?: unknown } }).exportedBy?.sourceWeightsSha256;
    return typeof checksum === 'string' ? checksum : null;
  } catch {
    return null;
  }
}

/** Reads `path`, or null when it does not exist. Other read errors give null too, with a warning. */
async function readIfPresent(path: string, warn: (line: string) => void): Promise<Uint8Array | null> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a path through a file (an unusable cache folder, reported when it is written).
    if (code !== 'ENOENT' && code !== 'ENOTDIR') warn(`${path}: cannot read (${(error as Error).message}); ignored`);
    return null;
  }
}

/**
 * The ONNX form of model folder `dir` that already exists: the folder's own `model.onnx` when it matches the
 * weights, else the cached one when it matches, else the one generated earlier in this process; null when there is
 * none (`generateOnnxForm` makes it). Does not load it into ONNX Runtime: a form that then fails to load should be
 * replaced with `generateOnnxForm`.
 * @param checksum `modelWeightsSha256(dir)`
 */
export async function findOnnxForm(dir: string, checksum: string, options: OnnxFormOptions = {}): Promise<OnnxForm | null> {
  const warn = options.warn ?? defaultWarn;
  const exportedPath = join(dir, MODEL_ONNX);
  const exported = await readIfPresent(exportedPath, warn);
  if (exported) {
    const source = await onnxSourceChecksum(exported, exportedPath).catch((error: Error) => {
      warn(`${error.message}; ignored`);
      return undefined;
    });
    if (source === checksum) return { bytes: exported, source: 'exported', path: exportedPath, checksum };
    if (source === null) warn(`${exportedPath}: has no hwr metadata naming the weights it was exported from; ignored (re-export it with hwr export --format onnx)`);
    else if (source !== undefined) {
      warn(`${exportedPath}: exported from other weights (sha256 ${source.slice(0, 12)}..., the folder's are ${checksum.slice(0, 12)}...); ignored (re-export it with hwr export --format onnx)`);
    }
  }
  const cachePath = onnxCachePath(checksum, options.env);
  const cached = await readIfPresent(cachePath, warn);
  if (cached) {
    // A cached file with the wrong checksum inside (or unreadable) is regenerated, silently: the cache is ours.
    const source = await onnxSourceChecksum(cached, cachePath).catch(() => undefined);
    if (source === checksum) return { bytes: cached, source: 'cache', path: cachePath, checksum };
  }
  const kept = inMemory.get(checksum);
  return kept ? { bytes: kept, source: 'generated', checksum } : null;
}

/**
 * Generates the float32 ONNX form of the TF.js model in folder `dir` (lowered by `lowerModel`, written by `toOnnx`,
 * with the export sidecar as metadata `hwr`) and saves it atomically as the cache file (`onnxCachePath`); when the
 * cache cannot be written, keeps it in memory for this process and warns once per cache folder. The caller sets up a
 * TF.js backend first (the model is loaded with TF.js to be lowered).
 * @param checksum `modelWeightsSha256(dir)`
 * @throws HwrError `BAD_MODEL` when the TF.js model cannot be loaded; `UNSUPPORTED_MODEL` when it has a layer the
 *   exporter cannot lower
 */
export async function generateOnnxForm(dir: string, metadata: ModelMetadata, checksum: string, options: OnnxFormOptions = {}): Promise<OnnxForm> {
  const warn = options.warn ?? defaultWarn;
  const { exportModel } = await import('../export/export.ts');
  const model = await loadModel(dir);
  let bytes: Uint8Array;
  const path = onnxCachePath(checksum, options.env);
  try {
    ({ bytes } = await exportModel(model, metadata, {
      format: 'onnx',
      quantize: 'float32',
      modelFile: `${checksum}.onnx`,
      command: GENERATED_BY,
      version: HWR_VERSION,
      sourceWeightsSha256: checksum,
    }));
  } finally {
    model.dispose();
  }
  try {
    await writeFileAtomic(path, bytes);
    inMemory.delete(checksum);
    return { bytes, source: 'generated', path, checksum };
  } catch (error) {
    const folder = join(hwrCacheDir(options.env), 'onnx');
    if (!warnedUnwritable.has(folder)) {
      warnedUnwritable.add(folder);
      warn(`${folder}: cannot write the ONNX cache (${(error as Error).message}); the ONNX form of each model is generated again by every process (set HWR_CACHE_DIR to a writable folder)`);
    }
    inMemory.set(checksum, bytes);
    return { bytes, source: 'generated', checksum };
  }
}

/**
 * Reading and writing TF.js LayersModels as files in the TF.js "layers-model" format
 * (https://www.tensorflow.org/js/guide/save_load): `model.json` (topology + weights manifest) beside one
 * `weights.bin` shard, plus our `metadata.json`. The browser loads the same folder with `tf.loadLayersModel(url)`.
 * `@tensorflow/tfjs-node`'s `file://` handler is not available here, so this module is the Node counterpart.
 *
 * Integrity: every folder written here also gets `SHA256SUMS`, the SHA-256 of each of its files in the format of
 * GNU coreutils' `sha256sum` (`<64 hex digits><space><space or *><name>` per line), written last, so
 * `sha256sum -c SHA256SUMS` checks a folder by hand and `sha256sum model.json weights.bin metadata.json > SHA256SUMS`
 * regenerates it. The loaders check the bytes they read against it: a corrupt, truncated or mixed folder is refused
 * in one line naming the file. A folder without `SHA256SUMS` (written before it existed) still loads, unchecked.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import { checksumMismatch, CHECKSUMS_FILE, formatChecksums, parseChecksums, type Checksums } from '../core/checksums.ts';
import type { ModelMetadata } from '../core/types.ts';
import { writeFileAtomic } from './files.ts';

/** File names inside a model folder. */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'metadata.json';
export { CHECKSUMS_FILE, formatChecksums, parseChecksums, type Checksums } from '../core/checksums.ts';
export { float32ToFloat16 } from '../core/float16.ts';
import { float32ToFloat16 } from '../core/float16.ts';

/** Lowercase hex SHA-256 (FIPS 180-4) of `bytes`. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads `SHA256SUMS` of folder `dir`.
 * @returns the checksums, or null when the folder has no `SHA256SUMS` (written before checksums existed).
 * @throws HwrError `BAD_MODEL` when the file cannot be read or is malformed.
 */
export async function readChecksums(dir: string): Promise<Checksums | null> {
  const path = join(dir, CHECKSUMS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hwrError('BAD_MODEL', `${path}: cannot read: ${(error as Error).message}`, error);
  }
  return parseChecksums(text, path);
}

/**
 * Checks `bytes`, read from file `name` of folder `dir`, against the folder's checksums; no check when `checksums`
 * is null (a folder without `SHA256SUMS`).
 * @throws HwrError `BAD_MODEL` naming the file when it is not listed or its SHA-256 differs.
 */
export function verifyChecksum(dir: string, name: string, bytes: Uint8Array, checksums: Checksums | null): void {
  if (checksums === null) return;
  const expected = checksums.get(name);
  const path = join(dir, name);
  if (expected === undefined) throw hwrError('BAD_MODEL', `${path}: not listed in ${CHECKSUMS_FILE}, so it cannot be checked`);
  const actual = sha256Hex(bytes);
  if (actual !== expected) throw checksumMismatch(path, actual, expected);
}

/**
 * Checks every file listed in `SHA256SUMS` of folder `dir`, as `sha256sum -c` does.
 * @returns the checksums, or null when the folder has no `SHA256SUMS`.
 * @throws HwrError `BAD_MODEL` naming the first file that is missing or differs.
 */
export async function verifyFolder(dir: string): Promise<Checksums | null> {
  const checksums = await readChecksums(dir);
  if (checksums === null) return null;
  for (const name of checksums.keys()) {
    const bytes = await readOrThrow(join(dir, name), `listed in ${CHECKSUMS_FILE}`);
    verifyChecksum(dir, name, bytes, checksums);
  }
  return checksums;
}

/**
 * Records the SHA-256 of files just written into folder `dir` in its `SHA256SUMS` (written atomically, after them).
 * Entries of other files are kept; a folder without `SHA256SUMS` first gets the entries of its model files
 * (model.json, its weight shards, metadata.json) as they are on disk.
 * @param written File name (relative to `dir`) -> the bytes written.
 */
export async function recordChecksums(dir: string, written: ReadonlyMap<string, Uint8Array | string>): Promise<void> {
  let checksums = await readChecksums(dir).catch(() => null);
  if (checksums === null) {
    checksums = new Map();
    for (const name of await modelFileNames(dir)) {
      if (written.has(name)) continue;
      const bytes = await readFile(join(dir, name)).catch(() => null);
      if (bytes) checksums.set(name, sha256Hex(bytes));
    }
  }
  for (const [name, bytes] of written) checksums.set(name, sha256Hex(bytes));
  const sorted: Checksums = new Map([...checksums].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeFileAtomic(join(dir, CHECKSUMS_FILE), formatChecksums(sorted));
}

/**
 * The model files folder `dir` may hold: model.json, the weight shards it lists, metadata.json. Some may not exist;
 * the caller skips those it cannot read.
 */
async function modelFileNames(dir: string): Promise<string[]> {
  const names = [MODEL_JSON, METADATA_JSON];
  try {
    const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> };
    for (const group of json.weightsManifest ?? []) names.push(...group.paths.map(shardName));
  } catch {
    // No readable model.json: only model.json and metadata.json are candidates.
  }
  return names;
}

/** A weights-manifest path (`./weights.bin`) as a file name relative to the model folder (`weights.bin`). */
function shardName(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

/** Options of `saveModel`. */
export interface SaveModelOptions {
  /** Store float32 weights as float16 (halves the files; TF.js dequantizes on load). Default false. */
  float16?: boolean;
  /** Also store the optimizer's state (for resuming training). Default false. */
  includeOptimizer?: boolean;
}

/** Concatenates byte arrays into one new array. */
function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return joined;
}

/** Concatenates TF.js `WeightData` (one ArrayBuffer or several) into one buffer. */
function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/** Re-encodes the float32 entries of a weights manifest as float16; other dtypes are copied as they are. */
function quantizeFloat16(specs: tf.io.WeightsManifestEntry[], data: Uint8Array): { specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : 1);
    const slice = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype === 'float32' && spec.quantization === undefined) {
      parts.push(new Uint8Array(float32ToFloat16(new Float32Array(slice.buffer)).buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      parts.push(slice);
      outSpecs.push(spec);
    }
  }
  return { specs: outSpecs, data: concatBytes(parts) };
}

/**
 * Saves `model` into folder `dir` as `model.json` + `weights.bin` (each written atomically), `metadata`
 * as `metadata.json` when given, and then their SHA-256 in `SHA256SUMS` (see `recordChecksums`).
 * @returns total bytes written for model.json and weights.bin.
 */
export async function saveModel(model: tf.LayersModel, dir: string, metadata?: ModelMetadata, options: SaveModelOptions = {}): Promise<number> {
  let written = 0;
  const files = new Map<string, Uint8Array | string>();
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      let specs = artifacts.weightSpecs ?? [];
      let data = joinWeightData(artifacts.weightData);
      if (options.float16) ({ specs, data } = quantizeFloat16(specs, data));
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: specs }],
      };
      const json = JSON.stringify(modelJson);
      await writeFileAtomic(join(dir, WEIGHTS_BIN), data);
      await writeFileAtomic(join(dir, MODEL_JSON), json);
      files.set(WEIGHTS_BIN, data).set(MODEL_JSON, json);
      written = data.byteLength + json.length;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
    }),
    { includeOptimizer: options.includeOptimizer ?? false },
  );
  if (metadata) {
    const text = metadataText(metadata);
    await writeFileAtomic(join(dir, METADATA_JSON), text);
    files.set(METADATA_JSON, text);
  }
  await recordChecksums(dir, files);
  return written;
}

function metadataText(metadata: ModelMetadata): string {
  return `${JSON.stringify(metadata, null, 2)}\n`;
}

/** Writes `metadata.json` into `dir` atomically, then records its SHA-256 in the folder's `SHA256SUMS`. */
export async function writeMetadata(dir: string, metadata: ModelMetadata): Promise<void> {
  const text = metadataText(metadata);
  await writeFileAtomic(join(dir, METADATA_JSON), text);
  await recordChecksums(dir, new Map([[METADATA_JSON, text]]));
}

async function readOrThrow(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw hwrError('BAD_MODEL', `${path}: no such file (${what})`);
    throw hwrError('BAD_MODEL', `${path}: cannot read ${what}: ${(error as Error).message}`, error);
  }
}

/**
 * Reads `metadata.json` from model folder `dir`, checked against the folder's `SHA256SUMS` when it has one.
 * @throws HwrError `BAD_MODEL` when the file is missing, fails its checksum, or is not a JSON object.
 */
export async function readMetadata(dir: string): Promise<ModelMetadata> {
  const path = join(dir, METADATA_JSON);
  const checksums = await readChecksums(dir);
  const bytes = await readOrThrow(path, 'model metadata');
  verifyChecksum(dir, METADATA_JSON, bytes, checksums);
  return parseJsonObject(bytes, path) as unknown as ModelMetadata;
}

/**
 * Parses `bytes` (read from `path`) as a JSON object.
 * @throws HwrError `BAD_MODEL` naming `path` when they are not valid UTF-8 JSON or not an object.
 */
export function parseJsonObject(bytes: Uint8Array, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw hwrError('BAD_MODEL', `${path}: not valid JSON: ${(error as Error).message}`, error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw hwrError('BAD_MODEL', `${path}: not valid JSON: expected an object`);
  return value as Record<string, unknown>;
}

/**
 * A TF.js `IOHandler` that loads the model in folder `dir` (model.json and the weight shards it lists), each checked
 * against the folder's `SHA256SUMS` when it has one.
 * @throws HwrError `BAD_MODEL` (when loaded) for a missing, malformed or mismatching model.json or shard, or a shard
 *   whose size differs from what the weights manifest declares.
 */
export function modelFolderHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const path = join(dir, MODEL_JSON);
      const checksums = await readChecksums(dir);
      const bytes = await readOrThrow(path, 'model topology');
      verifyChecksum(dir, MODEL_JSON, bytes, checksums);
      const json = parseJsonObject(bytes, path) as { modelTopology?: object; weightsManifest?: tf.io.WeightsManifestConfig; trainingConfig?: tf.io.TrainingConfig; format?: string };
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw hwrError('BAD_MODEL', `${path}: not a TF.js layers model (modelTopology or weightsManifest missing)`);
      }
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const shards: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        if (!group || !Array.isArray(group.weights) || !Array.isArray(group.paths)) throw hwrError('BAD_MODEL', `${path}: weightsManifest entries need "paths" and "weights" lists`);
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          const name = shardName(String(shard));
          const data = await readOrThrow(join(dir, name), 'weights shard');
          verifyChecksum(dir, name, data, checksums);
          shards.push(data);
        }
      }
      const weightData = concatBytes(shards);
      const expectedBytes = manifestBytes(weightSpecs, path);
      if (weightData.byteLength !== expectedBytes) {
        throw hwrError('BAD_MODEL', `${join(dir, json.weightsManifest.flatMap((g) => g.paths).map(shardName).join(', '))}: ${weightData.byteLength} bytes of weights, but ${MODEL_JSON} declares ${expectedBytes}`);
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: weightData.buffer,
        ...(json.trainingConfig ? { trainingConfig: json.trainingConfig } : {}),
        format: json.format,
      };
    },
  };
}

/** Bytes of weights that a weights manifest declares (its shapes times the stored size of each dtype). */
function manifestBytes(specs: readonly tf.io.WeightsManifestEntry[], path: string): number {
  let total = 0;
  for (const spec of specs) {
    if (!spec || !Array.isArray(spec.shape)) throw hwrError('BAD_MODEL', `${path}: a weights manifest entry has no shape`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const stored: string = spec.quantization?.dtype ?? spec.dtype;
    const size = stored === 'float16' || stored === 'int16' || stored === 'uint16' ? 2 : stored === 'uint8' || stored === 'int8' || stored === 'bool' ? 1 : 4;
    total += count * size;
  }
  return total;
}

/**
 * Loads the LayersModel saved in folder `dir`.
 * @throws HwrError `BAD_MODEL` when the folder holds no readable model.
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(modelFolderHandler(dir));
  } catch (error) {
    if ((error as { code?: string }).code === 'BAD_MODEL') throw error;
    throw hwrError('BAD_MODEL', `${dir}: cannot load model: ${(error as Error).message}`, error);
  }
}

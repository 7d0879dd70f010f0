/**
 * Reading and writing TF.js LayersModels as files in the TF.js "layers-model" format
 * (https://www.tensorflow.org/js/guide/save_load): `model.json` (topology + weights manifest) beside one
 * `weights.bin` shard, plus our `metadata.json`. The browser loads the same folder with `tf.loadLayersModel(url)`.
 * `@tensorflow/tfjs-node`'s `file://` handler is not available here, so this module is the Node counterpart.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hwrError } from '../core/errors.ts';
import type { ModelMetadata } from '../core/types.ts';
import { writeFileAtomic } from './files.ts';

/** File names inside a model folder. */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'metadata.json';

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

/**
 * Converts float32 values to IEEE 754 half precision (round to nearest even), as TF.js's
 * float16 weight quantization expects (`tfjs-core/src/io/io_utils.ts`, `getFloat16Decoder`).
 */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
      } else {
        mantissa |= 0x800000;
        const shift = 14 - e;
        let half = mantissa >> shift;
        const rest = mantissa & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rest > halfway || (rest === halfway && half & 1)) half++;
        out[i] = sign | half;
      }
    } else {
      let half = (e << 10) | (mantissa >> 13);
      const rest = mantissa & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
      out[i] = sign | half;
    }
  }
  return out;
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
 * Saves `model` into folder `dir` as `model.json` + `weights.bin` (each written atomically), and `metadata`
 * as `metadata.json` when given.
 * @returns total bytes written for model.json and weights.bin.
 */
export async function saveModel(model: tf.LayersModel, dir: string, metadata?: ModelMetadata, options: SaveModelOptions = {}): Promise<number> {
  let written = 0;
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
      written = data.byteLength + json.length;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
    }),
    { includeOptimizer: options.includeOptimizer ?? false },
  );
  if (metadata) await writeMetadata(dir, metadata);
  return written;
}

/** Writes `metadata.json` into `dir` atomically. */
export async function writeMetadata(dir: string, metadata: ModelMetadata): Promise<void> {
  await writeFileAtomic(join(dir, METADATA_JSON), `${JSON.stringify(metadata, null, 2)}\n`);
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
 * Reads `metadata.json` from model folder `dir`.
 * @throws HwrError `BAD_MODEL` when the file is missing or not valid JSON.
 */
export async function readMetadata(dir: string): Promise<ModelMetadata> {
  const path = join(dir, METADATA_JSON);
  const text = (await readOrThrow(path, 'model metadata')).toString('utf8');
  try {
    return JSON.parse(text) as ModelMetadata;
  } catch (error) {
    throw hwrError('BAD_MODEL', `${path}: not valid JSON: ${(error as Error).message}`, error);
  }
}

/**
 * A TF.js `IOHandler` that loads the model in folder `dir` (model.json and the weight shards it lists).
 * @throws HwrError `BAD_MODEL` (when loaded) for a missing or malformed model.json or a missing shard.
 */
export function modelFolderHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const path = join(dir, MODEL_JSON);
      const text = (await readOrThrow(path, 'model topology')).toString('utf8');
      let json: { modelTopology?: object; weightsManifest?: tf.io.WeightsManifestConfig; trainingConfig?: tf.io.TrainingConfig; format?: string };
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw hwrError('BAD_MODEL', `${path}: not valid JSON: ${(error as Error).message}`, error);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw hwrError('BAD_MODEL', `${path}: not a TF.js layers model (modelTopology or weightsManifest missing)`);
      }
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const shards: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) shards.push(await readOrThrow(join(dir, shard), 'weights shard'));
      }
      const weightData = concatBytes(shards);
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

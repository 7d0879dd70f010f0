/**
 * `ModelFiles` (./types.ts) to TF.js and to a model folder, in the browser and in Node (no Node imports). (A trained
 * LayersModel becomes `ModelFiles` through `modelFiles` of src/train/inkScript.ts.)
 * - `modelFilesHandler(files)`: the `tf.io.IOHandler` that loads them (`tf.io.fromMemory`), e.g. for `loadRecognizer`.
 * - `modelFolderFiles(files)`: the files of a model folder as src/node/modelFiles.ts writes one (`model.json` with
 *   `weightsManifest: [{ paths: ['./weights.bin'], weights }]`, `weights.bin`, `metadata.json`, and `SHA256SUMS`
 *   in `sha256sum`'s format, src/core/checksums.ts), for the page's Download button (zipped with fflate). Unzipped,
 *   the folder is read by `hwr predict --model DIR`, the server and `hwr export`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CHECKSUMS_FILE, formatChecksums, webSha256Hex } from '../../../src/core/checksums.ts';
import { hwrError } from '../../../src/core/errors.ts';
import type { ModelMetadata } from '../../../src/core/types.ts';
import type { ModelFiles } from './types.ts';

/** The names of a model folder's files, as src/node/modelFiles.ts writes them. */
export const MODEL_FOLDER_FILES = { model: 'model.json', weights: 'weights.bin', metadata: 'metadata.json', checksums: CHECKSUMS_FILE } as const;

/**
 * The IOHandler that loads `files` (`tf.io.fromMemory`): pass `{ model: modelFilesHandler(files), metadata: files.metadata }`
 * to `loadRecognizer` (src/core/recognizer.ts), or it to `tf.loadLayersModel`.
 */
export function modelFilesHandler(files: ModelFiles): tf.io.IOHandler {
  return tf.io.fromMemory({
    modelTopology: files.modelTopology,
    weightSpecs: files.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: files.weightData,
  });
}

/**
 * The files of a model folder holding `files`: name -> bytes, in the order `model.json`, `weights.bin`,
 * `metadata.json`, `SHA256SUMS` (the SHA-256 of the first three, through the Web Crypto API). The shape fflate's
 * `zipSync` takes; Node can write them as they are into a folder that `hwr predict --model DIR` reads.
 * @throws HwrError `BAD_MODEL` when `weightData`'s length differs from what `weightSpecs` lists (float32 and int32:
 *   4 bytes per element), or when the Web Crypto API is missing (an insecure context: the checksums cannot be made).
 */
export async function modelFolderFiles(files: ModelFiles): Promise<Record<string, Uint8Array>> {
  const expected = files.weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((n, side) => n * side, 1) * (spec.dtype === 'bool' ? 1 : 4), 0);
  if (expected !== files.weightData.byteLength) {
    throw hwrError('BAD_MODEL', `${files.metadata.name}: weightData has ${files.weightData.byteLength} bytes but weightSpecs list ${expected}`);
  }
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw hwrError('BAD_MODEL', `${files.metadata.name}: the Web Crypto API is unavailable (not a secure context), so SHA256SUMS cannot be written`);
  const encoder = new TextEncoder();
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_core}`,
    convertedBy: null,
    modelTopology: files.modelTopology,
    weightsManifest: [{ paths: [`./${MODEL_FOLDER_FILES.weights}`], weights: files.weightSpecs }],
  };
  const folder: Record<string, Uint8Array> = {
    [MODEL_FOLDER_FILES.model]: encoder.encode(JSON.stringify(modelJson)),
    [MODEL_FOLDER_FILES.weights]: new Uint8Array(files.weightData.slice(0)),
    [MODEL_FOLDER_FILES.metadata]: encoder.encode(`${JSON.stringify(files.metadata, null, 2)}\n`),
  };
  const checksums = new Map<string, string>();
  for (const [name, bytes] of Object.entries(folder)) checksums.set(name, await webSha256Hex(subtle, bytes.slice().buffer as ArrayBuffer));
  folder[MODEL_FOLDER_FILES.checksums] = encoder.encode(formatChecksums(checksums));
  return folder;
}

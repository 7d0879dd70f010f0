/**
 * Scoring models the page holds as `ModelFiles` (web/src/training/types.ts) on the user's own samples, for "Improve"'s
 * before/after figures: each sample's ink recognized as the pad's is (`Recognizer.recognizeInk`: the core's
 * `inkImageFor`, the pixels training rendered), on the page with TF.js (its wasm backend, else cpu), a short job
 * (tens of samples). The pad's recognition runs in the worker instead (../recognition/browserEngine.ts).
 *
 * TF.js is imported on first use, so the page that never improves a model never fetches it here.
 */
import type { Recognizer } from '../../../src/core/recognizer.ts';
import { sampleInk, type InkDataset } from '../../../src/data/inkDataset.ts';
import type { ModelFiles } from '../training/types.ts';

let backendReady: Promise<string> | null = null;

/** TF.js's wasm backend from `wasmUrl` (one thread), else cpu; once per page. Resolves with the backend's name. */
function tfjsBackend(wasmUrl: string): Promise<string> {
  backendReady ??= (async () => {
    const [tf, wasm] = await Promise.all([import('@tensorflow/tfjs-core'), import('@tensorflow/tfjs-backend-wasm'), import('@tensorflow/tfjs-backend-cpu')]);
    wasm.setWasmPaths(wasmUrl);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    try {
      if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
    } catch {
      await tf.setBackend('cpu');
    }
    await tf.ready();
    return tf.getBackend();
  })();
  return backendReady;
}

/**
 * A Recognizer (src/core/recognizer.ts) for `files`, run by TF.js on the page.
 * @param wasmUrl absolute URL of the folder with TF.js's .wasm files, ending in `/`.
 * @throws HwrError `BAD_MODEL` when TF.js cannot build the model from the files.
 */
export async function recognizerOf(files: ModelFiles, wasmUrl: string): Promise<Recognizer> {
  await tfjsBackend(wasmUrl);
  const [{ loadRecognizer }, { modelFilesHandler }] = await Promise.all([
    import('../../../src/core/recognizer.ts'),
    import('../training/modelFiles.ts'),
  ]);
  return loadRecognizer({ model: modelFilesHandler(files), metadata: files.metadata });
}

/**
 * Top-1 accuracy of `recognizer` on a dataset's samples (their ink recognized as the pad's is), in [0, 1]; null
 * when the dataset has no sample.
 */
export async function inkAccuracy(recognizer: Recognizer, dataset: InkDataset): Promise<number | null> {
  if (dataset.samples.length === 0) return null;
  let correct = 0;
  for (const sample of dataset.samples) {
    try {
      const result = await recognizer.recognizeInk(sampleInk(sample));
      if (result.topK[0]?.label === sample.label) correct++;
    } catch {
      // A sample the model cannot read (no ink) counts as wrong.
    }
  }
  return correct / dataset.samples.length;
}

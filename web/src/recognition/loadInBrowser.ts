/**
 * Loads a shipped model for recognition in a browser context (a Web Worker or, as a fallback, the page):
 * the TF.js wasm backend when it initializes, else the pure-JS `cpu` backend. The model's files go through
 * `modelFetch` (./modelFetch.ts): cached by the browser, with the progress of the weights reported.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadRecognizer, type Recognizer } from '../../../src/core/recognizer.ts';
import { modelFetch, type ModelProgress } from './modelFetch.ts';

/**
 * Picks the backend and loads the model.
 * @param modelUrl absolute URL of the model folder (holding model.json, its weights and metadata.json).
 * @param wasmUrl absolute URL of the folder holding the `tfjs-backend-wasm*.wasm` files, ending in `/`.
 * @param onProgress called as the weights arrive (bytes of the total).
 * @returns the recognizer and the name of the backend in use (`wasm` or `cpu`).
 * @throws HwrError `BAD_MODEL` when the model cannot be fetched or loaded.
 */
export async function loadInBrowser(modelUrl: string, wasmUrl: string, onProgress?: (progress: ModelProgress) => void): Promise<{ recognizer: Recognizer; backend: string }> {
  setWasmPaths(wasmUrl);
  let backend = 'cpu';
  try {
    if (await tf.setBackend('wasm')) backend = 'wasm';
  } catch {
    // wasm unavailable (old browser, blocked .wasm MIME type): the cpu backend is slower but works everywhere.
  }
  if (backend !== 'wasm') await tf.setBackend('cpu');
  await tf.ready();
  return { recognizer: await loadRecognizer(modelUrl, await modelFetch(modelUrl, onProgress)), backend: tf.getBackend() };
}

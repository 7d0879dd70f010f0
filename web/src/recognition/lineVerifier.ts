/**
 * Line mode's segment verifier in the browser: the model that says whether a piece the line reader cut is one whole
 * character (classes `whole` / `part` / `several`; the shipped `hanzi-segments`, scripts/train-hanzi-segments.ts),
 * which `readLine` weighs into every character option (`ReadLineOptions.pairs`, src/core/line/types.ts). The server
 * and the CLI find it by the folder's `pairsFor` (src/node/lineReader.ts); the app publishes it beside the script's
 * model and lists it in `models/line-verifiers.json` (`{ "hanzi": "hanzi-segments/" }`, written by vite.config.ts), so
 * the page reads a line as the server does.
 *
 *   const verifier = await loadLineVerifier(modelUrl, wasmUrl, 'onnxruntime-web', recognizer); // or null
 *   const reading = await readLine(recognizer, { ink }, { pairs: verifier ?? undefined });
 */
import type { Recognizer } from '../../../src/core/recognizer.ts';
import { loadInBrowser } from './loadInBrowser.ts';
import type { EngineChoice } from './types.ts';

/** The app's index of line verifiers, in the folder that holds the model folders (`models/`). */
export const LINE_VERIFIERS_FILE = 'line-verifiers.json';

/**
 * The URL of the verifier the app publishes for the model folder at `modelUrl`, from `models/line-verifiers.json`.
 * @param modelUrl absolute URL of a published model folder, `.../models/<script>/` (a trailing `model.json` is allowed)
 * @param fetchFunc the fetch to use (tests pass a stub)
 * @returns the verifier folder's absolute URL ending in `/`, or null when the index is absent (HTTP error, e.g. a dev
 *   server without it), unreadable, or has no string entry for `<script>`
 */
export async function lineVerifierUrl(modelUrl: string, fetchFunc: typeof fetch = fetch): Promise<string | null> {
  const folder = new URL(modelUrl.replace(/\/?(model\.json)?$/, '/'));
  const script = decodeURIComponent(folder.pathname.split('/').filter(Boolean).pop() ?? '');
  if (!script) return null;
  const indexUrl = new URL(`../${LINE_VERIFIERS_FILE}`, folder);
  let index: unknown;
  try {
    const response = await fetchFunc(indexUrl.href);
    if (!response.ok) return null;
    index = await response.json();
  } catch {
    return null;
  }
  if (typeof index !== 'object' || index === null || Array.isArray(index)) return null;
  const entry = (index as Record<string, unknown>)[script];
  if (typeof entry !== 'string' || entry === '') return null;
  return new URL(entry.endsWith('/') ? entry : `${entry}/`, indexUrl).href;
}

/**
 * Loads the segment verifier published for the character model at `modelUrl` (see `lineVerifierUrl`), on the same
 * engine as the character model. Never throws: a line reads without a verifier when there is none or it fails to
 * load (a model error is reported to `onWarning`).
 * @param modelUrl absolute URL of the character model's folder (as `loadInBrowser`'s)
 * @param wasmUrl absolute URL of the folder with the TF.js and ONNX Runtime .wasm files, ending in `/`
 * @param engine what runs the verifier (the character model's choice; ONNX Runtime Web falls back to TF.js)
 * @param characterModel the loaded character model: the verifier is used only when its metadata's `pairsFor` names
 *   this model (`metadata.name`), as the server matches them
 * @returns the verifier's recognizer (`[1, size, size, 1]` input of its own metadata, e.g. 32x32 for hanzi-segments), or null
 */
export async function loadLineVerifier(
  modelUrl: string,
  wasmUrl: string,
  engine: EngineChoice,
  characterModel: Pick<Recognizer, 'metadata'>,
  fetchFunc: typeof fetch = fetch,
  onWarning: (text: string) => void = (text) => console.warn(`hwr: ${text}`),
): Promise<Recognizer | null> {
  const url = await lineVerifierUrl(modelUrl, fetchFunc);
  if (url === null) return null;
  try {
    const { recognizer } = await loadInBrowser(url, wasmUrl, undefined, { engine });
    if (recognizer.metadata.pairsFor !== characterModel.metadata.name) {
      onWarning(`${url} serves "${recognizer.metadata.pairsFor ?? ''}", not "${characterModel.metadata.name}": lines are read without a verifier`);
      recognizer.dispose();
      return null;
    }
    return recognizer;
  } catch (error) {
    onWarning(`the line verifier ${url} could not be loaded (${(error as Error).message}): lines are read without it`);
    return null;
  }
}

/**
 * The `fetch` the browser loads a model folder through: it reports the progress of the weight files (bytes fetched
 * of the total the weights manifest implies) and keeps the weight files in the Cache API, so a model of a few MB is
 * downloaded once per browser, not once per visit.
 *
 * Cached entries are keyed by URL **and** SHA-256 from the folder's `SHA256SUMS` (`<url>?sha256=<hex>`: a query, since the Cache API ignores fragments when matching): when the
 * model behind a URL is replaced, its checksums change and the old entries are never used again (they are deleted
 * when the new file is stored). `loadRecognizer` (src/core/recognizer.ts) still checks every file against
 * `SHA256SUMS` after this layer; a file is stored only when its bytes match its checksum, so a bad download never
 * sticks. Without `SHA256SUMS` or without the Cache API (an insecure context, a private window that refuses
 * storage), files are fetched from the network every time, with progress all the same.
 *
 * Imports nothing Node-only; runs in the recognition worker or on the page.
 */
import { CHECKSUMS_FILE, parseChecksums, requestUrl, urlFileName, webSha256Hex, type Checksums } from '../../../src/core/checksums.ts';
import { hwrError } from '../../../src/core/errors.ts';

/** Name of the Cache API cache that holds model files. */
export const MODEL_CACHE = 'hwr-models-v1';

/** Progress of a model's weights: bytes so far of `total` (0 until model.json says), and whether they came from the cache. */
export interface ModelProgress {
  loaded: number;
  total: number;
  cached: boolean;
}

/** Bytes per element of each weight dtype TF.js stores (after quantization, which is what the files hold). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint16: 2, int16: 2, uint8: 1, int8: 1 };

/** A weights manifest entry as model.json lists it (only the fields needed for its size). */
interface ManifestWeight {
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

/**
 * Total bytes of a model's weight files, from model.json's `weightsManifest`: the product of each weight's shape
 * times the size of its stored dtype (`quantization.dtype` when quantized, e.g. float16: 2 bytes).
 * @returns the total and the weight files' names relative to the folder (normalized, e.g. `weights.bin`).
 */
export function weightsSize(modelJson: { weightsManifest?: Array<{ paths: string[]; weights: ManifestWeight[] }> }): { bytes: number; files: string[] } {
  let bytes = 0;
  const files: string[] = [];
  for (const group of modelJson.weightsManifest ?? []) {
    files.push(...group.paths.map((path) => path.replace(/^(\.\/)+/, '')));
    for (const weight of group.weights) {
      const count = weight.shape.reduce((product, side) => product * side, 1);
      bytes += count * (DTYPE_BYTES[weight.quantization?.dtype ?? weight.dtype] ?? 4);
    }
  }
  return { bytes, files };
}

/** SHA-256 of `bytes`, or null without the Web Crypto API (an insecure context): nothing is then cached. */
async function sha256Hex(bytes: ArrayBuffer): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  return subtle ? webSha256Hex(subtle, bytes) : null;
}

/** Reads a response's body, calling `onChunk(bytes so far)` as chunks arrive. */
async function readCounting(response: Response, onChunk: (received: number) => void): Promise<ArrayBuffer> {
  if (!response.body) return response.arrayBuffer();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    onChunk(received);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes.buffer;
}

/** The Cache API cache for model files, or null where the browser has none or refuses it. */
async function openCache(): Promise<Cache | null> {
  try {
    return globalThis.caches ? await globalThis.caches.open(MODEL_CACHE) : null;
  } catch {
    return null;
  }
}

/**
 * Makes the `fetch` for the model folder at `folderUrl` (see the module docstring).
 * Requests outside the folder pass through untouched.
 * @param folderUrl absolute URL of the model folder, ending in `/`.
 * @param onProgress called as the weights arrive (and once with everything when they come from the cache).
 * @param fetchFunc the network fetch; default the global one.
 */
export async function modelFetch(folderUrl: string, onProgress: (progress: ModelProgress) => void = () => undefined, fetchFunc: typeof fetch = fetch): Promise<typeof fetch> {
  const folder = folderUrl.replace(/\/?(model\.json)?$/, '/');
  const cache = await openCache();
  // The checksums are the cache keys: always asked of the server (revalidated, never a stale copy).
  let checksums: Checksums = new Map();
  try {
    const response = await fetchFunc(`${folder}${CHECKSUMS_FILE}`, { cache: 'no-cache' });
    if (response.ok && !/text\/html/i.test(response.headers.get('content-type') ?? '')) {
      checksums = parseChecksums(await response.text(), `${folder}${CHECKSUMS_FILE}`);
    }
  } catch {
    // No usable SHA256SUMS: nothing can be cached safely; loadRecognizer decides whether the folder is usable.
  }
  let weights = { bytes: 0, files: [] as string[] };
  const received = new Map<string, number>();
  const report = (cached: boolean): void => {
    const loaded = [...received.values()].reduce((sum, bytes) => sum + bytes, 0);
    onProgress({ loaded, total: Math.max(weights.bytes, loaded), cached });
  };

  const fetchModelFile = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = requestUrl(input);
    if (!url.startsWith(folder)) return fetchFunc(input, init);
    const name = urlFileName(url);
    // Only the weights are cached (model.json names them, and TF.js fetches it first): they are the bulk, and the
    // small files stay as the server has them now, so a changed or broken model.json is seen at once.
    const isWeights = weights.files.includes(name);
    const expected = isWeights ? checksums.get(name) : undefined;
    const key = expected === undefined ? undefined : `${url}?sha256=${expected}`;
    const hit = cache && key ? await readCached(cache, key, expected!) : null;
    let bytes: ArrayBuffer;
    let response: Response;
    if (hit) {
      ({ response, bytes } = hit);
      received.set(name, bytes.byteLength);
      report(true);
    } else {
      response = await fetchFunc(input, { ...init, cache: 'no-cache' });
      if (!response.ok) return response;
      bytes = isWeights
        ? await readCounting(response, (count) => {
          received.set(name, count);
          report(false);
        })
        : await response.arrayBuffer();
      if (cache && key && (await sha256Hex(bytes)) === expected) {
        await storeReplacing(cache, url, key, new Response(bytes.slice(0), { headers: response.headers }));
      }
    }
    if (name === 'model.json') {
      try {
        weights = weightsSize(JSON.parse(new TextDecoder().decode(bytes)) as Parameters<typeof weightsSize>[0]);
        report(false);
      } catch {
        // Not a model: loadRecognizer says so (checksum or format) with the file's URL; no progress to report.
      }
    }
    return new Response(bytes, { status: 200, headers: response.headers });
  };
  return fetchModelFile as typeof fetch;
}

/**
 * The cached copy under `key` when its bytes still have the SHA-256 `expected` (storage can be damaged); a damaged
 * copy is deleted. Null when there is none.
 */
async function readCached(cache: Cache, key: string, expected: string): Promise<{ response: Response; bytes: ArrayBuffer } | null> {
  try {
    const response = await cache.match(key);
    if (!response) return null;
    const bytes = await response.arrayBuffer();
    if ((await sha256Hex(bytes)) === expected) return { response, bytes };
    await cache.delete(key);
  } catch {
    // Unreadable storage: fetch from the network.
  }
  return null;
}

/** Stores `response` under `key`, deleting the entries of older versions of the same URL. Storage errors are ignored. */
async function storeReplacing(cache: Cache, url: string, key: string, response: Response): Promise<void> {
  try {
    for (const request of await cache.keys()) {
      if (request.url.startsWith(`${url}?sha256=`) && request.url !== key) await cache.delete(request);
    }
    await cache.put(key, response);
  } catch {
    // Quota exceeded or storage refused: the model still loads, from the network next time too.
  }
}

/**
 * Checksum file of the files the build generates from a model folder (`model.onnx`), beside the folder's own
 * `SHA256SUMS` (which is committed with the model and lists only the model's files). Same format.
 */
export const GENERATED_CHECKSUMS_FILE = 'generated.SHA256SUMS';

/**
 * Fetches a file the build generated in the model folder at `folderUrl` (e.g. `model.onnx`), checked against the
 * folder's `generated.SHA256SUMS` and kept in the Cache API under its checksum as the weights are (see the module
 * docstring), with its progress reported (bytes of the response's Content-Length).
 * Without Web Crypto (an insecure context) the file is fetched unchecked and not cached.
 * @param folderUrl absolute URL of the model folder, ending in `/`.
 * @param name file name inside the folder.
 * @returns the file's bytes.
 * @throws HwrError `BAD_MODEL` when the file or its checksum file cannot be fetched, the file is not listed, or its
 *   SHA-256 differs.
 */
export async function fetchGeneratedFile(folderUrl: string, name: string, onProgress: (progress: ModelProgress) => void = () => undefined, fetchFunc: typeof fetch = fetch): Promise<Uint8Array> {
  const folder = folderUrl.replace(/\/?(model\.json)?$/, '/');
  const url = `${folder}${name}`;
  const sumsUrl = `${folder}${GENERATED_CHECKSUMS_FILE}`;
  const get = async (target: string, init?: RequestInit): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchFunc(target, init);
    } catch (error) {
      throw hwrError('BAD_MODEL', `${target}: cannot fetch: ${(error as Error).message}`, error);
    }
    if (!response.ok || /text\/html/i.test(response.headers.get('content-type') ?? '')) {
      throw hwrError('BAD_MODEL', `${target}: HTTP ${response.status}${response.ok ? ' (an HTML page)' : ''}, so the file is missing`);
    }
    return response;
  };
  const expected = parseChecksums(await (await get(sumsUrl, { cache: 'no-cache' })).text(), sumsUrl).get(name);
  if (expected === undefined) throw hwrError('BAD_MODEL', `${url}: not listed in ${GENERATED_CHECKSUMS_FILE}, so it cannot be checked`);
  const subtle = globalThis.crypto?.subtle;
  const cache = subtle ? await openCache() : null;
  const key = `${url}?sha256=${expected}`;
  const hit = cache ? await readCached(cache, key, expected) : null;
  if (hit) {
    onProgress({ loaded: hit.bytes.byteLength, total: hit.bytes.byteLength, cached: true });
    return new Uint8Array(hit.bytes);
  }
  const response = await get(url, { cache: 'no-cache' });
  const total = Number(response.headers.get('content-length') ?? 0);
  const bytes = await readCounting(response, (loaded) => onProgress({ loaded, total: Math.max(total, loaded), cached: false }));
  if (subtle) {
    const actual = await webSha256Hex(subtle, bytes);
    if (actual !== expected) {
      throw hwrError('BAD_MODEL', `${url}: SHA-256 ${actual.slice(0, 12)}... does not match ${GENERATED_CHECKSUMS_FILE} (${expected.slice(0, 12)}...): the file is corrupt, truncated or was changed after the build wrote it`);
    }
    if (cache) await storeReplacing(cache, url, key, new Response(bytes.slice(0), { headers: response.headers }));
  }
  return new Uint8Array(bytes);
}

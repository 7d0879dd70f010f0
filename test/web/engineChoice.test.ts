/**
 * The page's engine choice and the fetch of the build's generated model.onnx, in Node (no browser): the URL query
 * that picks the engine, and `fetchGeneratedFile`'s checks against generated.SHA256SUMS (Node 20 has Web Crypto;
 * it has no Cache API, so nothing is cached here, as in a browser that refuses storage).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fetchGeneratedFile, GENERATED_CHECKSUMS_FILE } from '../../web/src/recognition/modelFetch.ts';
import { DEFAULT_ENGINE, engineChoiceFromQuery } from '../../web/src/recognition/types.ts';

const FOLDER = 'http://host.test/models/digits/';
const MODEL = new Uint8Array([8, 7, 1, 2, 9, 0, 255, 3]);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A fetch that serves `files` (name -> body) from FOLDER and answers 404 with an HTML page otherwise. */
function serving(files: Record<string, Uint8Array | string>): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = String(input);
    const name = url.startsWith(FOLDER) ? url.slice(FOLDER.length) : '';
    const body = files[name];
    if (body === undefined) return new Response('<h1>Not found</h1>', { status: 404, headers: { 'content-type': 'text/html' } });
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    return new Response(bytes.slice().buffer as ArrayBuffer, { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } });
  }) as typeof fetch;
}

describe('engineChoiceFromQuery', () => {
  it('takes ?engine=onnxruntime-web or ?engine=tfjs, and the default for anything else', () => {
    expect(DEFAULT_ENGINE).toBe('onnxruntime-web');
    expect(engineChoiceFromQuery('?engine=onnxruntime-web')).toBe('onnxruntime-web');
    expect(engineChoiceFromQuery('?x=1&engine=tfjs')).toBe('tfjs');
    expect(engineChoiceFromQuery('')).toBe(DEFAULT_ENGINE);
    expect(engineChoiceFromQuery('?engine=webgpu')).toBe(DEFAULT_ENGINE);
  });
});

describe('fetchGeneratedFile', () => {
  it('returns the bytes when their SHA-256 is the one generated.SHA256SUMS lists, reporting progress to the total', async () => {
    const progress: Array<{ loaded: number; total: number; cached: boolean }> = [];
    const fetchFunc = serving({ 'model.onnx': MODEL, [GENERATED_CHECKSUMS_FILE]: `${sha256(MODEL)}  model.onnx\n` });
    const bytes = await fetchGeneratedFile(FOLDER, 'model.onnx', (update) => progress.push(update), fetchFunc);
    expect(Array.from(bytes)).toEqual(Array.from(MODEL));
    expect(progress.at(-1)).toEqual({ loaded: MODEL.length, total: MODEL.length, cached: false });
  });

  it('refuses damaged bytes, an unlisted file, and a missing file or checksum file, in one line naming the URL', async () => {
    const listed = `${sha256(MODEL)}  model.onnx\n`;
    const cases: Array<[Record<string, Uint8Array | string>, RegExp]> = [
      [{ 'model.onnx': new Uint8Array([1, 2, 3]), [GENERATED_CHECKSUMS_FILE]: listed }, /model\.onnx: SHA-256 [0-9a-f]{12}\.\.\. does not match generated\.SHA256SUMS/],
      [{ 'model.onnx': MODEL, [GENERATED_CHECKSUMS_FILE]: `${sha256(MODEL)}  other.onnx\n` }, /model\.onnx: not listed in generated\.SHA256SUMS/],
      [{ [GENERATED_CHECKSUMS_FILE]: listed }, /model\.onnx: HTTP 404/],
      [{ 'model.onnx': MODEL }, /generated\.SHA256SUMS: HTTP 404/],
    ];
    for (const [files, message] of cases) {
      const error = await fetchGeneratedFile(FOLDER, 'model.onnx', undefined, serving(files)).then(() => null, (caught: unknown) => caught as Error & { code?: string });
      expect(error?.code).toBe('BAD_MODEL');
      expect(error?.message).toMatch(message);
      expect(error?.message).toContain(FOLDER);
      expect(error?.message).not.toContain('\n');
    }
  });
});

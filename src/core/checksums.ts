/**
 * `SHA256SUMS`, the checksum file of a model folder, for Node and the browser (no Node imports).
 * The format is GNU coreutils' `sha256sum` output: one `<64 hex digits><space><space or *><file name>` line per file,
 * so `sha256sum -c SHA256SUMS` checks a folder by hand. Node writes and checks it in src/node/modelFiles.ts; the
 * browser checks the model files it fetches with `checkedFetch`, through the Web Crypto API (SubtleCrypto).
 */
import { hwrError } from './errors.ts';

/** The checksum file of a model folder. */
export const CHECKSUMS_FILE = 'SHA256SUMS';

/** File name (relative to the folder, `/`-separated) -> lowercase hex SHA-256, as listed in `SHA256SUMS`. */
export type Checksums = Map<string, string>;

/** Formats checksums as `sha256sum` does in text mode: `<hex>  <name>` per line, in the map's order. */
export function formatChecksums(checksums: Checksums): string {
  return [...checksums].map(([name, hex]) => `${hex}  ${name}\n`).join('');
}

/**
 * Parses a `SHA256SUMS` file (text mode `hex  name` or binary mode `hex *name` lines; blank lines are skipped).
 * @param where The file's path or URL, for error messages.
 * @throws HwrError `BAD_MODEL` naming `where` and the line of a malformed line.
 */
export function parseChecksums(text: string, where: string): Checksums {
  const checksums: Checksums = new Map();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!match) throw hwrError('BAD_MODEL', `${where}: line ${i + 1} is not "<SHA-256 in hex>  <file name>"`);
    checksums.set(match[2]!, match[1]!.toLowerCase());
  }
  return checksums;
}

/** The one-line error for a file whose SHA-256 differs from its `SHA256SUMS` entry. */
export function checksumMismatch(where: string, actual: string, expected: string): Error {
  return hwrError(
    'BAD_MODEL',
    `${where}: SHA-256 ${actual.slice(0, 12)}... does not match ${CHECKSUMS_FILE} (${expected.slice(0, 12)}...): the file is corrupt, truncated or was changed after it was written`,
  );
}

/** Lowercase hex SHA-256 of `bytes` with the Web Crypto API (`crypto.subtle`, FIPS 180-4). */
export async function webSha256Hex(subtle: SubtleCrypto, bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The URL of a fetch request, with TF.js's `<folder>/./weights.bin` joins (folder + weights-manifest path) collapsed. */
export function requestUrl(input: RequestInfo | URL): string {
  return (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).replace(/\/(\.\/)+/g, '/');
}

/** The file name at the end of a URL, decoded (`.../models/hanzi/weights.bin` -> `weights.bin`); relative URLs too. */
export function urlFileName(url: string): string {
  return decodeURIComponent(new URL(url, 'http://relative.invalid/').pathname.split('/').pop() ?? '');
}

/**
 * A `fetch` for the files of the model folder at `folderUrl` that checks each one against the folder's
 * `SHA256SUMS`: a listed file whose bytes differ, or a file that is not listed, rejects with a one-line
 * `HwrError` `BAD_MODEL` naming its URL. Without a usable `SHA256SUMS` (missing, an HTML page from a static host's
 * fallback, malformed) or without the Web Crypto API (pages served over plain HTTP from another machine), the files
 * are fetched unchecked, as before checksums existed.
 * @param folderUrl URL of the model folder (with or without a trailing `/` or `model.json`).
 * @returns the fetch function, and whether it checks.
 */
export async function checkedFetch(folderUrl: string, fetchFunc: typeof fetch = fetch): Promise<{ fetch: typeof fetch; checked: boolean }> {
  const folder = folderUrl.replace(/\/?(model\.json)?$/, '/');
  const unchecked = { fetch: fetchFunc, checked: false };
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return unchecked;
  let checksums: Checksums;
  try {
    const response = await fetchFunc(`${folder}${CHECKSUMS_FILE}`);
    if (!response.ok || /text\/html/i.test(response.headers.get('content-type') ?? '')) return unchecked;
    checksums = parseChecksums(await response.text(), `${folder}${CHECKSUMS_FILE}`);
  } catch {
    return unchecked;
  }
  if (checksums.size === 0) return unchecked;
  const checking = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = requestUrl(input);
    const response = await fetchFunc(input, init);
    if (!response.ok) return response;
    const expected = checksums.get(urlFileName(url));
    if (expected === undefined) throw hwrError('BAD_MODEL', `${url}: not listed in ${CHECKSUMS_FILE}, so it cannot be checked`);
    const bytes = await response.arrayBuffer();
    const actual = await webSha256Hex(subtle, bytes);
    if (actual !== expected) throw checksumMismatch(url, actual, expected);
    return new Response(bytes, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: checking as typeof fetch, checked: true };
}

/**
 * The core recognizer loading a model folder over HTTP, as the browser does: each file is checked against the
 * folder's SHA256SUMS with Web Crypto (Node has the same API), a garbage file is refused in one line naming its URL,
 * and a folder without SHA256SUMS, or a host that answers HTML for it, still loads.
 */
import { createServer, type Server } from 'node:http';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { loadRecognizer } from '../../src/core/recognizer.ts';
import { checkedFetch } from '../../src/core/checksums.ts';
import { resolveModelDir } from '../../src/node/recognizer.ts';
import { setupBackend } from '../../src/backend/backend.ts';

const tempDir = useTempDirs('model-http');
let root: string;
let server: Server;
let base: string;
/** When set, unknown paths get this HTML page with status 200, as single-page-app hosts answer. */
let htmlFallback = false;

beforeAll(async () => {
  await setupBackend();
  root = await tempDir();
  server = createServer(async (request, response) => {
    const path = join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    try {
      const body = await readFile(path);
      response.writeHead(200, { 'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body);
    } catch {
      if (htmlFallback) response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
      else response.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
});

/** Serves a copy of the shipped model folder under `/<name>/`. */
async function serveShippedCopy(name: string): Promise<string> {
  const shipped = resolveModelDir('digits');
  for (const file of ['model.json', 'weights.bin', 'metadata.json', 'SHA256SUMS']) await cp(join(shipped, file), join(root, name, file));
  return join(root, name);
}

describe('loading a model folder over HTTP (the browser path)', () => {
  it('checks the shipped model against its SHA256SUMS and loads it', async () => {
    await serveShippedCopy('good');
    expect((await checkedFetch(`${base}/good/`)).checked).toBe(true);
    const recognizer = await loadRecognizer(`${base}/good/`);
    expect(recognizer.metadata.name).toBe('digits');
    recognizer.dispose();
  });

  it('refuses a garbage weights.bin of the right size, or a changed metadata.json, in one line naming the URL', async () => {
    const dir = await serveShippedCopy('garbage');
    const { size } = await stat(join(dir, 'weights.bin'));
    await writeFile(join(dir, 'weights.bin'), Buffer.alloc(size, 0x3c));
    const error = (await loadRecognizer(`${base}/garbage/`).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe('BAD_MODEL');
    expect(error.message).toMatch(new RegExp(`^${base}/garbage/weights\\.bin: SHA-256 .* does not match SHA256SUMS`));
    expect(error.message).not.toContain('\n');
    const other = await serveShippedCopy('metadata');
    await writeFile(join(other, 'metadata.json'), '{"name": "digits", "classes": ["0", "1"], "inputShape": [28, 28, 1]}');
    await expect(loadRecognizer(`${base}/metadata/`)).rejects.toThrow(/metadata\.json: SHA-256 .* does not match SHA256SUMS/);
  });

  it('loads, unchecked, a folder without SHA256SUMS, also where the host answers HTML for it', async () => {
    const dir = await serveShippedCopy('legacy');
    await rm(join(dir, 'SHA256SUMS'));
    for (const fallback of [false, true]) {
      htmlFallback = fallback;
      expect((await checkedFetch(`${base}/legacy/model.json`)).checked).toBe(false);
      const recognizer = await loadRecognizer(`${base}/legacy/`);
      expect(recognizer.metadata.classes.length).toBeGreaterThanOrEqual(10);
      recognizer.dispose();
    }
    htmlFallback = false;
  });
});

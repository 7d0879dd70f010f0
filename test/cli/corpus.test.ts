/**
 * Reliability suite for the CLI: `hwr predict` on the generated corpus of malformed and hostile image files
 * (test/fixtures/malformedImages.ts) mixed with good ones, in one run. Each bad file gets exactly one line on stderr
 * that names it and the reason (never a stack trace), the good files are still recognized, the exit code is 1, and
 * with `--json` each bad file is `{ "file", "error": { "code", "message" } }` with the code the README documents.
 * Hostile SVGs make no request to the server they point to.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { hostileSvgs, malformedImages, type MalformedImage } from '../fixtures/malformedImages.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { hwr } from '../fixtures/cli.ts';


const tempDir = useTempDirs('cli-corpus');
let bad: Array<MalformedImage & { path: string }>;
let good: string[];
let svgs: string[];
const outbound: string[] = [];
let external: Server;

beforeAll(async () => {
  external = createServer((request, response) => {
    outbound.push(request.url ?? '');
    response.end('x');
  });
  await new Promise<void>((done) => external.listen(0, '127.0.0.1', done));
  const dir = await tempDir();
  bad = await Promise.all((await malformedImages()).map(async (image) => {
    const path = join(dir, image.name);
    await writeFile(path, image.bytes);
    return { ...image, path };
  }));
  const digits = await mnistTestDigits(2);
  good = await Promise.all(digits.map(async (digit, index) => {
    const path = join(dir, `good-${index}.png`);
    await writeFile(path, await digitPng(digit));
    return path;
  }));
  svgs = await Promise.all(Object.entries(hostileSvgs(`http://127.0.0.1:${(external.address() as AddressInfo).port}`)).map(async ([name, svg]) => {
    const path = join(dir, name);
    await writeFile(path, svg);
    return path;
  }));
});

afterAll(async () => {
  await new Promise((done) => external?.close(done));
});

describe('hwr predict on the malformed-file corpus', () => {
  it('one line per bad file naming it and the reason, the good files recognized, exit code 1', async () => {
    expect(bad.length).toBeGreaterThan(100);
    const files = [good[0]!, ...bad.map((item) => item.path), good[1]!];
    const run = await hwr('predict', ...files);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/good-0\.png: 7 /);
    expect(run.stdout).toMatch(/good-1\.png: 2 /);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(bad.length);
    const problems: string[] = [];
    bad.forEach((item, index) => {
      const line = lines[index] ?? '';
      const rest = line.startsWith(`hwr: ${item.path}: `) ? line.slice(`hwr: ${item.path}: `.length) : undefined;
      if (rest === undefined || rest.length < 8 || /\bat .*\.[tj]s:\d+/.test(line)) problems.push(`${item.name}: ${line}`);
    });
    expect(problems).toEqual([]);
  });

  it('--json: every bad file as { file, error: { code, message } } with its documented code', async () => {
    const run = await hwr('predict', good[0]!, ...bad.map((item) => item.path), '--json');
    expect(run.code).toBe(1);
    const entries = JSON.parse(run.stdout) as Array<{ file: string; label?: string; error?: { code: string; message: string } }>;
    expect(entries).toHaveLength(bad.length + 1);
    expect(entries[0]).toMatchObject({ file: good[0], label: '7' });
    const wrong = bad
      .map((item, index) => ({ item, entry: entries[index + 1]! }))
      .filter(({ item, entry }) => entry.file !== item.path || !item.codes.includes(entry.error?.code ?? '') || !(entry.error!.message.length > 5))
      .map(({ item, entry }) => `${item.name}: ${JSON.stringify(entry).slice(0, 160)}, documented ${item.codes.join('|')}`);
    expect(wrong).toEqual([]);
  });

  it('hostile SVGs: recognized or refused in one line, and no request leaves the machine', async () => {
    const run = await hwr('predict', ...svgs, '--json');
    const entries = JSON.parse(run.stdout) as Array<{ file: string; label?: string | null; error?: { code: string } }>;
    expect(entries.map((entry) => entry.file)).toEqual(svgs);
    for (const entry of entries) {
      if (entry.error) expect(['NOT_AN_IMAGE', 'CORRUPT_IMAGE', 'NO_INK', 'IMAGE_TOO_LARGE']).toContain(entry.error.code);
    }
    expect(run.stdout + run.stderr).not.toMatch(/root:|\/bin\/(ba)?sh/);
    expect(outbound).toEqual([]);
  });
});

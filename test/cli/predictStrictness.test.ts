/**
 * `hwr predict` refuses the same broken files as the server (issue 8, defect 6): each gets one line on stderr naming
 * the file and the reason, with the `--json` error code CORRUPT_IMAGE or IMAGE_TOO_LARGE, and the exit code is 1.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { corruptImages, hugeHeaderImages, smallDrawing } from '../fixtures/brokenImages.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { hwr } from '../fixtures/cli.ts';


const tempDir = useTempDirs('cli-strictness');

describe('hwr predict on broken files', () => {
  const expected: Record<string, string> = {};
  const files: string[] = [];
  beforeAll(async () => {
    const dir = await tempDir();
    const drawing = await smallDrawing();
    const cases = [
      ...Object.entries(await corruptImages(drawing)).map(([name, bytes]) => [name, bytes, 'CORRUPT_IMAGE'] as const),
      ...Object.entries(await hugeHeaderImages(drawing)).map(([name, bytes]) => [name, bytes, 'IMAGE_TOO_LARGE'] as const),
    ];
    for (const [name, bytes, code] of cases) {
      const file = join(dir, name);
      await writeFile(file, bytes);
      files.push(file);
      expected[file] = code;
    }
  });

  it('names each file and its reason on one line, reports CORRUPT_IMAGE or IMAGE_TOO_LARGE, and exits 1', async () => {
    const run = await hwr('predict', ...files, '--json');
    expect(run.code).toBe(1);
    const results = JSON.parse(run.stdout) as Array<{ file: string; error?: { code: string; message: string } }>;
    expect(Object.fromEntries(results.map((r) => [r.file, r.error?.code]))).toEqual(expected);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(files.length);
    for (const file of files) expect(lines.filter((line) => line.includes(file))).toHaveLength(1);
  });
});

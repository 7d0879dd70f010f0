import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/node/files.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

describe('writeFileAtomic', () => {
  const tempDir = useTempDirs('files');
  let folder: string;
  beforeAll(async () => {
    folder = await tempDir();
  });

  it('writes bytes and strings, replacing the old contents, and leaves no temporary file', async () => {
    const path = join(folder, 'out.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, 'héllo');
    expect(await readFile(path, 'utf8')).toBe('héllo');
    expect(await readdir(folder)).toEqual(['out.bin']);
  });

  it('creates missing folders', async () => {
    const path = join(folder, 'a', 'b', 'c.txt');
    await writeFileAtomic(path, 'x');
    expect(await readFile(path, 'utf8')).toBe('x');
  });

  it('keeps concurrent writes whole: the file ends up holding one of them', async () => {
    const path = join(folder, 'race.txt');
    const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(10000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    expect(versions).toContain(await readFile(path, 'utf8'));
    expect((await readdir(folder)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('fails without leaving a temporary file when the target cannot be replaced', async () => {
    const target = join(folder, 'occupied');
    await mkdir(join(target, 'child'), { recursive: true });
    await writeFile(join(target, 'child', 'keep'), 'keep');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect((await readdir(folder)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(await readFile(join(target, 'child', 'keep'), 'utf8')).toBe('keep');
  });
});

/**
 * `hwr train` and `hwr evaluate` with `--data hwdb:DIR` on GNT files holding a truncated and a corrupt sample
 * (issue 9): by default one line on stderr naming the file and the byte offset, exit code 1, before any training;
 * with `--skip-corrupt` a warning per sample, a count, and the run goes on. The flag is part of the training recipe:
 * `--resume` keeps it, and a recipe written before the flag existed resumes as strict.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { hwr } from '../fixtures/cli.ts';

const tempDir = useTempDirs('cli-skip-corrupt');

/**
 * One GNT sample built byte by byte from the format description (u32 LE size, tag code first byte high, u16 LE
 * width, u16 LE height, then width x height gray bytes, 255 = paper): 12x10 with a stroke whose place depends on `n`.
 */
function sampleBytes(tag: [number, number], n: number): number[] {
  const pixels = Array.from({ length: 120 }, (_, i) => (Math.floor(i / 12) === n % 10 || i % 12 === n % 12 ? 0 : 255));
  return [130, 0, 0, 0, tag[0], tag[1], 12, 0, 10, 0, ...pixels];
}
const TAGS: [number, number][] = [[0xb0, 0xa1], [0xb0, 0xa2], [0xb0, 0xa3]]; // 啊 阿 埃

/** Six sound samples of one writer. */
const writerBytes = (w: number): number[] => Array.from({ length: 6 }, (_, i) => sampleBytes(TAGS[i % 3]!, w + i)).flat();

let dir = '';
let truncatedFile = '';
let corruptFile = '';

beforeAll(async () => {
  dir = await tempDir();
  // Writers 1001-1003 train, 1241-1242 test (HWDB1.1's numbering, see splitOfWriter).
  for (const w of [1001, 1002, 1241]) await writeFile(join(dir, `${w}-c.gnt`), new Uint8Array(writerBytes(w)));
  // 1003-c: the third sample has tag code 0x4142 ("AB", no character) but sound framing; the rest is read.
  corruptFile = join(dir, '1003-c.gnt');
  const corrupt = writerBytes(1003);
  corrupt[2 * 130 + 4] = 0x41;
  corrupt[2 * 130 + 5] = 0x42;
  await writeFile(corruptFile, new Uint8Array(corrupt));
  // 1242-c: the file ends 50 bytes into the fifth sample's pixels.
  truncatedFile = join(dir, '1242-c.gnt');
  await writeFile(truncatedFile, new Uint8Array(writerBytes(1242).slice(0, 4 * 130 + 60)));
});

const TRAIN = ['train', '--model', 'lenet5', '--batch-size', '8', '--threads', '1', '--seed', '3'];

describe('hwr train --data hwdb:DIR with corrupt samples', () => {
  it('fails in one line naming the file and byte offset, before training, with exit code 1', async () => {
    const out = await tempDir();
    const run = await hwr(...TRAIN, '--epochs', '1', '--data', `hwdb:${dir}`, '--out', out);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`hwr: ${corruptFile}: corrupt GNT sample 2 at byte offset 260: tag code 0x4142 is not a GB18030 two-byte character (--skip-corrupt to skip corrupt samples with a warning)\n`);
    expect(run.stdout).not.toMatch(/training, .* validation/);
  });

  it('--skip-corrupt warns once per sample, counts them, trains, records the flag; --resume keeps it', async () => {
    const out = await tempDir();
    const run = await hwr(...TRAIN, '--epochs', '2', '--data', `hwdb:${dir}`, '--out', out, '--skip-corrupt');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.filter((l) => l.includes('corrupt GNT sample'))).toEqual([
      `${corruptFile}: corrupt GNT sample 2 at byte offset 260: tag code 0x4142 is not a GB18030 two-byte character; skipped it`,
      `${truncatedFile}: corrupt GNT sample 4 at byte offset 520: truncated pixels: 12x10 needs 120 bytes, the file has 50; skipped the rest of the file`,
    ]);
    expect(lines).toContain(`${dir}: 2 corrupt samples skipped (--skip-corrupt)`);
    const metadata = JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'));
    expect(metadata.command).toMatch(/ --skip-corrupt$/);
    expect(metadata.trainingData).toMatch(/2 corrupt samples skipped/);

    const resumed = await hwr('train', '--resume', '--epochs', '3', '--out', out);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resuming after epoch 2/);
    expect(resumed.stdout).toContain(`${dir}: 2 corrupt samples skipped (--skip-corrupt)`);
  });

  it('a recipe without the field (written before --skip-corrupt existed) resumes as strict', async () => {
    const out = await tempDir();
    expect((await hwr(...TRAIN, '--epochs', '1', '--data', `hwdb:${dir}`, '--out', out, '--skip-corrupt')).code).toBe(0);
    // Rewrite the checkpoint's state.json as an older hwr wrote it, and its SHA256SUMS line to match.
    const checkpoint = join(out, 'checkpoints', 'epoch-0001');
    const state = JSON.parse(await readFile(join(checkpoint, 'state.json'), 'utf8'));
    delete state.recipe.skipCorrupt;
    const text = JSON.stringify(state, null, 2);
    await writeFile(join(checkpoint, 'state.json'), text);
    const sums = await readFile(join(checkpoint, 'SHA256SUMS'), 'utf8');
    const hex = createHash('sha256').update(text).digest('hex');
    await writeFile(join(checkpoint, 'SHA256SUMS'), sums.replace(/^[0-9a-f]{64}(?=  state\.json$)/m, hex));

    const strict = await hwr('train', '--resume', '--epochs', '2', '--out', out);
    expect(strict.code).toBe(1);
    expect(strict.stdout).not.toMatch(/skipping a checkpoint/);
    expect(strict.stderr).toMatch(/^hwr: .*1003-c\.gnt: corrupt GNT sample 2 at byte offset 260: .*\(--skip-corrupt to skip corrupt samples with a warning\)\n$/);
    const contradicting = await hwr('train', '--resume', '--epochs', '2', '--out', out, '--skip-corrupt');
    expect(contradicting.code).toBe(1);
    expect(contradicting.stderr).toMatch(/was trained with no --skip-corrupt, not --skip-corrupt/);
  });

  it('refuses --skip-corrupt for IDX data', async () => {
    const run = await hwr(...TRAIN, '--epochs', '1', '--out', await tempDir(), '--skip-corrupt');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('hwr: --skip-corrupt: only for GNT data (--data hwdb:DIR)\n');
  });
});

describe('hwr evaluate --data hwdb:DIR with corrupt samples', () => {
  // Any model with the CJK profile reads the test writers; its accuracy is not what is checked here.
  let model = '';
  beforeAll(async () => {
    model = await tempDir();
    const run = await hwr(...TRAIN, '--epochs', '1', '--data', `hwdb:${dir}`, '--out', model, '--skip-corrupt');
    expect(run.code).toBe(0);
  });

  it('fails in one line naming the truncated file and byte offset, with exit code 1', async () => {
    const run = await hwr('evaluate', '--model', model, '--data', `hwdb:${dir}`, '--confusion', join(await tempDir(), 'c.tsv'));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    // Only the test writers are read: the corrupt training file is not reported.
    expect(run.stderr).toBe(`hwr: ${truncatedFile}: corrupt GNT sample 4 at byte offset 520: truncated pixels: 12x10 needs 120 bytes, the file has 50 (--skip-corrupt to skip corrupt samples with a warning)\n`);
  });

  it('--skip-corrupt warns, evaluates the sound samples and counts the corrupt one', async () => {
    const run = await hwr('evaluate', '--model', model, '--data', `hwdb:${dir}`, '--confusion', join(await tempDir(), 'c.tsv'), '--skip-corrupt', '--json');
    expect(run.code).toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual([
      `hwr: ${truncatedFile}: corrupt GNT sample 4 at byte offset 520: truncated pixels: 12x10 needs 120 bytes, the file has 50; skipped the rest of the file`,
      `hwr: ${dir}: 1 corrupt sample of the test writers skipped (--skip-corrupt)`,
    ]);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ count: 6 + 4, corrupt: 1, skipped: 1 });
  });
});

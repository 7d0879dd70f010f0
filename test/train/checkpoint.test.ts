/**
 * Checkpoints under faults (issue 8, defects 1 to 3):
 * - a training process killed (SIGKILL) at any moment of writing a checkpoint or publishing the best model resumes
 *   to the same weights as a run that was never interrupted, and leaves no temporary files behind;
 * - a checkpoint says what run it is: `--resume` takes the recipe from it, refuses a contradicting flag in one line,
 *   and says "nothing to do" when the run has done its epochs;
 * - a corrupt checkpoint (garbage weights.bin of the right size, garbage state.json) is skipped or refused in one
 *   line naming the file.
 * The kills come from `HWR_TEST_KILL_AT=<point>:<epoch>` (src/train/checkpoint.ts), in child processes of bin/hwr.js.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { runHwr } from '../fixtures/cli.ts';
import { checkpointName, CHECKPOINTS_DIR, removeLeftovers } from '../../src/train/checkpoint.ts';
import { train, type TrainOptions } from '../../src/train/train.ts';
import { verifyFolder } from '../../src/node/modelFiles.ts';

const tempDir = useTempDirs('checkpoint');
const quiet = () => {};

/** A small, fast, deterministic run: LeNet-5 on 400 MNIST images, one thread. */
const RECIPE = { model: 'lenet5', epochs: 3, batchSize: 50, learningRate: 0.002, seed: 5, limit: 400, threads: 1 } as const;
const RECIPE_FLAGS = ['--model', 'lenet5', '--epochs', '3', '--batch-size', '50', '--learning-rate', '0.002', '--seed', '5', '--limit', '400', '--threads', '1'];

/** Runs `hwr` as a child process, with extra environment variables. */
const hwr = runHwr;

/** Every file name under `dir`, recursively, relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

const lastCheckpoint = (outDir: string, epoch: number) => join(outDir, CHECKPOINTS_DIR, checkpointName(epoch));

let straight: string;

beforeAll(async () => {
  straight = await tempDir();
  await train({ ...RECIPE, outDir: straight, print: quiet, progressBar: false });
}, 300_000);

describe('a training process killed while writing a checkpoint', () => {
  // Each point is in epoch 2 of 3: after it, the run has a complete epoch-1 checkpoint at least.
  const points = [
    ['checkpoint-files', 'after the new weights, before state.json'],
    ['checkpoint-rename', 'with the new checkpoint complete but not yet renamed into place'],
    ['checkpoint-prune', 'after the rename, before the old checkpoint is removed and the best model published'],
    ['publish', 'halfway through copying the best model into the output folder'],
  ] as const;

  for (const [point, moment] of points) {
    it(`resumes to the same weights as an uninterrupted run when killed ${moment} (${point})`, async () => {
      const outDir = await tempDir();
      const killed = await hwr(['train', ...RECIPE_FLAGS, '--out', outDir], { HWR_TEST_KILL_AT: `${point}:2` });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      if (point === 'checkpoint-files') expect((await readdir(join(outDir, CHECKPOINTS_DIR))).some((name) => name.endsWith('.tmp'))).toBe(true);
      if (point === 'publish') await expect(verifyFolder(outDir)).rejects.toThrow(/does not match SHA256SUMS/);

      const lines: string[] = [];
      const result = await train({ outDir, resume: true, print: (line) => lines.push(line), progressBar: false });
      expect(lines.join('\n')).toMatch(/resuming after epoch [12] /);
      expect(result.state.epochsDone).toBe(3);
      const final = lastCheckpoint(outDir, 3);
      expect((await readFile(join(final, 'weights.bin'))).equals(await readFile(join(lastCheckpoint(straight, 3), 'weights.bin')))).toBe(true);
      expect((await readFile(join(outDir, 'weights.bin'))).equals(await readFile(join(straight, 'weights.bin')))).toBe(true);
      expect(await verifyFolder(outDir)).not.toBeNull();
      const files = await listFiles(outDir);
      expect(files.filter((name) => /\.(tmp|old)$/.test(name) || name.includes('.tmp/') || name.includes('.old/'))).toEqual([]);
      expect(result.test!.accuracy).toBeCloseTo((JSON.parse(await readFile(join(straight, 'metadata.json'), 'utf8')) as { testAccuracy: number }).testAccuracy, 6);
    }, 300_000);
  }
});

describe('--resume takes the recipe from the checkpoint', () => {
  let run: string;
  beforeAll(async () => {
    run = await tempDir();
    await train({ ...RECIPE, epochs: 1, outDir: run, print: quiet, progressBar: false });
  }, 300_000);

  it('the README example: --resume with the same --limit, and with an --epochs already done, says "nothing to do" (exit 0, one line)', async () => {
    for (const extra of [['--limit', '400'], ['--epochs', '1'], []]) {
      const resumed = await hwr(['train', '--out', run, '--resume', ...extra]);
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      expect(resumed.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^nothing to do: the run in .* has already trained 1 epoch/)]);
    }
  }, 300_000);

  it('refuses, in one line naming both values, a flag that contradicts the checkpoint', async () => {
    const resumed = await hwr(['train', '--model', 'seed-cnn', '--out', run, '--resume', '--limit', '400']);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/^hwr: --resume: the run in .* was trained with --model lenet5, not --model seed-cnn; leave the flag out/);
    expect(resumed.stderr.trim().split('\n')).toHaveLength(1);
    for (const options of [{ batchSize: 32 }, { seed: 6 }, { limit: 500 }, { threads: 2 }, { augment: true }, { learningRate: 0.01 }] as Partial<TrainOptions>[]) {
      await expect(train({ ...options, outDir: run, resume: true, print: quiet })).rejects.toThrow(/^--resume: the run in .* was trained with .*, not /);
    }
  }, 300_000);

  it('continues with the recorded recipe when only --epochs is given, and records the longer run', async () => {
    const outDir = await tempDir();
    await train({ ...RECIPE, epochs: 1, outDir, print: quiet, progressBar: false });
    const lines: string[] = [];
    const result = await train({ outDir, resume: true, epochs: 2, print: (line) => lines.push(line), progressBar: false });
    expect(lines.join('\n')).toMatch(/--epochs 2: the run was set to 1 epoch; its learning-rate schedule now spans 2/);
    expect(result.state.recipe).toMatchObject({ ...RECIPE, epochs: 2 });
    expect(result.metadata.command).toMatch(/--model lenet5 --epochs 2 --batch-size 50 .* --seed 5 --threads 1 .* --limit 400/);
  }, 300_000);
});

describe('--init is part of the recipe', () => {
  it('a resumed run keeps --init in its command, and refuses another --init in one line', async () => {
    const outDir = await tempDir();
    await train({ ...RECIPE, epochs: 1, init: straight, outDir, print: quiet, progressBar: false });
    const result = await train({ outDir, resume: true, epochs: 2, print: quiet, progressBar: false });
    expect(result.state.recipe.init).toBe(straight);
    expect(result.metadata.command).toContain(`--init ${straight}`);
    await expect(train({ outDir, resume: true, epochs: 3, init: outDir, print: quiet })).rejects.toThrow(/^--resume: the run in .* was trained with --init .*, not --init /);
  }, 300_000);
});

describe('corrupt checkpoints', () => {
  it('skips, with one line naming the file, a newest checkpoint whose weights.bin is garbage of the right size, and resumes from the one before', async () => {
    const outDir = await tempDir();
    const killed = await hwr(['train', ...RECIPE_FLAGS, '--out', outDir], { HWR_TEST_KILL_AT: 'checkpoint-prune:2' });
    expect(killed.signal).toBe('SIGKILL');
    const weights = join(lastCheckpoint(outDir, 2), 'weights.bin');
    await writeFile(weights, Buffer.alloc((await stat(weights)).size, 0x41));
    const lines: string[] = [];
    await train({ outDir, resume: true, print: (line) => lines.push(line), progressBar: false });
    expect(lines[0]).toMatch(/^skipping a checkpoint that fails its check: .*epoch-0002\/weights\.bin: SHA-256 .* does not match SHA256SUMS/);
    expect(lines.join('\n')).toMatch(/resuming after epoch 1 /);
    expect((await readFile(join(lastCheckpoint(outDir, 3), 'weights.bin'))).equals(await readFile(join(lastCheckpoint(straight, 3), 'weights.bin')))).toBe(true);
  }, 300_000);

  it('refuses in one line, naming the file, when the only checkpoint has a garbage state.json or weights.bin', async () => {
    for (const [file, contents] of [['state.json', '{"epochsDone": 1, garbage'], ['weights.bin', null]] as const) {
      const outDir = await tempDir();
      await train({ ...RECIPE, epochs: 1, outDir, print: quiet, progressBar: false });
      const path = join(lastCheckpoint(outDir, 1), file);
      await writeFile(path, contents ?? Buffer.alloc((await stat(path)).size, 7));
      const resumed = await hwr(['train', '--out', outDir, '--resume', '--epochs', '2']);
      expect(resumed.code).toBe(1);
      expect(resumed.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^hwr: --resume: no complete checkpoint in .*: .*epoch-0001/${file.replace('.', '\\.')}: SHA-256 .* does not match SHA256SUMS`))]);
    }
  }, 300_000);

  it('refuses a state.json that matches its checksum but is not a training state, naming the field', async () => {
    const outDir = await tempDir();
    await train({ ...RECIPE, epochs: 1, outDir, print: quiet, progressBar: false });
    const dir = lastCheckpoint(outDir, 1);
    const { sha256Hex } = await import('../../src/node/modelFiles.ts');
    const state = '{"epochsDone": "one"}';
    await writeFile(join(dir, 'state.json'), state);
    const sums = (await readFile(join(dir, 'SHA256SUMS'), 'utf8')).replace(/^[0-9a-f]{64}(  state\.json)$/m, `${sha256Hex(state)}$1`);
    await writeFile(join(dir, 'SHA256SUMS'), sums);
    await expect(train({ outDir, resume: true, epochs: 2, print: quiet })).rejects.toThrow(/state\.json: not a training state: "epochsDone" should be a non-negative integer/);
  }, 300_000);
});

describe('checkpoint folders', () => {
  it('refuses to resume from a checkpoints/last written by an older hwr (no recipe, no checksums), saying why', async () => {
    const outDir = await tempDir();
    await mkdir(join(outDir, 'checkpoints', 'last'), { recursive: true });
    await writeFile(join(outDir, 'checkpoints', 'last', 'state.json'), '{"epochsDone": 1}');
    await expect(train({ outDir, resume: true, print: quiet })).rejects.toThrow(/checkpoints\/last was written by an older hwr, without its recipe or checksums, and cannot be resumed safely/);
  });

  it('removes only the leftovers of interrupted writes, never other files', async () => {
    const outDir = await tempDir();
    await mkdir(join(outDir, 'checkpoints', '.epoch-0002.0123456789ab.tmp'), { recursive: true });
    await writeFile(join(outDir, '.weights.bin.abcdef012345.tmp'), 'x');
    await writeFile(join(outDir, '.notes.tmp'), 'mine');
    await writeFile(join(outDir, 'weights.bin.tmp'), 'mine');
    expect((await removeLeftovers(outDir)).map((path) => path.slice(outDir.length + 1)).sort()).toEqual(['.weights.bin.abcdef012345.tmp', 'checkpoints/.epoch-0002.0123456789ab.tmp']);
    expect((await readdir(outDir)).sort()).toEqual(['.notes.tmp', 'checkpoints', 'weights.bin.tmp']);
  });
});

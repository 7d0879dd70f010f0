import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluateCommand } from '../../src/cli/evaluate.ts';
import { writeGntFile } from '../../src/data/gnt.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { syntheticWriter, writeCharacters } from '../../src/data/synth/synthesize.ts';
import { train } from '../../src/train/train.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const quiet = () => {};
const tempDir = useTempDirs('hwdb-train');
// 20 common characters, 30 synthetic writers (one GNT file each, as `hwr synth` writes them): 600 images.
const CHARS = Array.from('的一是不了人我在有他这中大来上国个到说们');
let data = '';

beforeAll(async () => {
  data = await tempDir();
  const references = new Map(await Promise.all(CHARS.map(async (c) => [c, await loadHanziInk(c)] as const)));
  for (let index = 1; index <= 30; index++) {
    const writer = syntheticWriter(1, index);
    await writeGntFile(join(data, `${writer.name}.gnt`), writeCharacters(CHARS, references, writer));
  }
});

describe('train --data hwdb:DIR', () => {
  it('learns 20 characters from synthetic GNT files, well above chance (5%), with classes from the data', async () => {
    const outDir = await tempDir();
    const result = await train({ model: 'hwr-net', epochs: 8, batchSize: 32, seed: 2, threads: 1, dataDir: `hwdb:${data}`, outDir, print: quiet, progressBar: false });
    const test = result.largeVocabularyTest!;
    expect(test.count).toBeGreaterThanOrEqual(60);
    expect(test.topK.map((t) => t.k)).toEqual([1, 3, 5, 10]);
    expect(test.topK[0]!.accuracy).toBeGreaterThan(0.4);
    const metadata = JSON.parse(await readFile(join(outDir, 'metadata.json'), 'utf8'));
    // GB code order: the classes are the characters the files hold, not digits; the input is the architecture's.
    expect([...metadata.classes].sort()).toEqual([...CHARS].sort());
    expect(metadata).toMatchObject({ inputShape: [28, 28, 1], preprocessing: 'cjk-fit-v1' });
    expect(metadata.testAccuracy).toBeCloseTo(test.topK[0]!.accuracy, 6);
    expect(metadata.command).toMatch(/--data hwdb:\//);

    // hwr evaluate --data hwdb:DIR: top-1/5/10, the most confused pairs, and the full confusion in a file.
    const confusion = join(outDir, 'confusion.tsv');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      await evaluateCommand({ model: outDir, data: `hwdb:${data}`, confusion });
    } finally {
      spy.mockRestore();
    }
    const report = written.join('');
    expect(report).toMatch(/top-1 accuracy +\d+\.\d\d%\ntop-5 accuracy +\d+\.\d\d%\ntop-10 accuracy +\d+\.\d\d%/);
    expect(report).toMatch(/most confused pairs/);
    expect(report).toContain(`(${test.count} images)`);
    const cells = (await readFile(confusion, 'utf8')).trim().split('\n');
    expect(cells[0]).toBe('actual\tpredicted\tcount');
    expect(cells.slice(1).reduce((sum, line) => sum + Number(line.split('\t')[2]), 0)).toBe(test.count);
  });

  it('records the GNT source and --charset in the checkpoint; --resume continues the same run', async () => {
    const options = { model: 'hwr-net', batchSize: 25, seed: 4, threads: 1, limit: 100, dataDir: `hwdb:${data}`, print: quiet, progressBar: false };
    const straight = await tempDir();
    await train({ ...options, epochs: 2, outDir: straight });
    const resumed = await tempDir();
    await train({ ...options, epochs: 1, outDir: resumed });
    await train({ outDir: resumed, epochs: 2, resume: true, print: quiet, progressBar: false });
    const weights = (dir: string) => readFile(join(dir, 'checkpoints/epoch-0002/weights.bin'));
    expect((await weights(resumed)).equals(await weights(straight))).toBe(true);
    const state = JSON.parse(await readFile(join(resumed, 'checkpoints/epoch-0002/state.json'), 'utf8'));
    expect(state.recipe).toMatchObject({ data: `hwdb:${data}`, charset: null, limit: 100 });
    await expect(train({ outDir: resumed, epochs: 3, resume: true, charset: 'gb2312-1', print: quiet })).rejects.toThrow(/was trained with no --charset, not --charset gb2312-1/);
  });

  it('refuses --charset without GNT data, in one line', async () => {
    await expect(train({ outDir: await tempDir(), charset: 'gb2312-1', print: quiet })).rejects.toThrow(/--charset gb2312-1: only for GNT data/);
  });
});

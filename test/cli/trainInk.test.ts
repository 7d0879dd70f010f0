/**
 * `hwr train --data ink:FILE.json`: teaches the tiny fixture script (l, o, x) with a quick recipe, writes a model
 * folder that `hwr predict` reads (the dataset's own samples and a PNG of one), and names the problem of a missing
 * file, an invalid dataset and a dataset with a single class.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inkImage } from '../../src/core/ink.ts';
import { readInkDataset, sampleInk } from '../../src/data/inkDataset.ts';
import { encodePng } from '../../src/node/image.ts';
import { teachScript } from '../../src/node/inkScript.ts';
import { hwr } from '../fixtures/cli.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const TINY = new URL('../fixtures/ink/tiny.json', import.meta.url).pathname;
const tempDir = useTempDirs('train-ink');

let dir: string;
let out: string;
let train: Awaited<ReturnType<typeof hwr>>;

beforeAll(async () => {
  dir = await tempDir();
  out = join(dir, 'tiny-model');
  train = await hwr('train', '--data', `ink:${TINY}`, '--out', out, '--variants', '4', '--epochs', '1', '--seed', '2');
}, 120_000);

describe('hwr train --data ink:FILE.json', () => {
  it('writes a model folder with the script\'s classes and its recipe in metadata.json', async () => {
    expect(train.stderr).toBe('');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/^synthesis/m);
    expect(train.stdout).toMatch(/^head epoch 1\//m);
    expect(train.stdout).toMatch(/^fine-tune epoch 1\/1 \| loss/m);
    expect(train.stdout).toContain(`model written to ${out}`);
    const metadata = JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'));
    expect(metadata).toMatchObject({ name: 'tiny', classes: ['l', 'o', 'x'], architecture: 'hwr-net+ink-head', inputShape: [28, 28, 1], inkPenWidth: 0.12 });
    expect(metadata.command).toBe(`npx hwr train --data ink:${TINY} --base glyphs-latin --seed 2 --epochs 1 --variants 4 --out ${out}`);
    const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    for (const file of ['model.json', 'weights.bin', 'metadata.json']) expect(sums).toContain(file);
  });

  it('hwr predict reads the folder: the dataset\'s samples and a picture of one', async () => {
    const dataset = readInkDataset(await readFile(TINY, 'utf8'), 'tiny');
    const o = dataset.samples.find((s) => s.label === 'o')!;
    const png = join(dir, 'o.png');
    await writeFile(png, await encodePng(inkImage(sampleInk(o), { size: 96, penWidth: 0.1 })));
    const run = await hwr('predict', '--model', out, '--json', TINY, png);
    expect(run.code).toBe(0);
    const answers = JSON.parse(run.stdout) as { label: string | null; topK: { label: string }[] }[];
    expect(answers).toHaveLength(dataset.samples.length + 1);
    const correct = dataset.samples.filter((s, i) => answers[i]!.label === s.label).length;
    expect(correct / dataset.samples.length).toBeGreaterThan(2 / 3); // chance: 1/3
    expect(answers.at(-1)!.topK.map((c) => c.label).sort()).toEqual(['l', 'o', 'x']);
  });

  it('names a missing file, an invalid dataset and a dataset with one class', async () => {
    const missing = await hwr('train', '--data', `ink:${join(dir, 'nope.json')}`, '--out', join(dir, 'x'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^hwr: .*nope\.json: no such ink dataset file/);

    // The others in this process (each hwr run costs seconds of start-up): the same functions the CLI calls.
    const invalid = join(dir, 'invalid.json');
    await writeFile(invalid, JSON.stringify({ format: 'hwr-ink-dataset', version: 1, script: 's', classes: ['a', 'b'], samples: [{ label: 'c', strokes: [[[0, 0]]] }] }));
    await expect(teachScript({ data: invalid, outDir: join(dir, 'y') })).rejects.toMatchObject({ code: 'BAD_DATASET', message: expect.stringMatching(/invalid\.json.*samples\[0\]/) });
    const single = join(dir, 'single.json');
    await writeFile(single, JSON.stringify({ format: 'hwr-ink-dataset', version: 1, script: 's', classes: ['a'], samples: [{ label: 'a', strokes: [[[0, 0], [1, 1]]] }] }));
    await expect(teachScript({ data: single, outDir: join(dir, 'z') })).rejects.toMatchObject({ code: 'BAD_DATASET', message: expect.stringMatching(/^s: a script needs at least 2 classes/) });
  });
});

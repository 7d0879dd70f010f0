/**
 * `hwr predict --model DIR` with a Chinese-character model trained by `hwr train --data hwdb:DIR` (issue 9): the
 * recognizer reads the model's metadata (`preprocessing: cjk-fit-v1`, its input size, its classes) and gives the
 * model exactly the input training gave it for the same GNT sample; `--top-k` and the top-k text output.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatRecognition } from '../../src/cli/predict.ts';
import { readGntFile, writeGntFile } from '../../src/data/gnt.ts';
import { HwdbStream, indexHwdbFolder } from '../../src/data/hwdb.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { syntheticWriter, writeCharacters } from '../../src/data/synth/synthesize.ts';
import { decodeImageFile, encodePng } from '../../src/node/image.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { train } from '../../src/train/train.ts';
import { hwr } from '../fixtures/cli.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('predict-hanzi');
const CHARS = Array.from('的一是人大');
let data = '';
let modelDir = '';
/** PNGs of the test writers' samples (writer split), in file-name order, with their characters. */
const held: { file: string; label: string }[] = [];

beforeAll(async () => {
  data = await tempDir();
  const references = new Map(await Promise.all(CHARS.map(async (c) => [c, await loadHanziInk(c)] as const)));
  for (let index = 1; index <= 40; index++) {
    const writer = syntheticWriter(3, index);
    await writeGntFile(join(data, `${writer.name}.gnt`), writeCharacters(CHARS, references, writer));
  }
  modelDir = await tempDir();
  await train({ model: 'hwr-net', epochs: 8, batchSize: 32, seed: 2, threads: 1, dataDir: `hwdb:${data}`, outDir: modelDir, print: () => {}, progressBar: false });
  // The test writers' samples as gray PNG files, as a user would give them to `hwr predict`.
  const pngs = await tempDir();
  const index = await indexHwdbFolder(data);
  for (const f of index.files.filter((file) => file.split === 'test')) {
    for await (const sample of readGntFile(f.file)) {
      const rgba = new Uint8ClampedArray(sample.width * sample.height * 4);
      sample.pixels.forEach((g, i) => rgba.set([g, g, g, 255], i * 4));
      const file = join(pngs, `${f.writer}-${held.length}.png`);
      await writeFile(file, await encodePng({ width: sample.width, height: sample.height, data: rgba }));
      held.push({ file, label: sample.label });
    }
  }
}, 300_000);

describe('hwr predict with a model trained on GNT files', () => {
  it('reads held-out writers\' characters well above chance (20%), with the model\'s classes and --top-k candidates', async () => {
    expect(held.length).toBeGreaterThanOrEqual(20);
    const run = await hwr('predict', ...held.map((h) => h.file), '--model', modelDir, '--json', '--top-k', '3');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ label: string; probability: number; probabilities: number[]; topK: { label: string; probability: number }[] }>;
    const correct = results.filter((r, i) => r.label === held[i]!.label).length;
    expect(correct / held.length).toBeGreaterThan(0.6);
    for (const r of results) {
      expect(r.probabilities).toHaveLength(CHARS.length);
      expect(r.topK).toHaveLength(3);
      expect(r.topK[0]).toEqual({ label: r.label, probability: r.probability });
      expect(CHARS).toContain(r.label);
    }
    // The default for 5 classes is 3 candidates; --top-k above the class count lists every class once.
    const all = JSON.parse((await hwr('predict', held[0]!.file, '--model', modelDir, '--json', '--top-k', '50')).stdout) as Array<{ topK: unknown[] }>;
    expect(all[0]!.topK).toHaveLength(CHARS.length);
  });

  it('gives the model the training pipeline\'s input for the same GNT sample, bit for bit, at the metadata\'s input size', async () => {
    const metadata = JSON.parse(await readFile(join(modelDir, 'metadata.json'), 'utf8'));
    expect(metadata.preprocessing).toBe('cjk-fit-v1');
    const [size] = metadata.inputShape as number[];
    const index = await indexHwdbFolder(data);
    const stream = new HwdbStream({ index, classes: metadata.classes, size: size!, split: 'test', seed: 1 });
    const training: Float32Array[] = [];
    for await (const batch of stream.batches(null, 1)) training.push(batch.xs);
    expect(training).toHaveLength(held.length);
    const recognizer = await loadRecognizer(modelDir);
    try {
      for (const [i, h] of held.slice(0, 10).entries()) {
        const result = await recognizer.recognize(await decodeImageFile(h.file));
        expect(result.processed).toHaveLength(size! * size!);
        expect(result.processed).toEqual(training[i]);
      }
    } finally {
      recognizer.dispose();
    }
  });
});

describe('formatRecognition for a large vocabulary', () => {
  it('lists the top-k candidates rather than every class when the model has more than 20 classes', () => {
    const classes = Array.from('啊阿埃挨哎唉哀皑癌蔼矮艾碍爱隘鞍氨安俺按暗岸胺案');
    const probabilities = classes.map((_, i) => (i === 0 ? 0.921 : i === 1 ? 0.0302 : 0.0488 / (classes.length - 2)));
    const topK = [{ label: '啊', probability: 0.921 }, { label: '阿', probability: 0.0302 }, { label: '埃', probability: probabilities[2]! }];
    const line = formatRecognition('char.png', { label: '啊', probability: 0.921, probabilities, topK }, classes);
    expect(line).toBe('char.png: 啊 (92.10%)  啊 92.10%  阿 3.02%  埃 0.22%');
  });

  it('keeps the full list for digits', () => {
    const classes = ['0', '1'];
    expect(formatRecognition('d.png', { label: '1', probability: 0.75, probabilities: [0.25, 0.75], topK: [{ label: '1', probability: 0.75 }] }, classes))
      .toBe('d.png: 1 (75.00%)  0:25.00% 1:75.00%');
  });
});

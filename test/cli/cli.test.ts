/**
 * The `hwr` command as a user runs it (a child process of bin/hwr.js), with the shipped model:
 * real MNIST test digits written as image files in several formats, colours, sizes and polarities, and every
 * kind of bad input.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { blankPng, hugePng, mnistTestDigits, type MnistDigit } from '../fixtures/images.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';
import { hwr } from '../fixtures/cli.ts';
import { formatRecognition } from '../../src/cli/predict.ts';


/** Draws an MNIST digit the way people photograph or scan one: in colour, scaled, padded, either polarity. */
async function digitImage(digit: MnistDigit, style: { ink: string; paper: string; size: number; format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff'; offset?: number }): Promise<Buffer> {
  const ink = sharp({ create: { width: 28, height: 28, channels: 3, background: style.ink } });
  // Alpha = MNIST intensity: ink colour where the digit is, paper elsewhere.
  const inkLayer = await ink.joinChannel(Buffer.from(digit.pixels), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
  const digitSize = Math.round(style.size * 0.6);
  const layer = await sharp(inkLayer).resize(digitSize, digitSize).png().toBuffer();
  const offset = style.offset ?? Math.round((style.size - digitSize) / 2);
  return sharp({ create: { width: style.size, height: style.size, channels: 3, background: style.paper } })
    .composite([{ input: layer, left: offset, top: offset }])
    .toFormat(style.format)
    .toBuffer();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

let dir: string;
let digits: MnistDigit[];
/** The shipped model's classes: the ten digits, and its rejection class if it has one. */
let shippedClasses: string[];

const tempDir = useTempDirs('cli');

beforeAll(async () => {
  dir = await tempDir();
  digits = await mnistTestDigits(12);
  shippedClasses = (JSON.parse(await readFile(resolve(import.meta.dirname, '../../models/digits/metadata.json'), 'utf8')) as { classes: string[] }).classes;
});

describe('hwr predict', () => {
  it('recognizes real MNIST test digits written as image files of any format, colour, size and polarity', async () => {
    const styles = [
      { ink: '#000000', paper: '#ffffff', size: 280, format: 'png' },
      { ink: '#ffffff', paper: '#000000', size: 56, format: 'png' },
      { ink: '#1b3a8c', paper: '#f3efe0', size: 400, format: 'jpeg' },
      { ink: '#f0f0f0', paper: '#202830', size: 120, format: 'webp' },
      { ink: '#aa0000', paper: '#ffffff', size: 90, format: 'gif' },
      { ink: '#000000', paper: '#dddddd', size: 500, format: 'tiff', offset: 10 },
    ] as const;
    const files: string[] = [];
    const expected: string[] = [];
    for (const [i, digit] of digits.entries()) {
      const style = styles[i % styles.length]!;
      const file = join(dir, `digit-${i}.${style.format}`);
      await writeFile(file, await digitImage(digit, style));
      files.push(file);
      expected.push(digit.label);
    }
    const run = await hwr('predict', ...files, '--json', '--save-processed', join(dir, 'processed'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ file: string; label: string; probability: number; probabilities: number[]; processed: string }>;
    expect(results.map((r) => r.file)).toEqual(files);
    expect(results.map((r) => r.label)).toEqual(expected);
    for (const r of results) {
      expect(r.probabilities).toHaveLength(shippedClasses.length);
      expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(r.probability).toBe(Math.max(...r.probabilities));
      const meta = await sharp(await readFile(r.processed)).metadata();
      expect([meta.width, meta.height]).toEqual([28, 28]);
    }
  });

  it('prints the digit, its probability and the probability of every class as percentages, never rounded to 0 or 1', async () => {
    const file = join(dir, 'seven.png');
    await writeFile(file, await digitImage(digits[0]!, { ink: '#000', paper: '#fff', size: 200, format: 'png' }));
    const run = await hwr('predict', file);
    expect(run.code).toBe(0);
    const percent = String.raw`(?:\d+\.\d\d|<0\.01|>99\.99)%`;
    expect(run.stdout).toMatch(new RegExp(`^${escapeRegExp(file)}: 7 \\(${percent}\\)  0:${percent} .* 9:${percent}(?: none:${percent})?\\n$`));
    // Each probability appears once, with 2 decimals or as a bound; none reads as 0.00 or 1.00.
    const shown = run.stdout.trim().split('  ')[1]!.split(' ');
    expect(shown.map((entry) => entry.split(':')[0])).toEqual(shippedClasses);
    expect(run.stdout).not.toMatch(/:(0|1)\.00\b|\b100(\.0+)?%|\b0\.00%/);
  });

  it('prints "not a digit" with the reason for a rejected image, and keeps the probabilities', () => {
    const probabilities = [0.2, 0.1, 0.05, 0.05, 0.3, 0.05, 0.05, 0.1, 0.05, 0.05];
    const line = formatRecognition('scribble.png', { label: null, reason: 'no digit is likely enough (top 30.00%)', probability: 0.3, probabilities },
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(line).toBe('scribble.png: not a digit (no digit is likely enough (top 30.00%), 30.00%)  0:20.00% 1:10.00% 2:5.00% 3:5.00% 4:30.00% 5:5.00% 6:5.00% 7:10.00% 8:5.00% 9:5.00%');
    expect(formatRecognition('a.png', { label: null, reason: 'not a digit', probability: 0.9, probabilities: [0.1, 0.9] }, ['0', 'none']))
      .toBe('a.png: not a digit (90.00%)  0:10.00% none:90.00%');
  });

  it('--save-processed names the file written for each input, also when two inputs share a name', async () => {
    const [first, second] = [join(dir, 'left', 'digit.png'), join(dir, 'right', 'digit.jpg')];
    await mkdir(join(dir, 'left'), { recursive: true });
    await mkdir(join(dir, 'right'), { recursive: true });
    await writeFile(first, await digitImage(digits[0]!, { ink: '#000', paper: '#fff', size: 120, format: 'png' }));
    await writeFile(second, await digitImage(digits[1]!, { ink: '#000', paper: '#fff', size: 120, format: 'jpeg' }));
    const out = join(dir, 'clash');
    const text = await hwr('predict', first, second, '--save-processed', out);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${escapeRegExp(first)}: 7 .*  -> ${escapeRegExp(join(out, 'digit.png'))}$`));
    expect(lines[1]).toMatch(new RegExp(`^${escapeRegExp(second)}: 2 .*  -> ${escapeRegExp(join(out, 'digit-2.png'))}$`));
    const json = JSON.parse((await hwr('predict', first, second, '--json', '--save-processed', out)).stdout) as Array<{ file: string; processed: string }>;
    expect(json.map(({ file, processed }) => [file, processed])).toEqual([[first, join(out, 'digit.png')], [second, join(out, 'digit-2.png')]]);
  });

  it('reports each bad file on one line, still recognizes the others, and exits non-zero', async () => {
    const good = join(dir, 'good.png');
    await writeFile(good, await digitImage(digits[1]!, { ink: '#000', paper: '#fff', size: 100, format: 'png' }));
    const png = await readFile(good);
    const bad = {
      missing: join(dir, 'missing.png'),
      text: join(dir, 'notes.png'),
      truncated: join(dir, 'truncated.png'),
      empty: join(dir, 'empty.png'),
      huge: join(dir, 'huge.png'),
      blank: join(dir, 'blank.png'),
      folder: join(dir, 'a-folder'),
    };
    await writeFile(bad.text, 'this is not an image\n');
    await writeFile(bad.truncated, png.subarray(0, Math.floor(png.length / 2)));
    await writeFile(bad.empty, '');
    await writeFile(bad.huge, hugePng(10000, 6000, 1));
    await writeFile(bad.blank, await blankPng());
    await mkdir(bad.folder);
    const run = await hwr('predict', bad.missing, bad.text, good, bad.truncated, bad.empty, bad.huge, bad.blank, bad.folder);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/good\.png: 2 /);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/missing\.png: no such file/);
    expect(lines[1]).toMatch(/notes\.png: not an image/);
    expect(lines[2]).toMatch(/truncated\.png: .*(corrupt|truncated)/i);
    expect(lines[3]).toMatch(/empty\.png: .*empty/);
    expect(lines[4]).toMatch(/huge\.png: .*60 ?000 ?000|huge\.png: .*megapixel/);
    expect(lines[5]).toMatch(new RegExp(`^hwr: ${escapeRegExp(bad.blank)}: no ink found`));
    expect(lines[5]!.split(bad.blank), 'the path appears once').toHaveLength(2);
    expect(lines[6]).toMatch(/a-folder: .*directory/);
    for (const line of lines) {
      expect(line).toMatch(/^hwr: /);
      expect(line).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it('fails with one clear line for an unknown model', async () => {
    const run = await hwr('predict', join(dir, 'good.png'), '--model', 'no-such-model');
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^hwr: unknown model "no-such-model"/);
  });
});

describe('hwr train, evaluate, samples, summary', () => {
  it('fails with one clear line for a corrupt IDX file', async () => {
    const data = join(dir, 'corrupt-idx');
    await mkdir(data);
    const labels = Buffer.alloc(8 + 10);
    labels.writeUInt32BE(2049, 0);
    labels.writeUInt32BE(10, 4);
    const images = Buffer.alloc(16 + 5);
    images.writeUInt32BE(2051, 0);
    images.writeUInt32BE(10, 4);
    images.writeUInt32BE(28, 8);
    images.writeUInt32BE(28, 12);
    for (const split of ['train', 't10k']) {
      await writeFile(join(data, `${split}-labels-idx1-ubyte`), labels);
      await writeFile(join(data, `${split}-images-idx3-ubyte`), images);
    }
    const run = await hwr('train', '--data', data, '--epochs', '1', '--out', join(dir, 'never'));
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/train-images-idx3-ubyte: .*truncated/);
  });

  it('refuses an unknown architecture', async () => {
    const run = await hwr('train', '--model', 'resnet-9000');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/resnet-9000/);
    expect(run.stderr).toMatch(/hwr-net, seed-cnn, lenet5|Allowed choices are hwr-net, seed-cnn, lenet5/);
  });

  it('evaluates the shipped model as JSON', async () => {
    const run = await hwr('evaluate', '--json', '--limit', '500');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.count).toBe(500);
    expect(report.accuracy).toBeGreaterThan(0.98);
    expect(report.top3Accuracy).toBeGreaterThanOrEqual(report.accuracy);
    expect(report.perClass).toHaveLength(11); // 10 digits and the shipped model's rejection class "none"
    expect(report.rejection.falseRejectionRate).toBeLessThan(0.01);
    expect(report.rejection.negativeRejectionRate).toBeGreaterThan(0.8);
    expect(report.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(500);
  });

  it('writes a PNG grid of labelled samples', async () => {
    const out = join(dir, 'grid.png');
    const run = await hwr('samples', '--rows', '3', '--cols', '4', '--out', out);
    expect(run.code).toBe(0);
    const meta = await sharp(await readFile(out)).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(4 * 28);
  });

  it('prints the layer table of the seed CNN with its 101,578 parameters', async () => {
    const run = await hwr('summary', '--model', 'seed-cnn');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Total params: 101,578/);
    expect(run.stdout).toMatch(/dense_\w+ \(Dense\)\s+\[None,10\]\s+650/);
  });
});

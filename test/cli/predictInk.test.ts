/**
 * `hwr predict` on ink files (issue 11): one ink (`{ "strokes": ... }`), an `hwr-ink-dataset` (a line per sample with
 * its own label, then an accuracy line; `--json` an entry per sample), mixed with an image on one command line; a
 * malformed JSON file is one error line naming it, and the other files are still recognized. The answer for ink is
 * the core's `recognizeInk` (the same drawing path as the page and the server).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readInkDataset, sampleInk } from '../../src/data/inkDataset.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { hwr } from '../fixtures/cli.ts';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const TINY = new URL('../fixtures/ink/tiny.json', import.meta.url).pathname;
const tempDir = useTempDirs('predict-ink');

let dir: string;
let one: string;
let bad: string;
let image: string;
let imageLabel: string;

beforeAll(async () => {
  dir = await tempDir();
  one = join(dir, 'stroke.json');
  bad = join(dir, 'broken.json');
  image = join(dir, 'digit.png');
  await writeFile(one, JSON.stringify({ strokes: [[[10, 0, 0], [8, 40, 120], [6, 80, 240]]], width: 100, height: 100 }));
  await writeFile(bad, '{"strokes": [[[0, 0], [1, 2]');
  const [digit] = await mnistTestDigits(1);
  imageLabel = digit!.label;
  await writeFile(image, await digitPng(digit!));
});

describe('hwr predict with ink files', () => {
  it('text: an ink, a dataset (labels beside the samples\' own, then accuracy), an image; a malformed file is one error line', async () => {
    const run = await hwr('predict', one, TINY, bad, image);
    expect(run.code).toBe(1); // one file failed
    const lines = run.stdout.trim().split('\n');
    const dataset = readInkDataset(await readFile(TINY, 'utf8'), 'tiny.json');
    expect(lines).toHaveLength(1 + dataset.samples.length + 1 + 1);
    expect(lines[0]).toMatch(new RegExp(`^${one}: 1 \\(`));
    dataset.samples.forEach((sample, i) => expect(lines[1 + i]).toMatch(new RegExp(`^${TINY} samples\\[${i}\\] \\(${sample.label}\\): `)));
    // The digits model reads l as 1, o as 0 and rejects x: none is its own label.
    expect(lines[1]).toMatch(/\(l\): 1 \(/);
    expect(lines[1 + dataset.samples.findIndex((s) => s.label === 'o')]).toMatch(/\(o\): 0 \(/);
    expect(lines[1 + dataset.samples.length]).toBe(`${TINY}: 0 of ${dataset.samples.length} samples recognized as their own label (0.00%)`);
    expect(lines.at(-1)).toMatch(new RegExp(`^${image}: ${imageLabel} \\(`));
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^hwr: ${bad}: not JSON: `))]);
  });

  it('--json: one entry per sample (sample, expected), equal to recognizeInk in-process; errors name the file', async () => {
    const empty = join(dir, 'empty.json');
    const notInk = join(dir, 'list.json');
    await writeFile(empty, '{"strokes": [[]]}');
    await writeFile(notInk, '[[0, 0], [1, 1]]');
    const run = await hwr('predict', '--json', TINY, one, empty, notInk, join(dir, 'missing.json'));
    expect(run.code).toBe(1);
    const entries = JSON.parse(run.stdout);
    const dataset = readInkDataset(await readFile(TINY, 'utf8'), 'tiny.json');
    expect(entries).toHaveLength(dataset.samples.length + 4);
    const recognizer = await loadRecognizer('digits');
    try {
      for (const [i, sample] of dataset.samples.entries()) {
        const local = await recognizer.recognizeInk(sampleInk(sample));
        expect(entries[i]).toMatchObject({ file: TINY, sample: i, expected: sample.label, label: local.label });
        entries[i].probabilities.forEach((p: number, k: number) => expect(p).toBeCloseTo(local.probabilities[k]!, 6));
      }
    } finally {
      recognizer.dispose();
    }
    const [stroke, noInk, list, missing] = entries.slice(dataset.samples.length);
    expect(stroke).toMatchObject({ file: one, label: '1' });
    expect(stroke.sample).toBeUndefined();
    expect(noInk.error).toEqual({ code: 'NO_INK', message: `${empty}.strokes: no stroke has a point` });
    expect(list.error).toEqual({ code: 'BAD_INK', message: `${notInk}: expected an object { strokes, width?, height? }` });
    expect(missing.error.code).toBe('FILE_NOT_FOUND');
    expect(run.stderr.trim().split('\n')).toHaveLength(3);
  });

  it('an invalid dataset is one BAD_DATASET line naming the file and the field; --save-processed writes one PNG per sample', async () => {
    const invalid = join(dir, 'invalid.json');
    await writeFile(invalid, JSON.stringify({ format: 'hwr-ink-dataset', version: 1, script: 's', classes: ['a'], samples: [{ label: 'b', strokes: [[[0, 0]]] }] }));
    const out = join(dir, 'processed');
    const run = await hwr('predict', invalid, TINY, '--save-processed', out);
    expect(run.stderr.trim()).toBe(`hwr: ${invalid}: samples[0].label "b" is not one of the classes`);
    const files = await readdir(out);
    expect(files).toHaveLength(15);
    expect(files).toContain('tiny-0.png');
    expect(run.stdout).toContain(`-> ${join(out, 'tiny-14.png')}`);
  });
});

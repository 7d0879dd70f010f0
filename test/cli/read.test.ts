/**
 * `hwr read` (issue 12) on generated lines (test/fixtures/lines.ts): a PNG of MNIST test digits and digits written as
 * ink, mixed with bad files (each reported, the others still read, exit code 1); `--json` (one array: each file's
 * `LineReading`, equal to `readLine` in-process, or its error); `--pattern` and `--words` (a list or a file);
 * `--verbose` (a line per character); a bad pattern (exit code 2, nothing read).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInk } from '../../src/core/ink.ts';
import { readLine } from '../../src/core/line/readLine.ts';
import { loadPairRecognizer } from '../../src/node/lineReader.ts';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { hwr } from '../fixtures/cli.ts';
import { blankPng } from '../fixtures/images.ts';
import { digitLineImage, digitLineInk } from '../fixtures/lines.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const TINY = new URL('../fixtures/ink/tiny.json', import.meta.url).pathname;
const tempDir = useTempDirs('read');

const IMAGE_TEXT = '407193';
const INK_TEXT = '58213';
const PHONE = '555-1234';

let dir: string;
let image: string;
let inkFile: string;
let phone: string;
let broken: string;

beforeAll(async () => {
  dir = await tempDir();
  image = join(dir, 'number.png');
  inkFile = join(dir, 'number.json');
  phone = join(dir, 'phone.json');
  broken = join(dir, 'broken.json');
  await writeFile(image, await digitLineImage(IMAGE_TEXT, 3, { touchingShare: 0 }));
  await writeFile(inkFile, JSON.stringify(digitLineInk(INK_TEXT, 2, { touchingShare: 0 })));
  await writeFile(phone, JSON.stringify(digitLineInk(PHONE, 4, { touchingShare: 0 })));
  await writeFile(broken, '{"strokes": [[[0, 0], [1, 2]');
}, 60_000);

describe('hwr read', () => {
  it('text: an image line and an ink line read back; bad files are one error line each and the others are read', async () => {
    const missing = join(dir, 'missing.png');
    const blank = join(dir, 'blank.png');
    await writeFile(blank, await blankPng(300, 60));
    const run = await hwr('read', image, broken, inkFile, TINY, missing, blank);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${image}: ${IMAGE_TEXT}  \\(confidence \\S+%\\)$`)),
      expect.stringMatching(new RegExp(`^${inkFile}: ${INK_TEXT}  \\(confidence \\S+%\\)$`)),
    ]);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^hwr: ${broken}: not JSON: `)),
      `hwr: ${TINY}: is an hwr-ink-dataset file (single characters, not a line): use hwr predict to recognize its samples`,
      expect.stringMatching(new RegExp(`^hwr: ${missing}: `)),
      `hwr: ${blank}: no ink found in the image`,
    ]);
  }, 60_000);

  it('--json: one array, each file\'s reading (equal to readLine in-process) or its error', async () => {
    const run = await hwr('read', '--json', '--top-k', '2', inkFile, image, broken);
    expect(run.code).toBe(1);
    const entries = JSON.parse(run.stdout);
    expect(entries).toHaveLength(3);
    const [ink, picture, bad] = entries;
    expect(ink).toMatchObject({ file: inkFile, text: INK_TEXT });
    expect(Object.keys(ink).sort()).toEqual(['characters', 'confidence', 'file', 'text', 'timings']);
    expect(Object.keys(ink.timings).sort()).toEqual(['inferenceMs', 'preprocessMs', 'searchMs', 'segmentMs', 'totalMs']);
    for (const character of ink.characters) {
      expect(Object.keys(character.box).sort()).toEqual(['height', 'width', 'x', 'y']);
      expect(character.alternatives).toHaveLength(2);
      expect(character.strokes.length).toBeGreaterThan(0);
    }
    expect(picture).toMatchObject({ file: image, text: IMAGE_TEXT });
    expect(picture.characters[0].strokes).toBeUndefined();
    expect(bad).toEqual({ file: broken, error: { code: 'BAD_INK', message: expect.stringMatching(new RegExp(`^${broken}: not JSON: `)) } });
    const recognizer = await loadRecognizer('digits');
    try {
      const { readFile } = await import('node:fs/promises');
      // hwr read gives readLine the pair model serving digits, when one is shipped.
      const pairs = await loadPairRecognizer(recognizer);
      const local = await readLine(recognizer, { ink: parseInk(JSON.parse(await readFile(inkFile, 'utf8')), inkFile) }, { topK: 2, ...(pairs ? { pairs } : {}) });
      expect(ink.text).toBe(local.text);
      expect(ink.confidence).toBeCloseTo(local.confidence, 5);
      expect(ink.characters.map((c: { box: unknown }) => c.box)).toEqual(local.characters.map((c) => c.box));
    } finally {
      recognizer.dispose();
    }
  }, 60_000);

  it('--pattern and --verbose: the phone number as the pattern says, a line per character under it', async () => {
    const run = await hwr('read', '--pattern', '\\d{3}-\\d{4}', '--verbose', phone);
    expect(run.code).toBe(0);
    const [line, ...characters] = run.stdout.trim().split('\n');
    expect(line).toMatch(new RegExp(`^${phone}: ${PHONE}  \\(confidence \\S+%\\)$`));
    expect(characters).toHaveLength(PHONE.length);
    characters.forEach((text, i) => expect(text).toMatch(new RegExp(`^  ${i + 1} \\[-?\\d+,-?\\d+ \\d+x\\d+\\]: ${PHONE[i]} \\(`)));
  }, 60_000);

  it('--pattern nothing satisfies: the best reading, marked; --words as a list and as a file', async () => {
    const wordsFile = join(dir, 'words.txt');
    await writeFile(wordsFile, `11111\n ${INK_TEXT} \n\n99999\n`);
    const unmet = await hwr('read', '--pattern', '[a-z]+', inkFile);
    expect(unmet.code).toBe(0);
    expect(unmet.stdout).toMatch(new RegExp(`^${inkFile}: ${INK_TEXT}  \\(confidence \\S+%\\)  \\(pattern not met\\)\n$`));
    const list = await hwr('read', '--json', '--words', `11111,${INK_TEXT},99999`, inkFile);
    const file = await hwr('read', '--json', '--words', wordsFile, inkFile);
    for (const run of [list, file]) {
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)[0]).toMatchObject({ text: INK_TEXT, constraintMet: true });
    }
  }, 60_000);

  it('a bad pattern: one clear line, exit code 2, nothing read', async () => {
    const run = await hwr('read', '--pattern', '(\\d', inkFile);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^hwr: pattern: "\(\\d" is not a usable regular expression: .+\n$/);
    const lookahead = await hwr('read', '--pattern', '(?=\\d)\\d+', inkFile);
    expect(lookahead.code).toBe(2);
    expect(lookahead.stdout).toBe('');
    expect(lookahead.stderr).toMatch(/^hwr: pattern: .+\n$/);
  }, 60_000);
});

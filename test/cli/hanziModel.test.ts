/**
 * The shipped hanzi model by name in the CLI: `hwr predict --model hanzi` on image files of characters, and
 * `hwr evaluate --model hanzi` without GNT data refused in one line that says what to pass.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderInk } from '../../src/core/ink.ts';
import { loadHanziInk } from '../../src/data/synth/hanziStrokes.ts';
import { hwr } from '../fixtures/cli.ts';
import { useTempDirs } from '../fixtures/tempDirs.ts';

const tempDir = useTempDirs('hwr-hanzi-cli-');

/** A PNG of `char` drawn from its stroke medians: dark ink on white, 240 px, as a scan or a canvas would give. */
async function characterPng(char: string, file: string): Promise<void> {
  const gray = renderInk(await loadHanziInk(char), { width: 240, height: 240, strokeWidth: 12, margin: 30 });
  const pixels = Buffer.from(gray.data.map((v) => 255 - v));
  await writeFile(file, await sharp(pixels, { raw: { width: 240, height: 240, channels: 1 } }).png().toBuffer());
}

describe('hwr with the shipped hanzi model', () => {
  it('predict --model hanzi reads characters and lists their candidates', async () => {
    const dir = await tempDir();
    const chars = ['永', '中', '国'];
    const files = chars.map((c, i) => join(dir, `c${i}.png`));
    for (const [i, char] of chars.entries()) await characterPng(char, files[i]!);
    const run = await hwr('predict', ...files, '--model', 'hanzi', '--json', '--top-k', '5');
    expect(run.code).toBe(0);
    const results = JSON.parse(run.stdout) as { file: string; label: string; topK: { label: string }[] }[];
    expect(results.map((r) => r.topK.length)).toEqual([5, 5, 5]);
    expect(results.map((r) => r.label)).toEqual(chars);
  });

  it('evaluate --model hanzi without --data says to give GNT data, in one line', async () => {
    const run = await hwr('evaluate', '--model', 'hanzi');
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--data: model hanzi reads Chinese characters .* --data hwdb:DIR/);
  });
});

import { resolve } from 'node:path';
import { createRng } from '../data/augment.ts';
import { classNamesFor, loadIdxDataset, mnistDir } from '../data/mnist.ts';
import { writeFileAtomic } from '../node/files.ts';
import { renderSampleGrid } from '../plot/samples.ts';
import { hwrError } from '../core/errors.ts';

/** Flags of `hwr samples`. */
export interface SamplesFlags {
  data?: string;
  split: string;
  rows: number;
  cols: number;
  seed?: number;
  out: string;
}

/** `hwr samples`: a PNG grid of labelled dataset images, like the seed article's 10x10 matplotlib grid. */
export async function samplesCommand(flags: SamplesFlags): Promise<void> {
  if (flags.split !== 'train' && flags.split !== 'test') throw hwrError('BAD_ARGUMENT', `--split: expected train or test, got "${flags.split}"`);
  const dir = flags.data ? resolve(flags.data) : mnistDir();
  const dataset = await loadIdxDataset(dir);
  const split = dataset[flags.split];
  const wanted = Math.min(flags.rows * flags.cols, split.count);
  const pixels = split.rows * split.cols;
  const picks: number[] = [];
  if (flags.seed === undefined) {
    for (let i = 0; i < wanted; i++) picks.push(i);
  } else {
    const random = createRng(flags.seed);
    const seen = new Set<number>();
    while (picks.length < wanted) {
      const k = random.int(split.count);
      if (!seen.has(k)) (seen.add(k), picks.push(k));
    }
  }
  const images = new Uint8Array(wanted * pixels);
  const labels = new Uint8Array(wanted);
  picks.forEach((k, i) => {
    images.set(split.images.subarray(k * pixels, (k + 1) * pixels), i * pixels);
    labels[i] = split.labels[k]!;
  });
  const png = await renderSampleGrid(images, labels, { rows: flags.rows, cols: flags.cols, classNames: await classNamesFor(dir) });
  await writeFileAtomic(flags.out, png);
  process.stdout.write(`wrote ${wanted} ${flags.split} samples to ${flags.out}\n`);
}

/**
 * Peak memory of the GNT training input pipeline against the size of the data: the claim is that it stays flat
 * (issue 9: with 10 times more GNT data, peak RSS grows by less than 10%).
 *
 *   npx tsx bench/hwdb-memory.ts [--chars 250] [--writers 20] [--factor 10] [--size 64]
 *
 * Writes `--writers` synthetic writers of `--chars` characters (as `hwr synth` does) into a temporary folder, and a
 * second folder with those files `--factor` times over (copies under other writer names). For each folder, a fresh
 * child process runs what `hwr train --data hwdb:DIR` runs before the model: `openHwdbTraining` (index, classes,
 * validation writers read into memory) and one epoch of the training stream (GNT reading, `fitInkToBox`, the
 * shuffle buffer of 4,096 samples, batches of 64 turned into tensors), and reports its peak resident set size
 * (`process.resourceUsage().maxRSS`). The model's own memory does not depend on the data and is left out.
 * Both runs keep the same number of validation samples (`--max-validation`, default 250: all of the smaller set's
 * held-out writer), so that only the streamed data differs; in training the cap is 5,000 samples, a fixed cost of
 * 20 MB as uint8 whatever the data size (src/data/hwdb.ts).
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    size: { type: 'string', default: '64' },
    chars: { type: 'string', default: '250' },
    writers: { type: 'string', default: '20' },
    factor: { type: 'string', default: '10' },
    'max-validation': { type: 'string', default: '250' },
    rounds: { type: 'string', default: '3' },
  },
});
const size = Number(values.size);

if (values.child) {
  const tf = await import('@tensorflow/tfjs');
  const { setupBackend } = await import('../src/backend/backend.ts');
  const { openHwdbTraining } = await import('../src/data/hwdb.ts');
  await setupBackend();
  const start = performance.now();
  const data = await openHwdbTraining({ dir: values.child, charset: null, size, seed: 1, validationSplit: 0.1, limit: null, maxValidation: Number(values['max-validation']) });
  let samples = 0;
  for await (const batch of data.train.batches(0, 64)) {
    const xs = tf.tensor4d(batch.xs as Float32Array<ArrayBuffer>, [batch.count, size, size, 1]);
    const ys = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), data.classes.length);
    tf.dispose([xs, ys]);
    samples += batch.count;
  }
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ samples, validation: data.validation.count, maxHeld: data.train.maxHeld, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
  process.exit(0);
}

const { gb2312Level1 } = await import('../src/data/charset.ts');
const { writeGntFile } = await import('../src/data/gnt.ts');
const { loadHanziInk } = await import('../src/data/synth/hanziStrokes.ts');
const { syntheticWriter, writeCharacters } = await import('../src/data/synth/synthesize.ts');

const root = await mkdtemp(join(tmpdir(), 'hwdb-memory-'));
try {
  const base = join(root, 'base');
  const large = join(root, 'large');
  await mkdir(large, { recursive: true });
  const chars = gb2312Level1().slice(0, Number(values.chars));
  const references = new Map(await Promise.all(chars.map(async (c) => [c, await loadHanziInk(c)] as const)));
  for (let w = 1; w <= Number(values.writers); w++) {
    const writer = syntheticWriter(1, w);
    await writeGntFile(join(base, `${writer.name}.gnt`), writeCharacters(chars, references, writer));
  }
  for (const name of await readdir(base)) {
    for (let copy = 0; copy < Number(values.factor); copy++) await copyFile(join(base, name), join(large, `c${copy}-${name}`));
  }
  const bytes = async (dir: string) => (await Promise.all((await readdir(dir)).map((n) => stat(join(dir, n))))).reduce((s, f) => s + f.size, 0);
  // Rounds alternate the two sizes; the peak of a run varies by some tens of MB with the moments garbage collection
  // runs (V8's heap and the wasm memory), so the medians are compared.
  const peaks: Record<string, number[]> = { base: [], large: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const dir of round % 2 ? [large, base] : [base, large]) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', dir, '--size', String(size), '--max-validation', values['max-validation']!], { encoding: 'utf8' });
      const result = JSON.parse(out.trim().split('\n').pop()!);
      peaks[dir === base ? 'base' : 'large']!.push(result.maxRssMB);
      console.log(`${dir === base ? 'data' : `data x${values.factor}`}: ${((await bytes(dir)) / 2 ** 20).toFixed(1)} MB of GNT, ${result.samples} training samples streamed (${result.validation} validation in memory, shuffle buffer held ${result.maxHeld}) in ${result.seconds.toFixed(1)} s; peak RSS ${result.maxRssMB.toFixed(0)} MB`);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const [small, big] = [median(peaks.base!), median(peaks.large!)];
  console.log(`median peak RSS ${small.toFixed(0)} MB -> ${big.toFixed(0)} MB: ${((big / small - 1) * 100).toFixed(1)}% for ${values.factor} times the data (peaks ${peaks.base!.map((p) => p.toFixed(0)).join(', ')} and ${peaks.large!.map((p) => p.toFixed(0)).join(', ')} MB)`);
} finally {
  await rm(root, { recursive: true, force: true });
}

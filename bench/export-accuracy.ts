/**
 * Accuracy of the exported models (issue 10's targets), each format run by its own runtime against TF.js:
 *
 * - digits (`models/digits`): the full MNIST test set (10,000 images) through TF.js, ONNX Runtime (float32, float16,
 *   int8) and ArmNN's TFLite parser (float32, int8; CpuRef): top-1 accuracy (the raw argmax; the rejection class
 *   "none" counts as an error), top-1 agreement with TF.js, and the largest probability difference.
 * - hanzi (`models/hanzi`): the test writers of a folder of GNT files (default `runs/data/synth-test`, made by
 *   `npx hwr synth --charset gb2312-1 --per-class 50 --seed 2 --out runs/data/synth-test`: 30,040 images of 8
 *   writers never trained on) through TF.js and ONNX Runtime (float32, int8), and the first `--tflite-limit` of them
 *   through ArmNN (float32, int8), whose reference backend is slow.
 *
 * int8 is calibrated as `hwr export` does by default (1,000 MNIST train images; 1,000 synthetic characters of seed 7).
 *
 *   npx tsx bench/export-accuracy.ts [--only digits|hanzi] [--hanzi-data DIR] [--tflite-limit 1000] [--out bench/export-accuracy]
 *
 * Writes `<out>.json` and `<out>.md` (default bench/export-accuracy.*) and prints the table; with `--only`, the other
 * model's rows of an earlier run in the same `--out` are kept. ArmNN's reference backend is slow (about 0.1 s per
 * digit and more per 64x64 character on this machine), so the full run takes about 30 minutes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { tfjsEngine, topKIndices, type InferenceEngine } from '../src/core/recognizer.ts';
import type { ModelMetadata } from '../src/core/types.ts';
import { HwdbStream, indexHwdbFolder } from '../src/data/hwdb.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { armnnAvailable, runArmnn } from '../src/export/armnn.ts';
import { exportModel, type ExportFormat } from '../src/export/export.ts';
import type { QuantizeMode } from '../src/export/quantize.ts';
import { loadModel, readMetadata } from '../src/node/modelFiles.ts';
import { modelWeightsSha256 } from '../src/node/onnxCache.ts';
import { onnxruntimeEngine } from '../src/node/onnxEngine.ts';
import { resolveModelDir } from '../src/node/recognizer.ts';
import { setupBackend } from '../src/backend/backend.ts';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    'hanzi-data': { type: 'string', default: 'runs/data/synth-test' },
    'tflite-limit': { type: 'string', default: '1000' },
    out: { type: 'string', default: 'bench/export-accuracy' },
  },
});
const tfliteLimit = Number(flags['tflite-limit']);

/** One model file measured on one test set. */
interface Row {
  model: string;
  format: 'tfjs' | ExportFormat;
  quantize: QuantizeMode;
  runtime: string;
  bytes: number | null;
  images: number;
  top1: number;
  /** Top-1 of TF.js on the same images. */
  tfjsTop1: number;
  /** Images whose top-1 class equals TF.js's. */
  sameTop1: number;
  maxAbsDiff: number;
}

/** Test images with their labels, `[count, h, w, 1]` float32 in [0, 1]. */
interface TestSet {
  description: string;
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** The most probable class of each of `count` rows. */
function argmaxRows(probabilities: Float32Array, count: number): Int32Array {
  const classes = probabilities.length / count;
  return Int32Array.from({ length: count }, (_, i) => topKIndices(probabilities.subarray(i * classes, (i + 1) * classes), 1)[0]!);
}

/** Runs `count` images through `engine` 256 at a time; returns `[count * classes]` probabilities. */
async function runInBatches(engine: InferenceEngine, images: Float32Array, count: number, size: number, classes: number): Promise<Float32Array> {
  const out = new Float32Array(count * classes);
  for (let start = 0; start < count; start += 256) {
    const n = Math.min(256, count - start);
    out.set(await engine.run(images.subarray(start * size * size, (start + n) * size * size), n), start * classes);
  }
  return out;
}

async function mnistTest(): Promise<TestSet> {
  const { test } = await loadMnist();
  const images = new Float32Array(test.images.length);
  for (let i = 0; i < images.length; i++) images[i] = test.images[i]! / 255;
  return { description: `MNIST test (${test.count} images)`, images, labels: Int32Array.from(test.labels), count: test.count };
}

async function hwdbTest(dir: string, metadata: ModelMetadata): Promise<TestSet> {
  const size = metadata.inputShape[0];
  const index = await indexHwdbFolder(dir, { split: 'test' });
  const stream = new HwdbStream({ index, classes: metadata.classes, size, split: 'test', seed: 0 });
  const images = new Float32Array(stream.count * size * size);
  const labels = new Int32Array(stream.count);
  let n = 0;
  for await (const batch of stream.batches(null, 256)) {
    images.set(batch.xs, n * size * size);
    labels.set(batch.labels, n);
    n += batch.count;
  }
  return { description: `test writers of ${dir} (${n} images)`, images: images.subarray(0, n * size * size), labels: labels.subarray(0, n), count: n };
}

async function measure(name: string, test: TestSet, variants: Array<{ format: ExportFormat; quantize: QuantizeMode }>): Promise<Row[]> {
  const dir = resolveModelDir(name);
  const [model, metadata, checksum] = await Promise.all([loadModel(dir), readMetadata(dir), modelWeightsSha256(dir)]);
  const size = metadata.inputShape[0];
  const started = performance.now();
  const reference = await runInBatches(tfjsEngine(model), test.images, test.count, size, metadata.classes.length);
  const referenceTop1 = argmaxRows(reference, test.count);
  const accuracy = (top: Int32Array, n: number) => {
    let right = 0;
    for (let i = 0; i < n; i++) if (top[i] === test.labels[i]) right++;
    return right / n;
  };
  const rows: Row[] = [{ model: name, format: 'tfjs', quantize: 'float32', runtime: 'TF.js 4.22 wasm', bytes: null, images: test.count, top1: accuracy(referenceTop1, test.count), tfjsTop1: accuracy(referenceTop1, test.count), sameTop1: test.count, maxAbsDiff: 0 }];
  console.error(`${name}: TF.js on ${test.count} images in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const variant of variants) {
    const t0 = performance.now();
    const result = await exportModel(model, metadata, { ...variant, modelFile: `${name}.${variant.format}`, command: 'bench/export-accuracy.ts', version: '0.1.0', sourceWeightsSha256: checksum });
    let count = test.count;
    let probabilities: Float32Array;
    let runtime: string;
    if (variant.format === 'onnx') {
      const engine = await onnxruntimeEngine(result.bytes, { threads: 2 });
      probabilities = await runInBatches(engine, test.images, count, size, metadata.classes.length);
      engine.dispose();
      runtime = 'ONNX Runtime 1.30 (CPU)';
    } else {
      const missing = armnnAvailable();
      if (missing !== null) {
        console.error(`${name} ${variant.format} ${variant.quantize}: skipped: ${missing}`);
        continue;
      }
      count = name === 'digits' ? test.count : Math.min(test.count, tfliteLimit);
      const path = join(tmpdir(), `hwr-accuracy-${name}-${variant.quantize}.tflite`);
      await writeFile(path, result.bytes);
      try {
        probabilities = await runArmnn(path, test.images.subarray(0, count * size * size), count, metadata.classes.length);
      } catch (error) {
        console.error(`${name} tflite ${variant.quantize}: ${(error as Error).message}`);
        continue;
      }
      runtime = 'ArmNN 20.08 TFLite parser (CpuRef)';
    }
    const top = argmaxRows(probabilities, count);
    let same = 0;
    let maxAbsDiff = 0;
    for (let i = 0; i < count; i++) if (top[i] === referenceTop1[i]) same++;
    for (let i = 0; i < count * metadata.classes.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(probabilities[i]! - reference[i]!));
    rows.push({ model: name, format: variant.format, quantize: variant.quantize, runtime, bytes: result.bytes.length, images: count, top1: accuracy(top, count), tfjsTop1: accuracy(referenceTop1, count), sameTop1: same, maxAbsDiff });
    console.error(`${name} ${variant.format} ${variant.quantize}: ${count} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  model.dispose();
  return rows;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function markdown(rows: Row[], sets: Record<string, string>, command: string): string {
  const lines = [
    '# Exported models: accuracy in their own runtimes',
    '',
    `${Object.entries(sets).map(([m, d]) => `${m}: ${d}`).join('; ')}. int8 is calibrated as \`hwr export\` does by default. Top-1 is the raw argmax of the exported model's output; "TF.js top-1" is TF.js's on the same images; the difference is in points.`,
    '',
    '| model | format | weights | runtime | file (MB) | images | top-1 | TF.js top-1 | change (points) | same top-1 as TF.js | max abs probability difference |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.model} | ${r.format} | ${r.quantize} | ${r.runtime} | ${r.bytes === null ? '' : (r.bytes / 1e6).toFixed(2)} | ${r.images.toLocaleString('en-US')} | ${pct(r.top1)} | ${pct(r.tfjsTop1)} | ${r.format === 'tfjs' ? '' : ((r.top1 - r.tfjsTop1) * 100).toFixed(2)} | ${r.sameTop1.toLocaleString('en-US')} | ${r.format === 'tfjs' ? '' : r.maxAbsDiff.toExponential(1)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

await setupBackend();
const rows: Row[] = [];
const sets: Record<string, string> = {};
const all: Array<{ format: ExportFormat; quantize: QuantizeMode }> = [
  { format: 'onnx', quantize: 'float32' },
  { format: 'onnx', quantize: 'float16' },
  { format: 'onnx', quantize: 'int8' },
  { format: 'tflite', quantize: 'float32' },
  { format: 'tflite', quantize: 'int8' },
];
if (flags.only !== 'hanzi') {
  const test = await mnistTest();
  sets.digits = test.description;
  rows.push(...(await measure('digits', test, all)));
}
if (flags.only !== 'digits') {
  const dir = resolve(flags['hanzi-data']!);
  if (!existsSync(dir)) {
    console.error(`hanzi: ${dir} does not exist; make it with: npx hwr synth --charset gb2312-1 --per-class 50 --seed 2 --out ${flags['hanzi-data']}`);
  } else {
    const metadata = await readMetadata(resolveModelDir('hanzi'));
    const test = await hwdbTest(flags['hanzi-data']!, metadata);
    sets.hanzi = `${test.description}; ArmNN on the first ${Math.min(tfliteLimit, test.count)}`;
    rows.push(...(await measure('hanzi', test, all)));
  }
}
const command = `npx tsx bench/export-accuracy.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
for (const model of Object.keys(sets)) if (flags.only === undefined || model === flags.only) sets[model] = `${sets[model]} (measured by \`${command}\` on ${new Date().toISOString().slice(0, 10)})`;
// With --only, the other model's rows (and test set) of an earlier run in the same --out are kept.
if (flags.only !== undefined && existsSync(`${flags.out}.json`)) {
  const previous = JSON.parse(await readFile(`${flags.out}.json`, 'utf8')) as { sets: Record<string, string>; rows: Row[] };
  const kept = previous.rows.filter((row) => row.model !== flags.only);
  rows.splice(0, rows.length, ...(flags.only === 'hanzi' ? [...kept, ...rows] : [...rows, ...kept]));
  for (const [model, description] of Object.entries(previous.sets)) if (model !== flags.only) sets[model] = description;
}
const text = markdown(rows, sets, command);
await writeFile(`${flags.out}.json`, `${JSON.stringify({ command, date: new Date().toISOString(), sets, rows }, null, 2)}\n`);
await writeFile(`${flags.out}.md`, text);
process.stdout.write(text);

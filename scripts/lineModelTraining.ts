/**
 * What the line reader's model scripts share (scripts/train-digit-pairs.ts, train-digit-segments.ts,
 * train-hanzi-segments.ts): the flags every one of them takes, MNIST train digits for the digit scripts, writing a
 * split as IDX files, the training recipe for a model of composed-line candidates, and writing the model folder's
 * metadata with the command that reproduces it.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { segmentPreprocessorFor } from '../src/core/preprocessing.ts';
import type { ModelMetadata } from '../src/core/types.ts';
import { encodeIdx } from '../src/data/idx.ts';
import type { ImageLineCharacter } from '../src/data/lines.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { readMetadata, writeMetadata } from '../src/node/modelFiles.ts';
import { train, type TrainResult } from '../src/train/train.ts';

/** The flags of every line-model script, as strings (`--epochs 3`), plus `extra` ones of the script's own. */
export interface LineModelFlags {
  out: string;
  test: string;
  epochs: string;
  seed: string;
  'learning-rate': string;
  threads: string;
  init: string;
}

type StringOption = { type: 'string'; default: string };
type BooleanOption = { type: 'boolean'; default: boolean };

/**
 * Parses `process.argv` for the shared flags (`--out --test --epochs --seed --learning-rate --threads --init`, with the
 * script's `defaults`) and the script's `extra` options.
 * @throws TypeError (from `util.parseArgs`) on an unknown flag or a missing value
 */
export function parseLineModelFlags<E extends Record<string, StringOption | BooleanOption>>(
  defaults: LineModelFlags,
  extra: E,
): LineModelFlags & { [K in keyof E]: E[K] extends BooleanOption ? boolean : string } {
  const shared = Object.fromEntries(Object.entries(defaults).map(([name, value]) => [name, { type: 'string', default: value } as StringOption]));
  const { values } = parseArgs({ options: { ...shared, ...extra } });
  return values as unknown as LineModelFlags & { [K in keyof E]: E[K] extends BooleanOption ? boolean : string };
}

/**
 * Trains hwr-net on the IDX folder `dataDir` with the line models' recipe: no augmentation (the candidates are
 * already as the reader cuts them), no rejection class, 5% of the training images for validation, no progress bar.
 * @param flags the parsed flags (`init` empty: from scratch)
 * @throws whatever `train` throws (src/train/train.ts)
 */
export function trainLineModel(flags: LineModelFlags, outDir: string, dataDir: string): Promise<TrainResult> {
  return train({
    model: 'hwr-net',
    outDir,
    dataDir,
    ...(flags.init ? { init: resolve(flags.init) } : {}),
    epochs: Number(flags.epochs),
    learningRate: Number(flags['learning-rate']),
    seed: Number(flags.seed),
    validationSplit: 0.05,
    augment: false,
    reject: false,
    threads: Number(flags.threads),
    progressBar: false,
  });
}

/**
 * Writes the model folder's metadata (atomically, its checksum recorded in SHA256SUMS beside model.json's and
 * weights.bin's): the training run's, with `fields` (name, `pairsFor`, what it was trained and tested on, the
 * command), the run's data folder named as the command writes it (`<--out>-data`), and prints a line.
 */
export async function writeLineModelMetadata(
  result: TrainResult,
  outDir: string,
  dataDir: string,
  flags: LineModelFlags,
  fields: Partial<ModelMetadata> & { trainingData: string },
): Promise<void> {
  const metadata = {
    ...result.metadata,
    ...fields,
    trainingData: `${fields.trainingData}; ${result.metadata.trainingData.replace(dataDir, `${flags.out}-data`)}`,
  };
  await writeMetadata(outDir, metadata);
  console.log(`wrote ${outDir} (test accuracy ${((result.test?.accuracy ?? 0) * 100).toFixed(2)}%)`);
}

/**
 * The digit scripts' material: MNIST train digit `k` as a line character (28x28 float32 in [0, 1]), and the
 * shipped digits model's candidate preprocessing (`segmentPreprocessorFor` of its metadata, checked against SHA256SUMS).
 */
export async function mnistTrainDigits(): Promise<{ prepare: ReturnType<typeof segmentPreprocessorFor>; digit: (k: number) => ImageLineCharacter }> {
  const prepare = segmentPreprocessorFor(await readMetadata(resolve('models/digits')));
  const { images, labels } = (await loadMnist()).train;
  const digit = (k: number): ImageLineCharacter => {
    const image = new Float32Array(28 * 28);
    for (let i = 0; i < image.length; i++) image[i] = images[k * 784 + i]! / 255;
    return { label: String(labels[k]), image, width: 28, height: 28 };
  };
  return { prepare, digit };
}

/**
 * Writes one split into `dataDir` as MNIST-format IDX files: `<name>-images-idx3-ubyte` ([n, size, size] uint8) and
 * `<name>-labels-idx1-ubyte` ([n] uint8).
 * @param pixels uint8 [n * size * size]; `labels` uint8 [n]
 */
export async function writeIdxSplit(dataDir: string, name: 'train' | 't10k', pixels: Uint8Array, labels: Uint8Array, size: number): Promise<void> {
  await writeFile(join(dataDir, `${name}-images-idx3-ubyte`), encodeIdx(pixels, [labels.length, size, size]));
  await writeFile(join(dataDir, `${name}-labels-idx1-ubyte`), encodeIdx(labels, [labels.length]));
}

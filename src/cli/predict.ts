import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { hwrError, isHwrError } from '../core/errors.ts';
import { parseInk } from '../core/ink.ts';
import { toImageData } from '../core/preprocess.ts';
import { formatProbability } from '../core/probabilityText.ts';
import { defaultTopK, MAX_TOP_K, type ClassProbability, type Recognition } from '../core/recognizer.ts';
import { INK_DATASET_FORMAT, parseInkDataset, sampleInk } from '../data/inkDataset.ts';
import { decodeImageFile, encodePng } from '../node/image.ts';
import { fileReadError, writeFileAtomic } from '../node/files.ts';
import { loadRecognizer, type EngineChoice } from '../node/recognizer.ts';
import type { Ink } from '../core/ink.ts';
import type { InkDataset } from '../data/inkDataset.ts';

/** Flags of `hwr predict`. */
export interface PredictFlags {
  model: string;
  json?: boolean;
  saveProcessed?: string;
  /**
   * How many candidates each result lists (`topK`): default `defaultTopK` (3 for up to 20 classes, 10 above),
   * capped at `MAX_TOP_K` (50) and at the number of classes.
   */
  topK?: number;
  /** What runs the model (`--engine`); default `auto`. */
  engine?: EngineChoice;
}

/** Above this many classes the text output lists the top-k candidates rather than every class. */
export const FULL_LIST_CLASSES = 20;

/**
 * One entry of `hwr predict --json` output: a result, or the error for that file.
 * `label` is null when the model rejects the image (not a digit), and `reason` then says why.
 * `processed` is the path of the PNG of the model's input (its input size) written by `--save-processed`.
 * `topK` lists the k most probable classes, most probable first (`--top-k`).
 * For a sample of an `hwr-ink-dataset` file, `sample` is its index in `samples` and `expected` its own label.
 */
export type PredictOutput =
  | ({ file: string; label: string | null; reason?: string; probability: number; probabilities: number[]; topK: ClassProbability[]; processed?: string } & SampleOf)
  | ({ file: string; error: { code: string; message: string } } & SampleOf);

/** Which sample of a dataset file an output entry is about, with the sample's own label. */
interface SampleOf {
  sample?: number;
  expected?: string;
}

/**
 * True for a file `hwr predict` reads as ink: a `.json` file, holding one ink (`InkJson`: `{ "strokes": [[[x, y, t?],
 * ...], ...] }`) or an `hwr-ink-dataset` (src/data/inkDataset.ts). Any other file is read as an image.
 */
export function isInkFile(file: string): boolean {
  return extname(file).toLowerCase() === '.json';
}

/**
 * What an ink file holds: one ink, or a dataset of labelled inks.
 * @throws HwrError `FILE_NOT_FOUND` for a missing file, `BAD_ARGUMENT` for one that cannot be read, `BAD_INK` for text that is not JSON or not ink,
 *   `NO_INK` for ink without points, `BAD_DATASET` for an invalid dataset; each message starts with `file`
 */
export async function readInkFile(file: string): Promise<{ ink: Ink } | { dataset: InkDataset }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fileReadError(error, file, 'an ink file'); // as image files are reported
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw hwrError('BAD_INK', `${file}: not JSON: ${(error as Error).message}`, error);
  }
  if ((value as { format?: unknown } | null)?.format === INK_DATASET_FORMAT) return { dataset: parseInkDataset(value, file) };
  return { ink: parseInk(value, file) };
}

/** What `formatRecognition` reads of a recognition: `label` may be null with a `reason` (a rejected image). */
type MaybeRejected = Pick<Recognition, 'label' | 'reason' | 'probability' | 'probabilities'> & Partial<Pick<Recognition, 'topK'>>;

/**
 * Text line for one recognized file, probabilities with 2 decimals (see `formatProbability`):
 * `digit.png: 7 (99.82%)  0:<0.01% 1:0.03% ... 9:0.11%`, or `scribble.png: not a digit (92.62%)  0:...`
 * when the model rejects the image. For a large vocabulary (more than `FULL_LIST_CLASSES` classes, e.g. Chinese
 * characters) with `result.topK`, only the top-k candidates: `char.png: 啊 (92.10%)  啊 92.10%  阿 3.02%  ...`.
 * @param classes the model's class labels, in the order of `result.probabilities`.
 */
export function formatRecognition(file: string, result: MaybeRejected, classes: readonly string[]): string {
  if (classes.length > FULL_LIST_CLASSES && result.topK) {
    return `${file}: ${describeAnswer(result)}  ${result.topK.map((c) => `${c.label} ${formatProbability(c.probability)}`).join('  ')}`;
  }
  const all = result.probabilities.map((p, i) => `${classes[i] ?? i}:${formatProbability(p)}`).join(' ');
  return `${file}: ${describeAnswer(result)}  ${all}`;
}

/**
 * `7 (99.82%)`; for a rejected image `not a digit (92.62%)`, with the reason when it says more than that:
 * `not a digit (<reason>, 92.62%)`. The probability is the rejection's.
 */
function describeAnswer(result: MaybeRejected): string {
  const probability = formatProbability(result.probability);
  if (result.label !== null) return `${result.label} (${probability})`;
  const reason = result.reason?.trim();
  return !reason || /^not a digit\.?$/i.test(reason) ? `not a digit (${probability})` : `not a digit (${reason}, ${probability})`;
}

/**
 * Names the PNG of each input in the `--save-processed` folder: the input's base name with `.png`;
 * when two inputs share a base name (`a/1.png`, `b/1.jpg`), the later ones get `-2`, `-3`, ... (`1-2.png`).
 * Every output line and JSON entry names the file written, so the mapping is never a guess.
 */
class ProcessedNames {
  private readonly used = new Set<string>();

  /** The file name (not path) for `file`; reserves it. */
  next(file: string): string {
    const stem = basename(file, extname(file)) || 'image';
    let name = `${stem}.png`;
    for (let i = 2; this.used.has(name); i++) name = `${stem}-${i}.png`;
    this.used.add(name);
    return name;
  }
}

/**
 * `hwr predict FILE...`: recognizes each file; a bad file prints one line naming it and the reason on stderr,
 * the others are still recognized, and the exit code is 1 if any file failed.
 *
 * Images and ink files (`isInkFile`: `.json`) may be mixed. Ink is drawn with the model's own ink path
 * (`Recognizer.recognizeInk`: `inkImageFor`, then the profile), as the page and the server draw it. An
 * `hwr-ink-dataset` file gives one line per sample, `tiny.json samples[3] (l): 1 (97.12%)  ...` (the sample's own
 * label in parentheses), then `tiny.json: 12 of 15 samples recognized as their own label (80.00%)`; with `--json`,
 * one entry per sample with `sample` and `expected`.
 */
export async function predictCommand(files: string[], flags: PredictFlags): Promise<void> {
  const recognizer = await loadRecognizer(flags.model, undefined, { engine: flags.engine ?? 'auto' });
  const { classes, inputShape: [size] } = recognizer.metadata;
  const topK = Math.min(flags.topK ?? defaultTopK(classes.length), MAX_TOP_K, classes.length);
  const outputs: PredictOutput[] = [];
  const names = new ProcessedNames();

  /** Prints (or keeps for --json) one recognition, `shown` naming it, saving the processed input when asked. */
  const report = async (file: string, shown: string, result: Recognition, processedName: string, sample: SampleOf = {}): Promise<void> => {
    const entry: PredictOutput = {
      file,
      ...sample,
      label: result.label,
      ...(result.label === null && result.reason !== undefined ? { reason: result.reason } : {}),
      probability: result.probability,
      probabilities: result.probabilities,
      topK: result.topK,
    };
    let line = formatRecognition(shown, result, classes);
    if (flags.saveProcessed) {
      const path = join(flags.saveProcessed, names.next(processedName));
      await writeFileAtomic(path, await encodePng(toImageData(result.processed, size)));
      entry.processed = path;
      line += `  -> ${path}`;
    }
    outputs.push(entry);
    if (!flags.json) process.stdout.write(`${line}\n`);
  };

  /** Reports a failure of `file` (or of one of its samples): one line on stderr, an error entry, exit code 1. */
  const fail = (file: string, error: unknown, sample: SampleOf = {}, shown = file): void => {
    const message = error instanceof Error ? error.message : String(error);
    const code = isHwrError(error) ? error.code : 'ERROR';
    outputs.push({ file, ...sample, error: { code, message } });
    // Messages from our decoders and ink readers already start with the file name.
    process.stderr.write(`hwr: ${message.startsWith(file) ? message : `${shown}: ${message}`}\n`);
    process.exitCode = 1;
  };

  for (const file of files) {
    try {
      if (!isInkFile(file)) {
        const image = await decodeImageFile(file);
        // The file name leads every message (`hwr: <file>: <reason>`), so the core's message names "the image".
        await report(file, file, await recognizer.recognize(image, { name: 'the image', topK }), file);
        continue;
      }
      const content = await readInkFile(file);
      if ('ink' in content) {
        await report(file, file, await recognizer.recognizeInk(content.ink, { name: 'the ink', topK }), file);
        continue;
      }
      const { samples } = content.dataset;
      let correct = 0;
      for (const [index, sample] of samples.entries()) {
        const shown = `${file} samples[${index}] (${sample.label})`;
        const of: SampleOf = { sample: index, expected: sample.label };
        try {
          const result = await recognizer.recognizeInk(sampleInk(sample), { name: 'the ink', topK });
          if (result.label === sample.label) correct++;
          await report(file, shown, result, `${basename(file, extname(file))}-${index}.json`, of);
        } catch (error) {
          fail(file, error, of, shown);
        }
      }
      if (!flags.json) {
        const share = samples.length > 0 ? ` (${((100 * correct) / samples.length).toFixed(2)}%)` : '';
        process.stdout.write(`${file}: ${correct} of ${samples.length} samples recognized as their own label${share}\n`);
      }
    } catch (error) {
      fail(file, error);
    }
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(outputs, null, 2)}\n`);
  recognizer.dispose();
}

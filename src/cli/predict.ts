import { basename, extname, join } from 'node:path';
import { isHwrError } from '../core/errors.ts';
import { toImageData } from '../core/preprocess.ts';
import { formatProbability } from '../core/probabilityText.ts';
import { defaultTopK, MAX_TOP_K, type ClassProbability, type Recognition } from '../core/recognizer.ts';
import { decodeImageFile, encodePng } from '../node/image.ts';
import { writeFileAtomic } from '../node/files.ts';
import { loadRecognizer, type EngineChoice } from '../node/recognizer.ts';

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
 */
export type PredictOutput =
  | { file: string; label: string | null; reason?: string; probability: number; probabilities: number[]; topK: ClassProbability[]; processed?: string }
  | { file: string; error: { code: string; message: string } };

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
 */
export async function predictCommand(files: string[], flags: PredictFlags): Promise<void> {
  const recognizer = await loadRecognizer(flags.model, undefined, { engine: flags.engine ?? 'auto' });
  const { classes, inputShape: [size] } = recognizer.metadata;
  const topK = Math.min(flags.topK ?? defaultTopK(classes.length), MAX_TOP_K, classes.length);
  const outputs: PredictOutput[] = [];
  const names = new ProcessedNames();
  for (const file of files) {
    try {
      const image = await decodeImageFile(file);
      // The file name leads every message (`hwr: <file>: <reason>`), so the core's message names "the image".
      const result = await recognizer.recognize(image, { name: 'the image', topK });
      const entry: PredictOutput = {
        file,
        label: result.label,
        ...(result.label === null && result.reason !== undefined ? { reason: result.reason } : {}),
        probability: result.probability,
        probabilities: result.probabilities,
        topK: result.topK,
      };
      let line = formatRecognition(file, result, classes);
      if (flags.saveProcessed) {
        const path = join(flags.saveProcessed, names.next(file));
        await writeFileAtomic(path, await encodePng(toImageData(result.processed, size)));
        entry.processed = path;
        line += `  -> ${path}`;
      }
      outputs.push(entry);
      if (!flags.json) process.stdout.write(`${line}\n`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = isHwrError(error) ? error.code : 'ERROR';
      outputs.push({ file, error: { code, message } });
      // Messages from our decoders already start with the file name.
      process.stderr.write(`hwr: ${message.startsWith(file) ? message : `${file}: ${message}`}\n`);
      process.exitCode = 1;
    }
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(outputs, null, 2)}\n`);
  recognizer.dispose();
}

/**
 * `hwr read FILE...`: reads whole lines of handwriting (a number, a date, a code, a word, a short Chinese phrase) with
 * a character model, by `readLine` (src/core/line/readLine.ts), from images and ink files.
 */
import { readFile, stat } from 'node:fs/promises';
import { hwrError, isHwrError } from '../core/errors.ts';
import { compileConstraint } from '../core/line/constraints.ts';
import { readLine } from '../core/line/readLine.ts';
import type { LineCharacter, LineReading, ReadLineOptions } from '../core/line/types.ts';
import { formatProbability } from '../core/probabilityText.ts';
import { MAX_TOP_K } from '../core/recognizer.ts';
import { INK_DATASET_FORMAT } from '../data/inkDataset.ts';
import { decodeImageFile } from '../node/image.ts';
import { originalScale, scaleReading } from '../node/lineImage.ts';
import { loadPairRecognizer } from '../node/lineReader.ts';
import { loadRecognizer, type EngineChoice } from '../node/recognizer.ts';
import { isInkFile, readInkFile } from './predict.ts';

/** Flags of `hwr read`. */
export interface ReadFlags {
  /** Model name (`digits`, `hanzi`) or model folder (a taught script); default `digits`. */
  model: string;
  /** A regular expression the whole text of every line must match (`ReadLineOptions.pattern`). */
  pattern?: string;
  /** A word list: a file of one word per line, or a comma-separated list (see `wordsOf`). */
  words?: string;
  /** Alternatives listed per character; default `defaultTopK` of the model's classes; at most `MAX_TOP_K`. */
  topK?: number;
  /** What runs the model (`--engine`); default `auto`. */
  engine?: EngineChoice;
  /** Print one JSON document instead of text. */
  json?: boolean;
  /** Text output: each character's box, probability and alternatives under its line. */
  verbose?: boolean;
}

/**
 * One entry of `hwr read --json`: the file's `LineReading` (src/core/line/types.ts) at the top level, or the error
 * that file met. Boxes are in px of the image file (scaled back when it was decoded downscaled to 1024 px) or in the
 * ink's units.
 */
export type ReadOutput = ({ file: string } & LineReading) | { file: string; error: { code: string; message: string } };

/** Exit code of `hwr read` for a bad option (an invalid `--pattern`, an empty `--words` list): the usage error code. */
export const USAGE_EXIT_CODE = 2;

/**
 * The word list of `--words`: when `value` names an existing file, its lines (one word each; surrounding spaces and
 * empty lines ignored), else `value` as a comma-separated list (`--words 'one,two,three'`).
 * @throws HwrError `BAD_ARGUMENT` for a file that cannot be read, or a list without a word
 */
export async function wordsOf(value: string): Promise<string[]> {
  let isFile = false;
  try {
    isFile = (await stat(value)).isFile();
  } catch {
    // not a file: a list
  }
  let words: string[];
  if (isFile) {
    try {
      words = (await readFile(value, 'utf8')).split(/\r?\n/);
    } catch (error) {
      throw hwrError('BAD_ARGUMENT', `--words ${value}: cannot read the file: ${(error as Error).message}`, error);
    }
  } else {
    words = value.split(',');
  }
  words = words.map((word) => word.trim()).filter((word) => word !== '');
  if (words.length === 0) throw hwrError('BAD_ARGUMENT', `--words ${JSON.stringify(value)} holds no word`);
  return words;
}

/**
 * Checks `--pattern` and `--words` as `readLine` will use them (compiled into one automaton, src/core/line/constraints.ts),
 * so that a typo stops the command before the model loads or any file is read.
 * @throws HwrError `BAD_ARGUMENT` naming the pattern or the words and the reason (not a regular expression, a
 *   backreference or lookaround, too many automaton states)
 */
export function checkConstraints(options: Pick<ReadLineOptions, 'pattern' | 'words'>): void {
  compileConstraint(options.pattern, options.words);
}

/**
 * Text of one read line: `line.png: 2024-05-17  (confidence 91.20%)`; `(pattern not met)` is added when a pattern or
 * word list was given and no reading satisfied it (the best unconstrained reading is shown).
 */
export function formatReading(file: string, reading: LineReading): string {
  const unmet = reading.constraintMet === false ? '  (pattern not met)' : '';
  return `${file}: ${reading.text}  (confidence ${formatProbability(reading.confidence)})${unmet}`;
}

/**
 * `--verbose` lines under a reading, one per character: its position, box (x, y, width x height, in the input's
 * units, rounded), label and probability, then its alternatives:
 * `  1 [16,12 40x44]: 4 (99.10%)  4 99.10%  9 0.52%  7 0.20%`. A rejected character shows its reason.
 */
export function formatCharacters(characters: readonly LineCharacter[]): string[] {
  return characters.map((character, i) => {
    const { x, y, width, height } = character.box;
    const box = `[${Math.round(x)},${Math.round(y)} ${Math.round(width)}x${Math.round(height)}]`;
    const label = character.text ?? character.reason ?? 'rejected';
    const alternatives = character.alternatives.map((a) => `${a.label} ${formatProbability(a.probability)}`).join('  ');
    return `  ${i + 1} ${box}: ${label} (${formatProbability(character.probability)})  ${alternatives}`;
  });
}

/**
 * `hwr read FILE...`: reads each file as one line and prints `file: <text>  (confidence ...)` (with `--verbose`, a
 * line per character under it), or with `--json` one JSON array of `ReadOutput`.
 *
 * Files: images (any format `hwr predict` reads, with its limits) and ink files (`.json`: one `InkJson`). An
 * `hwr-ink-dataset` holds single characters, not lines: it is an error for that file (use `hwr predict` on it). A bad
 * file prints one line on stderr naming it and the reason, the others are still read, and the exit code is 1.
 * A bad `--pattern`, `--words` or another option `readLine` refuses (`BAD_ARGUMENT`) stops the command: exit code 2.
 */
export async function readCommand(files: string[], flags: ReadFlags): Promise<void> {
  const options: ReadLineOptions = {};
  try {
    if (flags.pattern !== undefined && flags.pattern !== '') options.pattern = flags.pattern;
    if (flags.words !== undefined) options.words = await wordsOf(flags.words);
    checkConstraints(options);
  } catch (error) {
    usageError(error);
    return;
  }
  const recognizer = await loadRecognizer(flags.model, undefined, { engine: flags.engine ?? 'auto' });
  // Touching characters: the pair model serving this model (metadata `pairsFor`, e.g. models/digit-segments for digits).
  const pairs = await loadPairRecognizer(recognizer, { engine: flags.engine ?? 'auto' });
  if (pairs) options.pairs = pairs;
  if (flags.topK !== undefined) options.topK = Math.min(flags.topK, MAX_TOP_K, recognizer.metadata.classes.length);
  const outputs: ReadOutput[] = [];
  try {
    for (const file of files) {
      let input: Parameters<typeof readLine>[1];
      try {
        input = await lineOf(file);
      } catch (error) {
        fail(outputs, file, error);
        continue;
      }
      let reading: LineReading;
      try {
        // The file name leads every message (`hwr: <file>: <reason>`), so readLine's names the image or the ink.
        reading = await readLine(recognizer, input, { ...options, name: 'image' in input ? 'the image' : 'the ink' });
      } catch (error) {
        // readLine's BAD_ARGUMENT is about the options (the pattern, the words), the same for every file: stop.
        if (isHwrError(error) && error.code === 'BAD_ARGUMENT') {
          usageError(error);
          return;
        }
        fail(outputs, file, error);
        continue;
      }
      if ('image' in input) reading = scaleReading(reading, await originalScale(file, input.image));
      outputs.push({ file, ...reading });
      if (!flags.json) {
        process.stdout.write(`${formatReading(file, reading)}\n`);
        if (flags.verbose) for (const line of formatCharacters(reading.characters)) process.stdout.write(`${line}\n`);
      }
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(outputs, null, 2)}\n`);
  } finally {
    recognizer.dispose();
  }
}

/**
 * The line a file holds: an image's pixels or ink.
 * @throws HwrError as `decodeImageFile` and `readInkFile` do; `BAD_ARGUMENT` for an `hwr-ink-dataset` file
 */
async function lineOf(file: string): Promise<Parameters<typeof readLine>[1]> {
  if (isInkFile(file)) {
    const content = await readInkFile(file);
    if ('dataset' in content) {
      throw hwrError('BAD_ARGUMENT', `${file}: is an ${INK_DATASET_FORMAT} file (single characters, not a line): use hwr predict to recognize its samples`);
    }
    return { ink: content.ink };
  }
  return { image: await decodeImageFile(file) };
}

/** Reports a failure of `file`: one line on stderr, an error entry for --json, exit code 1. */
function fail(outputs: ReadOutput[], file: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = isHwrError(error) ? error.code : 'ERROR';
  outputs.push({ file, error: { code, message } });
  // Messages from our decoders and ink readers already start with the file name.
  process.stderr.write(`hwr: ${message.startsWith(file) ? message : `${file}: ${message}`}\n`);
  process.exitCode = 1;
}

/** Reports a bad option: one line on stderr, exit code `USAGE_EXIT_CODE`; nothing is printed on stdout. */
function usageError(error: unknown): void {
  process.stderr.write(`hwr: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = USAGE_EXIT_CODE;
}

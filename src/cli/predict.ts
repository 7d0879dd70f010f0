import { basename, extname, join } from 'node:path';
import { isHwrError } from '../core/errors.ts';
import { toImageData } from '../core/preprocess.ts';
import type { Recognition } from '../core/recognizer.ts';
import { decodeImageFile, encodePng } from '../node/image.ts';
import { writeFileAtomic } from '../node/files.ts';
import { loadRecognizer } from '../node/recognizer.ts';

/** Flags of `hwr predict`. */
export interface PredictFlags {
  model: string;
  json?: boolean;
  saveProcessed?: string;
}

/** One line of `hwr predict --json` output: a result, or the error for that file. */
export type PredictOutput =
  | { file: string; label: string; probability: number; probabilities: number[]; processed?: string }
  | { file: string; error: { code: string; message: string } };

/** Text line for one recognized file: `digit.png: 7 (99.82%)  0:0.00 1:0.00 ...`. */
export function formatRecognition(file: string, result: Recognition): string {
  const all = result.probabilities.map((p, i) => `${i}:${p.toFixed(2)}`).join(' ');
  return `${file}: ${result.label} (${(result.probability * 100).toFixed(2)}%)  ${all}`;
}

/**
 * `hwr predict FILE...`: recognizes each file; a bad file prints one line naming it and the reason on stderr,
 * the others are still recognized, and the exit code is 1 if any file failed.
 */
export async function predictCommand(files: string[], flags: PredictFlags): Promise<void> {
  const recognizer = await loadRecognizer(flags.model);
  const outputs: PredictOutput[] = [];
  const used = new Set<string>();
  for (const file of files) {
    try {
      const image = await decodeImageFile(file);
      const result = await recognizer.recognize(image, { name: file });
      const entry: PredictOutput = { file, label: result.label, probability: result.probability, probabilities: result.probabilities };
      if (flags.saveProcessed) {
        let name = `${basename(file, extname(file))}.png`;
        for (let i = 2; used.has(name); i++) name = `${basename(file, extname(file))}-${i}.png`;
        used.add(name);
        const path = join(flags.saveProcessed, name);
        await writeFileAtomic(path, await encodePng(toImageData(result.processed, 28)));
        entry.processed = path;
      }
      outputs.push(entry);
      if (!flags.json) process.stdout.write(`${formatRecognition(file, result)}\n`);
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

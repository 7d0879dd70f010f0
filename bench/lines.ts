/**
 * Line reading (issue 12): how well and how fast `readLine` (src/core/line/readLine.ts) reads whole lines, on lines
 * composed from single characters nobody trained on (src/data/lines.ts):
 *
 * - digits, image: lines of 4-12 MNIST **test** digits (each digit used once), 20% touching pairs and 10% overlapping
 *   ones, at scale 2 (a digit about 40 px high), read with the shipped `digits` model. Targets: character accuracy
 *   >= 98%, line accuracy >= 90%. Broken down by line length and by whether a line has touching pairs; the most
 *   frequent errors; the same digits read one by one (the model's own accuracy on them: the ceiling).
 * - digits, ink: the digits of the single-stroke plotter font `futural`, each line by another generated pen style
 *   (`plotterWriter(font, 1000 + line)`), composed as ink (no target).
 * - Chinese: lines of 2-8 GB2312 level-1 characters (the hanzi model's classes) written by synthetic writers of seed 2
 *   (`syntheticWriter(2, i)`; the model was trained on writers of seed 1: `hwr synth --seed 1`), as ink and as images
 *   (each character rendered as `renderCharacter` does, centred in a square cell: `renderLineCell`). Target: character accuracy >= 90%.
 * - speed: a 10-digit line, image and ink, read >= 50 times after warm-up, on each Node engine (ONNX Runtime, TF.js);
 *   median and p90 ms (target <= 50 ms), the machine's load before and after.
 * - confidence: line accuracy per bin of `LineReading.confidence` (is it honest?).
 *
 * Character accuracy = 1 - sum of Levenshtein(reference, hypothesis) / sum of reference lengths (spaces removed);
 * line accuracy = exact matches (spaces removed): the shared contract of issue 12.
 *
 *   npx tsx bench/lines.ts            full run (writes bench/lines.json and bench/lines.md)
 *   npx tsx bench/lines.ts --quick    fewer lines, fewer reads (under 2 minutes; writes .tmp/lines.json and .md)
 *   npm run bench -- --only lines     the same as the full run
 *   options: --lines N (digit image lines and Chinese lines, each as ink and as image; digit ink lines N / 2)  --engine auto|onnx|tfjs (accuracy runs)
 *            --stub (a simple stand-in reader instead of readLine)  --out <dir>
 *            --seed N (other lines than the reported ones' seed 12: for tuning on lines the report does not use)
 *            --no-pairs (read without the pair models of src/node/lineReader.ts: digit-segments for digits, the
 *            hanzi-segments verifier for hanzi)
 *            --samples <dir> (writes the first 20 misread lines of each set there: <set>-<n>.png for images, .json for
 *            ink (`InkJson`), named with the reference and the reading, for looking at what goes wrong)
 */
import { execSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { inkToJson, type Ink } from '../src/core/ink.ts';
import type { LineReading, ReadLineOptions } from '../src/core/line/types.ts';
import type { Recognizer } from '../src/core/recognizer.ts';
import type { PixelBuffer } from '../src/core/types.ts';
import { createRng, shuffledIndices, type Rng } from '../src/data/augment.ts';
import { gb2312Level1 } from '../src/data/charset.ts';
import { composeImageLine, composeInkLine, type ImageLineCharacter } from '../src/data/lines.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { GLYPH_UNITS, plotterWriter, writeSample } from '../src/data/plotterFonts.ts';
import { handwrite } from '../src/data/synth/handwriting.ts';
import { HANZI_BOX, loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { renderLineCell, syntheticWriter } from '../src/data/synth/synthesize.ts';
import { loadPlotterFont } from '../src/node/plotterFonts.ts';
import { loadPairRecognizer } from '../src/node/lineReader.ts';
import { loadRecognizer, parseEngineChoice, type EngineChoice } from '../src/node/recognizer.ts';
import { median, percentile } from './stats.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What a line is given as (the contract's `LineInput`). */
type LineInput = { image: PixelBuffer } | { ink: Ink };
/** The contract's `readLine`. */
type ReadLine = (recognizer: Recognizer, input: LineInput, options?: ReadLineOptions) => Promise<LineReading>;

/** The seed of everything drawn here (line lengths, digits picked, compositions). */
const SEED = 12;
/** The synthetic writers' seed the hanzi model never saw (it was trained on `hwr synth --seed 1`). */
const HELD_OUT_SEED = 2;

/** One line to read: its set, reference text, whether a pair touches, and the input. */
interface Case {
  set: SetName;
  text: string;
  touching: boolean;
  input: LineInput;
  /** The line's characters alone, before composition (ink sets and Chinese images), to read one by one. */
  alone?: Array<{ label: string } & LineInput>;
}

type SetName = 'digits-image' | 'digits-ink' | 'hanzi-ink' | 'hanzi-image';

/** One line's outcome. */
interface Outcome {
  text: string;
  read: string;
  touching: boolean;
  edits: number;
  confidence: number;
  ms: number;
  error?: string;
}

/** Accuracy figures of a group of lines. */
interface Figures {
  lines: number;
  characters: number;
  characterAccuracy: number;
  lineAccuracy: number;
}

/** One set's results. */
interface SetReport extends Figures {
  set: SetName;
  model: string;
  target?: { characterAccuracy?: number; lineAccuracy?: number };
  byLength: Array<{ length: string } & Figures>;
  byTouching: Array<{ touching: boolean } & Figures>;
  /** Most frequent edit operations, e.g. `3→5` (substitution), `3→∅` (missed), `∅→1` (extra). */
  errors: Array<{ error: string; count: number }>;
  confidenceBins: Array<{ bin: string; lines: number; meanConfidence: number; lineAccuracy: number }>;
  /** Expected calibration error over the confidence bins: sum of |mean confidence - line accuracy| weighted by lines (Guo et al., ICML 2017). */
  calibrationError: number;
  failures: number;
  /** Mean ms per line (reading only). */
  meanMs: number;
  /**
   * The same characters read one by one by the same model (`recognize`/`recognizeInk`; digits image: the 28x28 MNIST
   * digits through `predictProbabilities`): the ceiling of a reader that cuts perfectly.
   */
  isolatedAccuracy?: number;
  examples: Array<{ text: string; read: string; confidence: number }>;
}

/** Speed of one input kind on one engine. */
interface SpeedReport {
  input: 'image' | 'ink';
  engine: string;
  reads: number;
  medianMs: number;
  p90Ms: number;
  /** How many of the 5 lines were read right. */
  right: number;
}

/** Levenshtein alignment: edit count and the edit operations (Wagner and Fischer, JACM 21(1), 1974). */
export function alignment(reference: string, hypothesis: string): { edits: number; operations: string[] } {
  const a = [...reference];
  const b = [...hypothesis];
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  const operations: string[] = [];
  let i = a.length;
  let j = b.length;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i]![j] === d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)) {
      if (a[i - 1] !== b[j - 1]) operations.push(`${a[i - 1]}→${b[j - 1]}`);
      i--, j--;
    } else if (i > 0 && d[i]![j] === d[i - 1]![j]! + 1) {
      operations.push(`${a[i - 1]}→∅`);
      i--;
    } else {
      operations.push(`∅→${b[j - 1]}`);
      j--;
    }
  }
  return { edits: d[a.length]![b.length]!, operations };
}

const withoutSpaces = (text: string): string => text.replace(/\s/g, '');

function figures(outcomes: readonly Outcome[]): Figures {
  const characters = outcomes.reduce((sum, o) => sum + [...withoutSpaces(o.text)].length, 0);
  const edits = outcomes.reduce((sum, o) => sum + o.edits, 0);
  const exact = outcomes.filter((o) => o.edits === 0).length;
  return { lines: outcomes.length, characters, characterAccuracy: characters ? 1 - edits / characters : 0, lineAccuracy: outcomes.length ? exact / outcomes.length : 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// The lines

/** `count` line lengths drawn uniformly from `min..max`. */
function lengths(count: number, min: number, max: number, rng: Rng): number[] {
  return Array.from({ length: count }, () => min + rng.int(max - min + 1));
}

/** Lines of MNIST test digits, each digit used once, with the digits' own single-digit accuracy. */
async function digitImageCases(count: number, rng: Rng): Promise<{ cases: Case[]; digits: Float32Array; labels: string[]; used: number[] }> {
  const { test } = await loadMnist();
  const order = shuffledIndices(test.count, rng);
  let next = 0;
  const cases: Case[] = [];
  const used: number[] = [];
  for (const length of lengths(count, 4, 12, rng)) {
    const chars: ImageLineCharacter[] = [];
    for (let k = 0; k < length; k++) {
      const index = order[next++ % test.count]!;
      used.push(index);
      chars.push({ label: String(test.labels[index]), image: Float32Array.from(test.images.subarray(index * 784, (index + 1) * 784), (v) => v / 255), width: 28, height: 28 });
    }
    const line = composeImageLine(chars, rng, { scale: 2, margin: 16, touchingShare: 0.2, overlappingShare: 0.1 });
    cases.push({ set: 'digits-image', text: line.text, touching: line.touching.some(Boolean), input: { image: line.image } });
  }
  const digits = new Float32Array(used.length * 784);
  used.forEach((index, k) => digits.set(Float32Array.from(test.images.subarray(index * 784, (index + 1) * 784), (v) => v / 255), k * 784));
  return { cases, digits, labels: used.map((index) => String(test.labels[index])), used };
}

/** Lines of plotter-font digits, each by its own generated pen style. */
function digitInkCases(count: number, rng: Rng): Case[] {
  const font = loadPlotterFont('futural');
  return lengths(count, 4, 12, rng).map((length, i) => {
    const writer = plotterWriter(font, 1000 + i);
    const text = Array.from({ length }, () => String(rng.int(10))).join('');
    const chars = [...text].map((label) => ({ label, ink: writeSample(writer, label, rng) }));
    const line = composeInkLine(chars, rng, { emSize: GLYPH_UNITS });
    return { set: 'digits-ink' as const, text, touching: line.touching.some(Boolean), input: { ink: line.ink }, alone: chars };
  });
}

/** A coverage raster as an RGBA image, dark on light, with 4 px of paper around. */
function coverageImage(cell: ImageLineCharacter): PixelBuffer {
  const pad = 4;
  const width = cell.width + 2 * pad;
  const height = cell.height + 2 * pad;
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  for (let y = 0; y < cell.height; y++) {
    for (let x = 0; x < cell.width; x++) {
      const i = 4 * ((y + pad) * width + x + pad);
      data.fill(255 - Math.round(255 * cell.image[y * cell.width + x]!), i, i + 3);
    }
  }
  return { width, height, data, polarity: 'dark-on-light' };
}

/** Share of the cases' characters read right one by one (`recognize` in batches of 64, `recognizeInk`). */
async function isolatedAccuracy(recognizer: Recognizer, cases: readonly Case[]): Promise<number | undefined> {
  const alone = cases.flatMap((c) => c.alone ?? []);
  if (alone.length === 0) return undefined;
  let right = 0;
  const images = alone.filter((a): a is { label: string; image: PixelBuffer } => 'image' in a);
  for (let k = 0; k < images.length; k += 64) {
    const batch = images.slice(k, k + 64);
    const results = await recognizer.recognizeBatch(batch.map((a) => a.image));
    results.forEach((r, j) => void (!(r instanceof Error) && r.label === batch[j]!.label && right++));
  }
  for (const a of alone) if ('ink' in a && (await recognizer.recognizeInk(a.ink).catch(() => null))?.label === a.label) right++;
  return right / alone.length;
}

/** Lines of 2-8 GB2312 level-1 characters by held-out synthetic writers, as ink and as images (the same texts). */
async function hanziCases(count: number, rng: Rng): Promise<Case[]> {
  const charset = gb2312Level1();
  const texts = lengths(count, 2, 8, rng).map((length) => Array.from({ length }, () => charset[rng.int(charset.length)]!).join(''));
  const references = new Map<string, Ink>();
  for (const char of new Set(texts.join(''))) references.set(char, await loadHanziInk(char));
  const cases: Case[] = [];
  texts.forEach((text, i) => {
    const { style } = syntheticWriter(HELD_OUT_SEED, 1 + (i % 50));
    const inks = [...text].map((label) => ({ label, ink: handwrite(references.get(label)!, style, rng) }));
    const inkLine = composeInkLine(inks, rng, { emSize: HANZI_BOX });
    cases.push({ set: 'hanzi-ink', text, touching: inkLine.touching.some(Boolean), input: { ink: inkLine.ink }, alone: inks });
    const cells = inks.map(({ label, ink }) => renderLineCell(label, ink, style, rng));
    const imageLine = composeImageLine(cells, rng, { margin: 12 });
    const alone = cells.map((cell) => ({ label: cell.label, image: coverageImage(cell) }));
    cases.push({ set: 'hanzi-image', text, touching: imageLine.touching.some(Boolean), input: { image: imageLine.image }, alone });
  });
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** readLine from src/core/line/readLine.ts, or null when it cannot be loaded (not written yet, or broken). */
async function libraryReadLine(): Promise<ReadLine | null> {
  const specifier = '../src/core/line/readLine.ts';
  try {
    const module = (await import(specifier)) as { readLine?: ReadLine };
    return typeof module.readLine === 'function' ? module.readLine : null;
  } catch (error) {
    process.stderr.write(`lines: readLine unavailable (${(error as Error).message.split('\n')[0]}); using the stand-in\n`);
    return null;
  }
}

/**
 * A stand-in reader for when readLine is not there: image lines cut into connected components (ink = gray < 128,
 * 8-connected), components overlapping in x by half the narrower merged, each read alone; ink lines cut into groups
 * of strokes whose x ranges overlap. No search, no touching-character cuts: a floor, not a reader.
 */
const stubReadLine: ReadLine = async (recognizer, input) => {
  const start = performance.now();
  const boxes: Array<{ x0: number; x1: number; y0: number; y1: number; members: number[] }> = [];
  if ('ink' in input) {
    input.ink.strokes.forEach((stroke, s) => {
      const xs = stroke.map((p) => p.x);
      const ys = stroke.map((p) => p.y);
      boxes.push({ x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys), members: [s] });
    });
  } else {
    const { width, height, data } = input.image;
    const label = new Int32Array(width * height).fill(-1);
    for (let i = 0; i < width * height; i++) {
      if (label[i] !== -1 || data[4 * i]! >= 128) continue;
      const box = { x0: width, x1: -1, y0: height, y1: -1, members: [] as number[] };
      const stack = [i];
      label[i] = boxes.length;
      while (stack.length) {
        const p = stack.pop()!;
        const x = p % width;
        const y = (p - x) / width;
        box.members.push(p);
        (box.x0 = Math.min(box.x0, x)), (box.x1 = Math.max(box.x1, x)), (box.y0 = Math.min(box.y0, y)), (box.y1 = Math.max(box.y1, y));
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const q = (y + dy) * width + x + dx;
            if (x + dx < 0 || y + dy < 0 || x + dx >= width || y + dy >= height || label[q] !== -1 || data[4 * q]! >= 128) continue;
            label[q] = boxes.length;
            stack.push(q);
          }
        }
      }
      if (box.members.length >= 4) boxes.push(box);
    }
  }
  boxes.sort((a, b) => a.x0 - b.x0);
  const groups: typeof boxes = [];
  for (const box of boxes) {
    const last = groups[groups.length - 1];
    const overlap = last ? Math.min(last.x1, box.x1) - Math.max(last.x0, box.x0) : -1;
    if (last && overlap > 0.5 * Math.min(last.x1 - last.x0, box.x1 - box.x0)) {
      (last.x0 = Math.min(last.x0, box.x0)), (last.x1 = Math.max(last.x1, box.x1)), (last.y0 = Math.min(last.y0, box.y0)), (last.y1 = Math.max(last.y1, box.y1));
      last.members.push(...box.members);
    } else groups.push({ ...box, members: [...box.members] });
  }
  const recognitions = await Promise.all(
    groups.map((g) => {
      if ('ink' in input) return recognizer.recognizeInk({ strokes: g.members.map((s) => input.ink.strokes[s]!) });
      const w = g.x1 - g.x0 + 1;
      const h = g.y1 - g.y0 + 1;
      const data = new Uint8ClampedArray(w * h * 4).fill(255);
      for (const p of g.members) {
        const x = (p % input.image.width) - g.x0;
        const y = Math.floor(p / input.image.width) - g.y0;
        const value = input.image.data[4 * p]!;
        data.fill(value, 4 * (y * w + x), 4 * (y * w + x) + 3);
      }
      return recognizer.recognize({ width: w, height: h, data, polarity: 'dark-on-light' });
    }),
  );
  const text = recognitions.map((r) => r.label ?? '\uFFFD').join('');
  const confidence = recognitions.reduce((p, r) => p * r.probability, 1);
  const totalMs = performance.now() - start;
  return {
    text,
    characters: [],
    confidence,
    timings: { segmentMs: 0, preprocessMs: 0, inferenceMs: 0, searchMs: 0, totalMs },
  };
};

/** Writes a misread line into `dir`: `<set>-<n>-<reference>-<read>.png` (image) or `.json` (ink). */
async function writeMisread(dir: string, c: Case, n: number, read: string): Promise<void> {
  const base = join(dir, `${c.set}-${n}-${c.text}-${read.replace(/[^\p{L}\p{N}]/gu, '_') || 'nothing'}`);
  if ('ink' in c.input) return writeFile(`${base}.json`, JSON.stringify(inkToJson(c.input.ink)));
  const { width, height, data } = c.input.image;
  await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } }).removeAlpha().png().toFile(`${base}.png`);
}

async function readAll(cases: readonly Case[], recognizer: Recognizer, readLine: ReadLine, log: (line: string) => void, samplesDir?: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let misread = 0;
  for (const [i, c] of cases.entries()) {
    const start = performance.now();
    let read = '';
    let confidence = 0;
    let error: string | undefined;
    try {
      const reading = await readLine(recognizer, c.input, { name: `${c.set} line ${i}`, ...(await pairsOf(recognizer)) });
      read = reading.text;
      confidence = reading.confidence;
    } catch (e) {
      error = (e as Error).message;
    }
    const ms = performance.now() - start;
    const { edits } = alignment(withoutSpaces(c.text), withoutSpaces(read));
    outcomes.push({ text: c.text, read, touching: c.touching, edits, confidence, ms, ...(error ? { error } : {}) });
    if (samplesDir && edits > 0 && misread < 20) await writeMisread(samplesDir, c, misread++, read);
    if ((i + 1) % 100 === 0) log(`${c.set}: ${i + 1}/${cases.length}`);
  }
  return outcomes;
}

const CONFIDENCE_BINS = [0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0000001];

function setReport(set: SetName, model: string, outcomes: Outcome[], target: SetReport['target'], lengthBins: Array<[number, number]>): SetReport {
  const report = setFigures(set, model, outcomes, target, lengthBins);
  report.calibrationError = report.confidenceBins.reduce((sum, b) => sum + (b.lines * Math.abs(b.meanConfidence - b.lineAccuracy)) / Math.max(1, outcomes.length), 0);
  return report;
}

function setFigures(set: SetName, model: string, outcomes: Outcome[], target: SetReport['target'], lengthBins: Array<[number, number]>): SetReport {
  const counts = new Map<string, number>();
  for (const o of outcomes) for (const op of alignment(withoutSpaces(o.text), withoutSpaces(o.read)).operations) counts.set(op, (counts.get(op) ?? 0) + 1);
  const length = (o: Outcome): number => [...withoutSpaces(o.text)].length;
  return {
    set,
    model,
    ...figures(outcomes),
    ...(target ? { target } : {}),
    byLength: lengthBins.map(([min, max]) => ({ length: min === max ? String(min) : `${min}-${max}`, ...figures(outcomes.filter((o) => length(o) >= min && length(o) <= max)) })),
    byTouching: [true, false].map((touching) => ({ touching, ...figures(outcomes.filter((o) => o.touching === touching)) })),
    errors: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 12).map(([error, count]) => ({ error, count })),
    confidenceBins: CONFIDENCE_BINS.slice(0, -1).map((lo, k) => {
      const hi = CONFIDENCE_BINS[k + 1]!;
      const inBin = outcomes.filter((o) => o.confidence >= lo && o.confidence < hi);
      return {
        bin: `${lo.toFixed(2)}-${Math.min(1, hi).toFixed(2)}`,
        lines: inBin.length,
        meanConfidence: inBin.length ? inBin.reduce((s, o) => s + o.confidence, 0) / inBin.length : 0,
        lineAccuracy: inBin.length ? inBin.filter((o) => o.edits === 0).length / inBin.length : 0,
      };
    }),
    calibrationError: 0,
    failures: outcomes.filter((o) => o.error).length,
    meanMs: outcomes.reduce((s, o) => s + o.ms, 0) / Math.max(1, outcomes.length),
    examples: outcomes.filter((o) => o.edits > 0).slice(0, 8).map((o) => ({ text: o.text, read: o.read, confidence: o.confidence })),
  };
}

/** Whether readers get the pair model of their character model (`--no-pairs`: not), and the engine it runs on. */
const pairSetting: { use: boolean; engine: EngineChoice } = { use: true, engine: 'auto' };

/** `{ pairs }`: the pair model serving `recognizer` (src/node/lineReader.ts, e.g. models/digit-segments for digits), or `{}`. */
async function pairsOf(recognizer: Recognizer): Promise<Pick<ReadLineOptions, 'pairs'>> {
  const pairs = pairSetting.use ? await loadPairRecognizer(recognizer, { engine: pairSetting.engine }) : null;
  return pairs ? { pairs } : {};
}

/** Times `reads` reads of the inputs in turn, after `warmup` reads; also how many of the inputs read right. */
async function timeReads(recognizer: Recognizer, readLine: ReadLine, inputs: readonly LineInput[], texts: readonly string[], reads: number, warmup: number): Promise<{ ms: number[]; right: number }> {
  let right = 0;
  const pairs = await pairsOf(recognizer);
  for (const [k, input] of inputs.entries()) if ((await readLine(recognizer, input, pairs)).text === texts[k]) right++;
  for (let i = 0; i < warmup; i++) await readLine(recognizer, inputs[i % inputs.length]!, pairs);
  const ms: number[] = [];
  for (let i = 0; i < reads; i++) {
    const start = performance.now();
    await readLine(recognizer, inputs[i % inputs.length]!, pairs);
    ms.push(performance.now() - start);
  }
  return { ms, right };
}

// ---------------------------------------------------------------------------------------------------------------
// The report

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const frac = (f: Figures, key: 'characterAccuracy' | 'lineAccuracy'): string =>
  f.lines === 0
    ? '-'
    : `${pct(f[key])} (${key === 'lineAccuracy' ? `${Math.round(f.lineAccuracy * f.lines)}/${f.lines}` : `${Math.round((1 - f.characterAccuracy) * f.characters)} edits / ${f.characters}`})`;

interface LinesReport {
  command: string;
  machine: string;
  loadBefore: number[];
  loadAfter: number[];
  date: string;
  commit: string;
  reader: 'readLine' | 'stand-in';
  engine: string;
  /** The pair models the readers were given (`ReadLineOptions.pairs`), by character model; none: `{}`. */
  pairModels: Record<string, string>;
  quick: boolean;
  seconds: number;
  sets: SetReport[];
  speed: SpeedReport[];
}

const SET_TITLES: Record<SetName, string> = {
  'digits-image': 'Digits, image: MNIST test digits composed into lines (scale 2, 20% touching, 10% overlapping pairs)',
  'digits-ink': "Digits, ink: plotter font futural's digits, a generated pen style per line",
  'hanzi-ink': 'Chinese, ink: GB2312 level 1, synthetic writers of seed 2 (held out)',
  'hanzi-image': 'Chinese, image: the same lines rendered as renderCharacter does',
};

function markdown(report: LinesReport): string {
  const out: string[] = [];
  out.push('# Line reading (issue 12)', '');
  out.push(
    'Targets: digits (image) character accuracy >= 98% and line accuracy >= 90%; Chinese character accuracy >= 90%; a 10-digit line read in <= 50 ms in Node.',
    'Character accuracy = 1 - Levenshtein / reference length summed over lines; line accuracy = exact match; spaces ignored. Lines are composed by src/data/lines.ts from characters no model trained on.',
    '',
  );
  out.push(`Measured by \`${report.command}\` on ${report.machine}; load ${report.loadBefore.map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) before, ${report.loadAfter.map((l) => l.toFixed(1)).join(' / ')} after; ${report.date}, commit ${report.commit}; reader: ${report.reader === 'readLine' ? '`readLine` (src/core/line/readLine.ts)' : 'the stand-in of bench/lines.ts (readLine was not loadable)'}; accuracy runs on ${report.engine}; pair models: ${Object.entries(report.pairModels).map(([model, pairs]) => `${pairs} for ${model}`).join(', ') || 'none'}; ${report.seconds.toFixed(0)} s in all.${report.quick ? ' **Quick run: few lines, rough figures.**' : ''}`, '');
  out.push('| set | model | lines | character accuracy | line accuracy | target | characters alone | ms per line (mean) | failures |', '|---|---|---|---|---|---|---|---|---|');
  for (const s of report.sets) {
    const target = s.target ? [s.target.characterAccuracy && `char >= ${pct(s.target.characterAccuracy)}`, s.target.lineAccuracy && `line >= ${pct(s.target.lineAccuracy)}`].filter(Boolean).join(', ') : '-';
    out.push(`| ${s.set} | ${s.model} | ${s.lines} | ${frac(s, 'characterAccuracy')} | ${frac(s, 'lineAccuracy')} | ${target} | ${s.isolatedAccuracy === undefined ? '-' : pct(s.isolatedAccuracy)} | ${s.meanMs.toFixed(1)} | ${s.failures} |`);
  }
  out.push('');
  for (const s of report.sets) {
    out.push(`## ${SET_TITLES[s.set]}`, '');
    if (s.isolatedAccuracy !== undefined) {
      const how = s.set === 'digits-image' ? "the 28x28 MNIST digits, `predictProbabilities`" : s.set.endsWith('ink') ? '`recognizeInk`' : '`recognize` of each cell';
      out.push(`The same ${s.characters} characters read one by one (${how}): ${pct(s.isolatedAccuracy)}, the ceiling of a reader that cuts perfectly.`, '');
    }
    out.push('| length | lines | character accuracy | line accuracy |', '|---|---|---|---|');
    for (const b of s.byLength) out.push(`| ${b.length} | ${b.lines} | ${frac(b, 'characterAccuracy')} | ${frac(b, 'lineAccuracy')} |`);
    for (const b of s.byTouching) out.push(`| ${b.touching ? 'with touching pairs' : 'no touching pair'} | ${b.lines} | ${frac(b, 'characterAccuracy')} | ${frac(b, 'lineAccuracy')} |`);
    out.push('', `Most frequent errors (reference→read, ∅ = none): ${s.errors.map((e) => `${e.error} ${e.count}`).join(', ') || 'none'}.`, '');
    out.push(`Confidence bins (is \`confidence\` honest? line accuracy should match the mean confidence; calibration error ${(100 * s.calibrationError).toFixed(1)} points):`, '', '| confidence | lines | mean confidence | line accuracy |', '|---|---|---|---|');
    for (const b of s.confidenceBins) if (b.lines) out.push(`| ${b.bin} | ${b.lines} | ${b.meanConfidence.toFixed(3)} | ${pct(b.lineAccuracy)} |`);
    if (s.examples.length) out.push('', `Misread examples: ${s.examples.map((e) => `${e.text} → ${e.read || '(nothing)'} (${e.confidence.toFixed(2)})`).join('; ')}.`);
    out.push('');
  }
  out.push(
    '## Speed: a 10-digit line in Node',
    '',
    '`readLine` wall-clock time, one call at a time, 5 different 10-digit lines read in turn after warm-up (image: MNIST test digits at scale 2, about 600x90 px; ink: futural digits). Accuracy runs use the engine `auto` picks.',
    '',
    '| input | engine | reads | median ms | p90 ms | lines read right |',
    '|---|---|---|---|---|---|',
  );
  for (const s of report.speed) out.push(`| ${s.input} | ${s.engine} | ${s.reads} | ${s.medianMs.toFixed(1)} | ${s.p90Ms.toFixed(1)} | ${s.right}/5 |`);
  out.push('');
  return out.join('\n');
}

function gitCommit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
    // What was measured is the working tree: say so when the reader's files differ from the commit.
    const changed = execSync('git status --porcelain -- src/core/line src/core/preprocessing.ts src/data/lines.ts', { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.length > 3)
      .map((line) => line.slice(3)); // porcelain lines are 'XY path'
    return changed.length > 0 ? `${head} with uncommitted changes to ${changed.join(', ')}` : head;
  } catch {
    return 'unknown';
  }
}

/** Runs the evaluation with command-line flags; writes lines.json and lines.md into --out (default bench/, .tmp/ with --quick). */
export async function linesMain(argv: string[], command: string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      quick: { type: 'boolean', default: false },
      lines: { type: 'string' },
      engine: { type: 'string', default: 'auto' },
      stub: { type: 'boolean', default: false },
      out: { type: 'string' },
      samples: { type: 'string' },
      'no-pairs': { type: 'boolean', default: false },
      seed: { type: 'string' },
    },
  });
  pairSetting.use = values['no-pairs'] !== true;
  const samplesDir = typeof values.samples === 'string' ? resolve(values.samples) : undefined;
  if (samplesDir) await mkdir(samplesDir, { recursive: true });
  const quick = values.quick === true;
  const digitLines = Number(values.lines ?? (quick ? 100 : 600));
  if (!(Number.isInteger(digitLines) && digitLines >= 10)) throw new Error(`--lines ${String(values.lines)}: expected an integer >= 10`);
  const engineChoice: EngineChoice = parseEngineChoice(String(values.engine), '--engine');
  pairSetting.engine = engineChoice;
  const log = (line: string): void => void process.stderr.write(`lines: ${line}\n`);
  const started = performance.now();
  const loadBefore = loadavg();

  const library = values.stub === true ? null : await libraryReadLine();
  const readLine = library ?? stubReadLine;
  // `--seed`: other lines than the reported ones, for tuning (the report's figures are those of the default seed).
  const seed = values.seed === undefined ? SEED : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${String(values.seed)}: expected an integer`);
  const rng = createRng(seed);
  const digits = await loadRecognizer('digits', undefined, { engine: engineChoice });
  const hanzi = await loadRecognizer('hanzi', undefined, { engine: engineChoice });
  const pairModels: Record<string, string> = {};
  for (const recognizer of [digits, hanzi]) {
    const pairs = library ? (await pairsOf(recognizer)).pairs : undefined;
    if (pairs) pairModels[recognizer.metadata.name] = pairs.metadata.name;
  }
  log(`reader ${library ? 'readLine' : 'stand-in'}, engines ${digits.engine} (digits), ${hanzi.engine} (hanzi), pair models ${JSON.stringify(pairModels)}`);

  const sets: SetReport[] = [];
  const digitLengths: Array<[number, number]> = [[4, 5], [6, 7], [8, 9], [10, 12]];
  // Digits, image.
  const images = await digitImageCases(digitLines, rng);
  const probabilities = await digits.predictProbabilities(images.digits, images.labels.length);
  const classes = digits.metadata.classes;
  let isolatedRight = 0;
  images.labels.forEach((label, k) => {
    const row = probabilities.subarray(k * classes.length, (k + 1) * classes.length);
    if (classes[row.indexOf(Math.max(...row))] === label) isolatedRight++;
  });
  const imageReport = setReport('digits-image', 'digits', await readAll(images.cases, digits, readLine, log, samplesDir), { characterAccuracy: 0.98, lineAccuracy: 0.9 }, digitLengths);
  imageReport.isolatedAccuracy = isolatedRight / images.labels.length;
  sets.push(imageReport);
  log(`digits-image: ${pct(imageReport.characterAccuracy)} characters, ${pct(imageReport.lineAccuracy)} lines`);
  // Digits, ink.
  const inkCases = digitInkCases(Math.max(10, Math.round(digitLines / 2)), rng);
  sets.push(setReport('digits-ink', 'digits', await readAll(inkCases, digits, readLine, log, samplesDir), undefined, digitLengths));
  sets[1]!.isolatedAccuracy = await isolatedAccuracy(digits, inkCases);
  log(`digits-ink: ${pct(sets[1]!.characterAccuracy)} characters, ${pct(sets[1]!.lineAccuracy)} lines`);
  // Chinese, ink and image.
  // As many Chinese lines as digit lines (600 in a full run; 200 until session 19, whose figure moved by +-1 point
  // between runs of the same reader: about 1,000 characters give a standard error near 1 point at 90%).
  const hanziAll = await hanziCases(Math.max(10, Math.round(digitLines / (quick ? 5 : 1))), rng);
  const hanziLengths: Array<[number, number]> = [[2, 3], [4, 5], [6, 8]];
  for (const set of ['hanzi-ink', 'hanzi-image'] as const) {
    const cases = hanziAll.filter((c) => c.set === set);
    const report = setReport(set, 'hanzi', await readAll(cases, hanzi, readLine, log, samplesDir), { characterAccuracy: 0.9 }, hanziLengths);
    report.isolatedAccuracy = await isolatedAccuracy(hanzi, cases);
    sets.push(report);
    log(`${set}: ${pct(report.characterAccuracy)} characters, ${pct(report.lineAccuracy)} lines`);
  }
  hanzi.dispose();

  // Speed: 10-digit lines (5 of them, read in turn), each engine.
  const speedRng = createRng(seed + 1);
  const speedTexts = Array.from({ length: 5 }, () => Array.from({ length: 10 }, () => String(speedRng.int(10))).join(''));
  const { test } = await loadMnist();
  const byLabel = new Map<string, number[]>();
  for (let i = 0; i < test.count; i++) byLabel.set(String(test.labels[i]), [...(byLabel.get(String(test.labels[i])) ?? []), i]);
  const digitImage = (label: string): Float32Array => {
    const pool = byLabel.get(label)!;
    const i = pool[speedRng.int(pool.length)]!;
    return Float32Array.from(test.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
  };
  const font = loadPlotterFont('futural');
  const speedInputs = {
    image: speedTexts.map((text) => ({ image: composeImageLine([...text].map((label) => ({ label, image: digitImage(label), width: 28, height: 28 })), speedRng, { scale: 2, margin: 16 }).image })),
    ink: speedTexts.map((text, k) => {
      const writer = plotterWriter(font, 990 + k);
      return { ink: composeInkLine([...text].map((label) => ({ label, ink: writeSample(writer, label, speedRng) })), speedRng, { emSize: GLYPH_UNITS }).ink };
    }),
  };
  const speed: SpeedReport[] = [];
  const reads = quick ? 15 : 60;
  for (const engine of ['onnx', 'tfjs'] as const) {
    const same = (engine === 'onnx') === (digits.engine === 'onnxruntime');
    const recognizer = same ? digits : await loadRecognizer('digits', undefined, { engine, warn: () => {} }).catch(() => null);
    if (!recognizer) {
      log(`speed: no ${engine} engine here`);
      continue;
    }
    for (const input of ['image', 'ink'] as const) {
      const { ms, right } = await timeReads(recognizer, readLine, speedInputs[input], speedTexts, reads, quick ? 3 : 10);
      speed.push({ input, engine: recognizer.engine, reads, medianMs: median(ms), p90Ms: percentile(ms, 0.9), right });
      log(`speed ${input} on ${recognizer.engine}: median ${median(ms).toFixed(1)} ms, p90 ${percentile(ms, 0.9).toFixed(1)} ms`);
    }
    if (recognizer !== digits) recognizer.dispose();
  }
  const engine = digits.engine;
  digits.dispose();

  const report: LinesReport = {
    command,
    machine: `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.versions.node}`,
    loadBefore,
    loadAfter: loadavg(),
    date: new Date().toISOString(),
    commit: gitCommit(),
    reader: library ? 'readLine' : 'stand-in',
    engine,
    pairModels,
    quick,
    seconds: (performance.now() - started) / 1000,
    sets,
    speed,
  };
  const outDir = resolve(typeof values.out === 'string' ? values.out : join(ROOT, quick ? '.tmp' : 'bench'));
  await mkdir(outDir, { recursive: true });
  const md = markdown(report);
  await writeFile(join(outDir, 'lines.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, 'lines.md'), md);
  process.stdout.write(`${md}\nwritten: ${join(outDir, 'lines.json')}, ${join(outDir, 'lines.md')}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  await linesMain(argv, `npx tsx bench/lines.ts${argv.length ? ` ${argv.join(' ')}` : ''}`);
}

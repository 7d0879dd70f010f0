/**
 * The teach-a-script evaluation (issue 11's targets): teach hwr a 26-symbol script from 5 samples per symbol by one
 * writer, then measure top-1 accuracy on 20 further samples per symbol by the same writer and on samples by other
 * writers. Writers are generated (src/data/plotterFonts.ts): a single-stroke plotter font (the letterforms) written
 * by a pen style (`randomWriterStyle`: slant, aspect, stroke placement, curvature, jitter, smoothing, pen lifts) with
 * fresh per-character variation at each sample (`handwrite`).
 *
 *   npx tsx bench/teach.ts                          writes bench/teach.json and bench/teach.md
 *   npm run bench -- --only teach                   the same
 *   options: --base glyphs-latin,digits (default; also hanzi, or model folders: paths with a /)  --script latin,symbols  --writers 3  --quick  --out DIR
 *            --recipe JSON (trainInkScript options replacing the recipe's, e.g. '{"augment": {"slant": 0.4}}': tuning)
 *            --base-classes PREFIX (a base that knows some labels as <PREFIX><label>, e.g. latin/ of a Latin glyph base:
 *              those output units start from the base's, on its penultimate features, with the recipe as given; see
 *              `TeachBenchOptions`. Without it, trainInkScript does this by itself where the base knows every label,
 *              with KNOWN_LABELS_RECIPE: the default, what `hwr train --data ink:` and the page do)
 *            (--quick: one training writer, a tenth of the recipe's training, 5 test samples per symbol: a smoke run)
 *   npx tsx bench/teach.ts --other-hands-png bench/teach-other-hands.png   only draws a sample grid of the other hands
 *
 * Per base model (the shipped `digits`, hwr-net 28x28, and `hanzi`, hccr-vgg 64x64, or a model folder such as a glyph
 * base of scripts/train-glyph-base.ts, whose convolutional layers are the feature extractor), per script and per
 * training writer:
 * - training: `trainInkScript` (src/train/inkScript.ts) with its default recipe and seed 1, in this process on the
 *   TF.js wasm backend with hwr's SIMD training kernels (`setupBackend()`); the seconds of each phase (synthesis, head,
 *   fine-tune) from its progress reports; "usable" is when the head phase's model exists;
 * - same writer: 20 more samples per symbol by the training writer (same font and pen style, other per-character
 *   variation: another seed);
 * - other pen styles: the training writer's glyphs written by 8 other pen styles, 5 samples per symbol each;
 * - other print fonts, Latin: 5 samples per symbol by each of the other print fonts (`LATIN_PRINT_FONTS` less the
 *   training font), each with its own pen style;
 * - other writers, Latin script/cursive fonts (`LATIN_CURSIVE_FONTS`), reported apart: their letterforms differ from
 *   print ones, not only the hand;
 * - other hands (independent generator): the training writer's glyphs (`glyphInk`, not written by a pen style)
 *   deformed by 8 test writers of src/data/testWriters.ts (seeds 401-408: elastic displacement fields after Simard et
 *   al. 2003, shear, rotation, aspect, point density, reversed strokes and stroke order, pen width), 5 samples per
 *   symbol each: a generator that shares no code with the recipe's augmentation, so its writers were not seen in
 *   training;
 * The invented alphabet is `INVENTED_ALPHABET` (single-line signs of Hershey's `symbolic` font).
 * Recognition is the recognizer's ink path: `inkImageFor` (the model's pen width), the model's preprocessing profile,
 * `predictProbabilities`; top-1 is the arg max. Times are wall-clock on this machine, which is shared while the
 * helpers work: they are noisy unless the machine was idle.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../src/backend/backend.ts';
import { inkImage } from '../src/core/ink.ts';
import { inkPenWidthFor, preprocessorFor } from '../src/core/preprocessing.ts';
import { createRecognizer } from '../src/core/recognizer.ts';
import { sampleInk, type InkDataset } from '../src/data/inkDataset.ts';
import { glyphInk, INVENTED_ALPHABET, LATIN_LOWERCASE, plotterWriter, writerDataset, type PlotterWriter } from '../src/data/plotterFonts.ts';
import { testWriter, testWriterDataset, writeTestSample, testRandom, type TestWriter } from '../src/data/testWriters.ts';
import { loadModel, readMetadata } from '../src/node/modelFiles.ts';
import { loadPlotterFont } from '../src/node/plotterFonts.ts';
import { baseKnowingLabels, INK_SCRIPT_DEFAULTS, trainInkScript, type ScriptModel, type TrainInkScriptOptions } from '../src/train/inkScript.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Single-stroke print fonts with the usual Latin lowercase letterforms (Hershey sans; EMS Readability, Tech, Nixish
 * and their italics, Elfin and Felix (hand-like), Osmotron (square)). Hershey's serif and "medium" fonts (`timesr`,
 * `timesi`, `futuram`, `scriptc`) are left out: they draw thick parts as double lines, which no pen writes.
 */
export const LATIN_PRINT_FONTS = ['futural', 'EMSReadability', 'EMSReadabilityItalic', 'EMSTech', 'EMSNixish', 'EMSNixishItalic', 'EMSElfin', 'EMSFelix', 'EMSOsmotron'];
/** Single-stroke script and cursive fonts: joined-up letterforms (Hershey Script 1-stroke and its alternate, EMS Allure). */
export const LATIN_CURSIVE_FONTS = ['scripts', 'cursive', 'EMSAllure'];
/** The three Latin training writers' fonts: Hershey Sans 1-stroke, EMS Readability, EMS Elfin (hand-like). */
export const LATIN_TRAINING_FONTS = ['futural', 'EMSReadability', 'EMSElfin'];

/**
 * A shipped base model (`digits`, `hanzi`) or, for experiments, a model folder's path (it has a `/`), e.g. a glyph base
 * of scripts/train-glyph-base.ts.
 */
export type BaseName = string;
/** The shipped bases the evaluation knows by name. */
export const SHIPPED_BASES = ['glyphs-latin', 'digits', 'hanzi'];
export type ScriptName = 'latin' | 'symbols';

/** Correct / total of one test set. */
export interface Score {
  correct: number;
  total: number;
  accuracy: number;
  /** Samples the recognizer could not read (an error such as `NO_INK` from the preprocessing profile): counted wrong. */
  unreadable: number;
  /** The most frequent errors, `"<label> -> <answer>": count`, most frequent first (at most 8 on whole sets, 5 per writer; absent in runs measured before per-writer errors were kept). */
  confusions?: Record<string, number>;
}

/** One training run and its scores. */
export interface TeachRun {
  base: BaseName;
  script: ScriptName;
  /** The training writer's id, `<font>/<style seed>`. */
  writer: string;
  /** Seconds of each phase and in all; `usable`: from the start to the head phase's model. */
  seconds: { synthesis: number; head: number; fineTune: number; usable: number; total: number };
  /** The held-out augmented variants' accuracy that `trainInkScript` reports (`metadata.testAccuracy`). */
  validationAccuracy: number | null;
  sameWriter: Score;
  /** Other writers of the same glyphs: the training font written by 8 other pen styles. */
  otherStyles: Score;
  perOtherStyle: Record<string, Score>;
  /** Latin only: other writers with other print fonts (other letterforms in places) and their own pen styles. */
  otherFonts: Score | null;
  perOtherFont: Record<string, Score> | null;
  /**
   * Other hands by the independent generator (src/data/testWriters.ts, writers 401-408) of the training writer's
   * glyphs; absent in runs measured before it existed.
   */
  otherHands?: Score;
  perOtherHand?: Record<string, Score>;
  /** Index in `TeachReport.sessions` (set when written). */
  session: number;
  /** Latin only: the script/cursive fonts. */
  cursive: Score | null;
  perCursiveWriter: Record<string, Score> | null;
}

/** A run whose training threw. */
export interface TeachFailure {
  base: BaseName;
  script: ScriptName;
  writer: string;
  error: string;
  /** Index in `TeachReport.sessions` (set when written). */
  session: number;
}

/** One invocation of the evaluation. */
export interface TeachSession {
  command: string;
  machine: string;
  date: string;
  /** The `trainInkScript` options. */
  recipe: object;
  /** The last commit of the recipe's code (src/train/inkScript.ts, src/data/inkAugment.ts), `+changes` when they differ from it. */
  recipeCode: string;
}

/** bench/teach.json. */
export interface TeachReport {
  sessions: TeachSession[];
  runs: TeachRun[];
  failures: TeachFailure[];
}

/** The symbols of a script: glyph characters, labels, and the font of the invented alphabet. */
function scriptSymbols(script: ScriptName): { chars: string[]; labels: string[] } {
  return script === 'latin' ? { chars: [...LATIN_LOWERCASE], labels: [...LATIN_LOWERCASE] } : { chars: [...INVENTED_ALPHABET.chars], labels: [...INVENTED_ALPHABET.labels] };
}

/** The training writers of a script: Latin, one font each with its own pen style; the invented alphabet, pen styles. */
function trainingWriters(script: ScriptName, count: number): PlotterWriter[] {
  if (script === 'latin') return LATIN_TRAINING_FONTS.slice(0, count).map((key, i) => plotterWriter(loadPlotterFont(key), 101 + i));
  const font = loadPlotterFont(INVENTED_ALPHABET.font);
  return Array.from({ length: count }, (_, i) => plotterWriter(font, 101 + i));
}

/** Other writers of the training writer's glyphs: 8 other pen styles (seeds 201-208). */
function otherStyleWriters(writer: PlotterWriter): PlotterWriter[] {
  return Array.from({ length: 8 }, (_, i) => plotterWriter(writer.font, 201 + i));
}

/** Latin writers of the other print fonts (every one but the training font), each with its own pen style (seeds 211...). */
function otherFontWriters(trainingFont: string): PlotterWriter[] {
  return LATIN_PRINT_FONTS.filter((key) => key !== trainingFont).map((key, i) => plotterWriter(loadPlotterFont(key), 211 + i));
}

/** The 8 test writers of the independent generator (src/data/testWriters.ts, seeds 401-408). */
function otherHandWriters(): TestWriter[] {
  return Array.from({ length: 8 }, (_, i) => testWriter(401 + i));
}

/**
 * Top-1 of `model` on a dataset, through the recognizer's ink path (`inkImage` at the model's pen width, as
 * `inkImageFor`); per writer too. `penWidthScale`: a factor on the pen width per writer id (the test writers' pens).
 */
async function score(model: ScriptModel, dataset: InkDataset, penWidthScale: Record<string, number> = {}): Promise<{ all: Score; perWriter: Record<string, Score> }> {
  const recognizer = createRecognizer(model.model, model.metadata);
  const preprocess = preprocessorFor(model.metadata);
  const [height, width] = model.metadata.inputShape;
  const pixels = height * width;
  const classes = model.metadata.classes.length;
  const indexOf = new Map(model.metadata.classes.map((label, i) => [label, i]));
  const perWriter: Record<string, Score> = {};
  let correct = 0;
  let unreadable = 0;
  const confusions = new Map<string, number>();
  const writerConfusions = new Map<string, Map<string, number>>();
  const batch = 256;
  for (let start = 0; start < dataset.samples.length; start += batch) {
    const samples = dataset.samples.slice(start, start + batch);
    const inputs = new Float32Array(samples.length * pixels);
    const readable = samples.map((sample, i) => {
      try {
        const penWidth = inkPenWidthFor(model.metadata) * (penWidthScale[sample.writer ?? ''] ?? 1);
        inputs.set(preprocess(inkImage(sampleInk(sample), { penWidth }), `sample ${start + i}`), i * pixels);
        return true;
      } catch {
        return false;
      }
    });
    const probabilities = await recognizer.predictProbabilities(inputs, samples.length);
    samples.forEach((sample, i) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
      const right = readable[i] && best === indexOf.get(sample.label) ? 1 : 0;
      correct += right;
      if (!right) {
        const key = `${sample.label} -> ${readable[i] ? model.metadata.classes[best] : '(unreadable)'}`;
        confusions.set(key, (confusions.get(key) ?? 0) + 1);
        const mine = writerConfusions.get(sample.writer ?? '?') ?? new Map<string, number>();
        mine.set(key, (mine.get(key) ?? 0) + 1);
        writerConfusions.set(sample.writer ?? '?', mine);
      }
      if (!readable[i]) unreadable++;
      const writer = (perWriter[sample.writer ?? '?'] ??= { correct: 0, total: 0, accuracy: 0, unreadable: 0 });
      writer.correct += right;
      writer.total++;
      if (!readable[i]) writer.unreadable++;
    });
  }
  for (const [id, s] of Object.entries(perWriter)) {
    s.accuracy = s.correct / s.total;
    s.confusions = Object.fromEntries([...(writerConfusions.get(id) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 5));
  }
  const top = Object.fromEntries([...confusions].sort((a, b) => b[1] - a[1]).slice(0, 8));
  return { all: { correct, total: dataset.samples.length, accuracy: correct / Math.max(1, dataset.samples.length), unreadable, confusions: top }, perWriter };
}

/** Options of `runTeachBench`. */
export interface TeachBenchOptions {
  bases: BaseName[];
  scripts: ScriptName[];
  /** Training writers per script, 1-3. */
  writers: number;
  /** A smoke run: a tenth of the recipe, 5 test samples per symbol. */
  quick: boolean;
  /** `trainInkScript` options that replace the recipe's (tuning experiments: `--recipe '{"headEpochs": 40}'`). */
  overrides?: TrainInkScriptOptions;
  /** Called with a line per finished run. */
  log?: (line: string) => void;
  /**
   * `--base-classes PREFIX`: where the base model has classes `<PREFIX><label>` for some of the script's labels (a
   * Latin glyph base's `latin/a`...), training starts from the base as `startFrom` with those classes renamed to the
   * labels: the script model reads the base's penultimate features and those labels' output units start from the
   * base's units (others fresh). Scripts none of whose labels the base knows train as usual.
   */
  baseClassPrefix?: string;
}

/** The recipe options of a run (the defaults; --quick: much less). */
function recipe(quick: boolean): TrainInkScriptOptions {
  return quick ? { seed: 1, variantsPerSample: 8, headEpochs: 5, fineTuneEpochs: 1 } : { seed: 1 };
}

/** Trains and scores every base x script x training writer. */
export async function runTeachBench(options: TeachBenchOptions): Promise<{ runs: TeachRun[]; failures: TeachFailure[] }> {
  await setupBackend();
  const runs: TeachRun[] = [];
  const failures: TeachFailure[] = [];
  const testSamples = options.quick ? 5 : 20;
  const otherSamples = options.quick ? 2 : 5;
  for (const baseName of options.bases) {
    const dir = baseName.includes('/') ? resolve(baseName) : join(ROOT, 'models', baseName);
    const base: ScriptModel = { model: await loadModel(dir), metadata: await readMetadata(dir) };
    for (const script of options.scripts) {
      const { chars, labels } = scriptSymbols(script);
      for (const writer of trainingWriters(script, options.writers)) {
        const font = writer.font.key;
        const training = writerDataset([writer], chars, { script, labels, samplesPerClass: 5, seed: 1 });
        const sameWriter = writerDataset([writer], chars, { script, labels, samplesPerClass: testSamples, seed: 2 });
        const styles = writerDataset(otherStyleWriters(writer), chars, { script, labels, samplesPerClass: otherSamples, seed: 3 });
        const fonts = script === 'latin' ? writerDataset(otherFontWriters(font), chars, { script, labels, samplesPerClass: otherSamples, seed: 5 }) : null;
        const hands = otherHandWriters();
        const handsData = testWriterDataset(chars.map((c) => glyphInk(writer.font, c)), hands, { script, labels, samplesPerClass: otherSamples, seed: 6, idPrefix: font });
        const handPens = Object.fromEntries(hands.map((h) => [`${font}/${h.id}`, h.penWidthScale]));
        const cursive = script === 'latin' ? writerDataset(LATIN_CURSIVE_FONTS.map((key, i) => plotterWriter(loadPlotterFont(key), 301 + i)), chars, { script, labels, samplesPerClass: otherSamples, seed: 4 }) : null;

        const phaseStart: Record<string, number> = {};
        let usableMs = 0;
        const started = performance.now();
        let model: ScriptModel;
        const startFrom = options.baseClassPrefix === undefined ? null : baseKnowingLabels(base, labels, options.baseClassPrefix);
        try {
          model = await trainInkScript(training, base, {
            ...recipe(options.quick),
            ...options.overrides,
            ...(startFrom ? { startFrom } : {}),
            onProgress: (progress) => {
              phaseStart[progress.phase] ??= progress.elapsedMs;
            },
            onUsable: () => {
              usableMs = performance.now() - started;
            },
          });
        } catch (error) {
          failures.push({ base: baseName, script, writer: writer.id, error: error instanceof Error ? error.message : String(error), session: 0 });
          options.log?.(`${baseName} ${script} ${writer.id}: training failed: ${String(error)}`);
          continue;
        }
        const totalMs = performance.now() - started;
        try {
          const head = phaseStart['head'] ?? usableMs;
          const fineTune = phaseStart['fine-tune'] ?? totalMs;
          const same = await score(model, sameWriter);
          const other = await score(model, styles);
          const otherFonts = fonts ? await score(model, fonts) : null;
          const joined = cursive ? await score(model, cursive) : null;
          const otherHands = await score(model, handsData, handPens);
          const run: TeachRun = {
            base: baseName,
            script,
            writer: writer.id,
            seconds: {
              synthesis: round(head / 1000),
              head: round((usableMs - head) / 1000),
              fineTune: round((totalMs - Math.min(fineTune, totalMs)) / 1000),
              usable: round(usableMs / 1000),
              total: round(totalMs / 1000),
            },
            validationAccuracy: model.metadata.testAccuracy,
            sameWriter: same.all,
            otherStyles: other.all,
            perOtherStyle: other.perWriter,
            otherHands: otherHands.all,
            perOtherHand: otherHands.perWriter,
            otherFonts: otherFonts?.all ?? null,
            perOtherFont: otherFonts?.perWriter ?? null,
            cursive: joined?.all ?? null,
            perCursiveWriter: joined?.perWriter ?? null,
            session: 0,
          };
          runs.push(run);
          options.log?.(
            `${baseName} ${script} ${writer.id}: same writer ${percent(same.all)}, other pen styles ${percent(other.all)}, other hands (independent) ${percent(otherHands.all)}` +
              `${otherFonts ? `, other print fonts ${percent(otherFonts.all)}` : ''}` +
              `${joined ? `, cursive ${percent(joined.all)}` : ''}; usable ${run.seconds.usable} s, total ${run.seconds.total} s`,
          );
        } finally {
          model.model.dispose();
        }
      }
    }
    base.model.dispose();
  }
  return { runs, failures };
}

const round = (x: number): number => Math.round(x * 10) / 10;
const percent = (s: Score): string => `${(100 * s.accuracy).toFixed(1)}% (${s.correct}/${s.total})`;

/** Mean, min and max of numbers. */
function spread(values: number[]): { mean: number; min: number; max: number } {
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values) };
}

/** bench/teach.md: the table, what was measured, the command. */
export function teachMarkdown(report: TeachReport, quick: boolean): string {
  const { runs, failures, sessions } = report;
  const pct = (s: Score | null): string => (s ? `${(100 * s.accuracy).toFixed(1)}% (${s.correct}/${s.total})` : '-');
  const lines = [
    '# Teaching a script: 26 symbols from 5 samples each',
    '',
    `Targets (issue 11): at least 95% top-1 on 20 more samples per symbol by the same writer, at least 85% on other writers. Other writers are measured three ways: the same glyphs by other pen styles (the augmentation's own generator: flattering), the same glyphs by other hands of an independent generator (src/data/testWriters.ts, sharing no code with the augmentation), and (Latin) other print fonts by their own pen styles; cursive fonts apart.${quick ? ' --quick: a smoke run, not the recipe.' : ''}`,
    '',
    'Measured by (the run column refers to these):',
    '',
    ...sessions.map((x, i) => `${i + 1}. \`${x.command}\` on ${x.machine}, ${x.date.slice(0, 16).replace('T', ' ')} UTC; recipe code ${x.recipeCode ?? 'unknown'}, options \`${JSON.stringify(x.recipe)}\``),
    '',
    '| base | script | training writer | same writer | other pen styles | other hands (independent generator) | other print fonts | cursive fonts | synthesis s | head s | fine-tune s | usable s | total s | run |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.base} | ${r.script} | ${r.writer} | ${pct(r.sameWriter)} | ${pct(r.otherStyles)} | ${pct(r.otherHands ?? null)} | ${pct(r.otherFonts)} | ${pct(r.cursive)} | ${r.seconds.synthesis} | ${r.seconds.head} | ${r.seconds.fineTune} | ${r.seconds.usable} | ${r.seconds.total} | ${r.session + 1} |`,
    ),
    '',
  ];
  const unreadable = runs.reduce((n, r) => n + [r.sameWriter, r.otherStyles, r.otherHands ?? null, r.otherFonts, r.cursive].reduce((m, s) => m + (s?.unreadable ?? 0), 0), 0);
  if (unreadable > 0) lines.push(`${unreadable} test samples in all could not be read (the preprocessing profile found no ink): counted as wrong.`, '');
  const groups = new Map<string, TeachRun[]>();
  for (const r of runs) groups.set(`${r.base} ${r.script}`, [...(groups.get(`${r.base} ${r.script}`) ?? []), r]);
  lines.push(
    'Spread over the training writers (mean, min-max):',
    '',
    '| base | script | writers | same writer | other pen styles | other hands (independent generator) | other print fonts | cursive fonts | usable s | total s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [key, group] of groups) {
    const show = (values: number[], scale = 100, digits = 1): string => {
      const s = spread(values);
      return `${(s.mean * scale).toFixed(digits)} (${(s.min * scale).toFixed(digits)}-${(s.max * scale).toFixed(digits)})`;
    };
    const optional = (scores: (Score | null)[]): string => (scores.every((x) => x) ? `${show(scores.map((x) => x!.accuracy))}%` : '-');
    lines.push(
      `| ${key.replace(' ', ' | ')} | ${group.length} | ${show(group.map((r) => r.sameWriter.accuracy))}% | ${show(group.map((r) => r.otherStyles.accuracy))}% | ${optional(group.map((r) => r.otherHands ?? null))} | ${optional(
        group.map((r) => r.otherFonts),
      )} | ${optional(group.map((r) => r.cursive))} | ${show(
        group.map((r) => r.seconds.usable),
        1,
      )} | ${show(group.map((r) => r.seconds.total), 1)} |`,
    );
  }
  const latin = runs.filter((r) => r.perOtherFont);
  if (latin.length > 0) {
    const fonts = new Map<string, { base: string; correct: number; total: number }[]>();
    for (const r of latin) {
      for (const [writer, s] of [...Object.entries(r.perOtherFont!), ...Object.entries(r.perCursiveWriter ?? {})]) {
        const font = writer.split('/')[0]!;
        const row = fonts.get(font) ?? [];
        const cell = row.find((c) => c.base === r.base) ?? row[row.push({ base: r.base, correct: 0, total: 0 }) - 1]!;
        cell.correct += s.correct;
        cell.total += s.total;
        fonts.set(font, row);
      }
    }
    const bases = [...new Set(latin.map((r) => r.base))];
    lines.push('', 'Latin, per font of the other writers (all training writers of a base together):', '', `| font | ${bases.join(' | ')} |`, `|---|${bases.map(() => '---|').join('')}`);
    for (const [font, row] of fonts) {
      const cells = bases.map((b) => row.find((c) => c.base === b)).map((c) => (c ? `${((100 * c.correct) / c.total).toFixed(1)}% (${c.correct}/${c.total})` : '-'));
      lines.push(`| ${font}${LATIN_CURSIVE_FONTS.includes(font) ? ' (cursive)' : ''} | ${cells.join(' | ')} |`);
    }
    const confusions = new Map<string, number>();
    for (const r of latin) for (const [key, n] of Object.entries(r.otherFonts?.confusions ?? {})) confusions.set(key, (confusions.get(key) ?? 0) + n);
    const top = [...confusions].sort((a, b) => b[1] - a[1]).slice(0, 12);
    if (top.length > 0) lines.push('', `Most frequent errors on other print fonts (label -> answer: count, all Latin runs): ${top.map(([k, n]) => `${k}: ${n}`).join(', ')}.`);
    for (const b of bases) {
      const perFont = new Map<string, Map<string, number>>();
      for (const r of latin.filter((x) => x.base === b))
        for (const [writer, sc] of Object.entries(r.perOtherFont!)) {
          const font = writer.split('/')[0]!;
          const m = perFont.get(font) ?? new Map<string, number>();
          for (const [key, n] of Object.entries(sc.confusions ?? {})) m.set(key, (m.get(key) ?? 0) + n);
          perFont.set(font, m);
        }
      const parts = [...perFont].filter(([, m]) => m.size > 0).map(([font, m]) => `${font}: ${[...m].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, n]) => `${k} ${n}`).join(', ')}`);
      if (parts.length > 0) lines.push('', `Most frequent errors per other print font, ${b} (each training writer's 5 most frequent per font, summed): ${parts.join('; ')}.`);
    }
  }
  const handRuns = runs.filter((r) => r.perOtherHand);
  if (handRuns.length > 0) {
    const keys = [...new Set(handRuns.map((r) => `${r.base} ${r.script}`))];
    const hands = [...new Set(handRuns.flatMap((r) => Object.keys(r.perOtherHand!).map((w) => w.split('/').pop()!)))];
    lines.push('', 'Other hands (independent generator), per test writer (all training writers of a base and script together):', '', `| writer | ${keys.join(' | ')} |`, `|---|${keys.map(() => '---|').join('')}`);
    for (const hand of hands) {
      const cells = keys.map((key) => {
        let correct = 0;
        let total = 0;
        for (const r of handRuns.filter((x) => `${x.base} ${x.script}` === key))
          for (const [w, sc] of Object.entries(r.perOtherHand!))
            if (w.split('/').pop() === hand) {
              correct += sc.correct;
              total += sc.total;
            }
        return total ? `${((100 * correct) / total).toFixed(1)}% (${correct}/${total})` : '-';
      });
      lines.push(`| ${hand} | ${cells.join(' | ')} |`);
    }
    const confusions = new Map<string, number>();
    for (const r of handRuns) for (const [key, n] of Object.entries(r.otherHands?.confusions ?? {})) confusions.set(key, (confusions.get(key) ?? 0) + n);
    const top = [...confusions].sort((a, b) => b[1] - a[1]).slice(0, 12);
    if (top.length > 0) lines.push('', `Most frequent errors on other hands (label -> answer: count, all runs): ${top.map(([k, n]) => `${k}: ${n}`).join(', ')}.`);
  }
  const failed = failures.map((f) => `- ${f.base} ${f.script} ${f.writer} (run ${f.session + 1}): training failed: ${f.error}`);
  if (failed.length > 0) lines.push('', 'Runs that failed:', '', ...failed);
  lines.push(
    '',
    '## What was measured',
    '',
    '- A writer is generated: a single-stroke plotter font of the `hersheytext` package (the letterforms; src/data/plotterFonts.ts) written by a pen style drawn from a seed (`randomWriterStyle`: slant, aspect, stroke placement, curvature, jitter, corner smoothing, pen-lift joins), with fresh per-character variation in every sample (`handwrite`, src/data/synth/handwriting.ts). Writer ids are `<font>/<style seed>`.',
    `- Training: 5 samples per symbol by one writer, an \`hwr-ink-dataset\`; \`trainInkScript\` (src/train/inkScript.ts) with the recipe listed beside each command above (its defaults, or --quick's smaller one), seed 1, in Node on the TF.js wasm backend with hwr's SIMD training kernels, one process (the page trains the same code in a worker). Seconds: synthesis (augment and render, frozen features), head (new classifier), fine-tune; usable = when the head-phase model exists. Where the base knows every label of the script (glyphs-latin and Latin a-z: its \`latin/\` classes), \`trainInkScript\` starts from the base's own units for them and applies \`KNOWN_LABELS_RECIPE\` (\`{"headLearningRate":0.0005,"fineTuneEpochs":0}\`) over the options listed, as \`hwr train --data ink:\` and the page do (the glyphs-latin Latin rows); the invented alphabet's labels are unknown to every base, so its rows use the options as listed.`,
    `- Same writer: ${quick ? 5 : 20} more samples per symbol by the training writer (same font and pen style, other per-character variation).`,
    `- Latin (a-z): training writers ${LATIN_TRAINING_FONTS.map((f, i) => `${f}/${101 + i}`).join(', ')} (Hershey Sans 1-stroke, EMS Readability, EMS Elfin). Other print fonts: ${quick ? 2 : 5} samples per symbol by each of ${LATIN_PRINT_FONTS.join(', ')} other than the training font (Hershey Sans 1-stroke; EMS Readability and its italic, Tech, Nixish and its italic, Elfin and Felix (hand-like), Osmotron (square)), each with its own pen style (seeds 211...). Print fonts differ in some letterforms (single- or double-storey a and g, italic shapes, square bowls), not only in the hand. Cursive fonts (${LATIN_CURSIVE_FONTS.join(', ')}: Hershey Script 1-stroke, its alternate, EMS Allure; pen styles 301...) are reported apart: joined-up letterforms. Only single-stroke fonts are used: Hershey's serif and medium fonts draw thick parts as double lines.`,
    `- Invented alphabet (\`symbols\`): 26 single-line signs of Hershey's \`symbolic\` font (circle, square, triangles, diamond, stars, crosses, flag, anchor, moon, bell, palm, tree, shamrock, section sign, daggers, card suits, root: no letter shapes), labels sym-a ... sym-z; training writers are pen styles 101-103 on these glyphs.`,
    `- Other pen styles (both scripts): the training writer's font written by 8 other pen styles (seeds 201-208), ${quick ? 2 : 5} samples per symbol each.`,
    `- Other hands (independent generator), both scripts: the training writer's glyphs as the font draws them (\`glyphInk\`, never passed through \`handwrite\`, \`randomWriterStyle\` or \`augmentInk\`), deformed by 8 test writers of src/data/testWriters.ts (seeds 401-408), ${quick ? 2 : 5} samples per symbol each (seed 6). Per writer (fixed): a shear (-0.3..0.3), rotation (-0.12..0.12 rad) and aspect (0.8..1.25) about the glyph's centre; its own elastic displacement field (Simard, Steinkraus, Platt, ICDAR 2003: uniform [-1, 1] displacements on a 17 x 17 grid over the glyph box, smoothed by a Gaussian of sigma 0.15-0.25 glyph sizes, scaled to a largest displacement alpha of 0.07-0.1 glyph sizes); a point spacing of 0.015-0.06 glyph sizes (strokes resampled by arc length); probabilities 0-0.5 of drawing a stroke backwards and of reversing the stroke order; a pen width of 0.7-1.4 times the model's. Per sample: shear +-0.08, rotation +-0.05 rad, aspect x exp(+-0.06) and a fresh elastic field (alpha 0.04-0.06). It has its own random numbers (SplitMix32) and imports nothing of the augmentation or of src/train, and nothing there imports it: the recipe never saw this generator. bench/teach-other-hands.png shows samples (\`npx tsx bench/teach.ts --other-hands-png bench/teach-other-hands.png\`).`,
    '- Top-1: the arg max of the trained model\'s probabilities on the recognizer\'s ink path (`inkImageFor` at the model\'s pen width, the base model\'s preprocessing profile).',
    '- A caveat: the recipe\'s augmentation (`augmentInk`, src/data/inkAugment.ts) writes its variants with the same generator (`randomWriterStyle` + `handwrite`) as these writers, so the pen-style differences of the test writers lie within what training saw, and the same-writer and other-pen-style figures flatter the recipe. The other hands come from an independent generator (same letterforms, other hands): the honest measure of other writers copying the same symbols. The other fonts\' letterform differences are not generated by the augmentation either: a letterform change, not a hand.',
    '- Times are wall-clock; unless the machine was idle they include other processes\' load.',
    '',
  );
  return `${lines.join('\n')}\n`;
}

/** `recipeCode` of a session: the last commit of the recipe's files, from git (`unknown` without git). */
function recipeCode(): string {
  const files = ['src/train/inkScript.ts', 'src/data/inkAugment.ts'];
  const git = (args: string[]): string => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git(['log', '-1', '--format=%h', '--', ...files]);
  if (!commit) return 'unknown';
  return git(['status', '--porcelain', '--', ...files]) ? `${commit}+changes` : commit;
}

/** A line about the machine. */
function machineLine(): string {
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.versions.node}, load ${loadavg()[0]!.toFixed(1)} at the start`;
}

/**
 * A sample grid of the independent generator's other hands (bench/teach-other-hands.png), for a reader to judge the
 * deformation: per script (Latin: Hershey Sans 1-stroke, the first training font; the invented alphabet), a row of
 * the font's glyphs as they are, then one sample per test writer 401-408 (their pen widths on the digits model's
 * 0.12), 48 px cells, black on white, one gray line between the scripts. Written with sharp.
 */
async function writeOtherHandsPng(path: string): Promise<void> {
  const cell = 48;
  const scripts: { chars: string[]; font: ReturnType<typeof loadPlotterFont> }[] = [
    { chars: [...LATIN_LOWERCASE], font: loadPlotterFont(LATIN_TRAINING_FONTS[0]!) },
    { chars: [...INVENTED_ALPHABET.chars], font: loadPlotterFont(INVENTED_ALPHABET.font) },
  ];
  const hands = otherHandWriters();
  const rowsPer = hands.length + 1;
  const width = 26 * cell;
  const height = scripts.length * rowsPer * cell + (scripts.length - 1) * 4;
  const gray = new Uint8Array(width * height).fill(255);
  const random = testRandom(6);
  scripts.forEach(({ chars, font }, k) => {
    const top = k * (rowsPer * cell + 4);
    if (k > 0) gray.fill(160, (top - 3) * width, (top - 1) * width);
    for (let row = 0; row < rowsPer; row++)
      chars.forEach((char, col) => {
        const glyph = glyphInk(font, char);
        const hand = row === 0 ? null : hands[row - 1]!;
        const ink = hand ? writeTestSample(glyph, hand, random) : glyph;
        const image = inkImage(ink, { size: cell, penWidth: 0.12 * (hand?.penWidthScale ?? 1) });
        for (let y = 0; y < cell; y++) for (let x = 0; x < cell; x++) gray[(top + row * cell + y) * width + col * cell + x] = image.data[(y * cell + x) * 4]!;
      });
  });
  const { default: sharp } = await import('sharp');
  await sharp(Buffer.from(gray), { raw: { width, height, channels: 1 } }).png().toFile(path);
}

/** Runs the evaluation with command-line flags and writes `teach.json` and `teach.md` into `--out` (default bench/). */
export async function teachMain(argv: string[], command: string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string', default: 'glyphs-latin,digits' },
      script: { type: 'string', default: 'latin,symbols' },
      writers: { type: 'string', default: '3' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      recipe: { type: 'string' },
      'base-classes': { type: 'string' },
      'other-hands-png': { type: 'string' },
    },
  });
  if (values['other-hands-png'] !== undefined) {
    await writeOtherHandsPng(resolve(values['other-hands-png']));
    process.stdout.write(`written: ${resolve(values['other-hands-png'])}\n`);
    return;
  }
  const bases = values.base!.split(',') as BaseName[];
  const scripts = values.script!.split(',') as ScriptName[];
  const writers = Number(values.writers);
  if (bases.some((b) => !SHIPPED_BASES.includes(b) && !b.includes('/'))) throw new Error(`--base ${values.base}: expected some of ${SHIPPED_BASES.join(', ')} or model folders (a path with a /)`);
  if (scripts.some((s) => s !== 'latin' && s !== 'symbols')) throw new Error(`--script ${values.script}: expected latin, symbols or both`);
  if (!(Number.isInteger(writers) && writers >= 1 && writers <= 3)) throw new Error(`--writers ${values.writers}: expected 1, 2 or 3`);
  const quick = values.quick!;
  let overrides: TrainInkScriptOptions = {};
  try {
    overrides = values.recipe === undefined ? {} : (JSON.parse(values.recipe) as TrainInkScriptOptions);
  } catch (error) {
    throw new Error(`--recipe ${values.recipe}: not JSON (${(error as Error).message})`);
  }
  const session: TeachSession = {
    command,
    machine: machineLine(),
    date: new Date().toISOString(),
    recipe: { ...(quick ? recipe(true) : INK_SCRIPT_DEFAULTS), ...overrides },
    recipeCode: recipeCode(),
  };
  const measured = await runTeachBench({ bases, scripts, writers: quick ? 1 : writers, quick, overrides, baseClassPrefix: values['base-classes'], log: (line) => process.stderr.write(`teach: ${line}\n`) });
  const outDir = resolve(values.out ?? join(ROOT, quick ? '.tmp' : 'bench'));
  await mkdir(outDir, { recursive: true });
  // Runs of a base and script not measured now are kept from the previous teach.json (as bench.ts keeps sections).
  const previous = await readFile(join(outDir, 'teach.json'), 'utf8').then((text) => JSON.parse(text) as TeachReport, () => null);
  const remeasured = (r: { base: string; script: string }): boolean => bases.includes(r.base as BaseName) && scripts.includes(r.script as ScriptName);
  const kept = previous?.sessions ? previous.runs.filter((r) => !remeasured(r)) : [];
  const keptFailures = previous?.sessions ? previous.failures.filter((f) => !remeasured(f)) : [];
  const sessions = [...new Set([...kept, ...keptFailures].map((r) => r.session))].map((i) => previous!.sessions[i]!);
  const renumber = (i: number): number => sessions.indexOf(previous!.sessions[i]!);
  sessions.push(session);
  const now = sessions.length - 1;
  const report: TeachReport = {
    sessions,
    runs: [...kept.map((r) => ({ ...r, session: renumber(r.session) })), ...measured.runs.map((r) => ({ ...r, session: now }))],
    failures: [...keptFailures.map((f) => ({ ...f, session: renumber(f.session) })), ...measured.failures.map((f) => ({ ...f, session: now }))],
  };
  const md = teachMarkdown(report, quick);
  await writeFile(join(outDir, 'teach.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, 'teach.md'), md);
  process.stdout.write(`${md}\nwritten: ${join(outDir, 'teach.json')}, ${join(outDir, 'teach.md')}\n`);
  tf.disposeVariables();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  await teachMain(argv, `npx tsx bench/teach.ts${argv.length ? ` ${argv.join(' ')}` : ''}`);
}

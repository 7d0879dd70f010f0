/**
 * Pretrains a glyph base, a candidate feature extractor for teaching a script (issue 11): hwr-net (28x28, the
 * `mnist-com-v1` profile, like `digits`, so the page's cost per image stays the same) trained to tell apart several
 * hundred non-Latin letterforms and signs, in the hope that its convolutional layers describe shape detail
 * (ascenders, descenders, dots, hooks, bowls) better than features learned from 10 digit classes.
 * Measured (notes/TEACH-RECIPE.md, "A glyph base"): it does not: Latin taught from 5 samples of one writer reads other
 * print fonts about as well from it as from `digits` (within 2 points, slightly below), so it is not shipped and
 * `digits` stays the default base. Kept as the reproducible experiment (bench/teach.ts takes its folder as `--base`).
 * With `--latin-fonts` (40 Latin letter classes from outline fonts, never a plotter font's: notes/TEACH-RECIPE.md, "A
 * Latin glyph base"), shipped as models/glyphs-latin: its convolutional features alone do not help either (76.5%), but
 * a script whose labels it knows, started from its own output units (`baseKnowingLabels`, bench/teach.ts
 * `--base-classes latin/`, head lr 0.0005, no fine-tuning), reads other print fonts at 87.6% (digits 77.6%).
 *
 *   npx tsx scripts/train-glyph-base.ts --rounds 2 --out runs/glyphs     (the measured base: 601 classes, ~32 min CPU)
 *   options: --rounds 4  --per-class 80  --passes 2  --hanzi 300  --seed 1  --learning-rate 0.001  --batch-size 64
 *            --init models/digits (the starting weights of every layer but the output one, and of that one too when its
 *              shape is this run's, i.e. continuing a glyph base with the same classes; `none`: fresh)
 *            --checkpoints DIR (a model folder per round, DIR/glyphs-round<N>; default none)
 *            --latin-fonts (also Latin letter classes `latin/<letter>` from the machine's outline fonts, never from a
 *              Hershey/EMS font: scripts/latinOutlineFonts.ts; the faces are listed in metadata.json's trainingData)
 *            --latin-weight 2 (with --latin-fonts: images per Latin class and round, as a multiple of --per-class)
 *
 * The classes (`glyphBaseClasses`, every one listed in metadata.json's `classes`), and never a Latin letter:
 * - Hershey `greek` (1-stroke): the Greek letters without a Latin twin (upper Γ Δ Θ Λ Ξ Π Σ Φ Ψ Ω, lower β δ ε ζ η
 *   ϑ λ μ ξ σ φ ψ; left out: Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ and α γ ι κ ν ο ρ τ υ χ ω, which look like a Latin letter);
 * - the signs of Hershey `mathlow`, `mathupp`, `meteorology`, `astrology`, `music` at the codes of non-letters (these
 *   fonts draw Latin letters at A-Z and a-z: those codes are left out), digits 2-9 (0 and 1 left out: o and l) and
 *   the ASCII signs # $ % & ( ) * + / < = > ? @ [ \ ] ^ { } ~ pooled over the fonts that draw them as usual;
 * - Hershey `japanese`: its kana and kanji (all its 192 codes but the placeholder diamond);
 * - hanzi: the first `--hanzi` characters of the shipped hanzi model's classes (GB 2312 level 1 order) with 2 to 8
 *   strokes, from the stroke medians of `hanzi-writer-data` (src/data/synth/hanziStrokes.ts).
 * Left out: every Latin letter of every font (the teach-a-script test: futural, the EMS fonts, scripts, cursive,
 * times*, gothic*), Hershey `cyrillic` (a double-line serif font, and half its letters have a Latin twin), `markers`
 * and any glyph drawn exactly like one of Hershey `symbolic`'s (the invented-alphabet test), glyphs drawn exactly like
 * an earlier class's (merged into it).
 *
 * Each training image: a class, one of its glyphs, `augmentInk` (a fresh synthetic writer: `randomWriterStyle` +
 * `handwrite`, whole-ink affine, dropped and split strokes, pen width factor), rendered exactly as recognition renders
 * ink (`inkImage` at the model's pen width x the factor, then the `mnist-com-v1` profile): the same pixels as
 * `trainInkScript` and `Recognizer.recognizeInk`. Every round renders `--per-class` fresh images per class and trains
 * `--passes` epochs on them (Adam, batch 64); a fixed held-out set (4 images per class, another seed) gives `testAccuracy`.
 * Starts from the digits model's weights (all layers but the output layer). Writes the model folder with float16
 * weights, metadata.json (classes, the exact glyph sets, the command) and SHA256SUMS.
 */
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../src/backend/backend.ts';
import { hwrError } from '../src/core/errors.ts';
import { inkImage, type Ink } from '../src/core/ink.ts';
import { inkPenWidthFor, preprocessorFor } from '../src/core/preprocessing.ts';
import { topKIndices } from '../src/core/recognizer.ts';
import type { ModelMetadata } from '../src/core/types.ts';
import { createRng, shuffledIndices, type Rng } from '../src/data/augment.ts';
import { augmentInk } from '../src/data/inkAugment.ts';
import { INVENTED_ALPHABET, type PlotterFont } from '../src/data/plotterFonts.ts';
import { loadHanziInk } from '../src/data/synth/hanziStrokes.ts';
import { createHwrNet } from '../src/models/hwrNet.ts';
import { loadModel, readMetadata, saveModel } from '../src/node/modelFiles.ts';
import { HWR_VERSION } from '../src/node/onnxCache.ts';
import { loadPlotterFont } from '../src/node/plotterFonts.ts';
import { machineDescription } from '../src/train/train.ts';
import { augmentOutlineGlyph, faceName, LATIN_OUTLINE_CHARS, LATIN_OUTLINE_FACES, renderLatinOutlineGlyphs } from './latinOutlineFonts.ts';

/** Greek letters of Hershey `greek` kept (its ASCII code -> the Greek letter): those without a Latin look-alike. */
export const GREEK_KEPT: Readonly<Record<string, string>> = Object.freeze({
  D: 'Δ', F: 'Φ', G: 'Γ', L: 'Λ', P: 'Π', Q: 'Θ', S: 'Σ', W: 'Ω', X: 'Ξ', Y: 'Ψ',
  b: 'β', d: 'δ', e: 'ε', f: 'φ', h: 'η', l: 'λ', m: 'μ', q: 'ϑ', s: 'σ', x: 'ξ', y: 'ψ', z: 'ζ',
});
/** Sign fonts whose non-letter codes are used (they draw Latin letters at A-Z, a-z). */
export const SIGN_FONTS = ['greek', 'mathlow', 'mathupp', 'meteorology', 'astrology', 'music'] as const;
/** ASCII signs pooled into one class each (`ascii/<sign>`) where a font draws them like `greek` (futural's) does. */
const ASCII_SIGNS = new Set([...'#$%&()*+/<=>?@[\\]^{}~']);
/** Digits kept (`digit/<d>`): 0 and 1 are left out (they look like o and l). */
const DIGITS = new Set([...'23456789']);

/**
 * One class of the base: its label and its glyphs (one or more drawings of it as ink), or, for the Latin classes of
 * `--latin-fonts`, its outline-font renders (`bitmaps`: `[128 * 128]` float32 ink maps, scripts/latinOutlineFonts.ts;
 * `glyphs` empty) and how many images per round it gets relative to `--per-class` (`weight`, default 1).
 */
export interface GlyphClass {
  label: string;
  glyphs: Ink[];
  bitmaps?: Float32Array[];
  weight?: number;
}

/**
 * The Latin letter classes of `--latin-fonts`: `latin/<letter>` for each of `LATIN_OUTLINE_CHARS`, each with its
 * renders by every face of `LATIN_OUTLINE_FACES` (3 thicknesses each); `weight` images per round relative to the others.
 */
export async function latinOutlineClasses(weight: number): Promise<GlyphClass[]> {
  const maps = await renderLatinOutlineGlyphs(LATIN_OUTLINE_FACES, LATIN_OUTLINE_CHARS);
  return LATIN_OUTLINE_CHARS.map((c) => ({ label: `latin/${c}`, glyphs: [], bitmaps: maps.get(c)!, weight }));
}

/** The rounded strokes of an ink as text: equal keys, equal drawings. */
function inkKey(ink: Ink): string {
  return ink.strokes.map((s) => s.map((p) => `${Math.round(p.x)},${Math.round(p.y)}`).join(' ')).join('|');
}

const isLatinLetter = (c: string): boolean => /^[A-Za-z]$/.test(c);

/**
 * The glyph classes of the base (see the module comment), in a fixed order.
 * @param hanziCount  how many hanzi (2-8 strokes) to take
 */
export async function glyphBaseClasses(hanziCount: number): Promise<GlyphClass[]> {
  const classes = new Map<string, GlyphClass>();
  const seen = new Map<string, string>(); // ink key -> class label
  const symbolic = loadPlotterFont(INVENTED_ALPHABET.font);
  for (const ink of symbolic.glyphs.values()) seen.set(inkKey(ink), '(symbolic: left out)');
  const add = (label: string, ink: Ink): void => {
    const key = inkKey(ink);
    if (seen.has(key)) return; // a symbolic sign (test) or a drawing an earlier class has
    seen.set(key, label);
    const entry = classes.get(label) ?? { label, glyphs: [] };
    entry.glyphs.push(ink);
    classes.set(label, entry);
  };
  const greek = loadPlotterFont('greek');
  const fonts: PlotterFont[] = SIGN_FONTS.map((key) => (key === 'greek' ? greek : loadPlotterFont(key)));
  for (const font of fonts) {
    for (const [char, ink] of font.glyphs) {
      if (isLatinLetter(char)) {
        if (font.key === 'greek' && GREEK_KEPT[char]) add(GREEK_KEPT[char]!, ink);
        continue;
      }
      if (/^[0-9]$/.test(char)) {
        if (DIGITS.has(char)) add(`digit/${char}`, ink);
        continue;
      }
      const usual = greek.glyphs.get(char);
      if (ASCII_SIGNS.has(char) && usual && inkKey(usual) === inkKey(ink)) add(`ascii/${char}`, ink);
      else if (!usual || inkKey(usual) !== inkKey(ink)) add(`${font.key}/${char.codePointAt(0)}`, ink);
      // else: a usual ASCII sign not among ASCII_SIGNS (. , ; : ! | ' ` " - _): left out
    }
  }
  const japanese = loadPlotterFont('japanese');
  const counts = new Map<string, number>();
  for (const ink of japanese.glyphs.values()) counts.set(inkKey(ink), (counts.get(inkKey(ink)) ?? 0) + 1);
  for (const [char, ink] of japanese.glyphs) {
    if ((counts.get(inkKey(ink)) ?? 0) > 1) continue; // the placeholder diamond, drawn at many codes
    add(`japanese/${char.codePointAt(0)}`, ink);
  }
  const hanziModel = await readMetadata('models/hanzi');
  let taken = 0;
  for (const char of hanziModel.classes) {
    if (taken >= hanziCount) break;
    const ink = await loadHanziInk(char);
    if (ink.strokes.length < 2 || ink.strokes.length > 8) continue;
    add(`hanzi/${char}`, ink);
    taken++;
  }
  return [...classes.values()];
}

/** Renders `perClass` augmented images of every class into `[count * 784]` inputs and labels. */
function render(classes: GlyphClass[], perClass: number, rng: Rng, metadata: ModelMetadata): { inputs: Float32Array; labels: Int32Array; count: number } {
  const preprocess = preprocessorFor(metadata);
  const penWidth = inkPenWidthFor(metadata);
  const images = (entry: GlyphClass): number => Math.round(perClass * (entry.weight ?? 1));
  const count = classes.reduce((sum, entry) => sum + images(entry), 0);
  const inputs = new Float32Array(count * 784);
  const labels = new Int32Array(count);
  let n = 0;
  const most = Math.max(...classes.map(images));
  for (let v = 0; v < most; v++) {
    classes.forEach((entry, label) => {
      if (v >= images(entry)) return;
      let picture;
      if (entry.bitmaps) {
        picture = augmentOutlineGlyph(entry.bitmaps[rng.int(entry.bitmaps.length)]!, rng);
      } else {
        const glyph = entry.glyphs[rng.int(entry.glyphs.length)]!;
        const variant = augmentInk(glyph, rng);
        picture = inkImage(variant, { penWidth: Math.min(0.5, penWidth * variant.penWidthFactor) });
      }
      inputs.set(preprocess(picture, `glyph ${entry.label}`), n * 784);
      labels[n++] = label;
    });
  }
  return { inputs, labels, count };
}

async function accuracy(model: tf.LayersModel, set: { inputs: Float32Array; labels: Int32Array; count: number }, classes: number): Promise<{ top1: number; top3: number }> {
  let top1 = 0;
  let top3 = 0;
  for (let start = 0; start < set.count; start += 256) {
    const n = Math.min(256, set.count - start);
    const p = tf.tidy(() => (model.predict(tf.tensor4d(set.inputs.subarray(start * 784, (start + n) * 784), [n, 28, 28, 1])) as tf.Tensor).dataSync());
    for (let i = 0; i < n; i++) {
      const top = topKIndices(p.subarray(i * classes, (i + 1) * classes) as Float32Array, 3);
      if (top[0] === set.labels[start + i]) top1++;
      if (top.includes(set.labels[start + i]!)) top3++;
    }
  }
  return { top1: top1 / set.count, top3: top3 / set.count };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'runs/glyphs' },
      rounds: { type: 'string', default: '4' },
      'per-class': { type: 'string', default: '80' },
      passes: { type: 'string', default: '2' },
      hanzi: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      'learning-rate': { type: 'string', default: '0.001' },
      'batch-size': { type: 'string', default: '64' },
      init: { type: 'string', default: 'models/digits' },
      checkpoints: { type: 'string', default: '' },
      'latin-fonts': { type: 'boolean', default: false },
      'latin-weight': { type: 'string', default: '2' },
    },
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw hwrError('BAD_ARGUMENT', `--${name}: expected a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
  const rounds = int('rounds', values.rounds!);
  const perClass = int('per-class', values['per-class']!);
  const passes = int('passes', values.passes!);
  const seed = int('seed', values.seed!);
  const batchSize = int('batch-size', values['batch-size']!);
  const learningRate = Number(values['learning-rate']);
  await setupBackend();
  const started = Date.now();
  const latinFonts = values['latin-fonts']!;
  const latinWeight = Number(values['latin-weight']);
  if (!(latinWeight > 0)) throw hwrError('BAD_ARGUMENT', `--latin-weight: expected a positive number, got ${JSON.stringify(values['latin-weight'])}`);
  const classes = [...(await glyphBaseClasses(int('hanzi', values.hanzi!))), ...(latinFonts ? await latinOutlineClasses(latinWeight) : [])];
  const K = classes.length;
  const groups = new Map<string, number>();
  for (const c of classes) {
    const group = c.label.includes('/') ? c.label.split('/')[0]! : 'greek';
    groups.set(group, (groups.get(group) ?? 0) + 1);
  }
  console.log(`${K} classes: ${[...groups].map(([g, n]) => `${g} ${n}`).join(', ')}`);
  const profile: ModelMetadata = await readMetadata('models/digits');
  const model = createHwrNet({ classes: K, seed });
  if (values.init !== 'none') {
    const init = await loadModel(values.init!);
    // The weight-bearing layers in order (a loaded model also has its InputLayer), all but the output layer.
    const from = init.layers.filter((l) => l.getWeights().length > 0);
    const to = model.layers.filter((l) => l.getWeights().length > 0);
    if (from.length !== to.length) throw hwrError('BAD_MODEL', `${values.init}: not an hwr-net model (${from.length} layers with weights, expected ${to.length})`);
    // The output layer too when its shape is this run's (continuing a glyph base with the same classes).
    const last = to.length - 1;
    const same = from[last]!.getWeights().every((w, k) => w.shape.join() === to[last]!.getWeights()[k]!.shape.join());
    for (let i = 0; i < (same ? to.length : last); i++) to[i]!.setWeights(from[i]!.getWeights());
    if (same) console.log(`${values.init}: output layer kept too (same ${K} classes): continuing it`);
  }
  const optimizer = tf.train.adam(learningRate);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const heldOut = render(classes, 4, createRng(seed + 0x5eed), profile);
  const heldOutLatin = render(classes.filter((c) => c.bitmaps).map((c) => ({ ...c, weight: 1 })), 8, createRng(seed + 0x1a7), profile);
  if (latinFonts) {
    // Labels of the Latin-only set are indices among the Latin classes: shift them to the full class list.
    const first = classes.findIndex((c) => c.bitmaps);
    for (let i = 0; i < heldOutLatin.count; i++) heldOutLatin.labels[i]! += first;
  }
  let result = { top1: 0, top3: 0 };
  for (let round = 1; round <= rounds; round++) {
    // tfjs-core keeps Adam's learning rate in a protected field that applyGradients reads on every step.
    if (round === rounds && rounds > 2) (optimizer as unknown as { learningRate: number }).learningRate = learningRate / 3;
    const t0 = Date.now();
    const set = render(classes, perClass, createRng(seed * 1000 + round), profile);
    const t1 = Date.now();
    let loss = 0;
    for (let pass = 1; pass <= passes; pass++) {
    const order = shuffledIndices(set.count, createRng(seed * 7919 + round * 31 + pass));
    if (pass === passes) loss = 0;
    for (let start = 0; start < set.count; start += batchSize) {
      const n = Math.min(batchSize, set.count - start);
      const xs = new Float32Array(n * 784);
      const ys = new Float32Array(n * K);
      for (let k = 0; k < n; k++) {
        const i = order[start + k]!;
        xs.set(set.inputs.subarray(i * 784, (i + 1) * 784), k * 784);
        ys[k * K + set.labels[i]!] = 1;
      }
      const x = tf.tensor4d(xs, [n, 28, 28, 1]);
      const y = tf.tensor2d(ys, [n, K]);
      const [l] = (await model.trainOnBatch(x, y)) as number[];
      x.dispose();
      y.dispose();
      loss += l! * n;
    }
    }
    result = await accuracy(model, heldOut, K);
    const latin = latinFonts ? await accuracy(model, heldOutLatin, K) : null;
    console.log(`round ${round}/${rounds}: rendered ${set.count} in ${((t1 - t0) / 1000).toFixed(0)} s, trained in ${((Date.now() - t1) / 1000).toFixed(0)} s, loss ${(loss / set.count).toFixed(3)}, held-out top-1 ${(result.top1 * 100).toFixed(1)}% top-3 ${(result.top3 * 100).toFixed(1)}%${latin ? ` (Latin classes ${(latin.top1 * 100).toFixed(1)}%)` : ''}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
    if (values.checkpoints) {
      const dir = `${values.checkpoints}/glyphs-round${round}`;
      await mkdir(dir, { recursive: true });
      await saveModel(model, dir, metadataOf(round, result), { float16: true });
    }
  }
  function metadataOf(epochs: number, r: { top1: number; top3: number }): ModelMetadata {
    const args = process.argv.slice(2).join(' ');
    return {
      name: latinFonts ? 'glyphs-latin' : 'glyphs',
      architecture: 'hwr-net',
      classes: classes.map((c) => c.label),
      inputShape: [28, 28, 1],
      preprocessing: profile.preprocessing,
      inkPenWidth: inkPenWidthFor(profile),
      parameters: model.countParams(),
      trainingData:
        (latinFonts
          ? `${K} glyph classes: ${LATIN_OUTLINE_CHARS.length} Latin letter classes latin/<letter> (${LATIN_OUTLINE_CHARS.join('')}) rendered from outline fonts only ` +
            `(${LATIN_OUTLINE_FACES.map(faceName).join('; ')}; sharp/librsvg/fontconfig, 3 outline thicknesses, ${latinWeight}x images per class; per image a rotation up to 0.14 rad, shear up to 0.3, ` +
            `aspect exp(+-0.3), an elastic 5x5 field up to 6% of the side; never a Hershey/EMS Latin letter, the teach-a-script test's fonts), and the non-Latin ones: `
          : `${K} glyph classes, none a Latin letter (`) +
        `(${[...groups].map(([g, n]) => `${g} ${n}`).join(', ')}): Hershey greek's Greek letters without a Latin look-alike ` +
        `(${Object.values(GREEK_KEPT).join('')}); the signs of Hershey ${SIGN_FONTS.join(', ')} at non-letter codes (digits 2-9 as digit/<d>, usual ASCII signs pooled as ascii/<sign>, ` +
        `other signs as <font>/<code>); Hershey japanese (kana and kanji, japanese/<code>); ${groups.get('hanzi') ?? 0} hanzi with 2-8 strokes (hanzi-writer-data medians, GB 2312 order). ` +
        `Left out: Latin letters of every plotter font (Hershey, EMS), Hershey cyrillic, markers and symbolic (the invented-alphabet test), duplicate drawings. ` +
        `${perClass} fresh images per class and round, ${passes} epochs on each round's images (augmentInk: a synthetic writer, randomWriterStyle + handwrite; rendered by inkImage + mnist-com-v1 as recognition does), ${epochs} round${epochs === 1 ? '' : 's'}; ` +
        `initialized from ${values.init}`,
      epochs,
      testAccuracy: r.top1,
      top3Accuracy: r.top3,
      testData: `held-out synthetic writers: 4 augmented images per class (${4 * K} images, another seed)${latinFonts ? '; the Latin classes are outline-font renders (not the teach-a-script test)' : '; no Latin letters'}`,
      trainingSeconds: Math.round((Date.now() - started) / 1000),
      trainedOn: machineDescription(),
      command: `npx tsx scripts/train-glyph-base.ts ${args}`.trim(),
      date: new Date().toISOString(),
      version: HWR_VERSION,
    };
  }
  await mkdir(values.out!, { recursive: true });
  await saveModel(model, values.out!, metadataOf(rounds, result), { float16: true });
  console.log(`wrote ${values.out} (${K} classes, held-out top-1 ${(result.top1 * 100).toFixed(1)}%)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

/**
 * `readLine`: one line of handwriting (an image or ink) read with a character model, by recognition-based
 * segmentation (Casey and Lecolinet, "A survey of methods and strategies in character segmentation", IEEE TPAMI 18(7),
 * 1996, section 4; Fujisawa, Nakano and Kurino, "Segmentation methods for character recognition", Proc. IEEE 80(7),
 * 1992):
 *
 * 1. over-segmentation into primitives (./imageSegments.ts: components and cuts at contour valleys; ./inkSegments.ts:
 *    stroke groups), left to right;
 * 2. candidates: runs of 1..`MAX_PRIMITIVES` consecutive primitives no wider than `MAX_CANDIDATE_WIDTH` character
 *    heights, each cut out as an ink crop and normalized as the model's profile does (`segmentPreprocessorFor`),
 *    all classified in one batch (`Recognizer.predictProbabilities`, calibrated);
 * 3. a beam search (./search.ts) over the lattice of cuts: a path's score is the sum over its characters of
 *    log p(label | segment) (the rejection class costs `REJECT_COST` more), plus geometric log-priors (a candidate wider
 *    than a character, white space inside a candidate, a cut through ink), with the constraint (./constraints.ts)
 *    stepped inside the beam and punctuation the model lacks read from the segment's shape (./punctuation.ts);
 * 4. the best complete path is the reading; `confidence` is its share of the probability mass (exp of the scores,
 *    segmentations giving the same text added up) among the complete paths the beam kept.
 *
 * Imports nothing Node-only: the page runs it in a worker.
 */
import { hwrError } from '../errors.ts';
import type { Ink } from '../ink.ts';
import { downsampleFactor, downsampleInput, inkPenWidthFor, samePreprocessing, segmentPreprocessorFor } from '../preprocessing.ts';
import { defaultTopK, MAX_TOP_K, REJECTION_REASON, topKIndices, type Recognizer } from '../recognizer.ts';
import { CJK_PROFILE } from '../profiles.ts';
import type { PixelBuffer } from '../types.ts';
import { compileConstraint, type TextAutomaton } from './constraints.ts';
import { segmentImageLine } from './imageSegments.ts';
import { segmentInkLine } from './inkSegments.ts';
import type { LineLayout } from './layout.ts';
import { pairClasses, pairMarginals, pairSplit, PAIR_TUNING, segmentClasses, verifierClass } from './pairs.ts';
import { punctuationScore, segmentShape, SHAPE_PUNCTUATION } from './punctuation.ts';
import { searchLattice, type LatticeEdge, type LatticeOption, type SearchResult } from './search.ts';
import { REJECTED_CHARACTER, type LineCharacter, type LineReading, type ReadLineOptions } from './types.ts';

/** What a line is given as: an image (a photo, a scan, the page's canvas) or ink (strokes in writing order). */
export type LineInput = { image: PixelBuffer } | { ink: Ink };

/** Tuning of the reader (natural-log units for costs); measured choices in notes/LINE-READING.md. */
export const LINE_READER_TUNING = {
  /** Most primitives in one candidate character. */
  MAX_PRIMITIVES: 6,
  /**
   * A candidate of several primitives is at most this many character heights wide (`SQUARE_MAX_CANDIDATE_WIDTH` in
   * scripts of square characters): wider ones pay so much width prior that they never won (same readings at 1.15 and
   * 1.6 on 200 MNIST lines, a third less time).
   */
  MAX_CANDIDATE_WIDTH: 1.2,
  SQUARE_MAX_CANDIDATE_WIDTH: 1.6,
  /** Candidates wider than this many character heights (`SQUARE_WIDE` in scripts of square characters) pay `WIDTH_COST * excess^2`. */
  WIDE: 0.8,
  SQUARE_WIDE: 1.1,
  WIDTH_COST: 10,
  /**
   * ... in images of square scripts (hanzi), whose pieces are components, not characters: a wide candidate (two
   * characters read as one, 戈察 as 擦) pays more (150 composed hanzi image lines: 10 / 30: 88.0 / 89.7%; ink: 30 cost 3 points).
   */
  SQUARE_IMAGE_WIDTH_COST: 30,
  /** Candidates wider than this many typical character widths (`LineLayout.charWidth`) pay `RELATIVE_WIDTH_COST * excess^2`. */
  RELATIVE_WIDE: 1.5,
  RELATIVE_WIDTH_COST: 5,
  /**
   * Scripts of square characters (the `cjk-fit-v1` profile: hanzi): a candidate narrower than `NARROW` character heights
   * pays `NARROW_COST * shortfall^2` (a radical alone, 亻 of 他, is rarely a character of its own).
   */
  NARROW: 0.8,
  NARROW_COST: 60,
  /**
   * Scripts of square characters: a second search in which a candidate narrower than `SQUARE_PITCH_NARROW` or wider
   * than `SQUARE_PITCH_WIDE` times the pitch (the median width of the first search's characters, when it read at least
   * `SQUARE_PITCH_MIN_CHARS`) pays `SQUARE_PITCH_COST * excess^2` (0: no second search).
   */
  SQUARE_PITCH_COST: 30,
  SQUARE_PITCH_NARROW: 0.8,
  SQUARE_PITCH_WIDE: 1.3,
  SQUARE_PITCH_MIN_CHARS: 3,
  /** White space inside a candidate beyond this many character heights pays `GAP_COST` per character height. */
  INNER_GAP: 0.08,
  GAP_COST: 20,
  /** A segment boundary that cuts through touching ink; and per stroke the cut crosses (`LinePrimitive.cutStrokes`). */
  CUT_COST: 1,
  CROSS_COST: 0.5,
  /** A segment next to a cut and lower than `LOW` character heights (a fragment) pays `FRAGMENT_COST` per 0.1 h below. */
  LOW: 0.6,
  FRAGMENT_COST: 1,
  /**
   * Choosing the rejection ("not a character") for a segment, beyond its log probability. Lower marks more non-digits
   * instead of reading their pieces as digits, at a cost on digit lines (a letter between two MNIST digits, 10 letters:
   * marked 9 at 1, 3 at 2, 1 at 3; 200 MNIST lines: 97.9%, 98.2%, 98.2% characters).
   */
  REJECT_COST: 2,
  /**
   * Added per character (against the sum of log probabilities' bias towards fewer, larger segments): images, whose
   * cuts through touching ink pay `CUT_COST` and `CROSS_COST`, and ink, which has no cuts.
   */
  CHAR_BONUS: 1,
  INK_CHAR_BONUS: 0.5,
  /**
   * Ink of square scripts (hanzi, primitives in writing order): a cost, since the model reads a radical alone as
   * confidently as the whole character (200 composed lines: 0.5 / 0 / -0.5 / -1 / -2: 84.2 / 87.6 / 88.2 / 88.0 / 87.4%).
   */
  SQUARE_INK_CHAR_BONUS: -1,
  /** Scripts of square characters: the typical character width (`LineLayout.charWidth`) is at least the character height. */
  SQUARE_CHAR_WIDTH: true,
  /**
   * Label options per candidate (most probable classes) without a constraint, and with one (`pattern`, `words`: a
   * less probable label may be the only one allowed). Without a constraint a third-best label rarely wins and costs
   * search time (600 composed digit image lines: 5 / 3 / 2 labels, with `PAIR_TUNING.LABELS` the same: 99.06 / 99.08 /
   * 99.10% characters, 39.9 / 37.4 / 33.9 ms median per line).
   */
  LABELS_PER_CANDIDATE: 3,
  CONSTRAINED_LABELS_PER_CANDIDATE: 5,
  /** A space: gap above max(SPACE_MIN * h, SPACE_SPACING * the line's median gap); logistic width SPACE_SOFTNESS * h. */
  SPACE_MIN: 0.7,
  SPACE_SPACING: 3,
  SPACE_SOFTNESS: 0.08,
  /**
   * Temperature of the confidence (`LineReading.confidence` = the reading's share of softmax(mass / T) over the kept
   * readings): the scores' priors and per-character terms make raw shares too low; T is fitted on composed lines
   * (expected calibration error, 10 bins: MNIST image lines 0.48 at T = 1, 0.05 at 0.3; ink digits 0.23 -> 0.09 at
   * 0.3-0.5; with the segment model, 300 image lines: 0.052 / 0.030 / 0.042 / 0.121 at 0.35 / 0.45 / 0.5 / 0.7; hanzi: 0.5 since square-script ink reads in writing order: ink lines 0.235 at 1, 0.053 at 0.5, images 0.146
   * at 1, 0.084 at 0.5, 0.121 at 0.4; with the hanzi-segments verifier, 200 lines each of seeds 4242 / 99, the bench's
   * bins: images 5.8, 7.0 at 0.5; 4.1, 6.6 at 0.6; 2.6, 5.1 at 0.7; 9.6, 6.1 at 1; ink 9.6, 4.6 at 0.5; 6.3, 2.9 at 0.6;
   * 4.9, 3.5 at 0.7 points).
   */
  CONFIDENCE_TEMPERATURE: 0.45,
  SQUARE_CONFIDENCE_TEMPERATURE: 0.7,
  /** Ink candidates are drawn into squares of max(`INK_RENDER_SIZE`, the model's input side) px. */
  INK_RENDER_SIZE: 56,
  /** Default `beamWidth`. */
  BEAM_WIDTH: 16,
};

const now = (): number => globalThis.performance.now();

/** Natural log of a probability, floored at 1e-12 (a model's 0 is not an impossibility). */
const logOf = (p: number): number => Math.log(Math.max(p, 1e-12));

/**
 * Most pieces (primitives: ink stroke groups, image components and the parts cuts leave) `readLine` reads in one line.
 * Reading grows faster than the line (every run of pieces is a candidate, and the search keeps readings per piece):
 * 1,000 one-stroke pieces took 10-14 s, so a line of more pieces than this is refused at once.
 */
export const MAX_LINE_PIECES = 400;

/**
 * Reads one line of handwriting with a character model (see the module comment for the method).
 * Works for any model: its metadata (`classes`, `inputShape`, `preprocessing`, `rejectClass`) drives sizes and labels.
 * Boxes are in the input's coordinates (image px, or ink units).
 * @param recognizer a loaded character model
 * @param input `{ image }` RGBA pixels of the line, or `{ ink }` strokes in writing order (validate outside ink with `parseInk`)
 * @throws HwrError `NO_INK` for a blank image or ink without points; `BAD_ARGUMENT` for a bad option (pattern, words,
 *   topK, beamWidth), an input that is neither an image nor ink, or a line of more than `MAX_LINE_PIECES` pieces
 */
export async function readLine(recognizer: Recognizer, input: LineInput, options: ReadLineOptions = {}): Promise<LineReading> {
  const start = now();
  const name = options.name ?? 'line';
  const { metadata } = recognizer;
  const topK = options.topK ?? defaultTopK(metadata.classes.length);
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) throw hwrError('BAD_ARGUMENT', `topK: expected an integer from 1 to ${MAX_TOP_K}, got ${topK}`);
  const beamWidth = options.beamWidth ?? LINE_READER_TUNING.BEAM_WIDTH;
  if (!Number.isInteger(beamWidth) || beamWidth < 1 || beamWidth > 1000) throw hwrError('BAD_ARGUMENT', `beamWidth: expected an integer from 1 to 1000, got ${beamWidth}`);
  const automaton = compileConstraint(options.pattern, options.words);
  const prepare = segmentPreprocessorFor(metadata);

  const square = metadata.preprocessing === CJK_PROFILE;
  let layout: LineLayout;
  const isInk = !(input && 'image' in input && input.image);
  if (input && 'image' in input && input.image) layout = segmentImageLine(input.image, name, { square });
  else if (input && 'ink' in input && input.ink) {
    layout = segmentInkLine(input.ink, { penWidth: inkPenWidthFor(metadata), renderSize: Math.max(LINE_READER_TUNING.INK_RENDER_SIZE, metadata.inputShape[0]), square }, name);
  } else throw hwrError('BAD_ARGUMENT', `${name}: expected { image } or { ink }`);
  if (layout.primitives.length > MAX_LINE_PIECES) {
    throw hwrError(
      'BAD_ARGUMENT',
      `${name}: the line falls into ${layout.primitives.length} pieces (strokes, components or cuts); at most ${MAX_LINE_PIECES} are read at once (well over 100 characters): send one line at a time, or split it`,
    );
  }
  // Square characters are about as wide as the line is high, whatever the widths of their parts (radicals).
  if (square && LINE_READER_TUNING.SQUARE_CHAR_WIDTH) layout.charWidth = Math.max(layout.charWidth, layout.charHeight);
  const segmented = now();

  const candidates = listCandidates(layout, square ? LINE_READER_TUNING.SQUARE_MAX_CANDIDATE_WIDTH : LINE_READER_TUNING.MAX_CANDIDATE_WIDTH);
  const [height, width] = metadata.inputShape;
  const inputs = new Float32Array(candidates.length * height * width);
  const empty = new Set<number>();
  const crops = candidates.map((c, k) => {
    const crop = layout.crop(c.first, c.last);
    try {
      inputs.set(prepare(crop), k * height * width);
    } catch (error) {
      // Too little ink for the profile (a sliver left by a cut): not a character.
      if ((error as { code?: string }).code !== 'NO_INK') throw error;
      empty.add(k);
    }
    return crop;
  });
  // Pair model (./pairs.ts): candidates about two characters wide, their crops normalized by its own profile.
  // Images only: on ink digits (bench/lines.ts, 300 lines) the pair model read 96.6% against 96.9% without.
  // A segment model (a pair model that also has the character model's classes and a none class, trained on the
  // reader's own candidates: scripts/train-digit-segments.ts) classifies every character candidate too.
  // A segment verifier (classes whole / part / several: scripts/train-hanzi-segments.ts) gives no pair edges: it only
  // says of every character candidate whether it is one whole character; on ink only when `VERIFIER_INK_WEIGHT` > 0.
  const whole = options.pairs ? verifierClass(options.pairs.metadata.classes) : null;
  const verifierWeight = whole === null ? 0 : isInk ? PAIR_TUNING.VERIFIER_INK_WEIGHT : PAIR_TUNING.VERIFIER_WEIGHT;
  const pairModel = whole !== null ? (verifierWeight > 0 ? options.pairs : undefined) : isInk ? undefined : options.pairs;
  const pairLabels = pairModel && whole === null ? pairClasses(pairModel.metadata.classes, `${name}: pairs`) : null;
  const segmentLabels = pairModel && whole === null ? segmentClasses(pairModel.metadata.classes, metadata.classes) : null;
  const pairCandidates = pairLabels ? listPairCandidates(layout) : [];
  // The pair model's candidates: the pair candidates, then (segment model, verifier) the character candidates not among them.
  const runKey = (c: Candidate): number => c.first * layout.primitives.length + c.last;
  const pairIndex = new Map<number, number>();
  pairCandidates.forEach((c, k) => pairIndex.set(runKey(c), k));
  const modelCandidates = [...pairCandidates];
  if (segmentLabels || (pairModel && whole !== null)) for (const c of candidates) if (!pairIndex.has(runKey(c))) pairIndex.set(runKey(c), modelCandidates.push(c) - 1);
  let pairInputs = new Float32Array(0);
  const pairEmpty = new Set<number>();
  if (pairModel) {
    const preparePair = segmentPreprocessorFor(pairModel.metadata);
    const [ph, pw] = pairModel.metadata.inputShape;
    pairInputs = new Float32Array(modelCandidates.length * ph * pw);
    // Most pair candidates (about 3 in 4 on digit lines), and with a segment model the character candidates too, are
    // character candidates: their crop, and when both models normalize alike (digits and digit-segments), their
    // input, are the character candidate's.
    const shared = samePreprocessing(metadata, pairModel.metadata);
    // A verifier of the same profile at a fraction of the size (hanzi-segments: 32 px of hanzi's 64): the character
    // input averaged over blocks, the same but for rounding (`downsampleFactor`).
    const factor = shared ? null : downsampleFactor(metadata, pairModel.metadata);
    const characterIndex = new Map(candidates.map((c, k) => [runKey(c), k]));
    modelCandidates.forEach((c, k) => {
      const j = characterIndex.get(runKey(c));
      if (j !== undefined && (shared || factor !== null)) {
        if (empty.has(j)) pairEmpty.add(k);
        else if (factor !== null) downsampleInput(inputs.subarray(j * height * width, (j + 1) * height * width), height, factor, pairInputs.subarray(k * ph * pw, (k + 1) * ph * pw));
        else pairInputs.set(inputs.subarray(j * height * width, (j + 1) * height * width), k * ph * pw);
        return;
      }
      try {
        pairInputs.set(preparePair(j === undefined ? layout.crop(c.first, c.last) : crops[j]!), k * ph * pw);
      } catch (error) {
        if ((error as { code?: string }).code !== 'NO_INK') throw error;
        pairEmpty.add(k);
      }
    });
  }
  const prepared = now();
  const [probabilities, pairProbabilities] = await Promise.all([
    recognizer.predictProbabilities(inputs, candidates.length),
    pairModel && modelCandidates.length > 0 ? pairModel.predictProbabilities(pairInputs, modelCandidates.length) : Promise.resolve(new Float32Array(0)),
  ]);
  const inferred = now();

  const classes = metadata.classes.length;
  const rejectIndex = metadata.rejectClass === undefined ? -1 : metadata.classes.indexOf(metadata.rejectClass);
  const labelsPerCandidate = automaton ? LINE_READER_TUNING.CONSTRAINED_LABELS_PER_CANDIDATE : LINE_READER_TUNING.LABELS_PER_CANDIDATE;
  const pairLabelCount = automaton ? PAIR_TUNING.CONSTRAINED_LABELS : PAIR_TUNING.LABELS;
  const marks = automaton ? SHAPE_PUNCTUATION.filter((m) => automaton.mentions(m) && !metadata.classes.includes(m)) : [];
  const pairClassCount = pairModel?.metadata.classes.length ?? 0;
  const segmentRow = (c: Candidate): Float32Array | null => {
    const k = pairIndex.get(runKey(c));
    return segmentLabels && k !== undefined && !pairEmpty.has(k) ? pairProbabilities.subarray(k * pairClassCount, (k + 1) * pairClassCount) : null;
  };
  // The verifier's weighted log p(whole) of a candidate, added to all its options (0 without a verifier).
  const verified = (c: Candidate): number => {
    const k = pairIndex.get(runKey(c));
    return pairModel && whole !== null && k !== undefined && !pairEmpty.has(k) ? verifierWeight * logOf(pairProbabilities[k * pairClassCount + whole]!) : 0;
  };
  const edges = candidates.map((c, k): LatticeEdge => {
    const row = probabilities.subarray(k * classes, (k + 1) * classes);
    const segment = segmentRow(c);
    // The character model's log probability, blended with the segment model's for the same option.
    const blend = (own: number, segmentP: number): number => (1 - PAIR_TUNING.SEGMENT_WEIGHT) * logOf(own) + PAIR_TUNING.SEGMENT_WEIGHT * logOf(segmentP);
    // log p(label) of an option: the character model's, blended with the segment model's where it has the label.
    const logP = (i: number): number => {
      const j = segment ? segmentLabels!.get(i) : undefined;
      return j === undefined ? logOf(row[i]!) : blend(row[i]!, segment![j]!);
    };
    // A rejected character is still one whole character: with a segment model, its probability that the candidate is
    // one (of any class) is blended in, so that a fragment left by a cut is not marked as a character of its own.
    const logRejection = (p: number): number => {
      if (!segment || !PAIR_TUNING.SEGMENT_REJECTION) return logOf(p);
      let whole = 0;
      for (const j of segmentLabels!.values()) whole += segment[j]!;
      return blend(p, whole);
    };
    const prior = geometricPrior(layout, c, square, isInk) + (isInk ? (square ? LINE_READER_TUNING.SQUARE_INK_CHAR_BONUS : LINE_READER_TUNING.INK_CHAR_BONUS) : LINE_READER_TUNING.CHAR_BONUS) + verified(c);
    const options: LatticeOption[] = [];
    if (empty.has(k)) {
      options.push({ text: null, score: -3 * LINE_READER_TUNING.REJECT_COST + prior, probability: 1 });
      return { from: c.first, to: c.last + 1, left: c.x0, right: c.x1, options, row: rejectionRow(classes, rejectIndex) } as LatticeEdge & { row: Float32Array };
    }
    for (const i of topKIndices(row, Math.min(classes, labelsPerCandidate + (rejectIndex >= 0 ? 1 : 0)))) {
      const p = row[i]!;
      if (i === rejectIndex) options.push({ text: null, score: logRejection(p) - LINE_READER_TUNING.REJECT_COST + prior, probability: p });
      else options.push({ text: metadata.classes[i]!, score: logP(i) + prior, probability: p });
    }
    if (marks.length > 0) {
      const shape = segmentShape(c, layout, crops[k]!);
      for (const mark of marks) {
        const score = punctuationScore(mark, shape);
        if (score > -20) options.push({ text: mark, score: score + prior, probability: Math.exp(score) });
      }
    }
    return { from: c.first, to: c.last + 1, left: c.x0, right: c.x1, options, row } as LatticeEdge & { row: Float32Array };
  });
  if (pairModel && pairLabels) {
    const bonus = 2 * (isInk ? LINE_READER_TUNING.INK_CHAR_BONUS : LINE_READER_TUNING.CHAR_BONUS);
    pairCandidates.forEach((c, k) => {
      if (pairEmpty.has(k)) return;
      const row = pairProbabilities.subarray(k * pairClassCount, (k + 1) * pairClassCount);
      const prior = pairPrior(layout, c) + bonus - PAIR_TUNING.COST;
      const options: LatticeOption[] = [];
      for (const i of topKIndices(row, Math.min(pairClassCount, pairLabelCount + pairClassCount - pairLabels.size))) {
        const pair = pairLabels.get(i);
        if (!pair || options.length >= pairLabelCount) continue;
        const p = row[i]!;
        options.push({ text: pair[0] + pair[1], score: PAIR_TUNING.WEIGHT * logOf(p) + prior, probability: p });
      }
      if (options.length > 0) edges.push({ from: c.first, to: c.last + 1, left: c.x0, right: c.x1, options, pairRow: row } as LatticeEdge & { pairRow: Float32Array });
    });
  }
  const spacing = lineSpacing(layout);
  const search = (constraint: TextAutomaton | undefined): SearchResult[] =>
    searchLattice(layout.primitives.length + 1, edges, {
      beamWidth,
      ...(constraint ? { automaton: constraint } : {}),
      spaceGap: Math.max(LINE_READER_TUNING.SPACE_MIN * layout.charHeight, LINE_READER_TUNING.SPACE_SPACING * spacing),
      spaceSoftness: LINE_READER_TUNING.SPACE_SOFTNESS * layout.charHeight,
      temperature: square ? LINE_READER_TUNING.SQUARE_CONFIDENCE_TEMPERATURE : LINE_READER_TUNING.CONFIDENCE_TEMPERATURE,
    });
  let results = search(automaton);
  if (square && LINE_READER_TUNING.SQUARE_PITCH_COST > 0 && squarePitch(edges, results[0])) results = search(automaton);
  const constraintMet = automaton ? results.length > 0 : undefined;
  if (results.length === 0) results = search(undefined);
  const searched = now();

  const best = results[0];
  const characters: LineCharacter[] = (best?.steps ?? []).flatMap(({ edge, option, spaceBefore }): LineCharacter[] => {
    const first = edge.from;
    const last = edge.to - 1;
    const pairRow = (edge as LatticeEdge & { pairRow?: Float32Array }).pairRow;
    if (pairRow && pairLabels) {
      // A pair read at once: two characters, the box divided at the primitive boundary nearest its middle (or at half).
      const [a, b] = [...option.text!];
      const alternatives = pairMarginals(pairRow, pairLabels, topK);
      const split = pairSplit(layout, first, last);
      const whole = layout.inputBox(first, last);
      const boxes = split === null
        ? [{ ...whole, width: whole.width / 2 }, { ...whole, x: whole.x + whole.width / 2, width: whole.width / 2 }]
        : [layout.inputBox(first, split), layout.inputBox(split + 1, last)];
      const strokes = split === null ? [layout.strokesOf(first, last), layout.strokesOf(first, last)] : [layout.strokesOf(first, split), layout.strokesOf(split + 1, last)];
      return [a!, b!].map((text, i) => ({
        text,
        probability: alternatives[i]!.find((alt) => alt.label === text)?.probability ?? option.probability,
        alternatives: alternatives[i]!,
        box: boxes[i]!,
        ...(strokes[i] ? { strokes: strokes[i] } : {}),
        ...(i === 0 && spaceBefore ? { spaceBefore: true } : {}),
      }));
    }
    const row = (edge as LatticeEdge & { row: Float32Array }).row;
    const strokes = layout.strokesOf(first, last);
    return [{
      text: option.text,
      ...(option.text === null ? { reason: REJECTION_REASON } : {}),
      probability: option.probability,
      alternatives: topKIndices(row, topK).map((i) => ({ label: metadata.classes[i]!, probability: row[i]! })),
      box: layout.inputBox(first, last),
      ...(strokes ? { strokes } : {}),
      ...(spaceBefore ? { spaceBefore: true } : {}),
    }];
  });
  const end = now();
  return {
    text: characters.map((c) => (c.spaceBefore ? ' ' : '') + (c.text ?? REJECTED_CHARACTER)).join(''),
    characters,
    confidence: best?.share ?? 0,
    ...(constraintMet === undefined ? {} : { constraintMet }),
    timings: { segmentMs: segmented - start, preprocessMs: prepared - segmented, inferenceMs: inferred - prepared, searchMs: searched - inferred, totalMs: end - start },
  };
}

/**
 * Square scripts: the characters of a line are about equally wide (the pitch), so a radical read alone (石 of 碳) is
 * narrow and two characters read as one (芭巨 as 配) wide against the others. Adds the pitch prior (`SQUARE_PITCH_*`)
 * to the options of every single-character edge (working units), the pitch being the median width of the characters
 * of `first`, the first search's best reading; the caller searches again. Measured in notes/LINE-READING.md.
 * @returns whether it did (`first` read at least `SQUARE_PITCH_MIN_CHARS` characters)
 */
function squarePitch(edges: LatticeEdge[], first: SearchResult | undefined): boolean {
  const t = LINE_READER_TUNING;
  const single = (edge: LatticeEdge): boolean => !('pairRow' in edge); // a pair model's edge holds two characters
  const widths = (first?.steps ?? []).filter((s) => single(s.edge)).map((s) => s.edge.right - s.edge.left).sort((a, b) => a - b);
  if (widths.length < t.SQUARE_PITCH_MIN_CHARS) return false;
  const pitch = widths[Math.floor(widths.length / 2)]!;
  if (!(pitch > 0)) return false;
  for (const edge of edges) {
    if (!single(edge)) continue;
    const r = (edge.right - edge.left) / pitch;
    const cost = t.SQUARE_PITCH_COST * (Math.max(0, t.SQUARE_PITCH_NARROW - r) ** 2 + Math.max(0, r - t.SQUARE_PITCH_WIDE) ** 2);
    for (const option of edge.options) option.score -= cost;
  }
  return true;
}

/** The probabilities of a segment the profile found no ink in: all on the rejection class, else uniform. */
function rejectionRow(classes: number, rejectIndex: number): Float32Array {
  const row = new Float32Array(classes).fill(rejectIndex >= 0 ? 0 : 1 / classes);
  if (rejectIndex >= 0) row[rejectIndex] = 1;
  return row;
}

/** A candidate character: primitives `first..last` and their union box (working units). */
export interface Candidate {
  first: number;
  last: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Runs of 1..MAX_PRIMITIVES consecutive primitives; runs of several no wider than `maxWidth` character heights. */
export function listCandidates(layout: LineLayout, maxWidth: number): Candidate[] {
  const { primitives, charHeight } = layout;
  const list: Candidate[] = [];
  for (let first = 0; first < primitives.length; first++) {
    const p = primitives[first]!;
    const box = { first, last: first, x0: p.x0, x1: p.x1, y0: p.y0, y1: p.y1 };
    list.push({ ...box });
    for (let last = first + 1; last < Math.min(primitives.length, first + LINE_READER_TUNING.MAX_PRIMITIVES); last++) {
      const q = primitives[last]!;
      box.last = last;
      box.x0 = Math.min(box.x0, q.x0);
      box.x1 = Math.max(box.x1, q.x1);
      box.y0 = Math.min(box.y0, q.y0);
      box.y1 = Math.max(box.y1, q.y1);
      if (box.x1 - box.x0 > maxWidth * charHeight) break;
      list.push({ ...box });
    }
  }
  return list;
}

/** Log-prior of a candidate's geometry: too wide (too narrow in a script of square characters), white space inside, a cut through ink at its right end, a low fragment next to a cut. */
function geometricPrior(layout: LineLayout, c: Candidate, square: boolean, isInk: boolean): number {
  const t = LINE_READER_TUNING;
  const h = layout.charHeight;
  let prior = -(square && !isInk ? t.SQUARE_IMAGE_WIDTH_COST : t.WIDTH_COST) * Math.max(0, (c.x1 - c.x0) / h - (square ? t.SQUARE_WIDE : t.WIDE)) ** 2;
  if (square) prior -= t.NARROW_COST * Math.max(0, t.NARROW - (c.x1 - c.x0) / h) ** 2;
  prior -= t.RELATIVE_WIDTH_COST * Math.max(0, (c.x1 - c.x0) / layout.charWidth - t.RELATIVE_WIDE) ** 2;
  const widestGap = widestInnerGap(layout, c);
  prior -= t.GAP_COST * Math.max(0, widestGap / h - t.INNER_GAP);
  const cutRight = layout.primitives[c.last]!.cutAfter;
  const cutLeft = c.first > 0 && layout.primitives[c.first - 1]!.cutAfter;
  if (cutRight) prior -= t.CUT_COST + t.CROSS_COST * (layout.primitives[c.last]!.cutStrokes ?? 1);
  if (cutLeft || cutRight) prior -= t.FRAGMENT_COST * Math.max(0, t.LOW - (c.y1 - c.y0) / h) * 10;
  return prior;
}

/** The widest white gap between the primitives of candidate `c`, left to right (working units; 0 when they overlap or touch). */
function widestInnerGap(layout: LineLayout, c: Candidate): number {
  let reach = layout.primitives[c.first]!.x1;
  let widest = 0;
  for (let k = c.first + 1; k <= c.last; k++) {
    const p = layout.primitives[k]!;
    widest = Math.max(widest, p.x0 - reach);
    reach = Math.max(reach, p.x1);
  }
  return widest;
}

/** Runs of consecutive primitives from `PAIR_TUNING.MIN_WIDTH` to `MAX_WIDTH` character heights wide whose characters may touch (`PAIR_TUNING.TOUCHING_ONLY`): candidates for the pair model. */
export function listPairCandidates(layout: LineLayout): Candidate[] {
  const h = layout.charHeight;
  const mayTouch = (c: Candidate): boolean => {
    if (!PAIR_TUNING.TOUCHING_ONLY || c.first === c.last) return true;
    for (let k = c.first; k < c.last; k++) {
      const p = layout.primitives[k]!;
      if (p.cutAfter && (p.cutStrokes ?? 1) >= PAIR_TUNING.MIN_INNER_CUT_STROKES) return true;
    }
    return false;
  };
  return listCandidates(layout, PAIR_TUNING.MAX_WIDTH).filter((c) => c.x1 - c.x0 >= PAIR_TUNING.MIN_WIDTH * h && mayTouch(c));
}

/** Log-prior of a pair candidate's geometry: too wide for two characters, a wide gap inside (separate characters), a cut through ink at its right end. */
function pairPrior(layout: LineLayout, c: Candidate): number {
  const t = LINE_READER_TUNING;
  const h = layout.charHeight;
  let prior = -t.WIDTH_COST * Math.max(0, (c.x1 - c.x0) / h - PAIR_TUNING.WIDE) ** 2;
  prior -= t.RELATIVE_WIDTH_COST * Math.max(0, (c.x1 - c.x0) / layout.charWidth - PAIR_TUNING.RELATIVE_WIDE) ** 2;
  const widestGap = widestInnerGap(layout, c);
  prior -= t.GAP_COST * Math.max(0, widestGap / h - PAIR_TUNING.INNER_GAP);
  const cutRight = layout.primitives[c.last]!.cutAfter;
  if (cutRight) prior -= t.CUT_COST + t.CROSS_COST * (layout.primitives[c.last]!.cutStrokes ?? 1);
  return prior;
}

/** The line's usual gap between neighbouring primitives that are not cuts (median of the positive gaps; 0 when none). */
function lineSpacing(layout: LineLayout): number {
  const gaps: number[] = [];
  let reach = -Infinity;
  layout.primitives.forEach((p, k) => {
    if (k > 0 && !layout.primitives[k - 1]!.cutAfter && p.x0 > reach) gaps.push(p.x0 - reach);
    reach = Math.max(reach, p.x1);
  });
  gaps.sort((a, b) => a - b);
  return gaps.length === 0 ? 0 : gaps[Math.floor(gaps.length / 2)]!;
}

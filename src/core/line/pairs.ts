/**
 * Pair edges of the line reader (issue 12, touching digits): a candidate about two characters wide is also classified
 * by a pair model (classes `"00"`..`"99"`, plus a "not a pair" class such as `"none"`), and the search may read it as
 * two characters at once. Where two digits touch so that no cut path separates them (a slanted 1 under the 8 before
 * it), the single-character model sees only "8 with a stroke"; the pair model, trained on such pairs, reads "81".
 * Method: Ciresan, "Avoiding segmentation in multi-digit numeral string recognition by combining single and two-digit
 * classifiers trained without negative examples", SYNASC 2008 (the pair classifier, pairs synthesized from single
 * digits); the lattice combination as in the rest of the reader (./search.ts).
 *
 * A segment model is a pair model that also has the character model's classes (`"0"`..`"9"`): trained on the reader's
 * own candidates, labelled by the ink they hold (scripts/train-digit-segments.ts; the shipped `digit-segments`), its
 * none class takes what is not one whole character or pair (a fragment left by a cut, a digit with part of its
 * neighbour), so its probability of a digit also says whether the candidate is a whole digit. The reader then asks it
 * about every character candidate as well and blends its log probability in (`PAIR_TUNING.SEGMENT_WEIGHT`).
 *
 * A segment verifier (`verifierClass`; the shipped `hanzi-segments`, scripts/train-hanzi-segments.ts) has no character
 * classes at all, only kinds of candidate (whole, part, several): for a script of thousands of characters a model that
 * only says whether a candidate is one whole character. Its log p(whole) is added to every character option
 * (`PAIR_TUNING.VERIFIER_WEIGHT`).
 *
 * Pure: no model, no pixels. Imports nothing Node-only.
 */
import { hwrError } from '../errors.ts';
import type { ClassProbability } from '../recognizer.ts';
import type { LineLayout } from './layout.ts';

/** Tuning of pair edges (natural-log units); measured choices in notes/LINE-READING.md ("Touching digits"). */
export const PAIR_TUNING = {
  /** A pair candidate is from `MIN_WIDTH` to `MAX_WIDTH` character heights wide. */
  MIN_WIDTH: 0.45,
  MAX_WIDTH: 1.4,
  /** Wider than `WIDE` heights pays the reader's `WIDTH_COST * excess^2`; than `RELATIVE_WIDE` typical widths, `RELATIVE_WIDTH_COST * excess^2`. */
  WIDE: 1.6,
  RELATIVE_WIDE: 3,
  /** White space inside a pair beyond `INNER_GAP` heights pays the reader's `GAP_COST` per height (separate digits are read one by one). */
  INNER_GAP: 0.3,
  /** Subtracted from every pair option's score: the pair model's log probabilities against two single ones. */
  COST: 1.5,
  /** The pair option's log probability is multiplied by this. */
  WEIGHT: 1,
  /** Pair labels offered per candidate (most probable two-character classes), without and with a constraint (see `LINE_READER_TUNING.LABELS_PER_CANDIDATE`). */
  LABELS: 3,
  CONSTRAINED_LABELS: 5,
  /**
   * Only candidates whose characters may touch go to the pair model: a single primitive (a component no cut divided),
   * or a run with a cut through at least `MIN_INNER_CUT_STROKES` strokes of ink inside it. A run of separate
   * components is read character by character, and leaving it out saves most of the pair model's work
   * (`TOUCHING_ONLY: false`: every candidate of the right width).
   */
  TOUCHING_ONLY: true,
  MIN_INNER_CUT_STROKES: 0.25,
  /**
   * A segment model (`segmentClasses`): a character option's log probability is `(1 - w)` times the character model's
   * plus `w` times the segment model's (400 composed MNIST-test lines, another seed than bench/lines.ts: w = 0 / 0.25 /
   * 0.4 / 0.55 / 1: 98.2 / 98.9 / 98.8 / 98.7 / 98.0% characters, 89.5 / 93.5 / 93.0 / 92.0 / 86.7% lines; the
   * plain pair model: 97.5% / 86.5%). With it, every pair-wide run as a pair candidate (not only `TOUCHING_ONLY`
   * ones) read the same.
   */
  SEGMENT_WEIGHT: 0.3,
  /**
   * With a segment model, a rejected character (the character model's rejection class) is blended with the segment
   * model's probability that the candidate is one whole character of any class: a fragment is not marked as a
   * character of its own (600 tuning lines: 98.96% / 93.3% without, 99.00% / 93.7% with).
   */
  SEGMENT_REJECTION: true,
  /**
   * A segment verifier (`verifierClass`: classes such as `"whole"`, `"part"`, `"several"`, no character label, e.g.
   * `hanzi-segments`): every character option of an image line (the rejection included) adds `VERIFIER_WEIGHT` times
   * the verifier's log probability that the candidate is one whole character; `VERIFIER_INK_WEIGHT` for ink lines
   * (0: the verifier is not asked). `hanzi-segments` on 200 composed hanzi lines of held-out writers per seed (seeds
   * 4242 / 99 / 31, not the bench's): images w = 0 / 0.5 / 1 / 1.7 / 2.5 / 4: 91.0 / 93.9 / 94.3 / 95.0 / 95.3 / 94.9%,
   * 91.4 / 94.5 / 94.6 / 94.7 / 94.6 / 94.8%, 88.8 / - / 94.0 / 94.3 / 94.7 / -% characters; ink w = 0 / 0.5 / 1 / 2.5:
   * 93.2 / 93.9 / 94.5 / 94.0%, 94.4 / 95.0 / 95.1 / 95.1%, 91.3 / - / 92.0 / 92.2%. Notes: "Hanzi segment verifier".
   */
  VERIFIER_WEIGHT: 2.5,
  VERIFIER_INK_WEIGHT: 1,
};

/** The class of a segment verifier that means "the candidate is one whole character" (`verifierClass`). */
export const WHOLE_CLASS = 'whole';

/**
 * A segment verifier's "whole character" class: a model served to the reader as a pair model (`pairsFor`) whose
 * classes are not characters but kinds of candidate (`["whole", "part", "several"]`: scripts/train-hanzi-segments.ts),
 * with `WHOLE_CLASS` among them and no two-character class. The reader asks it about every character candidate and
 * adds its log p(whole) to every option (`PAIR_TUNING.VERIFIER_WEIGHT`); it gives no pair edges.
 * @param pairModelClasses the model's `metadata.classes`
 * @returns the index of `WHOLE_CLASS`, or null when the model is no verifier (a pair or digit segment model)
 */
export function verifierClass(pairModelClasses: readonly string[]): number | null {
  if (pairModelClasses.some((label) => [...label].length === 2)) return null;
  const index = pairModelClasses.indexOf(WHOLE_CLASS);
  return index >= 0 ? index : null;
}

/**
 * A segment model's single-character classes: a pair model that also has classes equal to the character model's
 * (`"0"`..`"9"`) and a none class, trained on the line reader's own candidates (scripts/train-digit-segments.ts),
 * so that its probability of a digit also says whether the candidate is a whole digit at all.
 * @param pairModelClasses the pair model's `metadata.classes`
 * @param characterClasses the character model's `metadata.classes`
 * @returns character class index -> the pair model's class index, or null when it has none of them (a plain pair model)
 */
export function segmentClasses(pairModelClasses: readonly string[], characterClasses: readonly string[]): Map<number, number> | null {
  const index = new Map(pairModelClasses.map((label, i) => [label, i]));
  const map = new Map<number, number>();
  characterClasses.forEach((label, i) => {
    const j = index.get(label);
    if (j !== undefined && [...label].length === 1) map.set(i, j);
  });
  return map.size > 0 ? map : null;
}

/** The pair model's classes that are pairs: index -> its two characters; other classes (`"none"`) are left out. */
export function pairClasses(classes: readonly string[], name = 'pairs'): Map<number, [string, string]> {
  const pairs = new Map<number, [string, string]>();
  classes.forEach((label, i) => {
    const chars = [...label];
    if (chars.length === 2) pairs.set(i, [chars[0]!, chars[1]!]);
  });
  if (pairs.size === 0) throw hwrError('BAD_ARGUMENT', `${name}: the pair model has no two-character class (classes ${JSON.stringify(classes.slice(0, 5))}...)`);
  return pairs;
}

/**
 * Marginals of a pair model's output for one candidate: the probability of each character in the first and in the
 * second place (summed over the other place), the most probable first, k of each.
 * @param row `[classes]` probabilities of the pair model for one candidate
 */
export function pairMarginals(row: ArrayLike<number>, pairs: ReadonlyMap<number, readonly [string, string]>, k: number): [ClassProbability[], ClassProbability[]] {
  const first = new Map<string, number>();
  const second = new Map<string, number>();
  for (const [i, [a, b]] of pairs) {
    first.set(a, (first.get(a) ?? 0) + row[i]!);
    second.set(b, (second.get(b) ?? 0) + row[i]!);
  }
  const top = (m: Map<string, number>): ClassProbability[] =>
    [...m].sort((x, y) => y[1] - x[1]).slice(0, k).map(([label, probability]) => ({ label, probability }));
  return [top(first), top(second)];
}

/**
 * Where a pair candidate (primitives `first..last`) divides into its two characters: the primitive boundary nearest
 * the middle of its box (by the right end of the left part), or null for a single primitive (split the box at half).
 * @returns the last primitive of the left character, or null
 */
export function pairSplit(layout: LineLayout, first: number, last: number): number | null {
  if (first === last) return null;
  let x0 = Infinity;
  let x1 = -Infinity;
  for (let k = first; k <= last; k++) {
    x0 = Math.min(x0, layout.primitives[k]!.x0);
    x1 = Math.max(x1, layout.primitives[k]!.x1);
  }
  const middle = (x0 + x1) / 2;
  let best = first;
  let bestDistance = Infinity;
  let reach = -Infinity;
  for (let k = first; k < last; k++) {
    reach = Math.max(reach, layout.primitives[k]!.x1);
    const distance = Math.abs(reach - middle);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = k;
    }
  }
  return best;
}

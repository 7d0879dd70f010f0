/**
 * Line reading: the answer's shape and the options, shared by the library (`readLine`, ./readLine.ts), the CLI
 * (`hwr read`), the server (`POST /api/read`) and the page's Line mode. A line is one row of handwriting: a number,
 * a date, a code, a word, a short Chinese phrase, written as ink (strokes) or photographed/scanned as an image.
 *
 * Reading works for any character model (its `metadata.classes`, `inputShape` and `preprocessing` drive it): the line
 * is over-segmented into primitives (ink: stroke groups; images: connected components and cuts through touching
 * characters), consecutive primitives are merged into candidate characters, every candidate is classified by the
 * character model in one batch, and a beam search over the candidate cuts picks the best path (Casey and Lecolinet,
 * "A survey of methods and strategies in character segmentation", IEEE TPAMI 18(7), 1996, section 4: recognition-based
 * segmentation; the lattice search as in Fujisawa, Nakano and Kurino, "Segmentation methods for character recognition:
 * from segmentation to document structure analysis", Proc. IEEE 80(7), 1992).
 *
 * Imports nothing Node-only.
 */
import type { ClassProbability, Recognizer } from '../recognizer.ts';

/**
 * A rectangle in the input's own coordinates: px of the image (x right, y down, origin at the top-left pixel's corner)
 * or the ink's units (the unit its points are in, y down).
 */
export interface LineBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The text that stands for a character the model rejects (U+FFFD REPLACEMENT CHARACTER) in `LineReading.text`. */
export const REJECTED_CHARACTER = '\uFFFD';

/** One character of a read line. */
export interface LineCharacter {
  /** The character's label (one of the model's classes, or punctuation a pattern allowed); `null` when rejected. */
  text: string | null;
  /** Present exactly when `text` is null: why, e.g. `"not a digit"` (the model's rejection class won). */
  reason?: string;
  /**
   * Probability of `text` (or, when rejected, of the rejection) for this segment, in [0, 1], calibrated as `recognize`
   * reports. For punctuation read from the segment's shape (a pattern needed it and the model has no class for it):
   * the shape test's score in (0, 1] (src/core/line/punctuation.ts), not a model probability.
   */
  probability: number;
  /**
   * The segment's most probable labels, most probable first (k = `ReadLineOptions.topK`, default `defaultTopK`):
   * what the page offers when the user taps the character. Calibrated probabilities of the character model.
   */
  alternatives: ClassProbability[];
  /** Where the character is, in the input's coordinates (image px or ink units). */
  box: LineBox;
  /** Ink input: indices into the ink's `strokes` of the strokes (whole or in part) this character is made of; absent for images. */
  strokes?: number[];
  /** True when a space comes before this character in `text` (a gap much wider than the line's spacing). */
  spaceBefore?: boolean;
}

/** What `readLine` answers for one line. */
export interface LineReading {
  /**
   * The line's text: the characters' `text` in reading order (left to right), a space before those with
   * `spaceBefore`, and `REJECTED_CHARACTER` for each rejected character. Empty for a line without characters.
   */
  text: string;
  /** The characters, left to right. */
  characters: LineCharacter[];
  /**
   * Confidence that the whole text is right, in [0, 1]: the search's estimate of the chosen path's probability among
   * the alternatives it considered (segmentations and labels). See ./readLine.ts for how it is computed.
   */
  confidence: number;
  /** With `ReadLineOptions.pattern` or `words`: whether the text satisfies it (false: no path did; the best unconstrained path is given). */
  constraintMet?: boolean;
  /** Wall-clock time of each stage in ms. */
  timings: { segmentMs: number; preprocessMs: number; inferenceMs: number; searchMs: number; totalMs: number };
}

/** Options of `readLine`. */
export interface ReadLineOptions {
  /** Names the input in error messages (a file name, a form field); default `'line'`. */
  name?: string;
  /**
   * A regular expression the whole text must match (anchored at both ends; JavaScript syntax, as a string or RegExp),
   * e.g. `'\\d{3}-\\d{4}'` or `'\\d{4}-\\d{2}-\\d{2}'`. Punctuation the pattern needs and the model lacks
   * (`- / . , :`) is recognized from the segment's shape. No path matching it: the best unconstrained reading, with
   * `constraintMet: false`.
   * @throws HwrError `BAD_ARGUMENT` (from `readLine`) for a pattern that is not a valid regular expression or uses
   *   features a finite automaton cannot express (backreferences, lookarounds)
   */
  pattern?: string | RegExp;
  /** A word list: the text must be one of these words, or several separated by spaces. Combined with `pattern` both must hold. */
  words?: readonly string[];
  /** Alternatives listed per character; default `defaultTopK(classes)`; at most `MAX_TOP_K`. */
  topK?: number;
  /** Paths kept at each position of the search; default 16. More is slower and rarely better. */
  beamWidth?: number;
  /**
   * A pair model for touching characters (e.g. `models/digit-segments` for `digits`, whose metadata names
   * `pairsFor: "digits"`): a model whose classes are two-character labels (`"00"`..`"99"`), any other class (`"none"`)
   * meaning "not a pair". Candidates about two characters wide are also classified by it, and the search may read
   * such a candidate as two characters at once (where no cut separates them: a slanted 1 under its neighbour). Its
   * input profile may differ from the character model's (metadata drives it). A segment model also has the
   * character model's single-character classes (`digit-segments`: `"0"`..`"9"`): then every character candidate is
   * classified by it too and its probabilities are blended in (src/core/line/pairs.ts, `segmentClasses`). Used for images only (ignored for ink:
   * strokes are not split, and on ink digits it read 96.6% against 96.9% without). A segment verifier has no
   * character classes, only kinds of candidate with a `"whole"` class and no two-character class (`hanzi-segments`:
   * `"whole"`, `"part"`, `"several"`; src/core/line/pairs.ts, `verifierClass`): every character candidate is
   * classified by it and its weighted log p(whole) is added to every option (images; ink only when
   * `PAIR_TUNING.VERIFIER_INK_WEIGHT` > 0), and it gives no pair edges. Method: Ciresan, "Avoiding segmentation
   * in multi-digit numeral string recognition by combining single and two-digit classifiers trained without negative
   * examples", SYNASC 2008; see src/core/line/pairs.ts.
   * @throws HwrError `BAD_ARGUMENT` (from `readLine`) for a model without any two-character class that is no verifier
   */
  pairs?: Recognizer;
}

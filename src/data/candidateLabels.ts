/**
 * Ground truth for training on the line reader's own candidates (issue 12): what ink of which character a candidate
 * (a run of primitives cut out of a composed line) holds, from the composer's pixel owners (`ImageLine.owners`,
 * ./lines.ts). Shared by scripts/train-digit-segments.ts (digits: one whole digit, a pair, none) and
 * scripts/train-hanzi-segments.ts (hanzi: whole, part, several).
 *
 * Pure: no model, no files.
 */

/**
 * Total ink of each drawn character of a line.
 * @param ink `[height * width]` float32 ink strength of the segmented line (`ImageLayout.ink`, the working map; the
 *   composer's owners index the same pixels only when the layout did not shrink the line: `layout.shrink === 1`)
 * @param owners `[height * width]` int16 per pixel the drawn character it belongs to, -1 for paper (`ImageLine.owners`)
 * @param count the number of drawn characters (`ImageLine.boxes.length`)
 * @returns `[count]` float64 sums of `ink` over each character's pixels
 */
export function characterInk(ink: ArrayLike<number>, owners: ArrayLike<number>, count: number): Float64Array {
  const totals = new Float64Array(count);
  for (let i = 0; i < ink.length; i++) if (owners[i]! >= 0) totals[owners[i]!] += ink[i]!;
  return totals;
}

/**
 * The share of each character's ink that a candidate holds.
 * @param ink, owners as `characterInk`
 * @param totals `characterInk`'s result
 * @param pieces the candidate's pixels (indices into `ink`), e.g. its primitives' `pixels`, in order
 * @returns `[totals.length]` float64 in [0, 1]: held ink / the character's ink (0 for a character without ink)
 */
export function inkShares(ink: ArrayLike<number>, owners: ArrayLike<number>, totals: Float64Array, pieces: Iterable<ArrayLike<number>>): Float64Array {
  const held = new Float64Array(totals.length);
  for (const pixels of pieces) {
    for (let j = 0; j < pixels.length; j++) {
      const p = pixels[j]!;
      if (owners[p]! >= 0) held[owners[p]!] += ink[p]!;
    }
  }
  for (let i = 0; i < held.length; i++) held[i] = totals[i]! > 0 ? held[i]! / totals[i]! : 0;
  return held;
}

/** The classes of a hanzi segment verifier, in model output order (`metadata.classes` of `models/hanzi-segments`). */
export const VERIFIER_CLASSES = ['whole', 'part', 'several'] as const;

/** Thresholds of `verifierLabel`, as shares of a character's ink. */
export interface VerifierThresholds {
  /** A character is held whole at this share or more (default 0.9). */
  whole?: number;
  /** A character is touched above this share (default 0.05): below it, a speck of a neighbour does not count. */
  touched?: number;
}

/**
 * A candidate's verifier label from its ink shares (`inkShares`): `0` whole (one character held at >= `whole`, no
 * other above `touched`), `2` several (two or more characters above `touched`), `1` part (one character above
 * `touched` but not whole, or only specks), or null when it holds no character's ink at all.
 * @returns an index into `VERIFIER_CLASSES`, or null
 */
export function verifierLabel(shares: ArrayLike<number>, thresholds: VerifierThresholds = {}): 0 | 1 | 2 | null {
  const whole = thresholds.whole ?? 0.9;
  const touched = thresholds.touched ?? 0.05;
  let inked = false;
  let count = 0;
  let best = 0;
  for (let i = 0; i < shares.length; i++) {
    const s = shares[i]!;
    if (s > 0) inked = true;
    if (s > touched) count++;
    best = Math.max(best, s);
  }
  if (!inked) return null;
  if (count >= 2) return 2;
  return best >= whole ? 0 : 1;
}

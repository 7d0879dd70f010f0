/**
 * How the page and the CLI write a probability for people: as a percentage with a fixed number of decimals,
 * never rounded up to a certainty it is not ("100%") nor down to an impossibility ("0%").
 * Machine-readable outputs (`--json`, the API) keep the full float instead.
 */

/**
 * Writes a probability as a percentage with `decimals` decimals.
 *
 * Values that would round to 0% or 100% are written as bounds instead, since a softmax output is never exactly
 * 0 or 1 (a float32 that reads 1.0 only says the rest is under 6e-8): with 2 decimals,
 * 0.9945 -> "99.45%", 0.00003 -> "<0.01%", 0.99999 -> ">99.99%", 1 -> ">99.99%", 0 -> "<0.01%".
 *
 * @param probability a value in [0, 1].
 * @param decimals digits after the decimal point, an integer from 0 to 6 (default 2).
 * @returns the text, e.g. "97.30%"; "NaN%" only for a NaN input.
 * @throws RangeError when `decimals` is not an integer from 0 to 6.
 */
export function formatProbability(probability: number, decimals = 2): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 6) {
    throw new RangeError(`formatProbability: decimals must be an integer from 0 to 6, got ${decimals}`);
  }
  const percent = probability * 100;
  const step = 10 ** -decimals;
  if (percent < step) return `<${step.toFixed(decimals)}%`;
  if (percent > 100 - step) return `>${(100 - step).toFixed(decimals)}%`;
  return `${percent.toFixed(decimals)}%`;
}

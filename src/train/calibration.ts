/**
 * Probability calibration of a classifier: temperature scaling and the expected calibration error, after
 * C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
 *
 * A network's softmax output `p = softmax(z)` is often over-confident. Temperature scaling divides the logits by
 * one scalar T > 0 fitted on held-out data (the validation split) by minimizing the negative log-likelihood;
 * the argmax, and so the accuracy, does not change. Our models output probabilities, not logits, but
 * `log p = z - logsumexp(z)` differs from z by a per-row constant, which softmax ignores, so
 * `softmax(log p / T)` is exactly `softmax(z / T)`: see `applyTemperature` in src/core/recognizer.ts.
 *
 * Plain typed arrays; no TF.js, no Node APIs.
 */
import { hwrError } from '../core/errors.ts';
import { applyTemperature } from '../core/recognizer.ts';

/** Number of equal-width confidence bins of the expected calibration error, as in Guo et al. 2017. */
export const ECE_BINS = 15;

/**
 * Expected calibration error (Naeini, Cooper and Hauskrecht, AAAI 2015; Guo et al. 2017, eq. 3): the top-1
 * confidences are put into `bins` equal-width bins over [0, 1]; ECE = sum over bins of
 * (bin size / n) * |accuracy(bin) - mean confidence(bin)|.
 *
 * @param probabilities `[n * classes]` float32, row-major, each row sums to 1
 * @param labels        `[n]` true class indices
 * @param classes       number of classes
 * @param bins          number of bins (default 15)
 * @returns ECE in [0, 1] (0 for n = 0)
 * @throws HwrError `BAD_ARGUMENT` when the lengths do not match
 */
export function expectedCalibrationError(probabilities: Float32Array, labels: ArrayLike<number>, classes: number, bins = ECE_BINS): number {
  const n = checkShapes(probabilities, labels, classes);
  if (n === 0) return 0;
  const count = new Float64Array(bins);
  const correct = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    const p = probabilities[i * classes + best]!;
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    count[bin]!++;
    confidence[bin]! += p;
    if (best === labels[i]) correct[bin]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(correct[b]! - confidence[b]!) / n;
  return ece;
}

/**
 * Mean negative log-likelihood of the true classes, in nats, with probabilities clamped at 1e-12.
 * @throws HwrError `BAD_ARGUMENT` when the lengths do not match
 */
export function negativeLogLikelihood(probabilities: Float32Array, labels: ArrayLike<number>, classes: number): number {
  const n = checkShapes(probabilities, labels, classes);
  let sum = 0;
  for (let i = 0; i < n; i++) sum -= Math.log(Math.max(1e-12, probabilities[i * classes + labels[i]!]!));
  return n ? sum / n : 0;
}

/**
 * Fits the temperature T that minimizes the negative log-likelihood of `applyTemperature(probabilities, T)`:
 * golden-section search over log T in [log 0.05, log 20] (the NLL is unimodal in T for a fixed set of logits).
 *
 * @param probabilities `[n * classes]` uncalibrated probabilities of held-out data (the validation split)
 * @param labels        `[n]` true class indices
 * @param classes       number of classes
 * @returns T > 0; 1 leaves the probabilities unchanged, T > 1 softens over-confident ones
 * @throws HwrError `BAD_ARGUMENT` when the lengths do not match or there is no data
 */
export function fitTemperature(probabilities: Float32Array, labels: ArrayLike<number>, classes: number): number {
  const n = checkShapes(probabilities, labels, classes);
  if (n === 0) throw hwrError('BAD_ARGUMENT', 'fitTemperature: no held-out samples to fit the temperature on');
  const loss = (logT: number) => negativeLogLikelihood(applyTemperature(probabilities, classes, Math.exp(logT)), labels, classes);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(0.05);
  let b = Math.log(20);
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = loss(c);
  let fd = loss(d);
  for (let i = 0; i < 40; i++) {
    if (fc < fd) {
      b = d; d = c; fd = fc;
      c = b - ratio * (b - a);
      fc = loss(c);
    } else {
      a = c; c = d; fc = fd;
      d = a + ratio * (b - a);
      fd = loss(d);
    }
  }
  return Math.exp((a + b) / 2);
}

/** Checks `[n * classes]` against `[n]` and returns n. */
function checkShapes(probabilities: Float32Array, labels: ArrayLike<number>, classes: number): number {
  if (!(Number.isInteger(classes) && classes >= 2)) throw hwrError('BAD_ARGUMENT', `classes: expected an integer >= 2, got ${classes}`);
  if (probabilities.length !== labels.length * classes) {
    throw hwrError('BAD_ARGUMENT', `probabilities: expected ${labels.length} x ${classes} = ${labels.length * classes} values, got ${probabilities.length}`);
  }
  return labels.length;
}

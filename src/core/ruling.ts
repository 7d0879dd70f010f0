/**
 * Removal of the printed lines of ruled and squared paper from an ink map, so that they neither widen the digit's
 * bounding box nor reach the model.
 *
 * Method: projection profiles, as in form and table-line removal (e.g. Yu and Jain 1996, "A generic system for form
 * dropout", IEEE PAMI 18(11); the run-length line detection of Kasturi et al., "Document image analysis: a primer",
 * 2002): a ruling line is a band of a few rows (columns) in which ink covers nearly the whole width (height) of the image,
 * far more than a digit written on the paper leaves room for. Each pixel of such a band is erased, except where a
 * stroke crosses the band (ink just above and just below it), so a digit written across a line keeps its stroke.
 *
 * Only straight lines parallel to the image's edges are found: a page photographed a few degrees askew still
 * works when the tilt keeps a line within a band (about 1 degree for a 200 px photo).
 *
 * Plain typed-array code; runs in the browser and in Node.
 */

/**
 * Fraction of a row (column) that ink must cover for it to be part of a ruling line. A digit never comes close:
 * MNIST leaves 4 of 28 px free on each side (at most 79% covered), a drawing canvas or a photo leaves more.
 */
export const RULING_COVERAGE = 0.85;

/** Thickest band taken for a line: 4 px, or 2.5% of the image's shorter side for large photos, plus 1 px of rim each side. */
function maxBandThickness(width: number, height: number): number {
  return 2 + Math.max(4, Math.round(0.025 * Math.min(width, height)));
}

/**
 * Erases horizontal and vertical ruling lines from an ink map, in place.
 *
 * @param ink `[height * width]` float32 ink strength in [0, 1] (see `toInk`); modified in place.
 * @param width Image width in px.
 * @param height Image height in px.
 * @param threshold Fraction (0, 1) of the strongest ink above which a pixel counts as ink (as in `inkBoundingBox`).
 * @returns How many lines were erased, horizontal and vertical.
 */
export function removeRulingLines(ink: Float32Array, width: number, height: number, threshold: number): { horizontal: number; vertical: number } {
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i]! > strongest) strongest = ink[i]!;
  if (strongest === 0) return { horizontal: 0, vertical: 0 };
  const level = threshold * strongest;
  const maxBand = maxBandThickness(width, height);
  // Find both directions' bands before erasing either, so that a grid's crossings do not hide lines from each other.
  const rows = findBands(ink, width, height, 1, width, level, maxBand);
  const columns = findBands(ink, height, width, width, 1, level, maxBand);
  // Ink on another ruling line is not a stroke crossing this one: a grid's intersections must go too.
  const ruled = new Uint8Array(ink.length);
  for (const band of rows) ruled.fill(1, band.from * width, (band.to + 1) * width);
  for (const band of columns) for (let y = 0; y < height; y++) ruled.fill(1, y * width + band.from, y * width + band.to + 1);
  const keepRows = rows.map((band) => crossings(ink, ruled, width, height, 1, width, band, level));
  const keepColumns = columns.map((band) => crossings(ink, ruled, height, width, width, 1, band, level));
  rows.forEach((band, b) => eraseBand(ink, width, 1, width, band, keepRows[b]!));
  columns.forEach((band, b) => eraseBand(ink, height, width, 1, band, keepColumns[b]!));
  return { horizontal: rows.length, vertical: columns.length };
}

/** A band of lines (rows or columns) `from`..`to`, inclusive. */
interface Band {
  from: number;
  to: number;
}

/**
 * Bands of consecutive lines whose coverage (ink above `level / 2`, gaps of up to 4 px bridged, in the line or one of
 * its two neighbours, to bridge a 1 px tilt) reaches `RULING_COVERAGE`, at most `maxBand` lines thick.
 * The image is walked generically: `length` pixels along a line, `step` apart; `count` lines, `stride` apart.
 */
function findBands(ink: Float32Array, length: number, count: number, step: number, stride: number, level: number, maxBand: number): Band[] {
  // A faint or JPEG-broken line still counts: half the ink level, and gaps of up to 4 px bridged along the line.
  // Three neighbouring lines only cover RULING_COVERAGE together if one of them covers a third of it: only lines
  // next to such a candidate are looked at closely.
  const bridged = (line: number, mark?: Uint8Array): number => {
    let lastHit = -Infinity;
    let hits = 0;
    for (let i = 0; i < length; i++) {
      if (ink[line * stride + i * step]! > level / 2) {
        if (mark) mark.fill(1, i - lastHit <= 5 ? lastHit + 1 : i, i + 1);
        hits += i - lastHit <= 5 ? i - lastHit : 1;
        lastHit = i;
      }
    }
    return hits;
  };
  const candidate = new Uint8Array(count);
  for (let line = 0; line < count; line++) candidate[line] = bridged(line) >= (RULING_COVERAGE / 3) * length ? 1 : 0;
  const covered = new Uint8Array(count);
  const marks = new Map<number, Uint8Array>();
  const marksOf = (line: number): Uint8Array => {
    let mark = marks.get(line);
    if (!mark) {
      mark = new Uint8Array(length);
      bridged(line, mark);
      marks.set(line, mark);
    }
    return mark;
  };
  for (let line = 0; line < count; line++) {
    if (!candidate[line] && !(line > 0 && candidate[line - 1]) && !(line + 1 < count && candidate[line + 1])) continue;
    const here = marksOf(line);
    const above = line > 0 ? marksOf(line - 1) : undefined;
    const below = line + 1 < count ? marksOf(line + 1) : undefined;
    let hits = 0;
    for (let i = 0; i < length; i++) if (here[i] || above?.[i] || below?.[i]) hits++;
    covered[line] = hits >= RULING_COVERAGE * length ? 1 : 0;
  }
  const bands: Band[] = [];
  for (let line = 0; line < count; line++) {
    if (!covered[line]) continue;
    let to = line;
    while (to + 1 < count && covered[to + 1]) to++;
    if (to - line + 1 <= maxBand) bands.push({ from: line, to });
    line = to;
  }
  return bands;
}

/**
 * Positions along a band where a stroke crosses it: ink above `level` within 2 px (along the band) on both sides,
 * just before and just after the band, and not on another ruling line. The band's pixels there belong to the stroke
 * as well as to the line.
 */
function crossings(
  ink: Float32Array,
  ruled: Uint8Array,
  length: number,
  count: number,
  step: number,
  stride: number,
  band: Band,
  level: number,
): Uint8Array {
  const keep = new Uint8Array(length);
  if (band.from === 0 || band.to === count - 1) return keep;
  const near = (line: number, i: number): boolean => {
    for (let k = Math.max(0, i - 2); k <= Math.min(length - 1, i + 2); k++) {
      const index = line * stride + k * step;
      if (ink[index]! > level && !ruled[index]) return true;
    }
    return false;
  };
  for (let i = 0; i < length; i++) keep[i] = near(band.from - 1, i) && near(band.to + 1, i) ? 1 : 0;
  return keep;
}

/**
 * Erases a band, except where a stroke crosses it (`keep`) and where the ink is much stronger than the printed line
 * (more than `PEN_OVER_LINE` times the band's median strength across its length): a pen stroke that runs along a
 * light ruling line, such as a 7's bar written on it, stays.
 */
function eraseBand(ink: Float32Array, length: number, step: number, stride: number, band: Band, keep: Uint8Array): void {
  const profile = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    for (let line = band.from; line <= band.to; line++) profile[i] = Math.max(profile[i]!, ink[line * stride + i * step]!);
  }
  const lineStrength = profile.sort()[length >> 1]!;
  for (let line = band.from; line <= band.to; line++) {
    for (let i = 0; i < length; i++) {
      const index = line * stride + i * step;
      if (!keep[i] && ink[index]! <= PEN_OVER_LINE * lineStrength) ink[index] = 0;
    }
  }
}

/** Ink this many times stronger than a ruling line's median strength is pen, not print. */
const PEN_OVER_LINE = 2;

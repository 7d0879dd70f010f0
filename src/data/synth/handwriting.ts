/**
 * Synthetic handwriting: turns a character's reference pen strokes (e.g. Make Me a Hanzi medians) into one
 * writer's hurried rendition, as ink with pressure and time.
 *
 * A *writer* is a random style drawn once (`randomWriterStyle`) and kept for all of its characters: slant,
 * width-to-height ratio, pen width, how carelessly strokes are placed, how curved and how jittery they are, how
 * much corners are rounded, how often consecutive strokes are joined without lifting the pen, ink darkness and
 * size. Each character then gets its own small variations (`handwrite`):
 *
 * 1. a whole-character affine: the writer's slant (shear) and aspect, plus a little rotation and scale;
 * 2. per stroke: a random affine about the stroke's centre (rotation, scale, translation: strokes that do not
 *    quite meet or overshoot, as in fast writing), ends shortened or extended;
 * 3. per stroke: resampling at an even step along its length, then curvature noise (a low-frequency sideways
 *    bow and wave, so straight strokes are not ruler-straight) and point jitter;
 * 4. smoothing with a moving average (rounded corners, as a hand that does not stop at each turn);
 * 5. now and then (the writer's `connectProbability`) a stroke runs into the next one through a light, curved
 *    connecting line, the pen not lifted;
 * 6. pressure (pen width) that rises at the start, varies, and thins out at the end; times from the writer's speed.
 *
 * The units are those of the reference ink (the 1024-unit box for Make Me a Hanzi). Everything is drawn from
 * the given `Rng` in a fixed order, so a seed gives the same ink. Pure computation: no Node imports.
 */

import type { Ink, InkPoint, InkStroke } from '../../core/ink.ts';
import type { Rng } from '../augment.ts';

/** A synthetic writer's fixed habits. Lengths are in reference-ink units (1024-unit box), angles in degrees. */
export interface WriterStyle {
  /** Horizontal shear: x moves by `slant * (height above the centre)`; > 0 leans right. */
  slant: number;
  /** Horizontal stretch of the whole character (width / height factor). */
  aspect: number;
  /** Typical rotation of a whole character. */
  rotationDeg: number;
  /** Standard deviation of a stroke's displacement. */
  strokeShift: number;
  /** Standard deviation of a stroke's rotation about its centre. */
  strokeRotationDeg: number;
  /** Standard deviation of a stroke's scale about its centre (0.05 = 5%). */
  strokeScale: number;
  /** Amplitude of the sideways bow and wave of a stroke. */
  curvature: number;
  /** Standard deviation of each resampled point's jitter. */
  jitter: number;
  /** Half-width, in resampled points, of the smoothing window (0 = none); more rounds corners more. */
  smoothing: number;
  /** Mean change of stroke length at each end, as a fraction of the stroke length (> 0 shortens). */
  endTrim: number;
  /** Probability that a stroke is joined to the next one without lifting the pen. */
  connectProbability: number;
  /** Pen width in output px at pressure 0.5 (see `renderInk`'s `usePressure`). */
  penWidthPx: number;
  /** How much the pressure varies along and between strokes (0 = constant 0.5). */
  pressureVariation: number;
  /** Longest side of the rendered character in px. */
  sizePx: number;
  /** Gray level of full ink on 255 paper, 0-255: 0 is black. */
  inkGray: number;
  /** Pen speed in reference units per ms (times of the ink's points). */
  speed: number;
}

/** A standard normal deviate from `rng` (Box-Muller, one of the pair). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]: log stays finite
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Draws a writer: neat to hurried, upright to leaning, thin to thick pens, small to large. The ranges were set
 * by eye on preview grids (`hwr synth --preview`), not fitted to real data: no CASIA samples were at hand.
 */
export function randomWriterStyle(rng: Rng): WriterStyle {
  const hurry = rng.next(); // 0 = neat, 1 = hurried: several habits grow together
  const sizePx = Math.round(rng.uniform(52, 84));
  return {
    slant: rng.uniform(-0.12, 0.22),
    aspect: rng.uniform(0.85, 1.12),
    rotationDeg: rng.uniform(-3, 3),
    strokeShift: 8 + 22 * hurry + rng.uniform(0, 8),
    strokeRotationDeg: 1.5 + 4 * hurry,
    strokeScale: 0.03 + 0.06 * hurry,
    curvature: 6 + 22 * rng.next(),
    jitter: rng.uniform(0.5, 2),
    smoothing: Math.round(1 + 3 * hurry),
    endTrim: rng.uniform(-0.04, 0.04) + 0.08 * hurry,
    connectProbability: 0.6 * hurry ** 1.5,
    pressureVariation: rng.uniform(0.05, 0.35),
    sizePx,
    // A pen 3.5% to 6.5% of the character's size: 1.8-3.4 px at 52 px, 2.9-5.5 px at 84 px.
    penWidthPx: sizePx * rng.uniform(0.035, 0.065),
    inkGray: Math.round(rng.uniform(0, 90)),
    speed: rng.uniform(0.6, 1.6) * (1 + hurry),
  };
}

/** Resampling step along a stroke, in reference units. */
const STEP = 14;

/**
 * One writer's rendition of a character: see the module comment for the steps.
 *
 * @param reference  the character's strokes in stroke order, y down (e.g. `loadHanziInk`)
 * @param style      the writer (`randomWriterStyle`)
 * @param rng        the generator; the same state gives the same ink
 * @returns ink in the reference's units, every point with `pressure` and `t` (ms from the first pen-down)
 */
export function handwrite(reference: Ink, style: WriterStyle, rng: Rng): Ink {
  const center = centerOf(reference.strokes.flat());
  const rotation = ((style.rotationDeg + gaussian(rng) * 1.5) * Math.PI) / 180;
  const scale = 1 + gaussian(rng) * 0.03;
  const slant = style.slant + gaussian(rng) * 0.03;
  const cos = Math.cos(rotation) * scale;
  const sin = Math.sin(rotation) * scale;
  const place = (p: InkPoint): InkPoint => {
    const x = (p.x - center.x) * style.aspect + slant * (center.y - p.y);
    const y = p.y - center.y;
    return { x: center.x + cos * x - sin * y, y: center.y + sin * x + cos * y };
  };

  const strokes = reference.strokes.filter((s) => s.length > 0).map((stroke) => writeStroke(stroke.map(place), style, rng));
  return { strokes: withTimes(joinStrokes(strokes, style, rng), style, rng) };
}

/** Mean of the points (the centre for affine maps). */
function centerOf(points: readonly InkPoint[]): { x: number; y: number } {
  let x = 0;
  let y = 0;
  for (const p of points) (x += p.x), (y += p.y);
  return { x: x / Math.max(1, points.length), y: y / Math.max(1, points.length) };
}

/** Steps 2-4 and the pressure of step 6 for one stroke. */
function writeStroke(stroke: InkStroke, style: WriterStyle, rng: Rng): InkStroke {
  // 2. Per-stroke affine about its centre.
  const c = centerOf(stroke);
  const angle = (gaussian(rng) * style.strokeRotationDeg * Math.PI) / 180;
  const s = 1 + gaussian(rng) * style.strokeScale;
  const dx = gaussian(rng) * style.strokeShift;
  const dy = gaussian(rng) * style.strokeShift;
  const cos = Math.cos(angle) * s;
  const sin = Math.sin(angle) * s;
  const moved = stroke.map((p) => ({ x: c.x + dx + cos * (p.x - c.x) - sin * (p.y - c.y), y: c.y + dy + sin * (p.x - c.x) + cos * (p.y - c.y) }));

  // 3. Even resampling, ends trimmed or extended.
  const length = polylineLength(moved);
  const trimStart = (style.endTrim + gaussian(rng) * 0.04) * length;
  const trimEnd = (style.endTrim + gaussian(rng) * 0.04) * length;
  const from = Math.min(Math.max(-0.15 * length, trimStart), 0.3 * length);
  const to = Math.max(from, length - Math.min(Math.max(-0.15 * length, trimEnd), 0.3 * length));
  const points = resample(moved, from, to, STEP);

  // Curvature noise: a bow over the whole stroke and a wave of 0.5-1.5 periods, both sideways.
  const bow = gaussian(rng) * style.curvature;
  const wave = gaussian(rng) * style.curvature * 0.5;
  const periods = rng.uniform(0.5, 1.5);
  const phase = rng.uniform(0, 2 * Math.PI);
  const n = points.length;
  const offsets = points.map((_, i) => {
    const u = n > 1 ? i / (n - 1) : 0;
    return bow * Math.sin(Math.PI * u) + wave * Math.sin(2 * Math.PI * periods * u + phase) * Math.sin(Math.PI * u);
  });
  const bent = points.map((p, i) => {
    const a = points[Math.max(0, i - 1)]!;
    const b = points[Math.min(n - 1, i + 1)]!;
    const tx = b.x - a.x;
    const ty = b.y - a.y;
    const norm = Math.sqrt(tx * tx + ty * ty) || 1;
    return {
      x: p.x - (ty / norm) * offsets[i]! + gaussian(rng) * style.jitter,
      y: p.y + (tx / norm) * offsets[i]! + gaussian(rng) * style.jitter,
    };
  });

  // 4. Rounded corners.
  const smooth = movingAverage(bent, style.smoothing);

  // 6. Pressure: a quick rise, a slow random drift, a thinning tail.
  const base = 0.5 * (1 + gaussian(rng) * style.pressureVariation * 0.5);
  const drift = gaussian(rng) * style.pressureVariation;
  const tail = rng.uniform(0.45, 0.9);
  return smooth.map((p, i) => {
    const u = n > 1 ? i / (n - 1) : 0.5;
    const rise = Math.min(1, 0.55 + u * 6);
    const fall = u > tail ? 1 - ((u - tail) / (1 - tail)) * 0.45 : 1;
    const pressure = Math.min(1, Math.max(0.12, (base + drift * (u - 0.5)) * rise * fall));
    return { x: p.x, y: p.y, pressure };
  });
}

/** Step 5: joins a stroke to the next through a light curved line, with the writer's probability. */
function joinStrokes(strokes: InkStroke[], style: WriterStyle, rng: Rng): InkStroke[] {
  const out: InkStroke[] = [];
  for (const stroke of strokes) {
    const previous = out[out.length - 1];
    if (previous && rng.next() < style.connectProbability) {
      const a = previous[previous.length - 1]!;
      const b = stroke[0]!;
      const gap = Math.sqrt((b.x - a.x) ** 2 + (b.y - a.y) ** 2);
      if (gap < 400) {
        // A quadratic Bezier bulging sideways, drawn with little pressure (the pen barely touching).
        const bend = gaussian(rng) * 0.25 * gap;
        const cx = (a.x + b.x) / 2 - ((b.y - a.y) / (gap || 1)) * bend;
        const cy = (a.y + b.y) / 2 + ((b.x - a.x) / (gap || 1)) * bend;
        const steps = Math.max(2, Math.ceil(gap / STEP));
        const pressure = rng.uniform(0.15, 0.3);
        for (let i = 1; i < steps; i++) {
          const u = i / steps;
          previous.push({
            x: (1 - u) * (1 - u) * a.x + 2 * (1 - u) * u * cx + u * u * b.x,
            y: (1 - u) * (1 - u) * a.y + 2 * (1 - u) * u * cy + u * u * b.y,
            pressure,
          });
        }
        previous.push(...stroke);
        continue;
      }
    }
    out.push([...stroke]);
  }
  return out;
}

/** Times in ms: points advance at the writer's speed; each pen lift costs 80-250 ms. */
function withTimes(strokes: InkStroke[], style: WriterStyle, rng: Rng): InkStroke[] {
  let t = 0;
  return strokes.map((stroke, s) => {
    if (s > 0) t += rng.uniform(80, 250);
    return stroke.map((p, i) => {
      if (i > 0) t += Math.sqrt((p.x - stroke[i - 1]!.x) ** 2 + (p.y - stroke[i - 1]!.y) ** 2) / style.speed;
      return { ...p, t: Math.round(t) };
    });
  });
}

/** Total length of a polyline. */
function polylineLength(points: readonly InkPoint[]): number {
  let length = 0;
  for (let i = 1; i < points.length; i++) length += Math.sqrt((points[i]!.x - points[i - 1]!.x) ** 2 + (points[i]!.y - points[i - 1]!.y) ** 2);
  return length;
}

/**
 * Points every `step` units of arc length from `from` to `to` (both ends included), extrapolating along the end
 * segments for positions before 0 or past the length. A one-point polyline comes back as is.
 */
function resample(points: readonly InkPoint[], from: number, to: number, step: number): InkPoint[] {
  if (points.length < 2) return points.map((p) => ({ x: p.x, y: p.y }));
  const cumulative = [0];
  for (let i = 1; i < points.length; i++) {
    cumulative.push(cumulative[i - 1]! + Math.sqrt((points[i]!.x - points[i - 1]!.x) ** 2 + (points[i]!.y - points[i - 1]!.y) ** 2));
  }
  const count = Math.max(1, Math.ceil((to - from) / step));
  const out: InkPoint[] = [];
  let segment = 1;
  for (let k = 0; k <= count; k++) {
    const d = from + ((to - from) * k) / count;
    while (segment < points.length - 1 && cumulative[segment]! < d) segment++;
    const a = points[segment - 1]!;
    const b = points[segment]!;
    const span = cumulative[segment]! - cumulative[segment - 1]! || 1;
    const u = (d - cumulative[segment - 1]!) / span;
    out.push({ x: a.x + (b.x - a.x) * u, y: a.y + (b.y - a.y) * u });
  }
  return out;
}

/** A centred moving average of half-width `radius` points, the window shrinking at the ends (which stay put). */
function movingAverage(points: readonly InkPoint[], radius: number): InkPoint[] {
  if (radius < 1 || points.length < 3) return points.slice();
  return points.map((p, i) => {
    const r = Math.min(radius, i, points.length - 1 - i);
    let x = 0;
    let y = 0;
    for (let j = i - r; j <= i + r; j++) (x += points[j]!.x), (y += points[j]!.y);
    return { x: x / (2 * r + 1), y: y / (2 * r + 1) };
  });
}

/**
 * Test-only writers: a model of writer variation that shares no code with the training augmentation, so that
 * "other writers" can be measured by hands the recipe never saw the generator of (bench/teach.ts, column "other hands
 * (independent generator)"). Nothing in src/train or the augmentation (src/data/inkAugment.ts, src/data/synth/)
 * imports this module, and it imports neither of them (not even their random numbers: it has its own generator).
 *
 * A sample of a glyph (a font's ink, `glyphInk`, in any unit, y down) by a `TestWriter`:
 * 1. every stroke resampled densely along its arc length (1% of the glyph size), so the deformation bends lines;
 * 2. an affine map about the glyph's centre: the writer's shear, rotation and aspect (fixed per writer) times a small
 *    per-sample shear, rotation and aspect;
 * 3. an elastic displacement field (Simard, Steinkraus, Platt, "Best practices for convolutional neural networks
 *    applied to visual document analysis", ICDAR 2003): uniform random displacements in [-1, 1] on a 17 x 17 grid
 *    over the glyph box, smoothed by a Gaussian of `sigma` glyph sizes, scaled to a largest displacement of 1 and
 *    multiplied by `alpha` glyph sizes, read at each point by bilinear interpolation. Two fields add up: the writer's
 *    own (fixed per writer: how this hand bends letters) and a fresh one per sample;
 * 4. every stroke resampled again at the writer's point spacing (a pen tablet's density), a stroke reversed with the
 *    writer's probability, the stroke order reversed with the writer's probability (the renderer does not care);
 * 5. times at a constant pen speed (whole ms).
 * The writer's pen width (a factor on the model's pen width) is `penWidthScale`: the caller renders with it.
 */

import { hwrError } from '../core/errors.ts';
import type { Ink, InkPoint, InkStroke } from '../core/ink.ts';
import { emptyInkDataset, type InkDataset, type InkSample } from './inkDataset.ts';

/** A uniform random number generator in [0, 1): SplitMix32 (Steele, Lea, Flood, OOPSLA 2014, 32-bit variant). */
export type TestRandom = () => number;

/** A `TestRandom` from a seed (any finite number; the same seed, the same sequence). */
export function testRandom(seed: number): TestRandom {
  if (!Number.isFinite(seed)) throw hwrError('BAD_ARGUMENT', `testRandom: seed: expected a finite number, got ${seed}`);
  let state = Math.floor(seed) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

const between = (random: TestRandom, min: number, max: number): number => min + (max - min) * random();

/** An elastic displacement field over a glyph box: displacements in glyph sizes on a square grid. */
export interface ElasticField {
  /** Grid points per side (`GRID`). */
  grid: number;
  /** `[grid * grid]` x displacements, in glyph sizes, row-major (row = y). */
  dx: Float64Array;
  /** `[grid * grid]` y displacements, in glyph sizes. */
  dy: Float64Array;
}

const GRID = 17;

/**
 * A Simard-style elastic field: uniform [-1, 1] displacements per grid point, each component smoothed by a Gaussian
 * of `sigma` glyph sizes (the grid spans one glyph size), scaled so that the largest displacement length is `alpha`.
 * @param sigma  smoothing, in glyph sizes (> 0; Simard et al. use about 4 px of 28, here 0.15-0.25)
 * @param alpha  the largest displacement, in glyph sizes (>= 0)
 * @throws HwrError `BAD_ARGUMENT` for a sigma <= 0 or a negative alpha
 */
export function elasticField(random: TestRandom, sigma: number, alpha: number): ElasticField {
  if (!(sigma > 0)) throw hwrError('BAD_ARGUMENT', `elasticField: sigma: expected > 0, got ${sigma}`);
  if (!(alpha >= 0)) throw hwrError('BAD_ARGUMENT', `elasticField: alpha: expected >= 0, got ${alpha}`);
  const n = GRID;
  const raw = [new Float64Array(n * n), new Float64Array(n * n)] as const;
  for (const r of raw) for (let i = 0; i < r.length; i++) r[i] = between(random, -1, 1);
  const s = sigma * (n - 1);
  const radius = Math.ceil(3 * s);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * s * s)));
  const blur = (src: Float64Array, horizontal: boolean): Float64Array => {
    const out = new Float64Array(n * n);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        let sum = 0;
        let weight = 0;
        for (let k = -radius; k <= radius; k++) {
          const xx = horizontal ? x + k : x;
          const yy = horizontal ? y : y + k;
          if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
          sum += kernel[k + radius]! * src[yy * n + xx]!;
          weight += kernel[k + radius]!;
        }
        out[y * n + x] = sum / weight;
      }
    return out;
  };
  const dx = blur(blur(raw[0], true), false);
  const dy = blur(blur(raw[1], true), false);
  let largest = 0;
  for (let i = 0; i < n * n; i++) largest = Math.max(largest, Math.hypot(dx[i]!, dy[i]!));
  const scale = largest > 0 ? alpha / largest : 0;
  for (let i = 0; i < n * n; i++) {
    dx[i] = dx[i]! * scale;
    dy[i] = dy[i]! * scale;
  }
  return { grid: n, dx, dy };
}

/**
 * The field's displacement at a position `(u, v)` in glyph-box coordinates ([0, 1] each, clamped), bilinear.
 * @returns `[dx, dy]` in glyph sizes; its length is at most the field's `alpha`
 */
export function displacementAt(field: ElasticField, u: number, v: number): [number, number] {
  const n = field.grid;
  const gx = Math.min(n - 1, Math.max(0, u * (n - 1)));
  const gy = Math.min(n - 1, Math.max(0, v * (n - 1)));
  const x0 = Math.min(n - 2, Math.floor(gx));
  const y0 = Math.min(n - 2, Math.floor(gy));
  const fx = gx - x0;
  const fy = gy - y0;
  const at = (a: Float64Array, x: number, y: number): number => a[y * n + x]!;
  const lerp = (a: Float64Array): number =>
    (1 - fy) * ((1 - fx) * at(a, x0, y0) + fx * at(a, x0 + 1, y0)) + fy * ((1 - fx) * at(a, x0, y0 + 1) + fx * at(a, x0 + 1, y0 + 1));
  return [lerp(field.dx), lerp(field.dy)];
}

/** A generated test writer: fixed per writer, drawn from a seed by `testWriter`. */
export interface TestWriter {
  /** `hand<seed>`. */
  id: string;
  seed: number;
  /** Shear (x += shear * y, y down), rotation (radians) and aspect (width / height factor) of the hand. */
  shear: number;
  rotation: number;
  aspect: number;
  /** The writer's own elastic field (`alpha` 0.07-0.1 glyph sizes, `sigma` 0.15-0.25). */
  field: ElasticField;
  /** Largest displacement of each sample's fresh field, in glyph sizes. */
  sampleAlpha: number;
  /** Smoothing of the fields, in glyph sizes. */
  sigma: number;
  /** Distance between the written points, in glyph sizes (a tablet's density). */
  spacing: number;
  /** Probability that a stroke is drawn backwards; probability that the strokes come in reverse order. */
  reverseStroke: number;
  reverseOrder: number;
  /** The writer's pen width as a factor of the model's pen width (0.7-1.4). */
  penWidthScale: number;
}

/**
 * The test writer of a seed (bench/teach.ts uses 401-408). Ranges: shear -0.3..0.3, rotation -0.12..0.12 rad, aspect
 * 0.8..1.25, own field alpha 0.07..0.1 and per-sample alpha 0.04..0.06 glyph sizes with sigma 0.15..0.25, spacing
 * 0.015..0.06 glyph sizes, reversals 0..0.5, pen width 0.7..1.4 of the model's.
 * @throws HwrError `BAD_ARGUMENT` for a seed that is not a finite number
 */
export function testWriter(seed: number): TestWriter {
  const random = testRandom(seed * 7919 + 17);
  const sigma = between(random, 0.15, 0.25);
  return {
    id: `hand${seed}`,
    seed,
    shear: between(random, -0.3, 0.3),
    rotation: between(random, -0.12, 0.12),
    aspect: Math.exp(between(random, Math.log(0.8), Math.log(1.25))),
    field: elasticField(random, sigma, between(random, 0.07, 0.1)),
    sampleAlpha: between(random, 0.04, 0.06),
    sigma,
    spacing: between(random, 0.015, 0.06),
    reverseStroke: between(random, 0, 0.5),
    reverseOrder: between(random, 0, 0.5),
    penWidthScale: between(random, 0.7, 1.4),
  };
}

/** A stroke resampled at equal arc-length `step` (its first and last points kept); a dot stays a dot. */
function resample(stroke: InkStroke, step: number): InkStroke {
  if (stroke.length < 2) return stroke.map((p) => ({ x: p.x, y: p.y }));
  const out: InkStroke = [{ x: stroke[0]!.x, y: stroke[0]!.y }];
  let carried = 0;
  for (let i = 1; i < stroke.length; i++) {
    const a = stroke[i - 1]!;
    const b = stroke[i]!;
    const length = Math.hypot(b.x - a.x, b.y - a.y);
    let at = step - carried;
    while (at <= length) {
      const f = at / length;
      out.push({ x: a.x + f * (b.x - a.x), y: a.y + f * (b.y - a.y) });
      at += step;
    }
    carried = length - (at - step);
  }
  const last = stroke[stroke.length - 1]!;
  const end = out[out.length - 1]!;
  if (end.x !== last.x || end.y !== last.y) out.push({ x: last.x, y: last.y });
  return out;
}

/** Per-sample variation on top of the writer: small shear, rotation and aspect. */
const SAMPLE_SHEAR = 0.08;
const SAMPLE_ROTATION = 0.05;
const SAMPLE_ASPECT = 0.06;

/**
 * One sample of a glyph by a test writer (steps 1-5 of the module's description).
 * @param glyph  the glyph's ink, y down, any unit (e.g. `glyphInk(font, char)`: GLYPH_UNITS)
 * @param random the per-sample random numbers (advanced)
 * @returns ink in the glyph's units, as many strokes as the glyph, each point with `t` (ms, 1 glyph size per 600 ms)
 * @throws HwrError `NO_INK` for a glyph without points
 */
export function writeTestSample(glyph: Ink, writer: TestWriter, random: TestRandom): Ink {
  const points = glyph.strokes.flat();
  if (points.length === 0) throw hwrError('NO_INK', `writeTestSample: writer ${writer.id}: the glyph has no points`);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const size = Math.max(right - left, bottom - top, 1e-6);
  const cx = (left + right) / 2;
  const cy = (top + bottom) / 2;
  const shear = writer.shear + between(random, -SAMPLE_SHEAR, SAMPLE_SHEAR);
  const rotation = writer.rotation + between(random, -SAMPLE_ROTATION, SAMPLE_ROTATION);
  const aspect = writer.aspect * Math.exp(between(random, -SAMPLE_ASPECT, SAMPLE_ASPECT));
  const sampleField = elasticField(random, writer.sigma, writer.sampleAlpha);
  const [cos, sin] = [Math.cos(rotation), Math.sin(rotation)];
  const move = (p: InkPoint): InkPoint => {
    // The fields are read at the glyph position (u, v in the square box about the centre), before the affine map.
    const u = (p.x - cx) / size + 0.5;
    const v = (p.y - cy) / size + 0.5;
    const [wx, wy] = displacementAt(writer.field, u, v);
    const [sx, sy] = displacementAt(sampleField, u, v);
    const x = (u - 0.5 + wx + sx) * Math.sqrt(aspect);
    const y = (v - 0.5 + wy + sy) / Math.sqrt(aspect);
    const xs2 = x + shear * y;
    return { x: cx + size * (cos * xs2 - sin * y), y: cy + size * (sin * xs2 + cos * y) };
  };
  let strokes = glyph.strokes.map((stroke) => resample(resample(stroke, 0.01 * size).map(move), writer.spacing * size));
  strokes = strokes.map((stroke) => (random() < writer.reverseStroke ? [...stroke].reverse() : stroke));
  if (random() < writer.reverseOrder) strokes = [...strokes].reverse();
  let t = 0;
  return {
    strokes: strokes.map((stroke, s) => {
      if (s > 0) t += 150;
      return stroke.map((p, i) => {
        if (i > 0) t += (600 * Math.hypot(p.x - stroke[i - 1]!.x, p.y - stroke[i - 1]!.y)) / size;
        return { x: p.x, y: p.y, t: Math.round(t) };
      });
    }),
  };
}

/** Options of `testWriterDataset`. */
export interface TestWriterDatasetOptions {
  script: string;
  /** Class labels, one per glyph. */
  labels: string[];
  samplesPerClass: number;
  /** Seed of the per-sample variation. */
  seed: number;
  /** Prefix of the writer ids (e.g. the font key): ids are `<prefix>/hand<seed>`. Default none. */
  idPrefix?: string;
}

/**
 * An `hwr-ink-dataset` of `glyphs` (one per class) written by test writers: writer by writer, class by class, sample
 * by sample, all from one `testRandom(seed)`; coordinates rounded to 0.1.
 * @throws HwrError `BAD_ARGUMENT` when `labels` is not as long as `glyphs`; `NO_INK` for an empty glyph
 */
export function testWriterDataset(glyphs: Ink[], writers: TestWriter[], options: TestWriterDatasetOptions): InkDataset {
  if (options.labels.length !== glyphs.length) throw hwrError('BAD_ARGUMENT', `testWriterDataset: ${options.labels.length} labels for ${glyphs.length} glyphs`);
  const random = testRandom(options.seed);
  const dataset = emptyInkDataset(options.script, options.labels);
  const round = (v: number): number => Math.round(v * 10) / 10;
  for (const writer of writers) {
    glyphs.forEach((glyph, c) => {
      for (let s = 0; s < options.samplesPerClass; s++) {
        const ink = writeTestSample(glyph, writer, random);
        const sample: InkSample = {
          label: options.labels[c]!,
          writer: options.idPrefix ? `${options.idPrefix}/${writer.id}` : writer.id,
          strokes: ink.strokes.map((stroke) => stroke.map((p) => [round(p.x), round(p.y), p.t ?? 0])),
        };
        dataset.samples.push(sample);
      }
    });
  }
  return dataset;
}

/**
 * Synthetic digits in handwriting styles that MNIST (written by American Census Bureau employees and high-school
 * students) rarely or never shows, so that a model trained on MNIST alone misreads them:
 *
 * - the continental 1: a long upstroke (flag) from the lower left to the top, then the stem, often a foot;
 * - the crossed 7: a bar through the middle of the stem (and sometimes a small serif at the start of the top bar);
 * - the open 4: the left stroke and the stem do not meet at the top;
 * - the hooked 9: the tail curls back to the left at the bottom.
 *
 * Each sample is a stroke template with random proportions, a writer's jitter and a random pen, normalized by the
 * recognizer's own preprocessing (see ./strokes.ts). Plain typed arrays, no Node APIs.
 */
import type { Rng } from './augment.ts';
import { arc, drawSample, jitterStrokes, type Stroke, type Strokes } from './strokes.ts';

/** One style: its name, the digit it is, and a generator of stroke templates (before jitter). */
export interface DigitStyle {
  name: string;
  /** Class index of the digit (0-9). */
  label: number;
  template(rng: Rng): Strokes;
}

/** The styles MNIST lacks, see the module comment. */
export const DIGIT_STYLES: readonly DigitStyle[] = [
  {
    name: 'continental 1',
    label: 1,
    template(rng) {
      const top = rng.uniform(0.5, 0.65);
      // A long flag: it starts a third to a half of the height down, well left of the stem.
      const flag: Stroke = [[rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.55)], [top, 0]];
      const strokes: Stroke[] = [[...flag, [top + rng.uniform(-0.05, 0.05), 1]]];
      if (rng.next() < 0.5) strokes.push([[top - rng.uniform(0.2, 0.3), 1], [top + rng.uniform(0.2, 0.3), 1]]);
      return strokes;
    },
  },
  {
    name: 'crossed 7',
    label: 7,
    template(rng) {
      const left = rng.uniform(0.05, 0.2);
      const right = rng.uniform(0.8, 0.95);
      const foot = rng.uniform(0.3, 0.5);
      const barY = rng.uniform(0.45, 0.6);
      const stemX = right + (foot - right) * barY; // where the stem crosses the bar's height
      const main: Stroke = rng.next() < 0.4 ? [[left, 0.15], [left, 0.02], [right, 0.02], [foot, 1]] : [[left, 0.02], [right, 0.02], [foot, 1]];
      const half = rng.uniform(0.15, 0.25);
      return [main, [[stemX - half, barY], [stemX + half, barY]]];
    },
  },
  {
    name: 'open 4',
    label: 4,
    template(rng) {
      const stemX = rng.uniform(0.6, 0.75);
      const barY = rng.uniform(0.55, 0.7);
      const leftTop: [number, number] = [rng.uniform(0.15, 0.45), 0];
      const corner: [number, number] = [rng.uniform(0.05, 0.15), barY];
      return [
        [leftTop, corner, [rng.uniform(0.85, 1), barY + rng.uniform(-0.05, 0.05)]],
        [[stemX, rng.uniform(0.1, 0.3)], [stemX + rng.uniform(-0.05, 0.05), 1]],
      ];
    },
  },
  {
    name: 'hooked 9',
    label: 9,
    template(rng) {
      const r = rng.uniform(0.22, 0.3);
      const cx = 0.5;
      const cy = r + 0.02;
      const loop = arc(cx, cy, r, r * rng.uniform(0.85, 1.1), 0, -360, 20);
      const stemX = cx + r;
      const bottom = rng.uniform(0.75, 0.85);
      const hookR = rng.uniform(0.15, 0.25);
      const hook = arc(stemX - hookR, bottom, hookR, 1 - bottom, 0, rng.uniform(120, 170), 8);
      return [[...loop, [stemX, bottom], ...hook]];
    },
  },
];

/**
 * `count` synthetic digits, cycling through `DIGIT_STYLES`.
 * @returns `images` `[count * 28 * 28]` float32 in [0, 1] (ink = 1), MNIST-normalized; `labels` `[count]` digits
 */
export function styledDigits(count: number, rng: Rng): { images: Float32Array; labels: Uint8Array } {
  const images = new Float32Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const style = DIGIT_STYLES[i % DIGIT_STYLES.length]!;
    images.set(drawSample(jitterStrokes(style.template(rng), rng, { maxRotationDeg: 8, maxShear: 0.25, maxStretch: 0.2, maxWobble: 0.03 }), rng), i * 784);
    labels[i] = style.label;
  }
  return { images, labels };
}

import { describe, expect, it } from 'vitest';
import { backgroundImage, divideByBackground, estimateBackground, isEvenBackground } from '../../src/core/background.ts';

/** A 120x90 page lit by a ramp from 1 (left) to 0.5 (right), with dark vertical strokes 4 px wide every 30 px. */
function rampWithStrokes(): { gray: Float32Array; light: Float32Array; width: number; height: number } {
  const width = 120;
  const height = 90;
  const gray = new Float32Array(width * height);
  const light = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      light[y * width + x] = 1 - (0.5 * x) / (width - 1);
      const ink = x % 30 >= 13 && x % 30 < 17 && y > 20 && y < 70;
      gray[y * width + x] = light[y * width + x]! * (ink ? 0.1 : 0.9);
    }
  }
  return { gray, light, width, height };
}

describe('estimateBackground', () => {
  it('follows a ramp of light under dark strokes, up to the image border', () => {
    const { gray, light, width, height } = rampWithStrokes();
    const paper = backgroundImage(estimateBackground(gray, width, height, 'dark-on-light'));
    let worst = 0;
    for (let i = 0; i < paper.length; i++) worst = Math.max(worst, Math.abs(paper[i]! - 0.9 * light[i]!));
    expect(worst).toBeLessThan(0.03);
  });

  it('calls a clean page even and a ramp uneven', () => {
    const flat = new Float32Array(100 * 100).fill(0.93);
    for (let i = 4000; i < 4100; i++) flat[i] = 0.1; // a stroke
    expect(isEvenBackground(estimateBackground(flat, 100, 100, 'dark-on-light'))).toBe(true);
    const { gray, width, height } = rampWithStrokes();
    expect(isEvenBackground(estimateBackground(gray, width, height, 'dark-on-light'))).toBe(false);
  });

  it('estimates a dark board under light strokes as an opening (light-on-dark)', () => {
    const { gray, width, height } = rampWithStrokes();
    const inverted = gray.map((v) => 1 - v);
    const board = backgroundImage(estimateBackground(inverted, width, height, 'light-on-dark'));
    const paper = backgroundImage(estimateBackground(gray, width, height, 'dark-on-light'));
    for (let i = 0; i < board.length; i += 97) expect(board[i]).toBeCloseTo(1 - paper[i]!, 5);
  });
});

describe('divideByBackground', () => {
  it('makes the paper white everywhere and keeps the strokes equally dark relative to it', () => {
    const { gray, width, height } = rampWithStrokes();
    const flat = divideByBackground(gray, estimateBackground(gray, width, height, 'dark-on-light'), 'dark-on-light');
    const left = flat[45 * width + 15]!; // a stroke in full light
    const right = flat[45 * width + 105]!; // a stroke in half light
    expect(flat[5 * width + 5]).toBeGreaterThan(0.97);
    expect(flat[5 * width + 115]).toBeGreaterThan(0.97);
    expect(Math.abs(left - right)).toBeLessThan(0.05);
    expect(left).toBeLessThan(0.2);
  });
});

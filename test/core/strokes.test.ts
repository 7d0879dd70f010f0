import { describe, expect, it } from 'vitest';
import { estimateStrokeWidth, morphDisc } from '../../src/core/strokes.ts';

/** Ink of a straight bar `width` px wide and 80 px long through the centre of a 120x120 image, at `angle` degrees. */
function bar(width: number, angle: number): Float32Array {
  const ink = new Float32Array(120 * 120);
  const [c, s] = [Math.cos((angle * Math.PI) / 180), Math.sin((angle * Math.PI) / 180)];
  for (let y = 0; y < 120; y++) {
    for (let x = 0; x < 120; x++) {
      const along = (x - 60) * c + (y - 60) * s;
      const across = -(x - 60) * s + (y - 60) * c;
      ink[y * 120 + x] = Math.abs(along) <= 40 && across > -width / 2 && across <= width / 2 ? 1 : 0;
    }
  }
  return ink;
}

describe('estimateStrokeWidth', () => {
  it('measures bars of 2, 4 and 8 px, straight or slanted, within 35% (the perimeter correction is exact on average over directions)', () => {
    for (const width of [2, 4, 8]) {
      for (const angle of [0, 30, 45, 80]) {
        expect(estimateStrokeWidth(bar(width, angle), 120, 120).width, `${width} px at ${angle} degrees`).toBeGreaterThan(0.75 * width);
        expect(estimateStrokeWidth(bar(width, angle), 120, 120).width, `${width} px at ${angle} degrees`).toBeLessThan(1.35 * width);
      }
    }
  });

  it('gives 0 for an empty image', () => {
    expect(estimateStrokeWidth(new Float32Array(16), 4, 4).width).toBe(0);
  });
});

describe('morphDisc', () => {
  it('widens a 2 px bar by twice the radius, and thins it back', () => {
    const thin = bar(2, 0);
    const wide = morphDisc(thin, 120, 120, 3);
    expect(estimateStrokeWidth(wide, 120, 120).width).toBeGreaterThan(6);
    const back = morphDisc(wide, 120, 120, -3);
    expect(estimateStrokeWidth(back, 120, 120).width).toBeLessThan(3);
  });

  it('equals the max (min) over the disc pixel by pixel, for any radius and image shape', () => {
    // The definition, offset by offset (the implementation before the row decomposition).
    const direct = (image: Float32Array, width: number, height: number, radius: number): Float32Array => {
      const r = Math.abs(radius);
      const reach = Math.floor(r);
      const out = new Float32Array(image.length);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          let best = image[y * width + x]!;
          for (let dy = -reach; dy <= reach; dy++) {
            for (let dx = -reach; dx <= reach; dx++) {
              if (dx * dx + dy * dy > r * r) continue;
              const nx = x + dx;
              const ny = y + dy;
              const v = nx >= 0 && ny >= 0 && nx < width && ny < height ? image[ny * width + nx]! : 0;
              if (radius > 0 ? v > best : v < best) best = v;
            }
          }
          out[y * width + x] = best;
        }
      }
      return out;
    };
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const [width, height] of [[1, 1], [1, 9], [9, 1], [17, 11], [40, 33]] as const) {
      const image = Float32Array.from({ length: width * height }, () => (random() < 0.4 ? random() : 0));
      for (const radius of [0, 0.3, -0.55, 1, -1, 1.5, -2.07, 2.9, -4.16, 7.5, -12]) {
        expect(morphDisc(image, width, height, radius)).toEqual(direct(image, width, height, radius));
      }
    }
  });
});

/**
 * Labels of the line reader's candidates from the composer's pixel owners (src/data/candidateLabels.ts), as the
 * segment model scripts use them: the share of each character's ink a candidate holds, and the verifier's classes
 * whole / part / several, on a constructed ink map and on a composed line cut by the reader's segmentation.
 */
import { describe, expect, it } from 'vitest';
import { segmentImageLine, type ImagePrimitive } from '../../src/core/line/imageSegments.ts';
import { createRng } from '../../src/data/augment.ts';
import { characterInk, inkShares, VERIFIER_CLASSES, verifierLabel } from '../../src/data/candidateLabels.ts';
import { composeImageLine, type ImageLineCharacter } from '../../src/data/lines.ts';

describe('candidate labels from pixel owners', () => {
  // Ten pixels: character 0 owns 0-4 (ink 1, 1, 1, 1, 0.4: 4.4 in all), character 1 owns 5-8 (ink 1 each: 4), 9 is paper.
  const ink = Float32Array.from([1, 1, 1, 1, 0.4, 1, 1, 1, 1, 0]);
  const owners = Int16Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, -1]);
  const totals = characterInk(ink, owners, 2);
  const label = (...pieces: number[][]) => VERIFIER_CLASSES[verifierLabel(inkShares(ink, owners, totals, pieces.map((p) => Int32Array.from(p))))!];

  it('sums each character ink and the share a candidate holds, over all its pieces', () => {
    expect([...totals].map((t) => +t.toFixed(6))).toEqual([4.4, 4]);
    const shares = inkShares(ink, owners, totals, [Int32Array.from([0, 1]), Int32Array.from([5, 9])]);
    expect([...shares].map((s) => +s.toFixed(6))).toEqual([+(2 / 4.4).toFixed(6), 0.25]);
  });

  it('labels one whole character whole, a strict part part, and ink of two characters several', () => {
    expect(label([0, 1, 2, 3, 4])).toBe('whole');
    expect(label([0, 1, 2, 3])).toBe('whole'); // 4 of 4.4 = 91% >= 90%
    expect(label([0, 1, 2])).toBe('part'); // 68%
    expect(label([0, 1, 2, 3, 4], [9])).toBe('whole'); // paper adds nothing
    expect(label([0, 1, 2, 3, 4], [5])).toBe('several'); // a quarter of character 1
    expect(label([3, 4], [5, 6])).toBe('several'); // parts of two characters
    expect(verifierLabel(inkShares(ink, owners, totals, [Int32Array.from([9])]))).toBeNull(); // no character's ink
  });

  it('lets a speck of a neighbour (up to `touched`) pass, and takes the thresholds given', () => {
    const shares = Float64Array.from([1, 0.04]);
    expect(verifierLabel(shares)).toBe(0);
    expect(verifierLabel(shares, { touched: 0.02 })).toBe(2);
    expect(verifierLabel(Float64Array.from([0.85, 0]), { whole: 0.8 })).toBe(0);
    expect(verifierLabel(Float64Array.from([0.85, 0]))).toBe(1);
    expect(verifierLabel(Float64Array.from([0.03, 0]))).toBe(1); // only a speck: a part
  });

  it('labels the pieces the reader cuts out of a composed line: a character whole, a cut piece part, across two several', () => {
    // Two 20 x 20 blocks shaped like H (wide enough for the reader to cut paths through), apart.
    const block = (label: string): ImageLineCharacter => {
      const image = new Float32Array(400);
      for (let y = 2; y < 18; y++) for (let x = 2; x < 18; x++) if (x < 6 || x > 13 || (y > 8 && y < 12)) image[y * 20 + x] = 1;
      return { label, image, width: 20, height: 20 };
    };
    const line = composeImageLine([block('a'), block('b')], createRng(1), { scale: 2, margin: 12, touchingShare: 0, overlappingShare: 0 });
    const layout = segmentImageLine(line.image, 'line', { square: true });
    expect(layout.shrink).toBe(1);
    const primitives = layout.primitives as ImagePrimitive[];
    const lastOfA = primitives.filter((p) => p.x1 <= line.boxes[0]!.x + line.boxes[0]!.width).length - 1; // primitives run left to right
    expect(lastOfA).toBeGreaterThan(0); // a was cut into pieces
    expect(lastOfA).toBeLessThan(primitives.length - 1);
    const totals2 = characterInk(layout.ink, line.owners, 2);
    const of = (first: number, last: number) => VERIFIER_CLASSES[verifierLabel(inkShares(layout.ink, line.owners, totals2, primitives.slice(first, last + 1).map((p) => p.pixels)))!];
    expect(of(0, lastOfA)).toBe('whole');
    expect(of(lastOfA + 1, primitives.length - 1)).toBe('whole');
    expect(of(0, 0)).toBe('part');
    expect(of(lastOfA, lastOfA + 1)).toBe('several');
  });
});

/**
 * The line reader's beam search (src/core/line/search.ts) on hand-made lattices: it finds the best whole path where
 * cutting greedily (the best first segment, then the next) fails, a beam of 1 can lose what a wider beam keeps,
 * rejected segments are marked, spaces come from wide gaps, and a constraint keeps only texts it accepts.
 */
import { describe, expect, it } from 'vitest';
import { compilePattern, compileWords } from '../../src/core/line/constraints.ts';
import { searchLattice, type LatticeEdge, type LatticeOption } from '../../src/core/line/search.ts';

/** An option from a probability (score = log p). */
const option = (text: string | null, probability: number): LatticeOption => ({ text, score: Math.log(probability), probability });

/** An edge over primitives from..to-1, primitives being 10 units wide with no gaps unless `left`/`right` say otherwise. */
const edge = (from: number, to: number, options: LatticeOption[], left = from * 10, right = to * 10 - 1): LatticeEdge => ({ from, to, left, right, options });

const plain = { beamWidth: 16, spaceGap: Infinity, spaceSoftness: 1 };

describe('searchLattice', () => {
  it('finds the best whole path where greedy cutting fails', () => {
    // Greedy takes the most probable first segment (primitive 0 alone as "1", p 0.9), and is then left with
    // primitives 1-2, which read badly; the right reading joins 0-1 into "4" and reads 2 as "2".
    const edges = [
      edge(0, 1, [option('1', 0.9)]),
      edge(0, 2, [option('4', 0.8)]),
      edge(1, 3, [option('7', 0.05)]),
      edge(1, 2, [option('1', 0.1)]),
      edge(2, 3, [option('2', 0.95)]),
    ];
    const greedyFirst = edges.filter((e) => e.from === 0).sort((a, b) => b.options[0]!.score - a.options[0]!.score)[0]!;
    expect(greedyFirst.options[0]!.text).toBe('1');
    const [best] = searchLattice(4, edges, plain);
    expect(best!.text).toBe('42');
    expect(best!.steps.map((s) => [s.edge.from, s.edge.to])).toEqual([
      [0, 2],
      [2, 3],
    ]);
  });

  it('a beam of 1 keeps only the locally best path; a wider beam recovers the better whole path', () => {
    // Both paths reach node 1 with one segment; "a" is better there, but only "b" goes on well.
    const edges = [
      edge(0, 1, [option('a', 0.6), option('b', 0.4)]),
      edge(1, 2, [option('x', 0.9)]),
    ];
    const constraint = compileWords(['bx', 'ay']);
    expect(searchLattice(3, edges, { ...plain, beamWidth: 16, automaton: constraint })[0]!.text).toBe('bx');
    // With a constraint that kills "a" only at the next step, a beam of 1 has already dropped "b".
    expect(searchLattice(3, edges, { ...plain, beamWidth: 1, automaton: constraint })).toEqual([]);
  });

  it('marks a rejected segment (text null) when the rejection is the best reading, and spells it U+FFFD', () => {
    const edges = [edge(0, 1, [option('3', 0.9)]), edge(1, 2, [option(null, 0.8), option('8', 0.1)])];
    const [best] = searchLattice(3, edges, plain);
    expect(best!.text).toBe('3\uFFFD');
    expect(best!.steps[1]!.option.text).toBeNull();
  });

  it('puts a space before a segment after a gap wider than the space gap', () => {
    const edges = [edge(0, 1, [option('1', 0.9)], 0, 9), edge(1, 2, [option('2', 0.9)], 12, 21), edge(2, 3, [option('3', 0.9)], 60, 69)];
    const [best] = searchLattice(4, edges, { ...plain, spaceGap: 20, spaceSoftness: 2 });
    expect(best!.text).toBe('12 3');
    expect(best!.steps.map((s) => s.spaceBefore)).toEqual([false, false, true]);
  });

  it('under a constraint, steps only through characters it allows and only completes accepted texts', () => {
    const edges = [edge(0, 1, [option('1', 0.6), option('7', 0.4)]), edge(1, 2, [option('-', 0.5), option('1', 0.5)]), edge(2, 3, [option('2', 0.9)])];
    expect(searchLattice(4, edges, plain)[0]!.text).toBe('1-2');
    expect(searchLattice(4, edges, { ...plain, automaton: compilePattern('7\\d\\d') })[0]!.text).toBe('712');
    expect(searchLattice(4, edges, { ...plain, automaton: compilePattern('\\d{4}') })).toEqual([]);
  });

  it("gives each reading its share of the kept paths' probability mass", () => {
    const edges = [edge(0, 1, [option('1', 0.75), option('7', 0.25)])];
    const results = searchLattice(2, edges, plain);
    expect(results.map((r) => r.text)).toEqual(['1', '7']);
    expect(results[0]!.share).toBeCloseTo(0.75, 6);
    expect(results[1]!.share).toBeCloseTo(0.25, 6);
  });

  it('adds up the mass of segmentations that give the same text, and ranks readings by it', () => {
    // "42" by two segmentations (0.5 x 0.4 each) against "7" (0.3): "7" is the best single path, "42" the best text.
    const edges = [
      edge(0, 1, [option('4', 0.5)]),
      edge(1, 3, [option('2', 0.4)]),
      edge(0, 2, [option('4', 0.5)]),
      edge(2, 3, [option('2', 0.4)]),
      edge(0, 3, [option('7', 0.3)]),
    ];
    const results = searchLattice(4, edges, plain);
    expect(results.map((r) => r.text)).toEqual(['42', '7']);
    expect(results[0]!.share).toBeCloseTo(0.4 / 0.7, 6);
  });

  it('a pair edge reads two touching characters at once where no cut separates them', () => {
    // Primitive 0 is an 8 with a slanted 1 under its side (no cut path between them), primitive 1 a 3. Alone, the
    // character model reads primitive 0 as "8" (p 0.6); the pair model reads it as "81" (p 0.9). A pair option carries
    // its two characters' per-character bonus (2 x 1) and the pair cost (1), as readLine scores them.
    const bonus = 1;
    const pairCost = 1;
    const scored = (text: string, p: number, chars: number, cost = 0): LatticeOption => ({ text, score: Math.log(p) + chars * bonus - cost, probability: p });
    const edges = [
      edge(0, 1, [scored('8', 0.6, 1), scored('3', 0.2, 1)]),
      edge(0, 1, [scored('81', 0.9, 2, pairCost), scored('31', 0.05, 2, pairCost)]),
      edge(1, 2, [scored('3', 0.95, 1)]),
    ];
    const [best] = searchLattice(3, edges, plain);
    expect(best!.text).toBe('813');
    expect(best!.steps.map((s) => s.option.text)).toEqual(['81', '3']);
    // A constraint steps through both characters of a pair: three digits need the pair, two forbid it.
    expect(searchLattice(3, edges, { ...plain, automaton: compilePattern('\\d{3}') })[0]!.text).toBe('813');
    expect(searchLattice(3, edges, { ...plain, automaton: compilePattern('\\d{2}') })[0]!.text).toBe('83');
    // A weak pair reading (p 0.1) does not displace a good single reading.
    const weak = [edges[0]!, edge(0, 1, [scored('81', 0.1, 2, pairCost)]), edges[2]!];
    expect(searchLattice(3, weak, plain)[0]!.text).toBe('83');
  });
});

/**
 * The search over a line's segmentation lattice (recognition-based segmentation: Casey and Lecolinet 1996, section 4;
 * the lattice and its search as in Fujisawa, Nakano and Kurino 1992, section IV). Nodes are the boundaries between
 * primitives, 0..n; an edge from i to j is the candidate character made of primitives i..j-1, with its label options
 * (model classes, a rejection, punctuation read from the shape), each with a log score. A path from 0 to n is a
 * reading: a segmentation and a label per segment; its score is the sum of its options' scores.
 *
 * Beam search: nodes are visited left to right; each keeps its `beamWidth` best partial paths, told apart by their
 * text and their constraint state (two segmentations giving the same text in the same state are one reading: the
 * better score stands for it and their probability masses add up). With a constraint (./constraints.ts) a path only
 * grows by characters its automaton can read, and only paths the automaton accepts complete: only viable prefixes
 * survive. Spaces come from gaps: a gap well above the line's spacing makes a space; under a constraint that can read
 * spaces, both choices are scored (log of a logistic in the gap).
 *
 * Pure: no model, no pixels. Imports nothing Node-only.
 */
import type { TextAutomaton } from './constraints.ts';

/** One label option of a lattice edge. */
export interface LatticeOption {
  /** The character(s), or null for a rejected segment (the model's rejection class). */
  text: string | null;
  /** Log score of this option for this segment: log probability plus the segment's priors (natural log). */
  score: number;
  /** The option's probability (what `LineCharacter.probability` reports), in [0, 1]. */
  probability: number;
}

/** A candidate character: primitives `from..to-1`, spanning `left..right` in working units. */
export interface LatticeEdge {
  from: number;
  to: number;
  left: number;
  right: number;
  options: LatticeOption[];
}

/** Options of `searchLattice`. */
export interface SearchOptions {
  /** Partial paths kept per node, >= 1. */
  beamWidth: number;
  /** Only texts this automaton accepts complete; absent: any text (rejected segments allowed). */
  automaton?: TextAutomaton;
  /** A gap (working units) above which a space is likely (the logistic's midpoint); Infinity: never a space. */
  spaceGap: number;
  /** Width (working units) of the logistic's transition around `spaceGap`, > 0. */
  spaceSoftness: number;
  /** Temperature of the readings' shares (`SearchResult.share` = softmax of mass / T); default 1. */
  temperature?: number;
}

/** One character of a found path. */
export interface PathStep {
  edge: LatticeEdge;
  option: LatticeOption;
  spaceBefore: boolean;
}

/** A complete reading found by the search. */
export interface SearchResult {
  steps: PathStep[];
  /** Text with spaces; rejected segments as U+FFFD. */
  text: string;
  score: number;
  /** The reading's share of the probability mass (exp of scores, at `SearchOptions.temperature`) of all complete readings the beam kept, in [0, 1]. */
  share: number;
}

interface PartialPath {
  score: number;
  /** log of the summed exp(score) of the segmentations merged into this reading. */
  mass: number;
  state: number;
  right: number;
  text: string;
  prev: PartialPath | undefined;
  step: PathStep | undefined;
}

const REJECTED = '\uFFFD';

/** log(exp(a) + exp(b)) without overflow. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const max = Math.max(a, b);
  return max + Math.log(Math.exp(a - max) + Math.exp(b - max));
}

/**
 * Finds the best readings of a lattice of `nodes` boundaries (0..nodes-1; complete paths end at `nodes - 1`).
 * @param edges any order; an edge needs `0 <= from < to < nodes`
 * @returns the complete readings kept at the last node, the most probable first (by their summed mass; each with the
 *   steps of its best segmentation); empty when none (e.g. the constraint rejected every path)
 */
export function searchLattice(nodes: number, edges: readonly LatticeEdge[], options: SearchOptions): SearchResult[] {
  const outgoing: LatticeEdge[][] = Array.from({ length: nodes }, () => []);
  for (const edge of edges) outgoing[edge.from]!.push(edge);
  const automaton = options.automaton;
  const spacesScored = automaton !== undefined && automaton.mentions(' ');
  const beams: Map<string, PartialPath>[] = Array.from({ length: nodes }, () => new Map());
  beams[0]!.set('', { score: 0, mass: 0, state: automaton?.initial ?? 0, right: -Infinity, text: '', prev: undefined, step: undefined });

  const offer = (node: number, path: PartialPath): void => {
    const key = `${path.state}\u0000${path.text}`;
    const old = beams[node]!.get(key);
    if (!old) beams[node]!.set(key, path);
    else {
      const mass = logAddExp(old.mass, path.mass);
      if (path.score > old.score) beams[node]!.set(key, { ...path, mass });
      else old.mass = mass;
    }
  };

  for (let node = 0; node < nodes - 1; node++) {
    const kept = [...beams[node]!.values()].sort((a, b) => b.score - a.score).slice(0, Math.max(1, options.beamWidth));
    beams[node]!.clear();
    for (const path of kept) {
      for (const edge of outgoing[node]!) {
        const gap = edge.left - path.right;
        const pSpace = path.prev === undefined ? 0 : 1 / (1 + Math.exp(-(gap - options.spaceGap) / options.spaceSoftness));
        const spaceChoices: { space: boolean; score: number }[] = !spacesScored
          ? [{ space: automaton === undefined && pSpace > 0.5, score: 0 }]
          : [
              { space: false, score: Math.log(Math.max(1e-9, 1 - pSpace)) },
              ...(path.prev === undefined ? [] : [{ space: true, score: Math.log(Math.max(1e-9, pSpace)) }]),
            ];
        for (const option of edge.options) {
          if (option.text === null && automaton) continue;
          for (const choice of spaceChoices) {
            let state = path.state;
            if (automaton) {
              if (choice.space) state = automaton.step(state, ' ');
              for (const char of option.text!) if (state >= 0) state = automaton.step(state, char);
              if (state < 0) continue;
            }
            const gain = option.score + choice.score;
            offer(edge.to, {
              score: path.score + gain,
              mass: path.mass + gain,
              state,
              right: Math.max(path.right, edge.right),
              text: path.text + (choice.space ? ' ' : '') + (option.text ?? REJECTED),
              prev: path,
              step: { edge, option, spaceBefore: choice.space },
            });
          }
        }
      }
    }
  }

  // Readings by their probability mass (all their segmentations together), the best first.
  const complete = [...beams[nodes - 1]!.values()].filter((p) => !automaton || automaton.accepts(p.state)).sort((a, b) => b.mass - a.mass);
  const kept = complete.slice(0, Math.max(1, options.beamWidth));
  const temperature = options.temperature ?? 1;
  const total = kept.reduce((sum, p) => logAddExp(sum, p.mass / temperature), -Infinity);
  return kept.map((path) => {
    const steps: PathStep[] = [];
    for (let p: PartialPath | undefined = path; p?.step; p = p.prev) steps.push(p.step);
    steps.reverse();
    return { steps, text: path.text, score: path.score, share: Math.exp(path.mass / temperature - total) };
  });
}

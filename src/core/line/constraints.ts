/**
 * Constraints on a line's text (`ReadLineOptions.pattern` and `words`) as deterministic finite automata, stepped one
 * character at a time inside the beam search (./search.ts), so that only paths whose text is a viable prefix survive
 * (the lexicon-driven search of Fujisawa, Nakano and Kurino 1992, section IV; the automaton view as in Hopcroft and
 * Ullman's subset construction).
 *
 * - `pattern`: a JavaScript regular expression, anchored at both ends, compiled to a minimal DFA by refa
 *   (https://github.com/RunDevelopment/refa: regexpp's parser -> NFA -> subset construction -> minimization).
 *   Backreferences and lookarounds have no finite automaton and are refused.
 * - `words`: a trie of the words whose word ends may go on with a space to the root: one word, or several separated
 *   by single spaces.
 * - both: their product automaton, built lazily as the search asks.
 *
 * Compiled automata are cached by their source. Imports nothing Node-only.
 */
import { DFA, JS, NFA, TooManyNodesError } from 'refa';
import { hwrError } from '../errors.ts';

/** A deterministic automaton over characters (Unicode code points as strings). States are numbers; -1 is dead. */
export interface TextAutomaton {
  readonly initial: number;
  /** The state after reading `char` in `state`, or -1 when no text with this prefix can match. */
  step(state: number, char: string): number;
  /** True when the text read so far is a complete match. */
  accepts(state: number): boolean;
  /** True when some transition anywhere reads `char` (e.g. whether the constraint ever needs a `-`). */
  mentions(char: string): boolean;
}

/**
 * Most states a pattern's automata may have (the NFA, then the DFA): beyond it the pattern is refused as too complex.
 * Patterns for lines (dates, codes, amounts) need a few dozen; the subset construction's cost grows with the NFA's
 * size, and nested counted repetitions such as `(((\d{0,9}){0,9}){0,9}){0,9}` (thousands of NFA states) would take a
 * minute to determinize: they are refused at once instead.
 */
const MAX_STATES = 1_000;
/** Most compiled automata kept (a server sees a few patterns again and again). */
const CACHE_SIZE = 64;
const cache = new Map<string, TextAutomaton>();

function cached(key: string, build: () => TextAutomaton): TextAutomaton {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const built = build();
  cache.set(key, built);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return built;
}

/**
 * Compiles `ReadLineOptions.pattern` and `words` into one automaton (their product when both are given).
 * @returns undefined when neither is given
 * @throws HwrError `BAD_ARGUMENT` naming `pattern` (not a regular expression, a backreference or lookaround, too
 *   complex) or `words` (not an array of non-empty strings)
 */
export function compileConstraint(pattern: string | RegExp | undefined, words: readonly string[] | undefined): TextAutomaton | undefined {
  const parts: TextAutomaton[] = [];
  if (pattern !== undefined) parts.push(compilePattern(pattern));
  if (words !== undefined) parts.push(compileWords(words));
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0]! : intersect(parts[0]!, parts[1]!);
}

/**
 * A regular expression as a minimal DFA that must match the whole text. A leading `^` and a trailing `$` are
 * accepted and ignored (the match is anchored anyway); flags `i`, `u`, `s`, `m` are honoured as refa reads them.
 * @throws HwrError `BAD_ARGUMENT` (see `compileConstraint`)
 */
export function compilePattern(pattern: string | RegExp): TextAutomaton {
  if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) throw hwrError('BAD_ARGUMENT', `pattern: expected a string or a RegExp, got ${typeof pattern}`);
  const source = typeof pattern === 'string' ? pattern : pattern.source;
  const flags = typeof pattern === 'string' ? '' : pattern.flags.replace(/[gyd]/g, '');
  return cached(`pattern/${flags}/${source}`, () => {
    const anchored = source.replace(/^\^/, '').replace(/(^|[^\\])((\\\\)*)\$$/, '$1$2');
    let dfa: DFA;
    try {
      new RegExp(anchored, flags); // the engine's own syntax check first: its message is the familiar one
      const { expression, maxCharacter } = JS.Parser.fromLiteral({ source: anchored, flags }).parse();
      const nfa = NFA.fromRegex(expression, { maxCharacter }, {}, new NFA.LimitedNodeFactory(MAX_STATES));
      dfa = DFA.fromFA(nfa, new DFA.LimitedNodeFactory(MAX_STATES));
      dfa.minimize();
    } catch (error) {
      const message = (error as Error).message;
      const reason =
        error instanceof TooManyNodesError
          ? `too complex (its automaton needs more than ${MAX_STATES} states)`
          : /assertion|backreference/i.test(message)
            ? 'uses a backreference or lookaround, which a finite automaton cannot check'
            : message;
      throw hwrError('BAD_ARGUMENT', `pattern: "${source}" is not a usable regular expression: ${reason}`, error);
    }
    return fromDfa(dfa);
  });
}

/** refa's DFA as a `TextAutomaton`: nodes numbered in breadth-first order from the initial state. */
function fromDfa(dfa: DFA): TextAutomaton {
  const nodes: DFA.ReadonlyNode[] = [dfa.initial];
  const ids = new Map<DFA.ReadonlyNode, number>([[dfa.initial, 0]]);
  for (let i = 0; i < nodes.length; i++) {
    for (const [, to] of nodes[i]!.out) {
      if (!ids.has(to)) {
        ids.set(to, nodes.length);
        nodes.push(to);
      }
    }
  }
  const finals = nodes.map((n) => dfa.finals.has(n as DFA.Node));
  return {
    initial: 0,
    step(state, char) {
      if (state < 0) return -1;
      const to = nodes[state]!.out.get(char.codePointAt(0)!);
      return to === undefined ? -1 : ids.get(to)!;
    },
    accepts: (state) => state >= 0 && finals[state]!,
    mentions: (char) => nodes.some((n) => n.out.has(char.codePointAt(0)!)),
  };
}

/**
 * A word list as a trie automaton: the text is one word, or words separated by single spaces.
 * @throws HwrError `BAD_ARGUMENT` for a list that is not an array of non-empty strings, or is empty
 */
export function compileWords(words: readonly string[]): TextAutomaton {
  if (!Array.isArray(words) || words.length === 0 || words.some((w) => typeof w !== 'string' || w.trim() === '')) {
    throw hwrError('BAD_ARGUMENT', 'words: expected a non-empty list of non-empty words');
  }
  return cached(`words/${JSON.stringify(words)}`, () => {
    const next: Map<string, number>[] = [new Map()];
    const end: boolean[] = [false];
    for (const word of words) {
      let state = 0;
      for (const char of word.trim()) {
        let to = next[state]!.get(char);
        if (to === undefined) {
          to = next.length;
          next.push(new Map());
          end.push(false);
          next[state]!.set(char, to);
        }
        state = to;
      }
      end[state] = true;
    }
    const alphabet = new Set(next.flatMap((m) => [...m.keys()]));
    return {
      initial: 0,
      step(state, char) {
        if (state < 0) return -1;
        if (char === ' ' && end[state]) return 0;
        return next[state]!.get(char) ?? -1;
      },
      accepts: (state) => state >= 0 && end[state]!,
      mentions: (char) => char === ' ' || alphabet.has(char),
    };
  });
}

/** The product of two automata (both must accept), its states numbered as the search reaches them. */
function intersect(a: TextAutomaton, b: TextAutomaton): TextAutomaton {
  const pairs: [number, number][] = [[a.initial, b.initial]];
  const ids = new Map<string, number>([[`${a.initial},${b.initial}`, 0]]);
  const memo = new Map<string, number>();
  return {
    initial: 0,
    step(state, char) {
      if (state < 0) return -1;
      const key = `${state}|${char}`;
      const hit = memo.get(key);
      if (hit !== undefined) return hit;
      const [sa, sb] = pairs[state]!;
      const na = a.step(sa, char);
      const nb = na < 0 ? -1 : b.step(sb, char);
      let result = -1;
      if (na >= 0 && nb >= 0) {
        const pairKey = `${na},${nb}`;
        result = ids.get(pairKey) ?? -1;
        if (result < 0) {
          result = pairs.length;
          pairs.push([na, nb]);
          ids.set(pairKey, result);
        }
      }
      memo.set(key, result);
      return result;
    },
    accepts: (state) => state >= 0 && a.accepts(pairs[state]![0]) && b.accepts(pairs[state]![1]),
    mentions: (char) => a.mentions(char) && b.mentions(char),
  };
}

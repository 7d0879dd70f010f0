/**
 * A recognition request's choice of model and number of candidates: `model` and `topK`, each from the query string
 * (`?model=hanzi&topK=5`), a JSON field, or a multipart field. Values from two places must agree.
 */
import { MAX_TOP_K } from '../core/recognizer.ts';
import { ApiError } from './errors.ts';
import { checkModelName } from './modelCatalog.ts';

/** Models of at most this many classes answer with every class's probability; larger ones with candidates only. */
export const SMALL_VOCABULARY = 20;

/** What a request chose; absent fields take the defaults (the default model; `defaultApiTopK`). */
export interface ModelChoice {
  /** Model name, `^[\w-]+$`. */
  model?: string;
  /** Candidates to list, an integer in 1..`MAX_TOP_K` (50). */
  topK?: number;
}

/** Raw values as a request carries them: strings from a query or multipart field, anything from JSON. */
export interface RawChoice {
  model?: unknown;
  topK?: unknown;
}

/**
 * Candidates listed when the request does not say: 10 for a large vocabulary (more than `SMALL_VOCABULARY` classes),
 * else every class (so a digit answer lists all 11, as `probabilities` does).
 */
export function defaultApiTopK(classes: number): number {
  return classes > SMALL_VOCABULARY ? 10 : classes;
}

/**
 * Checks a `topK` value: an integer from 1 to 50, as a JSON number or a string of digits (query, multipart).
 * @param where the request field, quoted in the message, e.g. `query topK`
 * @throws ApiError 400 `BAD_REQUEST` naming the field, the allowed range and the value
 */
export function parseTopK(value: unknown, where: string): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < 1 || number > MAX_TOP_K) {
    throw new ApiError(400, 'BAD_REQUEST', `${where} must be an integer from 1 to ${MAX_TOP_K}, got ${JSON.stringify(value)}`);
  }
  return number;
}

/**
 * Joins the choices of the places a request may carry them (e.g. `[['query', query], ['body', body]]`), checking
 * each value.
 * @throws ApiError 400 `BAD_REQUEST` for a bad model name or topK (see `checkModelName`, `parseTopK`), or two places
 *   that disagree
 */
export function modelChoice(sources: Array<[where: string, raw: RawChoice | undefined]>): ModelChoice {
  const choice: ModelChoice = {};
  const from: { model?: string; topK?: string } = {};
  for (const [where, raw] of sources) {
    if (raw?.model !== undefined) {
      checkModelName(raw.model, `${where} model`);
      if (choice.model !== undefined && choice.model !== raw.model) {
        throw new ApiError(400, 'BAD_REQUEST', `${from.model} model is "${choice.model}" but ${where} model is "${raw.model}"; send one`);
      }
      choice.model = raw.model;
      from.model = where;
    }
    if (raw?.topK !== undefined) {
      const topK = parseTopK(raw.topK, `${where} topK`);
      if (choice.topK !== undefined && choice.topK !== topK) {
        throw new ApiError(400, 'BAD_REQUEST', `${from.topK} topK is ${choice.topK} but ${where} topK is ${topK}; send one`);
      }
      choice.topK = topK;
      from.topK = where;
    }
  }
  return choice;
}

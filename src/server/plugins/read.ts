/**
 * Line reading API plugin (issue 12): `POST /api/read` reads one line of handwriting (a number, a date, a code, a word,
 * a short Chinese phrase) from an image or from ink with a character model, by `readLine` (src/core/line/readLine.ts).
 *
 * The input forms, limits, model choice and error shape are `/api/predict`'s (../uploads.ts holds the code both use):
 * an image as JSON `{ "image": "<data URL or base64>" }`, multipart field `image` or raw `image/*` bytes; ink as JSON
 * `{ "ink": { "strokes": [...] } }` or multipart field `ink`; `model` and `topK` as query parameters, JSON fields or
 * multipart fields. Besides them:
 * - `pattern`: a regular expression the whole text must match (JavaScript syntax, anchored; at most
 *   `READ_LIMITS.maxPatternLength` characters), e.g. `\d{3}-\d{4}`;
 * - `words`: a word list (the text is one of them, or several separated by spaces): a JSON array of strings, or in the
 *   query and multipart fields comma-separated and/or repeated (at most `READ_LIMITS.maxWords` words and
 *   `READ_LIMITS.maxWordsBytes` bytes; a multipart body has at most `READ_LIMITS.maxMultipartFields` text fields, 413
 *   beyond, so a long list goes comma-separated).
 * Each may come from one place only (query, JSON body or multipart fields); a pattern given twice must be the same. An
 * empty pattern is no pattern.
 *
 * The answer is the `LineReading` (src/core/line/types.ts) at the top level, with the model's name and the decoding time:
 * `{ model, text, characters: [{ text, reason?, probability, alternatives, box, strokes?, spaceBefore? }], confidence,
 * constraintMet?, timings: { decodeMs, segmentMs, preprocessMs, inferenceMs, searchMs, totalMs } }` (`totalMs` is
 * `readLine`'s; `decodeMs` comes before it). Boxes are in px of the uploaded picture (scaled back when the server
 * decoded it downscaled to 1024 px) or in the ink's units.
 *
 * Reading runs where recognition runs: in a worker of the recognition pool (../recognitionPool.ts, a `read` job), or on
 * the event loop of a server without one. The pattern becomes a finite automaton there (never a backtracking regular
 * expression run on the server's thread); a pattern whose automaton would need over 1,000 states is refused at once
 * (src/core/line/constraints.ts), and a read that still runs past `LIMITS.readTimeoutMs` (10 s) stops its worker.
 *
 * Errors: 400 `BAD_ARGUMENT` for a bad `pattern` or `words` (too long, not a regular expression, features an automaton
 * cannot express), 400 `BAD_INK`, 400 `BAD_REQUEST` (no image or ink, a bad `model` or `topK`), 404 `UNKNOWN_MODEL`,
 * 413 `BODY_TOO_LARGE` / `IMAGE_TOO_LARGE`, 415, 422 `NO_INK` (a blank line) and the image decoder's 422s, 503 `BUSY` /
 * `MODEL_NOT_READY`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { hwrError } from '../../core/errors.ts';
import type { LineReading } from '../../core/line/types.ts';
import { MAX_TOP_K } from '../../core/recognizer.ts';
import { originalScale, scaleReading } from '../../node/lineImage.ts';
import { modelChoice, type RawChoice } from '../modelChoice.ts';
import type { ModelRouter } from '../modelRouter.ts';
import type { PixelBudget } from '../pixelBudget.ts';
import type { LineJobOptions } from '../recognitionInputs.ts';
import { acceptUploads, decodeWithinBudget, isJsonBody, unlessClientGone, uploadOf } from '../uploads.ts';

/** Bounds on the constraints of one `/api/read` request. */
export const READ_LIMITS = {
  /** Most characters of `pattern`. */
  maxPatternLength: 200,
  /** Most entries of `words`. */
  maxWords: 10_000,
  /** Most bytes of `words`, UTF-8, all entries together. */
  maxWordsBytes: 100_000,
  /** Most multipart text fields besides the image or ink (`words` repeated counts each time). */
  maxMultipartFields: 64,
} as const;

/** Options of the read plugin. */
export interface ReadPluginOptions {
  /** The models by name (shared with the recognition plugin). */
  router: ModelRouter;
  /** Most bytes of one uploaded image (multipart file or field), as for /api/predict. */
  maxBodyBytes: number;
  /** Most pixels (width x height) an image may have, checked from its header before decoding. */
  maxPixels: number;
  /** Pixels decoded at once across all requests: the budget the recognition plugin uses too. */
  budget: PixelBudget;
}

/** The answer of `POST /api/read`: the `LineReading` with the model's name and the decoding time. */
export type ReadBody = Omit<LineReading, 'timings'> & {
  /** Name of the model that read the line, e.g. `digits`. */
  model: string;
  /** `LineReading.timings` and `decodeMs` (0 for ink), in ms. */
  timings: LineReading['timings'] & { decodeMs: number };
};

const boxSchema = {
  type: 'object',
  required: ['x', 'y', 'width', 'height'],
  properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' } },
} as const;

const characterSchema = {
  type: 'object',
  required: ['text', 'probability', 'alternatives', 'box'],
  properties: {
    text: { type: ['string', 'null'], description: 'the character; null when the model rejects the segment (then `reason`)' },
    reason: { type: 'string' },
    probability: { type: 'number' },
    alternatives: {
      type: 'array',
      description: 'the segment\'s most probable labels, best first',
      items: { type: 'object', required: ['label', 'probability'], properties: { label: { type: 'string' }, probability: { type: 'number' } } },
    },
    box: boxSchema,
    strokes: { type: 'array', items: { type: 'integer' }, description: 'ink input: indices of the strokes of this character' },
    spaceBefore: { type: 'boolean' },
  },
} as const;

const readingSchema = {
  type: 'object',
  required: ['model', 'text', 'characters', 'confidence', 'timings'],
  properties: {
    model: { type: 'string' },
    text: { type: 'string', description: 'the line\'s text; U+FFFD for a rejected character' },
    characters: { type: 'array', items: characterSchema },
    confidence: { type: 'number', description: 'confidence that the whole text is right, in [0, 1]' },
    constraintMet: { type: 'boolean', description: 'with pattern or words: whether the text satisfies them' },
    timings: {
      type: 'object',
      required: ['decodeMs', 'segmentMs', 'preprocessMs', 'inferenceMs', 'searchMs', 'totalMs'],
      properties: {
        decodeMs: { type: 'number' },
        segmentMs: { type: 'number' },
        preprocessMs: { type: 'number' },
        inferenceMs: { type: 'number' },
        searchMs: { type: 'number' },
        totalMs: { type: 'number' },
      },
    },
  },
} as const;

/** `words` in a query: one comma-separated string, or the parameter repeated. */
const wordsTextSchema = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } as const;

/** What a request asked of the reading, from wherever it came. */
interface RawConstraints {
  pattern?: unknown;
  words?: unknown;
}

const readPlugin: FastifyPluginAsync<ReadPluginOptions> = async (app, options) => {
  const { router, maxBodyBytes, maxPixels, budget } = options;
  await acceptUploads(app, { maxBodyBytes, maxFields: READ_LIMITS.maxMultipartFields });

  app.post('/api/read', {
    schema: {
      summary: 'Read one line of handwriting (an image or an ink)',
      description:
        'The image or ink as for /api/predict (JSON `image` or `ink`, multipart field `image` or `ink`, raw `image/*` bytes). ' +
        '`model`, `topK` (alternatives per character), `pattern` (a regular expression the whole text must match, ' +
        `at most ${READ_LIMITS.maxPatternLength} characters) and \`words\` (a word list: a JSON array, or comma-separated ` +
        `or repeated in the query and multipart fields; at most ${READ_LIMITS.maxWords} words, ${READ_LIMITS.maxWordsBytes} bytes) ` +
        'as query parameters, JSON fields or multipart fields. Answers the text, each character with its box, probability ' +
        'and alternatives, the confidence of the whole line and, with a pattern or words, whether they were met.',
      querystring: {
        type: 'object',
        properties: {
          model: { type: 'string', description: 'a model name from GET /api/models; default the server\'s default model' },
          topK: { type: 'string', description: `alternatives listed per character, 1 to ${MAX_TOP_K}` },
          pattern: { type: 'string', description: 'a regular expression the whole text must match, e.g. \\d{3}-\\d{4}' },
          words: wordsTextSchema,
        },
      },
      body: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                image: { type: 'string', minLength: 1 },
                // Checked by parseInk (400 BAD_INK naming the field), as for /api/predict.
                ink: { type: 'object' },
                model: { type: 'string' },
                topK: { type: 'integer' },
                pattern: { type: 'string' },
                words: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
      response: { 200: readingSchema, '4xx': { $ref: 'hwr-error#' }, '5xx': { $ref: 'hwr-error#' } },
    },
  }, async (request, reply) => unlessClientGone(reply, async (signal): Promise<ReadBody> => {
    const multipartWords = { count: 0, bytes: 0 };
    const upload = await uploadOf(request, {
      maxBodyBytes,
      fields: ['model', 'topK', 'pattern', 'words'],
      // Refuse an oversized constraint as soon as its field arrives, before the rest of the body is read.
      onField: (name, value) => {
        if (name === 'pattern') checkPattern(value, 'multipart field pattern');
        if (name === 'words') {
          multipartWords.count += splitWords(value).length;
          multipartWords.bytes += Buffer.byteLength(value);
          checkWordBounds(multipartWords.count, multipartWords.bytes, 'multipart field words');
        }
      },
    });
    const fields = upload.fields;
    const body = isJsonBody(request) ? request.body as RawChoice & RawConstraints : undefined;
    const choice = modelChoice([
      ['query', request.query as RawChoice],
      ['body', body],
      ['multipart field', fields && { model: fields.model?.at(-1), topK: fields.topK?.at(-1) }],
    ]);
    const constraints = readConstraints(request, body, fields);
    const target = await router.target(choice.model);
    const readOptions: LineJobOptions = { name: upload.source, ...constraints, ...(choice.topK !== undefined ? { topK: choice.topK } : {}) };
    if ('ink' in upload) {
      const reading = await target.readLine({ ink: upload.ink }, { ...readOptions, signal });
      signal.throwIfAborted();
      return readBody(reading, 0, target.name);
    }
    const { pixels, decodeMs, release } = (await decodeWithinBudget(upload.bytes, upload.source, signal, { budget, maxPixels }))!;
    try {
      const reading = await target.readLine({ image: pixels }, { ...readOptions, signal });
      signal.throwIfAborted();
      return readBody(scaleReading(reading, await originalScale(upload.bytes, pixels)), decodeMs, target.name);
    } finally {
      release();
    }
  }));
};

/**
 * The `pattern` and `words` a request sent: each from one place (query, JSON body, multipart fields), checked
 * against `READ_LIMITS`.
 * @throws HwrError `BAD_ARGUMENT` naming the field: over a limit, an empty word list, or given in two places
 *   (a pattern may repeat if it is the same)
 */
function readConstraints(request: FastifyRequest, body: RawConstraints | undefined, fields: Record<string, string[]> | undefined): Pick<LineJobOptions, 'pattern' | 'words'> {
  const query = request.query as { pattern?: string; words?: string | string[] };
  const patterns: Array<[string, string]> = [];
  if (query.pattern !== undefined) patterns.push(['query pattern', query.pattern]);
  if (typeof body?.pattern === 'string') patterns.push(['body.pattern', body.pattern]);
  for (const value of fields?.pattern ?? []) patterns.push(['multipart field pattern', value]);
  for (const [where, pattern] of patterns) checkPattern(pattern, where);
  // An empty pattern (a form's empty field) asks for nothing, rather than for an empty line.
  const distinct = [...new Set(patterns.map(([, pattern]) => pattern).filter((pattern) => pattern !== ''))];
  if (distinct.length > 1) {
    throw hwrError('BAD_ARGUMENT', `${patterns.map(([where, pattern]) => `${where} is ${JSON.stringify(pattern)}`).join(' but ')}; send one pattern`);
  }

  const lists: Array<[string, string[]]> = [];
  if (query.words !== undefined) lists.push(['query words', (Array.isArray(query.words) ? query.words : [query.words]).flatMap(splitWords)]);
  if (Array.isArray(body?.words)) lists.push(['body.words', (body.words as string[]).map((word) => word.trim()).filter((word) => word !== '')]);
  if (fields?.words) lists.push(['multipart field words', fields.words.flatMap(splitWords)]);
  if (lists.length > 1) throw hwrError('BAD_ARGUMENT', `words came in ${lists.map(([where]) => where).join(' and ')}; send them in one place`);
  const [where, words] = lists[0] ?? [];
  if (where !== undefined && words !== undefined) {
    checkWordBounds(words.length, words.reduce((bytes, word) => bytes + Buffer.byteLength(word), 0), where);
    if (words.length === 0) throw hwrError('BAD_ARGUMENT', `${where} holds no word`);
  }
  return { ...(distinct[0] !== undefined ? { pattern: distinct[0] } : {}), ...(words ? { words } : {}) };
}

/** The words of a comma-separated list, trimmed, empty ones left out. */
function splitWords(text: string): string[] {
  return text.split(',').map((word) => word.trim()).filter((word) => word !== '');
}

/** @throws HwrError `BAD_ARGUMENT` naming `where` for a pattern longer than `READ_LIMITS.maxPatternLength` */
function checkPattern(pattern: string, where: string): void {
  if (pattern.length > READ_LIMITS.maxPatternLength) {
    throw hwrError('BAD_ARGUMENT', `${where} is ${pattern.length} characters long, over the limit of ${READ_LIMITS.maxPatternLength}`);
  }
}

/** @throws HwrError `BAD_ARGUMENT` naming `where` for more words or bytes than `READ_LIMITS` allows */
function checkWordBounds(count: number, bytes: number, where: string): void {
  if (count > READ_LIMITS.maxWords) throw hwrError('BAD_ARGUMENT', `${where} holds ${count} words, over the limit of ${READ_LIMITS.maxWords}`);
  if (bytes > READ_LIMITS.maxWordsBytes) throw hwrError('BAD_ARGUMENT', `${where} holds ${bytes} bytes, over the limit of ${READ_LIMITS.maxWordsBytes}`);
}

/** The JSON answer: the reading's fields at the top level, the model's name, and `decodeMs` among the timings. */
function readBody(reading: LineReading, decodeMs: number, model: string): ReadBody {
  return { model, ...reading, timings: { decodeMs, ...reading.timings } };
}

/** Registers `POST /api/read`; see the module docstring. */
export default readPlugin;

/**
 * Recognition API plugin: `POST /api/predict`, `POST /api/predict/batch`, `GET /api/model`, `GET /api/models`.
 *
 * Several models: a request names one by `model` (query, JSON or multipart field; a name from `GET /api/models`,
 * never a path) and asks for `topK` candidates (1..50; default 10 for a large vocabulary, else every class); see
 * ../modelChoice.ts and ../modelRouter.ts. A model of more than 20 classes answers with its candidates only,
 * never every class's probability (3,755 numbers for hanzi); a smaller one also with `probabilities`, as before.
 *
 * Data flows one way: request body -> image bytes -> pixels (`decodeImage`: libvips, off the event loop, with size
 * limits, downscaled to 1024 px, within a shared pixel budget that bounds memory, see ../pixelBudget.ts) ->
 * recognition (`RecognitionService.recognize`: preprocessing + model, in a worker thread of ../recognitionPool.ts
 * when the server runs one) -> JSON answer.
 *
 * Ink (issue 11) is accepted wherever an image is: `{ "ink": { "strokes": [[[x, y, t?], ...], ...] } }` as the JSON
 * body of /api/predict, a multipart field or file named `ink` holding that JSON, or `{ "ink": ... }` items of a batch.
 * It is validated on the event loop (`parseInk`: 400 `BAD_INK` naming the field, `INK_LIMITS`; 422 `NO_INK` for ink
 * without points) and drawn where it is recognized (`inkImageFor`, in the pool worker: ../recognitionInputs.ts), so
 * it meets the model as the same pixels as in the page, the CLI and training. Ink needs no decoding and no pixel
 * budget (it is drawn at 128 x 128); its `timings.decodeMs` is 0 and the drawing counts as preprocessing.
 *
 * Load and abandoned requests: the budget and the pool each queue a bounded number of requests and answer 503
 * `BUSY` with `Retry-After` past that. A request whose client has gone away (its response closed unanswered)
 * leaves the queues, and no further stage (decoding, recognition) starts for it; the server's log shows it once,
 * as "client closed".
 * Routes declare their schemas right above their handlers; failures are thrown and rendered
 * by the server's error handler in the one error shape (see ../errors.ts).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { INK_LIMITS, parseInk } from '../../core/ink.ts';
import { hwrError } from '../../core/errors.ts';
import type { ModelMetadata } from '../../core/types.ts';
import { MAX_TOP_K, type ClassProbability, type Recognition } from '../../core/recognizer.ts';
import { toImageData } from '../../core/preprocess.ts';
import { encodePng } from '../../node/image.ts';
import { ApiError, toApiError, type ApiErrorBody } from '../errors.ts';
import { bytesFromImageText } from '../imagePayload.ts';
import { defaultApiTopK, modelChoice, SMALL_VOCABULARY, type RawChoice } from '../modelChoice.ts';
import type { ModelRouter, ModelTarget } from '../modelRouter.ts';
import { PixelBudget } from '../pixelBudget.ts';
import type { InkInput } from '../recognitionInputs.ts';
import { acceptUploads, decodeWithinBudget as decodeInBudget, isJsonBody, unlessClientGone, uploadOf, type Decoded } from '../uploads.ts';

/** Options of the recognition plugin. */
export interface RecognitionPluginOptions {
  /** The models by name: the default one (possibly still loading) and the others of the models folder. */
  router: ModelRouter;
  /** Most bytes one uploaded image (multipart file or field) may have; also Fastify's `bodyLimit` for the other forms. */
  maxBodyBytes: number;
  /** Most pixels (width x height) an image may have, checked from its header before decoding. */
  maxPixels: number;
  /** Most images in one batch request. */
  maxBatch: number;
  /** Most ink points in one batch request, all ink items together; default 100,000. */
  maxBatchInkPoints?: number;
  /** Most requests waiting for the pixel budget before 503 `BUSY`; default 64. */
  maxWaiting?: number;
  /** Pixels that may be decoded at once across all requests; default a budget of `maxPixels` with `maxWaiting`. */
  budget?: PixelBudget;
}

/** The answer for one recognized image. */
export interface PredictionBody {
  /** The recognized class label, e.g. `"7"` or `"永"`; null when the model rejects the image, and `reason` says why. */
  label: string | null;
  /** Present when `label` is null: why there is no label, e.g. `"not a digit"`. */
  reason?: string;
  /** Probability of `label` (of the rejection when `label` is null), in [0, 1]. */
  probability: number;
  /**
   * One probability per class, in the order of the model's `classes`; sums to 1. Only for models of at most
   * `SMALL_VOCABULARY` (20) classes.
   */
  probabilities?: number[];
  /** The `topK` most probable classes, most probable first (the rejection class included, for a model that has one). */
  candidates: ClassProbability[];
  /** Name of the model that answered, e.g. `hanzi`. */
  model: string;
  /** The image the model saw at its input size (28x28, 64x64, ...), white ink on black, as a `data:image/png;base64,` URL. */
  processed: string;
  /** Milliseconds spent on this image: decoding the upload, preprocessing it and running the model. */
  ms: number;
  /** The same time by stage, in ms. */
  timings: { decodeMs: number; preprocessMs: number; inferenceMs: number };
}

const candidateSchema = {
  type: 'object',
  required: ['label', 'probability'],
  properties: { label: { type: 'string' }, probability: { type: 'number' } },
} as const;

const predictionSchema = {
  type: 'object',
  required: ['label', 'probability', 'candidates', 'model', 'processed', 'ms', 'timings'],
  properties: {
    label: { type: ['string', 'null'] },
    reason: { type: 'string' },
    probability: { type: 'number' },
    probabilities: { type: 'array', items: { type: 'number' }, description: `every class's probability; only for models of at most ${SMALL_VOCABULARY} classes` },
    candidates: { type: 'array', items: candidateSchema, description: 'the topK most probable classes, best first' },
    model: { type: 'string' },
    processed: { type: 'string', description: 'the model input as a PNG data URL, at the model input size' },
    ms: { type: 'number' },
    timings: {
      type: 'object',
      required: ['preprocessMs', 'inferenceMs'],
      properties: { decodeMs: { type: 'number' }, preprocessMs: { type: 'number' }, inferenceMs: { type: 'number' } },
    },
  },
} as const;

const errorSchema = { $ref: 'hwr-error#' } as const;

/**
 * `ink` of a JSON body: `InkJson` (src/core/ink.ts). The schema declares its outline; `parseInk` checks the points
 * (finite numbers within ±`maxCoordinate`) and the totals of `INK_LIMITS`, naming the field (400 `BAD_INK`).
 */
const inkSchema = {
  type: 'object',
  required: ['strokes'],
  description: 'handwriting: { "strokes": [[[x, y, t?], ...], ...], "width"?, "height"? }, y down, any unit, t in ms; ' +
    `at most ${INK_LIMITS.maxStrokes} strokes and ${INK_LIMITS.maxPoints} points, |x|, |y| <= ${INK_LIMITS.maxCoordinate}`,
  properties: {
    strokes: { type: 'array', maxItems: INK_LIMITS.maxStrokes, items: { type: 'array', items: { type: 'array', minItems: 2 } } },
    width: { type: 'number' },
    height: { type: 'number' },
  },
} as const;

/** `model` and `topK` as query parameters; values are checked by `modelChoice` (../modelChoice.ts), which names them in its errors. */
const choiceQuerySchema = {
  type: 'object',
  properties: {
    model: { type: 'string', description: 'a model name from GET /api/models (^[\\w-]+$); default the server\'s default model' },
    topK: { type: 'string', description: `candidates to list, 1 to ${MAX_TOP_K}; default 10 for models of more than ${SMALL_VOCABULARY} classes, else all` },
  },
} as const;

/** `model` and `topK` as JSON fields. */
const choiceBodyProperties = {
  model: { type: 'string' },
  topK: { type: 'integer' },
} as const;

/** Metadata fields `GET /api/model` answers with. */
const metadataSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    architecture: { type: 'string' },
    classes: { type: 'array', items: { type: 'string' } },
    inputShape: { type: 'array', items: { type: 'integer' } },
    parameters: { type: 'integer' },
    preprocessing: { type: 'string' },
    charset: { type: 'string' },
    rejectClass: { type: 'string' },
    testAccuracy: { type: ['number', 'null'] },
    top3Accuracy: { type: ['number', 'null'] },
    topKAccuracy: { type: 'array', items: { type: 'object', properties: { k: { type: 'integer' }, accuracy: { type: 'number' } } } },
    testData: { type: ['string', 'null'] },
    trainingData: { type: 'string' },
    epochs: { type: 'integer' },
    date: { type: 'string' },
    version: { type: 'string' },
  },
} as const;

/** One entry of `GET /api/models` (see `ModelListing` in ../modelCatalog.ts). */
const listingSchema = {
  type: 'object',
  required: ['name', 'default'],
  properties: {
    name: { type: 'string' },
    default: { type: 'boolean' },
    classes: { type: 'integer', description: 'number of classes' },
    inputShape: { type: 'array', items: { type: 'integer' } },
    preprocessing: { type: 'string' },
    charset: { type: 'string' },
    architecture: { type: 'string' },
    pairsFor: { type: 'string', description: 'a pair model (two characters at once, for /api/read): the model it serves' },
    parameters: { type: 'integer' },
    testAccuracy: { type: ['number', 'null'] },
    top3Accuracy: { type: ['number', 'null'] },
    topKAccuracy: metadataSchema.properties.topKAccuracy,
    testData: { type: ['string', 'null'] },
    error: { $ref: 'hwr-error#/properties/error' },
  },
} as const;

/** One entry of a batch answer. */
type BatchItem = { result: PredictionBody } | ApiErrorBody;

const recognitionPlugin: FastifyPluginAsync<RecognitionPluginOptions> = async (app, options) => {
  const { router, maxBodyBytes, maxPixels, maxBatch, maxBatchInkPoints = 100_000 } = options;
  const budget = options.budget ?? new PixelBudget(maxPixels, { maxWaiting: options.maxWaiting });

  // Accepted bodies: JSON (default parser), multipart, and raw `image/*` bytes. Plain text is refused (415).
  await acceptUploads(app, { maxBodyBytes, maxFields: 8 });

  /** `decodeWithinBudget` (../uploads.ts) with this plugin's budget and pixel limit. */
  const decodeWithinBudget = (upload: Buffer, source: string, signal: AbortSignal, now = false): Promise<Decoded | null> =>
    decodeInBudget(upload, source, signal, { budget, maxPixels }, now);

  app.post('/api/predict', {
    schema: {
      summary: 'Recognize one image or one ink',
      description:
        'Send the image as JSON `{ "image": "<data URL or base64>" }`, as multipart field `image`, ' +
        'or as raw bytes with an `image/*` content type; or ink (pen strokes) as JSON `{ "ink": { "strokes": [[[x, y, t?], ...], ...] } }` ' +
        'or as multipart field `ink` holding that JSON. Choose the model with `model` and the number of candidates ' +
        'with `topK`, as query parameters, JSON fields or multipart fields. Unknown model: 404 `UNKNOWN_MODEL`.',
      querystring: choiceQuerySchema,
      body: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              // One of `image` and `ink`: checked by `uploadOf` (../uploads.ts), whose message says what to send.
              properties: { image: { type: 'string', minLength: 1 }, ink: inkSchema, ...choiceBodyProperties },
            },
          },
        },
      },
      response: { 200: predictionSchema, '4xx': errorSchema, '5xx': errorSchema },
    },
  }, async (request, reply) => unlessClientGone(reply, async (signal): Promise<PredictionBody> => {
    const upload = await uploadOf(request, { maxBodyBytes, fields: ['model', 'topK'] });
    const fields: RawChoice | undefined = upload.fields && { model: upload.fields.model?.at(-1), topK: upload.fields.topK?.at(-1) };
    const { target, topK } = await chosenModel(request, fields);
    if ('ink' in upload) {
      // Drawn where it is recognized (a pool worker); nothing to decode, no pixel budget.
      const [recognition] = await target.recognizeBatch([{ ink: upload.ink }], { names: [upload.source], topK, signal });
      if (recognition instanceof Error) throw recognition;
      signal.throwIfAborted();
      return await predictionBody(recognition!, 0, target);
    }
    const { pixels, decodeMs, release } = (await decodeWithinBudget(upload.bytes, upload.source, signal))!;
    try {
      const [recognition] = await target.recognizeBatch([pixels], { names: [upload.source], topK, signal });
      if (recognition instanceof Error) throw recognition;
      signal.throwIfAborted();
      return await predictionBody(recognition!, decodeMs, target);
    } finally {
      release();
    }
  }));

  app.post('/api/predict/batch', {
    schema: {
      summary: `Recognize up to ${maxBatch} images or inks`,
      description: 'Answers `results` in the order of `images`; each is `{ result }` or `{ error: { code, message } }`. ' +
        'An item is an image (a data URL or base64 string) or an ink object `{ "ink": { "strokes": [...] } }`. ' +
        '`model` and `topK` as for /api/predict (query parameters or JSON fields), the same for every item.',
      querystring: choiceQuerySchema,
      body: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['images'],
              properties: {
                // An image string or `{ ink }`; an object without a valid `ink` gets its error in its own slot.
                images: { type: 'array', minItems: 1, maxItems: maxBatch, items: { type: ['string', 'object'], minLength: 1 } },
                ...choiceBodyProperties,
              },
            },
          },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['results'],
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                properties: { result: predictionSchema, error: { $ref: 'hwr-error#/properties/error' } },
              },
            },
          },
        },
        '4xx': errorSchema,
        '5xx': errorSchema,
      },
    },
  }, async (request, reply) => unlessClientGone(reply, async (signal) => {
    if (!isJsonBody(request)) {
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'a batch is sent as JSON { "images": [...] }');
    }
    const { target, topK } = await chosenModel(request, undefined);
    const { images } = request.body as { images: Array<string | Record<string, unknown>> };
    const results: BatchItem[] = new Array(images.length);
    // Images are decoded one after another and recognized in chunks, one forward pass per chunk. A chunk ends
    // when the next image's pixels are not free in the shared budget: then the chunk is recognized and its
    // pixels released before waiting, so a batch never waits while holding pixels (no deadlock between batches).
    // Ink items hold no pixels: they join the current chunk (and are drawn by the worker that recognizes it).
    let chunk: Array<(Decoded | InkItem) & { index: number }> = [];
    let inkPoints = 0;
    const recognizeChunk = async (): Promise<void> => {
      const current = chunk;
      chunk = [];
      try {
        if (current.length === 0) return;
        const inputs = current.map((item) => ('ink' in item ? { ink: item.ink } : item.pixels));
        const recognitions = await target.recognizeBatch(inputs, { names: current.map((item) => item.source), topK, signal });
        await Promise.all(current.map(async (item, i) => {
          const recognition = recognitions[i]!;
          results[item.index] = recognition instanceof Error ? errorOf(recognition) : { result: await predictionBody(recognition, item.decodeMs, target) };
        }));
      } finally {
        for (const item of current) item.release();
      }
    };
    try {
      for (const [index, item] of images.entries()) {
        const source = `body.images[${index}]`;
        try {
          if (typeof item !== 'string') {
            const ink = inkItem(item, source);
            const points = ink.ink.strokes.reduce((total, stroke) => total + stroke.length, 0);
            if (inkPoints + points > maxBatchInkPoints) {
              throw hwrError('BAD_INK', `${source}.ink: the batch's inks hold more than ${maxBatchInkPoints} points together; send it in another batch`);
            }
            inkPoints += points;
            chunk.push({ ...ink, index });
            continue;
          }
          const bytes = bytesFromImageText(item, source);
          let decoded = await decodeWithinBudget(bytes, source, signal, true);
          if (!decoded) {
            await recognizeChunk();
            decoded = (await decodeWithinBudget(bytes, source, signal))!;
          }
          chunk.push({ ...decoded, index });
        } catch (error) {
          // A gone client or a full server stops the whole batch; a bad image only its own entry.
          if (signal.aborted || (error as { code?: string }).code === 'BUSY') throw error;
          results[index] = errorOf(error);
        }
      }
      await recognizeChunk();
    } finally {
      for (const item of chunk) item.release();
    }
    return { results };
  }));

  app.get('/api/model', {
    schema: {
      summary: 'Describe a model: the default one, or `?model=<name>`',
      querystring: { type: 'object', properties: { model: choiceQuerySchema.properties.model } },
      response: { 200: metadataSchema, '4xx': errorSchema, '5xx': errorSchema },
    },
  }, async (request): Promise<ModelMetadata> => {
    const { model } = modelChoice([['query', request.query as RawChoice]]);
    return router.metadata(model);
  });

  app.get('/api/models', {
    schema: {
      summary: 'List the models this server has, from their metadata (no weights are loaded)',
      response: {
        200: {
          type: 'object',
          required: ['default', 'models'],
          properties: {
            default: { type: 'string', description: 'name of the model a request without `model` gets' },
            models: { type: 'array', items: listingSchema },
          },
        },
        '5xx': errorSchema,
      },
    },
  }, async () => ({ default: router.catalog.defaultName, models: await router.catalog.list() }));

  /**
   * The model and candidate count a recognition request chose (query parameters, and `fields` from its JSON or
   * multipart body), ready to recognize with.
   * @throws ApiError 400 (bad name or topK), 404 `UNKNOWN_MODEL`, 503 `MODEL_NOT_READY`; see `ModelRouter.target`.
   */
  async function chosenModel(request: FastifyRequest, fields: RawChoice | undefined): Promise<{ target: ModelTarget; topK: number }> {
    const body = isJsonBody(request) ? request.body as RawChoice : undefined;
    const choice = modelChoice([['query', request.query as RawChoice], ['body', body], ['multipart field', fields]]);
    const target = await router.target(choice.model);
    return { target, topK: choice.topK ?? defaultApiTopK(target.metadata.classes.length) };
  }
};

/** A batch item that is ink, validated, with its field name; it holds no pixels (nothing to decode or release). */
type InkItem = InkInput & Pick<Decoded, 'source' | 'decodeMs' | 'release'>;

/**
 * A batch item that is an object: `{ ink }`, validated.
 * @throws HwrError `BAD_INK` (no `ink` field, or `parseInk`'s reasons) or `NO_INK`, naming `source`
 */
function inkItem(item: Record<string, unknown>, source: string): InkItem {
  if (item === null || Array.isArray(item) || !('ink' in item)) {
    throw hwrError('BAD_INK', `${source}: expected an image string (a data URL or base64) or an object { "ink": { "strokes": [...] } }`);
  }
  return { ink: parseInk(item.ink, `${source}.ink`), source: `${source}.ink`, decodeMs: 0, release: () => {} };
}

/** The `{ error }` entry for one failed batch item; server faults are reported without their internals. */
function errorOf(error: unknown): ApiErrorBody {
  return toApiError(error).body;
}

/**
 * JSON answer for one recognition by `target`'s model; the processed input is sent back as a PNG data URL at the
 * model's input size. `probabilities` only for a model of at most `SMALL_VOCABULARY` classes.
 */
async function predictionBody(recognition: Recognition, decodeMs: number, target: ModelTarget): Promise<PredictionBody> {
  // The profiles make square inputs (preprocessorFor refuses others), so the side is the square root.
  const png = await encodePng(toImageData(recognition.processed, Math.round(Math.sqrt(recognition.processed.length))));
  const { preprocessMs, inferenceMs } = recognition.timings;
  return {
    label: recognition.label,
    ...(recognition.reason !== undefined ? { reason: recognition.reason } : {}),
    probability: recognition.probability,
    ...(recognition.probabilities.length <= SMALL_VOCABULARY ? { probabilities: recognition.probabilities } : {}),
    candidates: recognition.topK,
    model: target.name,
    processed: `data:image/png;base64,${png.toString('base64')}`,
    ms: Math.round((decodeMs + preprocessMs + inferenceMs) * 100) / 100,
    timings: { decodeMs, preprocessMs, inferenceMs },
  };
}

/** Registers the recognition routes; see the module docstring for the API. */
export default recognitionPlugin;

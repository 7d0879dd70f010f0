/**
 * The hwr HTTP server: the recognition API, line reading (`POST /api/read`), the dataset store (`/api/datasets`), the health check and the static web app,
 * each a Fastify plugin, sharing one recognizer that loads the default model in the background and serves the
 * other models of the models folder by name (see ./modelRouter.ts).
 *
 * ```ts
 * const app = buildServer({ webRoot: false });
 * await app.listen({ port: 0, host: '127.0.0.1' });
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { DEFAULT_MODEL, loadRecognizer, SHIPPED_MODELS_DIR, type EngineChoice } from '../node/recognizer.ts';
import { ApiError, errorResponseSchema, installErrorHandlers, toApiError } from './errors.ts';
import { DatasetStore, datasetStoreOptionsFromEnv, type DatasetStoreOptions } from './datasetStore.ts';
import { ModelCatalog } from './modelCatalog.ts';
import { ModelRouter } from './modelRouter.ts';
import { PixelBudget } from './pixelBudget.ts';
import { RecognizerSlot } from './recognizerSlot.ts';
import { RecognitionPool, type RecognitionService } from './recognitionPool.ts';
import { answerClientError, limitBodyTime } from './transport.ts';
import datasetsPlugin from './plugins/datasets.ts';
import healthPlugin from './plugins/health.ts';
import readPlugin from './plugins/read.ts';
import recognitionPlugin from './plugins/recognition.ts';
import webAppPlugin from './plugins/webApp.ts';

/** Default folder of the built web app: `<repo>/web-dist`. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web-dist/', import.meta.url));

/** Limits on what a request may carry. */
export const LIMITS = {
  /** Most bytes in a request body (and in one multipart file): 5 MiB. */
  maxBodyBytes: 5 * 1024 * 1024,
  /** Most pixels in an image, from its header, before decoding: 50 megapixels. */
  maxPixels: 50_000_000,
  /** Most images in one `POST /api/predict/batch`. */
  maxBatch: 64,
  /**
   * Most ink points in one batch, all `{ ink }` items together (one ink may have `INK_LIMITS.maxPoints`, 20,000):
   * drawing is bounded per point, so this bounds the worker time one batch can take (about a second for 100,000
   * points drawn as a hostile zigzag). Items past it get a `BAD_INK` error in their slot.
   */
  maxBatchInkPoints: 100_000,
  /** Most requests waiting for decoding memory (the 50-megapixel pixel budget) before 503 `BUSY`. */
  maxWaiting: 64,
  /** Most jobs waiting for a recognition worker before 503 `BUSY`. */
  maxQueue: 256,
  /**
   * Most milliseconds one `POST /api/read` may read in a pool worker (a backstop: a 10-character line reads in tens of
   * ms, and costly patterns are refused before any reading); then 400 `BAD_ARGUMENT` and the worker is replaced. A server without a pool (`workers: 0`) has no such limit.
   */
  readTimeoutMs: 10_000,
  /**
   * Most bytes of a refused body (one over `maxBodyBytes`, or of a wrong content type) that are read and discarded
   * after the error answer, so a client still writing reads the answer instead of a reset: 64 MiB. Beyond it, or
   * after `drainMs`, the connection is closed.
   */
  drainBytes: 64 * 1024 * 1024,
  /** Most milliseconds spent draining a refused body: 30 s. */
  drainMs: 30_000,
  /** Most milliseconds a client may take to send a whole request (slow-loris protection); then 408 `REQUEST_TIMEOUT`. */
  requestTimeoutMs: 60_000,
} as const;

/**
 * Logs each request once, when it completes: method, URL, status and duration in ms
 * (instead of Fastify's two lines, "incoming request" and "request completed"). A request whose client closed the
 * connection before the answer gets its one line too, with status 499 (nginx's "client closed request").
 */
class OneLinePerRequest extends LogController {
  private readonly logged = new WeakSet<FastifyRequest>();

  override incomingRequest(): void {}

  /** Logs `request` as abandoned by its client, unless it was logged already. */
  clientClosed(request: FastifyRequest, reply: FastifyReply): void {
    if (this.logged.has(request)) return;
    this.logged.add(request);
    const ms = Math.round((reply.elapsedTime || 0) * 10) / 10;
    reply.log.info({ method: request.method, url: request.url, statusCode: 499, ms, outcome: 'client closed' }, 'request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.logged.has(request)) return;
    this.logged.add(request);
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}

/** Options of `buildServer`. */
export interface ServerOptions {
  /**
   * The recognizer of the default model (a `Recognizer`, which then runs on the event loop, or a `RecognitionPool`),
   * or a promise of it. Default: a `RecognitionPool` of `workers` threads loading `model`, started at once; the
   * server answers 503 on the API until it is ready. The other models of `modelsDir` are served by the pool's
   * workers, or without a pool loaded on the event loop on first use.
   */
  recognizer?: RecognitionService | Promise<RecognitionService>;
  /**
   * The default model (`HWR_MODEL`): a name in `modelsDir` or a model folder; it serves requests without `model`.
   * With `recognizer`, the name the API gives that recognizer's model. Default `digits`.
   */
  model?: string;
  /** Folder of the models served by name (`model` in requests, `GET /api/models`). Default the shipped `models/`. */
  modelsDir?: string;
  /**
   * Worker threads that preprocess and recognize, when `recognizer` is not given. Default `HWR_WORKERS`, else one per
   * core; 0 recognizes on the event loop (no pool; one large image then delays every other request).
   */
  workers?: number;
  /**
   * What runs the models (`HWR_ENGINE`), when `recognizer` is not given: `auto` (default: ONNX Runtime where it can
   * run the model, else TF.js with a warning), `onnx` or `tfjs`. Passed to every pool worker.
   */
  engine?: EngineChoice;
  /** Folder of the built web app, or `false` to serve no web app. Default `DEFAULT_WEB_ROOT`. */
  webRoot?: string | false;
  /** Fastify logger option: `false` (default) for silence, `true` or a pino config to log each request (method, URL, status, `ms`). */
  logger?: FastifyServerOptions['logger'];
  /** Overrides of `LIMITS`. */
  limits?: Partial<Record<keyof typeof LIMITS, number>>;
  /**
   * The dataset store behind `/api/datasets` (folder, token, limits; see ./datasetStore.ts), or `false` for no
   * `/api/datasets` routes. Default `datasetStoreOptionsFromEnv(process.env)`: `HWR_DATA_DIR` (default
   * `data/datasets` under the working directory), `HWR_DATASET_TOKEN` (unset: writes are off), and the limits.
   */
  datasets?: DatasetStoreOptions | false;
}

/**
 * Builds (but does not start) the server. Call `listen()` on the result; `close()` stops it and
 * frees the model. The model starts loading immediately; `GET /api/health` turns 200 when it is ready.
 *
 * Never throws for bad requests: every one is answered with a 4xx and `{ error: { code, message } }`.
 * A model that fails to load is logged, and the API answers 503 `MODEL_NOT_READY`.
 */
export function buildServer(options: ServerOptions = {}): FastifyInstance {
  const limits = { ...LIMITS, ...options.limits };
  const logController = new OneLinePerRequest();
  const log = (): FastifyBaseLogger => app.log;
  const app: FastifyInstance = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.maxBodyBytes,
    logController,
    // A client that trickles its request for more than a minute is cut off (slow-loris protection).
    requestTimeout: limits.requestTimeoutMs,
    // Fastify's default coerces types (42 -> "42"); a number where an image string belongs is a bad request.
    // allowUnionTypes: a batch item is `type: ['string', 'object']` (an image or `{ ink }`), without a strict-mode warning.
    ajv: { customOptions: { coerceTypes: false, allowUnionTypes: true } },
    // Requests Node's HTTP parser rejects (oversize headers, bad framing, not HTTP) get the one error shape too.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, log()),
    // Errors Fastify meets before routing (a malformed URL such as /%zz) get the one error shape too.
    frameworkErrors: (error, _request, reply) => {
      const { statusCode, body } = toApiError(error);
      (reply as FastifyReply).code(statusCode).type('application/json').send(body);
    },
    // Node would answer a missing Host header with an empty 400 of its own; the hook below answers it in our shape.
    // Node checks request timeouts every connectionsCheckingInterval ms (default 30 s); a tenth of the timeout keeps
    // the 408 close to it.
    http: { requireHostHeader: false, connectionsCheckingInterval: Math.max(100, Math.round(limits.requestTimeoutMs / 10)) },
    // While shutting down, requests already on open connections are served (each answer then closes its
    // connection) rather than refused with Fastify's own 503 body.
    return503OnClosing: false,
  });

  // `Expect: 100-continue` (curl sends it for bodies over 1 MB): Node would send "100 Continue" for any size; for a
  // body declared over the limit the client is answered 413 at once instead, and never sends the body.
  app.server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    if (!(Number(request.headers['content-length']) > limits.maxBodyBytes)) response.writeContinue();
    app.server.emit('request', request, response);
  });

  const model = options.model ?? DEFAULT_MODEL;
  const modelsDir = options.modelsDir ?? SHIPPED_MODELS_DIR;
  const engine = options.engine ?? 'auto';
  const loading = Promise.resolve(
    options.recognizer ?? (options.workers === 0
      ? loadRecognizer(model, modelsDir, { engine })
      : RecognitionPool.start({ model, modelsDir, workers: options.workers, maxQueue: limits.maxQueue, readTimeoutMs: limits.readTimeoutMs, engine })),
  );
  const slot = new RecognizerSlot(loading, (error) => app.log.error({ err: error }, 'model failed to load'));
  slot.settled.then(() => {
    if (slot.state.status === 'ready') app.log.info({ model: slot.state.recognizer.metadata.name, engine: slot.state.recognizer.engine }, 'model loaded');
  });
  const router = new ModelRouter(slot, new ModelCatalog({ modelsDir, defaultModel: model }), engine);
  app.addHook('onClose', async () => {
    await Promise.all([slot.dispose(), router.dispose()]);
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) logController.clientClosed(request, reply);
    });
  });

  // Shutting down: every answer closes its connection, so an idle keep-alive connection does not hold the
  // process open until keepAliveTimeout (72 s) after the last request in flight is answered.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onRequest', async (request, reply) => {
    // RFC 9112, 3.2: a server must answer 400 to an HTTP/1.1 request without a Host header.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new ApiError(400, 'BAD_REQUEST', 'an HTTP/1.1 request must have a Host header');
    }
    limitBodyTime(request.raw, reply.raw, limits.requestTimeoutMs, () =>
      new ApiError(408, 'REQUEST_TIMEOUT', `the request body did not arrive in full within ${limits.requestTimeoutMs / 1000} s`));
  });
  app.addSchema(errorResponseSchema);
  installErrorHandlers(app, { maxBodyBytes: limits.maxBodyBytes, drain: { maxBytes: limits.drainBytes, maxMs: limits.drainMs } });
  const datasets = options.datasets ?? datasetStoreOptionsFromEnv(process.env);
  app.register(healthPlugin, { slot, datasetWrites: datasets !== false && Boolean(datasets.token) });
  // One pixel budget for every route that decodes images, so /api/predict and /api/read take turns for memory.
  const budget = new PixelBudget(limits.maxPixels, { maxWaiting: limits.maxWaiting });
  app.register(recognitionPlugin, { router, ...limits, budget });
  app.register(readPlugin, { router, maxBodyBytes: limits.maxBodyBytes, maxPixels: limits.maxPixels, budget });
  if (datasets !== false) app.register(datasetsPlugin, { store: new DatasetStore(datasets) });
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  if (webRoot !== false) app.register(webAppPlugin, { root: webRoot });
  return app;
}

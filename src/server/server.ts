/**
 * The hwr HTTP server: the recognition API, the health check and the static web app,
 * each a Fastify plugin, sharing one recognizer that loads in the background.
 *
 * ```ts
 * const app = buildServer({ webRoot: false });
 * await app.listen({ port: 0, host: '127.0.0.1' });
 * ```
 */
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Recognizer } from '../core/recognizer.ts';
import { loadRecognizer } from '../node/recognizer.ts';
import { errorResponseSchema, installErrorHandlers } from './errors.ts';
import { RecognizerSlot } from './recognizerSlot.ts';
import healthPlugin from './plugins/health.ts';
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
} as const;

/**
 * Logs each request once, when it completes: method, URL, status and duration in ms
 * (instead of Fastify's two lines, "incoming request" and "request completed").
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}

/** Options of `buildServer`. */
export interface ServerOptions {
  /**
   * The recognizer to serve, or a promise of it. Default: `loadRecognizer(model)` from src/node/recognizer.ts,
   * started at once; the server answers 503 on the API until it resolves.
   */
  recognizer?: Recognizer | Promise<Recognizer>;
  /** Model name under models/ or a model folder, when `recognizer` is not given. Default `digits`. */
  model?: string;
  /** Folder of the built web app, or `false` to serve no web app. Default `DEFAULT_WEB_ROOT`. */
  webRoot?: string | false;
  /** Fastify logger option: `false` (default) for silence, `true` or a pino config to log each request (method, URL, status, `ms`). */
  logger?: FastifyServerOptions['logger'];
  /** Overrides of `LIMITS`. */
  limits?: Partial<typeof LIMITS>;
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
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.maxBodyBytes,
    logController: new OneLinePerRequest(),
    // A client that trickles its request for more than a minute is cut off (slow-loris protection).
    requestTimeout: 60_000,
    // Fastify's default coerces types (42 -> "42"); a number where an image string belongs is a bad request.
    ajv: { customOptions: { coerceTypes: false } },
  });

  const loading = Promise.resolve(options.recognizer ?? loadRecognizer(options.model ?? 'digits'));
  const slot = new RecognizerSlot(loading, (error) => app.log.error({ err: error }, 'model failed to load'));
  slot.settled.then(() => {
    if (slot.state.status === 'ready') app.log.info({ model: slot.state.recognizer.metadata.name }, 'model loaded');
  });
  app.addHook('onClose', async () => slot.dispose());

  app.addSchema(errorResponseSchema);
  installErrorHandlers(app);
  app.register(healthPlugin, { slot });
  app.register(recognitionPlugin, { slot, ...limits });
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  if (webRoot !== false) app.register(webAppPlugin, { root: webRoot });
  return app;
}

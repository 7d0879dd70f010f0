/**
 * One error shape for every HTTP answer that is not a success:
 * `{ "error": { "code": "<STABLE_CODE>", "message": "<what was wrong with which input>" } }`.
 *
 * Codes are the toolkit's `HwrErrorCode`s (from src/core/errors.ts) plus a few that only make
 * sense over HTTP. Every error the server can meet is mapped here to a status: bad input is
 * always a 4xx, and only a fault of the server itself (a bug, a broken model) is a 5xx.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isHwrError, type HwrErrorCode } from '../core/errors.ts';
import { drainUnreadBody, type DrainLimits } from './transport.ts';

/** Error codes the server answers with: the toolkit's codes plus HTTP-only ones. */
export type ApiErrorCode =
  | HwrErrorCode
  | 'BAD_REQUEST'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'TOO_MANY_IMAGES'
  | 'MODEL_NOT_READY'
  | 'WEB_APP_NOT_BUILT'
  | 'NOT_FOUND'
  /** A request to /api/datasets without `Authorization: Bearer <token>` when the server has a token (401). */
  | 'UNAUTHORIZED'
  /** Dataset writes while they are off, or a wrong token (403). */
  | 'FORBIDDEN'
  /** The dataset folder is at its count or size limit (413). */
  | 'STORAGE_FULL'
  | 'BUSY'
  | 'INTERNAL_ERROR';

/** The body of every error answer. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/** An error that already knows its HTTP status and code; thrown by handlers, rendered by `sendError`. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly statusCode: number;

  constructor(statusCode: number, code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** HTTP status for each toolkit error code. Image problems are 422: the request was well formed, its image was not usable. */
const STATUS_OF_HWR_CODE: Record<HwrErrorCode, number> = {
  NO_INK: 422,
  NOT_AN_IMAGE: 422,
  CORRUPT_IMAGE: 422,
  EMPTY_IMAGE: 422,
  IMAGE_TOO_LARGE: 413,
  BAD_ARGUMENT: 400,
  BAD_INK: 400,
  BAD_DATASET: 400,
  // The remaining codes come from the server's own files (model, data), never from a request.
  FILE_NOT_FOUND: 500,
  CORRUPT_IDX: 500,
  CORRUPT_GNT: 500,
  UNKNOWN_MODEL: 500,
  BAD_MODEL: 500,
  UNSUPPORTED_MODEL: 500,
};

/** Fastify and @fastify/multipart error codes that describe a bad request, with our code for each. */
const CODE_OF_FRAMEWORK_ERROR: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_PARTS_LIMIT: 'BODY_TOO_LARGE',
  FST_FILES_LIMIT: 'BODY_TOO_LARGE',
  FST_FIELDS_LIMIT: 'BODY_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_PROTO_VIOLATION: 'BAD_REQUEST',
  FST_MP_PREMATURE_CLOSE: 'BAD_REQUEST',
};

/**
 * Turns anything thrown while answering a request into `{ statusCode, body }` of the one error shape.
 * `contentType` is the request's, quoted in the 415 message. Never throws. Unknown errors become 500 `INTERNAL_ERROR` without leaking their message.
 */
export function toApiError(error: unknown, contentType?: string): { statusCode: number; body: ApiErrorBody } {
  if (error instanceof ApiError) {
    return { statusCode: error.statusCode, body: { error: { code: error.code, message: error.message } } };
  }
  if (isHwrError(error)) {
    return { statusCode: STATUS_OF_HWR_CODE[error.code] ?? 500, body: { error: { code: error.code, message: error.message } } };
  }
  const fastifyError = error as Partial<FastifyError> | undefined;
  if (fastifyError?.validation) {
    // Schema validation: a too-long `images` array gets its own code, `ink` that is not the shape of ink is BAD_INK
    // (as `parseInk` answers for the finer checks), everything else is a plain bad request.
    const tooMany = fastifyError.validation.some((issue) => issue.keyword === 'maxItems' && issue.instancePath === '/images');
    if (tooMany) return { statusCode: 400, body: { error: { code: 'TOO_MANY_IMAGES', message: `body.images holds more than ${maxItemsOf(fastifyError)} images` } } };
    const inkIssue = fastifyError.validationContext === 'body' ? fastifyError.validation.find((issue) => issue.instancePath.startsWith('/ink')) : undefined;
    if (inkIssue) return { statusCode: 400, body: { error: { code: 'BAD_INK', message: `${fieldPath('body', inkIssue.instancePath)}: ${inkIssue.message ?? 'is not valid ink'}` } } };
    return { statusCode: 400, body: { error: { code: 'BAD_REQUEST', message: `request ${fastifyError.message}` } } };
  }
  const mapped = fastifyError?.code ? CODE_OF_FRAMEWORK_ERROR[fastifyError.code] : undefined;
  if (mapped === 'UNSUPPORTED_MEDIA_TYPE') {
    const message = `content type ${contentType ? JSON.stringify(contentType) : '(none)'} is not accepted: ` +
      'send application/json, multipart/form-data, or image bytes with an image/* content type';
    return { statusCode: 415, body: { error: { code: mapped, message } } };
  }
  if (mapped) {
    return { statusCode: fastifyError!.statusCode ?? 400, body: { error: { code: mapped, message: fastifyError!.message ?? mapped } } };
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { statusCode: status, body: { error: { code: 'BAD_REQUEST', message: fastifyError!.message ?? 'bad request' } } };
  }
  return { statusCode: 500, body: { error: { code: 'INTERNAL_ERROR', message: 'the server failed to answer this request; see its log' } } };
}

/** `body.ink.strokes[0][1]` for the JSON pointer `/ink/strokes/0/1` under `root`. */
function fieldPath(root: string, pointer: string): string {
  return pointer.split('/').slice(1).reduce((path, key) => (/^\d+$/.test(key) ? `${path}[${key}]` : `${path}.${key.replace(/~1/g, '/').replace(/~0/g, '~')}`), root);
}

function maxItemsOf(error: Partial<FastifyError>): string {
  const limit = error.validation?.find((issue) => issue.keyword === 'maxItems')?.params?.limit;
  return typeof limit === 'number' ? String(limit) : 'the allowed number of';
}

/** Options of `installErrorHandlers`. */
export interface ErrorHandlerOptions {
  /** The body limit in bytes, quoted in the 413 message for bodies over it. */
  maxBodyBytes: number;
  /** How much of an unread body is drained after an early error answer; see `drainUnreadBody`. */
  drain: DrainLimits;
}

/** Framework error codes for a body over the limit, whose own messages do not say what the limit is. */
const BODY_LIMIT_CODES = new Set(['FST_ERR_CTP_BODY_TOO_LARGE', 'FST_REQ_FILE_TOO_LARGE']);

/**
 * Installs the error and not-found handlers on `app` so every failure answers in the one error shape.
 * 5xx errors are logged at `error` level with their stack, 4xx at `info` (a client mistake is not a server fault).
 * An error answered before the request body was read in full (413 from its Content-Length, 415, ...) leaves the
 * connection open while the rest of the body is drained, within `options.drain`, so that a client still writing
 * reads the answer instead of a connection reset.
 */
export function installErrorHandlers(app: FastifyInstance, options: ErrorHandlerOptions): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { statusCode, body } = toApiError(error, request.headers['content-type']);
    if (BODY_LIMIT_CODES.has((error as Partial<FastifyError>).code ?? '')) {
      // A route may have its own limit (PUT /api/datasets/:name: HWR_DATASET_MAX_BYTES).
      const limit = request.routeOptions?.bodyLimit ?? options.maxBodyBytes;
      body.error.message = `request body is over the limit of ${formatBytes(limit)} (${limit} bytes)`;
    }
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.error.code, reason: body.error.message }, 'request rejected');
    if (!request.raw.complete) {
      // Fastify asks for `Connection: close` here; closing with unread bytes would reset the connection. A body that
      // timed out is not waited for any longer.
      if (body.error.code !== 'REQUEST_TIMEOUT' && drainUnreadBody(request.raw, options.drain)) reply.removeHeader('connection');
      else reply.header('connection', 'close');
    }
    return reply.code(statusCode).type('application/json').send(body);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const body: ApiErrorBody = { error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.url}` } };
    return reply.code(404).type('application/json').send(body);
  });
}

/** `5 MB` for 5 * 1024 * 1024; sizes in binary megabytes, as the README states them. */
function formatBytes(bytes: number): string {
  const megabytes = bytes / (1024 * 1024);
  return megabytes >= 1 ? `${Number(megabytes.toFixed(1))} MB` : `${Math.round(bytes / 1024)} kB`;
}

/** JSON schema of the error shape, for the `response` section of route schemas. */
export const errorResponseSchema = {
  $id: 'hwr-error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

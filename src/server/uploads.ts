/**
 * What a recognition request uploads (one image or one ink) and how the API finds it, shared by `POST /api/predict`
 * (./plugins/recognition.ts) and `POST /api/read` (./plugins/read.ts), so both take the same forms with the same
 * limits and errors:
 * - image: JSON `{ "image": "<data URL or base64>" }`, a multipart file or field named `image`, or raw bytes with an
 *   `image/*` content type;
 * - ink: JSON `{ "ink": { "strokes": [[[x, y, t?], ...], ...] } }`, or a multipart file or field named `ink` holding
 *   that JSON (validated on the event loop by `parseInk`: 400 `BAD_INK`, 422 `NO_INK`).
 *
 * Also here: the content-type parsers and multipart limits each such plugin installs in its scope
 * (`acceptUploads`), decoding an image within the shared pixel budget (`decodeWithinBudget`), and stopping work for a
 * client that has gone away (`unlessClientGone`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import sharp from 'sharp';
import { hwrError, isHwrError } from '../core/errors.ts';
import { parseInk, type SizedInk } from '../core/ink.ts';
import type { PixelBuffer } from '../core/types.ts';
import { decodeImage } from '../node/image.ts';
import { ApiError } from './errors.ts';
import { bytesFromImageText } from './imagePayload.ts';
import { RETRY_AFTER_SECONDS, type PixelBudget, type Release } from './pixelBudget.ts';

/** Why a request's work stopped: its client closed the connection before the answer. */
export class ClientClosedError extends Error {
  constructor() {
    super('the client closed the connection before the answer');
    this.name = 'ClientClosedError';
  }
}

/**
 * What a request carries: image bytes to decode, or validated ink; `source` names it in messages (`body.image`,
 * `multipart file a.png`, ...). `fields` holds the multipart text fields the caller asked for (`UploadOptions.fields`),
 * every value in the order sent; absent for other forms.
 */
export type Upload = ({ bytes: Buffer } | { ink: SizedInk }) & { source: string; fields?: Record<string, string[]> };

/** One decoded image holding its share of the pixel budget until `release()`. */
export interface Decoded {
  pixels: PixelBuffer;
  decodeMs: number;
  source: string;
  release: Release;
}

/** The first part of a content type that names an image, e.g. `image/png`; parameters may follow. */
const IMAGE_CONTENT_TYPE = /^image\/[\w.+-]+/i;

/**
 * Installs in `app`'s scope what an upload route needs: the parsers (JSON by default, multipart, raw `image/*`
 * bytes; plain text refused with 415), multipart limits (one file, at most `maxFields` text fields, each file or field
 * at most `maxBodyBytes`), and `Retry-After` on 503 `BUSY` answers.
 * @param options.maxBodyBytes most bytes of one multipart file or field
 * @param options.maxFields    most multipart text fields (the `image` or `ink` field counts)
 */
export async function acceptUploads(app: FastifyInstance, options: { maxBodyBytes: number; maxFields: number }): Promise<void> {
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(IMAGE_CONTENT_TYPE, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: options.maxBodyBytes, fieldSize: options.maxBodyBytes, files: 1, fields: options.maxFields, parts: options.maxFields + 1 },
  });
  // A request refused as BUSY tells its client when to come back.
  app.addHook('onError', async (_request, reply, error) => {
    if ((error as { code?: string }).code === 'BUSY') reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  });
}

/** True when the request's body was parsed as JSON (an object that is not raw bytes). */
export function isJsonBody(request: FastifyRequest): boolean {
  return typeof request.body === 'object' && request.body !== null && !Buffer.isBuffer(request.body);
}

/** Options of `uploadOf`. */
export interface UploadOptions {
  /** Most bytes of a multipart field (413 `BODY_TOO_LARGE` beyond). */
  maxBodyBytes: number;
  /** Multipart text fields to collect besides `image` and `ink`, e.g. `['model', 'topK']`. */
  fields: readonly string[];
  /**
   * Called with each collected field's value as it arrives (e.g. to refuse an oversized list early, before the rest of
   * the body is read); may throw, which ends the request with that error.
   */
  onField?: (name: string, value: string) => void;
}

/**
 * Finds the image or the ink in a request, in whichever of the accepted forms it came (see the module comment), with
 * the multipart text fields named in `options.fields` when it is multipart.
 * @throws ApiError 400 `BAD_REQUEST` when there is neither or both, or a malformed multipart body; 413 `BODY_TOO_LARGE`
 *   for a multipart field over `maxBodyBytes`; `bytesFromImageText`'s errors; `parseInk`'s HwrError `BAD_INK` / `NO_INK`
 */
export async function uploadOf(request: FastifyRequest, options: UploadOptions): Promise<Upload> {
  if (request.isMultipart()) return multipartUpload(request, options);
  if (Buffer.isBuffer(request.body)) return { bytes: request.body, source: `request body (${request.headers['content-type']})` };
  if (isJsonBody(request)) {
    const { image, ink } = request.body as { image?: string; ink?: unknown };
    if (image !== undefined && ink !== undefined) throw new ApiError(400, 'BAD_REQUEST', 'the JSON body has both "image" and "ink": send one');
    if (ink !== undefined) return { ink: parseInk(ink, 'body.ink'), source: 'body.ink' };
    if (image !== undefined) return { bytes: bytesFromImageText(image, 'body.image'), source: 'body.image' };
  }
  throw new ApiError(400, 'BAD_REQUEST',
    'the request carries no image: send JSON { "image": "<data URL or base64>" } or { "ink": { "strokes": [...] } }, ' +
    'multipart field "image" or "ink", or image bytes with an image/* content type');
}

/**
 * The `image` or `ink` part of a multipart body (a file, or a text field: a data URL or base64 for `image`, ink JSON
 * for `ink`), and the text fields named in `options.fields`. The first of `image` and `ink` wins; later ones are ignored.
 */
async function multipartUpload(request: FastifyRequest, options: UploadOptions): Promise<Upload> {
  let found: Upload | undefined;
  const fields: Record<string, string[]> = {};
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field' && options.fields.includes(part.fieldname)) {
        if (part.valueTruncated) throw new ApiError(413, 'BODY_TOO_LARGE', `multipart field ${part.fieldname} is over ${options.maxBodyBytes} bytes`);
        const value = String(part.value);
        options.onField?.(part.fieldname, value);
        (fields[part.fieldname] ??= []).push(value);
        continue;
      }
      if ((part.fieldname !== 'image' && part.fieldname !== 'ink') || found) {
        if (part.type === 'file') part.file.resume(); // drain unused files so parsing goes on
        continue;
      }
      if (part.type === 'field' && part.valueTruncated) throw new ApiError(413, 'BODY_TOO_LARGE', `multipart field ${part.fieldname} is over ${options.maxBodyBytes} bytes`);
      if (part.fieldname === 'ink') {
        const source = part.type === 'file' ? `multipart file ${part.filename || 'ink'}` : 'multipart field ink';
        const text = part.type === 'file' ? (await part.toBuffer()).toString('utf8') : String(part.value);
        found = { ink: parseInk(parseInkText(text, source), source), source };
      } else if (part.type === 'file') {
        found = { bytes: await part.toBuffer(), source: `multipart file ${part.filename || 'image'}` };
      } else {
        found = { bytes: bytesFromImageText(String(part.value), 'multipart field image'), source: 'multipart field image' };
      }
    }
  } catch (error) {
    // Errors from the multipart parser itself (busboy) carry no status: they mean a malformed body.
    if (error instanceof ApiError || (error as { statusCode?: number }).statusCode || isHwrError(error)) throw error;
    throw new ApiError(400, 'BAD_REQUEST', `malformed multipart body: ${(error as Error).message}`, { cause: error });
  }
  if (!found) throw new ApiError(400, 'BAD_REQUEST', 'multipart body has no field named "image" or "ink"');
  return { ...found, fields };
}

/**
 * The JSON value of ink sent as text (a multipart field or file).
 * @throws HwrError `BAD_INK` naming `source` when the text is not JSON
 */
export function parseInkText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw hwrError('BAD_INK', `${source}: not JSON: ${(error as Error).message}`);
  }
}

/**
 * Pixels (width x height of the first frame) an image's header declares, at least 1;
 * 1 when the header cannot be read (the decoder will then report why).
 */
export async function declaredPixels(bytes: Buffer): Promise<number> {
  try {
    const { width = 1, height = 1, pageHeight } = await sharp(bytes).metadata();
    return Math.max(1, width * (pageHeight ?? height));
  } catch {
    return 1;
  }
}

/**
 * Reserves the image's pixels in the shared budget (waiting, or with `now`, giving up with `null` when they
 * are not free at once), then decodes it (`decodeImage`, downscaled to its default 1024 px side), timing the decoding.
 * The caller releases the budget when done with the pixels; on a decoding error it is released here. Nothing is
 * decoded for a client that is gone.
 * @param limits.maxPixels most pixels of the image, from its header (413 `IMAGE_TOO_LARGE` beyond)
 * @throws ClientClosedError (the signal's reason) when `signal` aborts before the decoding starts or while it runs;
 *   ApiError 503 `BUSY` when too many requests wait for the budget; decodeImage's errors.
 */
export async function decodeWithinBudget(
  upload: Buffer, source: string, signal: AbortSignal, limits: { budget: PixelBudget; maxPixels: number }, now = false,
): Promise<Decoded | null> {
  const { budget, maxPixels } = limits;
  const pixelsDeclared = await declaredPixels(upload);
  signal.throwIfAborted();
  // Over the limit, decodeImage refuses from the header alone (or, for SVG, rasterizes small): nothing to reserve.
  const release = pixelsDeclared > maxPixels ? () => {}
    : now ? budget.tryAcquire(pixelsDeclared) : await budget.acquire(pixelsDeclared, signal);
  if (!release) return null;
  try {
    signal.throwIfAborted();
    const started = performance.now();
    const pixels = await decodeImage(upload, source, { maxPixels });
    signal.throwIfAborted();
    return { pixels, decodeMs: performance.now() - started, source, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * An AbortSignal that aborts (with a `ClientClosedError`) when the response closes before it was sent in full:
 * the client went away. (Fastify's `request.signal` cannot serve: on Node 20 it aborts as soon as the body is read.)
 */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientClosedError());
  });
  return controller.signal;
}

/**
 * Runs a route's work with the client-gone signal; when the client has gone, the reply is hijacked, since there is
 * no one to answer (the server's log line says "client closed").
 */
export async function unlessClientGone<T>(reply: FastifyReply, work: (signal: AbortSignal) => Promise<T>): Promise<T | FastifyReply> {
  const signal = clientGone(reply);
  try {
    return await work(signal);
  } catch (error) {
    if (signal.aborted) {
      reply.hijack();
      return reply;
    }
    throw error;
  }
}

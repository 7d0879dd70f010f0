/**
 * The server's behaviour at the HTTP transport level, below Fastify's routes:
 *
 * - `answerClientError`: requests that Node's HTTP parser (llhttp) rejects before any route runs (a URL or headers
 *   over `http.maxHeaderSize`, a bad Content-Length, Content-Length with Transfer-Encoding, a bad chunk size, bytes
 *   that are not HTTP at all such as a TLS ClientHello) get the one error shape `{ "error": { "code", "message" } }`
 *   like every other error, instead of Node's or Fastify's own bodies.
 * - `limitBodyTime`: a body that has not arrived in full within the request timeout gets 408, like slow headers.
 * - `drainUnreadBody`: after an early error answer (413 for a body over the limit, 415, ...) the rest of the body is
 *   read and thrown away, within limits, instead of closing the connection under the client's feet. A client that
 *   writes its whole request before reading (no `Expect: 100-continue`) would otherwise get a TCP reset (EPIPE or
 *   ECONNRESET) and lose the answer: closing a socket with unread received data makes the kernel send RST
 *   (RFC 1122, 4.2.2.13). Servers such as nginx do the same ("lingering close").
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiErrorBody, ApiErrorCode } from './errors.ts';

/** How much of an unwanted request body, and for how long, the server reads and discards before it closes the connection. */
export interface DrainLimits {
  /** Most bytes read and discarded after the answer. */
  maxBytes: number;
  /** Most milliseconds spent on it. */
  maxMs: number;
}

/** Errors from Node's HTTP parser, as given to the server's `clientError` event. */
export interface ClientError extends Error {
  /** `HPE_*` from llhttp, `ERR_HTTP_REQUEST_TIMEOUT`, `ECONNRESET`, ... */
  code?: string;
  /** llhttp's reason, e.g. `Invalid character in chunk size`. */
  reason?: string;
}

/** Status, code and message for parser errors; anything else is a 400 with llhttp's reason. */
function describeClientError(error: ClientError): { status: number; code: ApiErrorCode; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: `the request line and headers are over ${http.maxHeaderSize} bytes` };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in full in time' };
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request: the Content-Length header is not one non-negative integer' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request: Content-Length and Transfer-Encoding must not both be given' };
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request: a chunk size of the chunked body is not hexadecimal' };
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request: the client ended the connection in the middle of the request (a body shorter than its Content-Length, or an unfinished chunked body)' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request: it does not start with an HTTP method (TLS sent to this plain-HTTP port?)' };
    default:
      return { status: 400, code: 'BAD_REQUEST', message: `malformed HTTP request: ${error.reason ?? error.message}`.replace(/\.$/, '') };
  }
}

/** Sockets already answered by `answerClientError` (llhttp reports its error again for every later chunk). */
const answered = new WeakSet<Socket>();

/**
 * Fastify `clientErrorHandler`: answers a request that Node's HTTP parser rejected with the status it deserves
 * (431 for oversize headers, 408 for a timeout, else 400) and the one error shape, then closes the connection
 * gracefully: FIN after the answer, the client's remaining bytes read and discarded for up to `lingerMs`, so the
 * client is not reset before it has read the answer. A reset connection (ECONNRESET) or one already mid-answer is
 * simply closed.
 */
export function answerClientError(error: ClientError, socket: Socket, log: FastifyBaseLogger, lingerMs = 2000): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code, message } = describeClientError(error);
  log.info({ statusCode: status, code, reason: message }, 'client error');
  const body = JSON.stringify({ error: { code, message } } satisfies ApiErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' + body,
  );
  // Whatever the client still sends goes to the (failed) parser and is discarded; the socket closes when the
  // client closes its side, or after lingerMs.
  socket.resume();
  setTimeout(() => socket.destroy(), lingerMs).unref();
}

/**
 * After an error answer to a request whose body was not read in full (`!request.complete`): has the rest of the body
 * read and discarded before the connection may close, and closes it early only when more than `limits.maxBytes`
 * arrive or `limits.maxMs` pass.
 *
 * On a keep-alive connection Node itself reads and discards the rest once the answer is sent, and the connection
 * stays usable. When the answer closes the connection anyway (the client sent `Connection: close`, or HTTP/1.0),
 * Node would destroy the socket right after the answer, with the body still arriving; here its close is deferred
 * until the body has been read (a "lingering close": the answer and a FIN go out at once, the socket is destroyed
 * once nothing unread is left).
 * A declared Content-Length above `maxBytes` is not waited for: returns false, and the caller should close.
 *
 * @returns true when the body will be drained (the answer must then not ask for `Connection: close` itself).
 */
export function drainUnreadBody(request: http.IncomingMessage, limits: DrainLimits): boolean {
  if (request.complete) return true;
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limits.maxBytes) return false;
  // Node's http server closes a connection after its last answer with socket.destroySoon() (lib/_http_server.js).
  const socket = request.socket as Socket & { destroySoon?: () => void };
  const destroySoon = socket.destroySoon;
  let closeWanted = false;
  socket.destroySoon = (): void => {
    closeWanted = true;
    if (socket.writable) socket.end(); // the answer is out; send FIN, keep reading
  };
  const startBytes = socket.bytesRead;
  const started = Date.now();
  const watch = setInterval(() => {
    if (socket.bytesRead - startBytes > limits.maxBytes || Date.now() - started > limits.maxMs) socket.destroy();
  }, 100);
  watch.unref();
  const finish = (): void => {
    clearInterval(watch);
    socket.removeListener('close', finish);
    socket.destroySoon = destroySoon;
    if (closeWanted && !socket.destroyed) socket.destroy(); // everything sent has been read: no reset
  };
  request.once('end', finish);
  socket.once('close', finish);
  return true;
}

/**
 * Bounds the time a request's body may take to arrive. Node's `requestTimeout` only covers the request line and
 * headers once a handler has the request, so a client trickling its body (slow loris) would otherwise hold the
 * connection and the handler for ever. When `timeoutMs` pass (from now) with the body incomplete, `timeoutError()`
 * is delivered to the body's reader as a stream error, so the request is answered through the error handler
 * (408 `REQUEST_TIMEOUT`); with no reader, or no answer within a second after that, the connection is closed.
 */
export function limitBodyTime(request: http.IncomingMessage, response: http.ServerResponse, timeoutMs: number, timeoutError: () => Error): void {
  if (request.complete) return;
  const timer = setTimeout(() => {
    if (request.complete || request.destroyed) return;
    if (request.listenerCount('error') > 0) request.emit('error', timeoutError());
    setTimeout(() => {
      if (!response.headersSent) request.socket.destroy();
    }, 1000).unref();
  }, timeoutMs);
  timer.unref();
  const socket = request.socket;
  const stop = (): void => {
    clearTimeout(timer);
    socket.removeListener('close', stop); // keep-alive sockets serve many requests: no listener may pile up
  };
  request.once('end', stop);
  response.once('finish', stop);
  socket.once('close', stop);
}

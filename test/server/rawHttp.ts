/**
 * A deliberately plain HTTP/1.1 client on a raw TCP socket, for tests that need bytes no well-behaved client sends
 * (bad Content-Length, bad chunk sizes, TLS bytes, huge headers) or that must behave like a simple client: one that
 * writes its whole request before it reads anything (as curl without `Expect: 100-continue`, Python's http.client
 * and most scripts do). Such a client loses the answer if the server resets the connection while it is still writing.
 */
import net from 'node:net';

/** What came back on one connection. */
export interface RawAnswer {
  /** Status code of the first response, or 0 when no complete status line arrived. */
  status: number;
  /** Headers of the first response, names in lower case. */
  headers: Record<string, string>;
  /** Body of the first response: parsed JSON when it parses, else the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked by the caller
  /** The whole response text (all responses on the connection), latin1. */
  raw: string;
  /** Error code the socket reported (EPIPE, ECONNRESET, ...), if any. */
  socketError?: string;
}

/** Options of `rawRequest`. */
export interface RawRequestOptions {
  /** Read nothing until every byte of the request is written (a write-then-read client). Default true. */
  writeBeforeRead?: boolean;
  /**
   * Half-close (send FIN) after writing. Default false: Node's HTTP server (without `httpAllowHalfOpen`) treats a FIN
   * as the client giving up and abandons the request, so only a client that means to stop sends one.
   */
  halfClose?: boolean;
  /** Give up after this many ms and return what arrived. Default 20000. */
  timeoutMs?: number;
}

/**
 * Opens a connection to `127.0.0.1:port`, writes `parts` in order (respecting back-pressure), and returns the first
 * response as soon as it is complete (then closes), or what arrived when the server closes or the timeout passes.
 */
export function rawRequest(port: number, parts: Array<string | Buffer>, options: RawRequestOptions = {}): Promise<RawAnswer> {
  const { writeBeforeRead = true, halfClose = false, timeoutMs = 20_000 } = options;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let socketError: string | undefined;
    if (writeBeforeRead) socket.pause();
    socket.on('data', (chunk) => {
      received.push(chunk);
      if (isComplete(Buffer.concat(received).toString('latin1'))) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => { socketError ??= error.code ?? error.message; });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseResponse(Buffer.concat(received).toString('latin1')), socketError });
    });
    const buffers = parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : part));
    let index = 0;
    let offset = 0;
    const writeMore = (): void => {
      while (index < buffers.length && !socket.destroyed) {
        const buffer = buffers[index]!;
        const piece = buffer.subarray(offset, offset + 64 * 1024);
        offset += piece.length;
        if (offset >= buffer.length) { index++; offset = 0; }
        if (!socket.write(piece)) { socket.once('drain', writeMore); return; }
      }
      if (socket.destroyed) return;
      if (halfClose) socket.end();
      socket.resume();
    };
    socket.once('connect', writeMore);
  });
}

/** Status, headers and body of the first HTTP response in `text` (Content-Length or chunked bodies). */
export function parseResponse(whole: string): Omit<RawAnswer, 'socketError'> {
  const text = withoutInterim(whole);
  const headEnd = text.indexOf('\r\n\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (headEnd < 0 || !statusMatch) return { status: 0, headers: {}, body: undefined, raw: whole };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, headEnd).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let bodyText = text.slice(headEnd + 4);
  if (headers['content-length'] !== undefined) bodyText = bodyText.slice(0, Number(headers['content-length']));
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) bodyText = dechunk(bodyText);
  let body: unknown = bodyText;
  try {
    body = JSON.parse(Buffer.from(bodyText, 'latin1').toString('utf8'));
  } catch {
    // not JSON; keep the text
  }
  return { status: Number(statusMatch[1]), headers, body, raw: whole };
}

/** `text` without leading interim (1xx) responses such as `100 Continue`. */
function withoutInterim(text: string): string {
  return text.replace(/^(?:HTTP\/1\.[01] 1\d\d [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)+/, '');
}

/** True once `text` holds a whole response with a Content-Length (or a finished chunked body). */
function isComplete(whole: string): boolean {
  const text = withoutInterim(whole);
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, headEnd));
  if (length) return text.length - headEnd - 4 >= Number(length[1]);
  return /\r\n0\r\n\r\n$/.test(text);
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (lineEnd < 0 || !(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/** A request head: `METHOD path HTTP/1.1`, Host, the given headers, and the blank line. */
export function head(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

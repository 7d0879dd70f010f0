/**
 * Reliability suite: a generated corpus of more than 300 malformed and hostile requests against a real server on a
 * loopback port. Each gets the status the README's table documents and the one error shape
 * `{ "error": { "code", "message" } }` (or, for hostile SVGs, at most a harmless answer and no outbound request);
 * none gets a 5xx; and a valid request sent after every few of them still succeeds.
 *
 * Categories: image files broken every way (test/fixtures/malformedImages.ts) as raw bytes, as JSON base64 and as
 * multipart uploads; zero bytes; oversize bodies; wrong content types; malformed and deeply nested JSON; bad base64 and
 * data URLs; hostile SVG; multipart abuse; raw-socket HTTP abuse; wrong methods and paths.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/server.ts';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { hostileSvgs, malformedImages, type MalformedImage } from '../fixtures/malformedImages.ts';
import { head, rawRequest } from './rawHttp.ts';

const MODEL = process.env.HWR_MODEL ?? 'digits';
const FIVE_MB = 5 * 1024 * 1024;
/** A valid request is sent after every this many corpus requests. */
const CHECK_EVERY = 10;

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
  text: string;
}

/** One corpus entry: how to send it, and the documented answer. */
interface Case {
  name: string;
  send: () => Promise<Answer>;
  status: number;
  /** Accepted error codes; empty for a success. */
  codes: string[];
}

let app: FastifyInstance;
let base: string;
let port: number;
let validPng: Buffer;
let images: MalformedImage[];
/** Requests that reached the "external" server hostile SVGs point to. */
const outbound: string[] = [];
let external: Server;
let externalUrl: string;

beforeAll(async () => {
  external = createServer((request, response) => {
    outbound.push(request.url ?? '');
    response.end('x');
  });
  await new Promise<void>((resolve) => external.listen(0, '127.0.0.1', resolve));
  externalUrl = `http://127.0.0.1:${(external.address() as AddressInfo).port}`;
  app = buildServer({ model: MODEL, webRoot: false, workers: 1 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  validPng = await digitPng((await mnistTestDigits(1))[0]!);
  images = await malformedImages();
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await fetch(`${base}/api/health`)).status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => external?.close(resolve));
});

async function send(path: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

const post = (path: string, body: string | Buffer | FormData, contentType?: string): Promise<Answer> => send(path, {
  method: 'POST',
  headers: contentType ? { 'content-type': contentType } : {},
  body: typeof body === 'string' || body instanceof FormData ? body : new Uint8Array(body),
});

const postJsonText = (text: string | Buffer, path = '/api/predict'): Promise<Answer> => post(path, text, 'application/json');

function form(parts: Array<[string, string | Blob, string?]>): FormData {
  const data = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') data.append(name, value);
    else data.append(name, value, filename);
  }
  return data;
}

const blob = (bytes: Buffer, type = 'image/png'): Blob => new Blob([new Uint8Array(bytes)], { type });

/** A multipart body written by hand, for framing no FormData produces. */
const rawMultipart = (body: string | Buffer, boundary = 'XyZ'): Promise<Answer> =>
  post('/api/predict', body, `multipart/form-data; boundary=${boundary}`);

function imageCases(): Case[] {
  const cases: Case[] = [];
  for (const image of images) {
    cases.push({ name: `raw image/* body: ${image.name}`, send: () => post('/api/predict', image.bytes, 'image/png'), status: image.status, codes: image.codes });
  }
  // The same files through the other two forms: every third as JSON base64, every fifth as a multipart file.
  images.forEach((image, index) => {
    if (image.bytes.length === 0) return; // an empty string is a schema violation in JSON; covered below
    if (index % 3 === 0) {
      cases.push({ name: `JSON base64: ${image.name}`, send: () => postJsonText(JSON.stringify({ image: image.bytes.toString('base64') })), status: image.status, codes: image.codes });
    }
    if (index % 5 === 0) {
      cases.push({ name: `multipart file: ${image.name}`, send: () => post('/api/predict', form([['image', blob(image.bytes), image.name]])), status: image.status, codes: image.codes });
    }
  });
  cases.push({ name: 'multipart: an empty file', send: () => post('/api/predict', form([['image', blob(Buffer.alloc(0)), 'empty.png']])), status: 422, codes: ['EMPTY_IMAGE'] });
  return cases;
}

function oversizeCases(): Case[] {
  const big = Buffer.alloc(FIVE_MB + 1, 0x41);
  return [
    { name: 'raw body of 5 MB + 1 byte', send: () => post('/api/predict', big, 'image/png'), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'JSON body over 5 MB', send: () => postJsonText(JSON.stringify({ image: 'A'.repeat(FIVE_MB) })), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'batch JSON body over 5 MB', send: () => postJsonText(JSON.stringify({ images: ['A'.repeat(FIVE_MB)] }), '/api/predict/batch'), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'multipart file over 5 MB', send: () => post('/api/predict', form([['image', blob(big), 'big.png']])), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'multipart text field over 5 MB', send: () => post('/api/predict', form([['image', 'A'.repeat(FIVE_MB + 1)]])), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'chunked raw body over 5 MB', send: async () => {
      const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' }),
        `${big.length.toString(16)}\r\n`, big, '\r\n0\r\n\r\n']);
      return { status: answer.status, body: answer.body, text: answer.raw };
    }, status: 413, codes: ['BODY_TOO_LARGE'] },
  ];
}

function contentTypeCases(): Case[] {
  const refused = ['text/plain', 'application/octet-stream', 'application/xml', 'text/html', 'application/x-www-form-urlencoded',
    'video/mp4', 'application/jsonp', 'text/json', 'image', 'imagepng', 'application/pdf', 'font/woff2', 'multipart/mixed; boundary=XyZ'];
  const cases: Case[] = refused.map((type) => ({ name: `PNG bytes as ${type}`, send: () => post('/api/predict', validPng, type), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] }));
  cases.push(
    { name: 'PNG bytes with no content type', send: () => send('/api/predict', { method: 'POST', body: new Uint8Array(validPng), headers: { 'content-type': '' } }), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'PNG bytes as application/json', send: () => post('/api/predict', validPng, 'application/json'), status: 400, codes: ['MALFORMED_JSON'] },
    { name: 'batch as image/png', send: () => post('/api/predict/batch', validPng, 'image/png'), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'batch as multipart', send: () => post('/api/predict/batch', form([['images', 'AAAA']])), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'JSON data URL of text/html', send: () => postJsonText(JSON.stringify({ image: 'data:text/html;base64,PGI+aGk8L2I+' })), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'JSON data URL of application/octet-stream', send: () => postJsonText(JSON.stringify({ image: `data:application/octet-stream;base64,${validPng.toString('base64')}` })), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'multipart field data URL of text/plain', send: () => post('/api/predict', form([['image', 'data:text/plain;base64,aGVsbG8=']])), status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
  );
  return cases;
}

function jsonCases(): Case[] {
  const malformed = ['{', '[', ']', '}', '{"image":', '{"image": "abc"', "{'image': 'AAAA'}", '{"image": "AAAA",}', '{image: "AAAA"}',
    '{"image": "AAAA"} trailing', 'NaN', '{"image": NaN}', '{"image": undefined}', '/* comment */ {"image": "AAAA"}', '{"image": "\\x41"}',
    '\u0000', 'nul', '{"a":1}{"b":2}', '{"image": 01}', '{"image": .5}', '{"image": "unterminated}', '{"image": "a\nb"}', ''];
  const cases: Case[] = malformed.map((text) => ({ name: `malformed JSON ${JSON.stringify(text.slice(0, 30))}`, send: () => postJsonText(text), status: 400, codes: ['MALFORMED_JSON'] }));
  cases.push({ name: 'malformed JSON: invalid UTF-8', send: () => postJsonText(Buffer.from([0x7b, 0x22, 0x69, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), status: 400, codes: ['MALFORMED_JSON', 'BAD_REQUEST'] });
  cases.push({ name: 'JSON with __proto__', send: () => postJsonText('{"__proto__": {"polluted": 1}, "image": "AAAA"}'), status: 400, codes: ['MALFORMED_JSON', 'BAD_REQUEST'] });
  cases.push({ name: 'JSON with constructor.prototype', send: () => postJsonText('{"constructor": {"prototype": {"polluted": 1}}, "image": "AAAA"}'), status: 400, codes: ['MALFORMED_JSON', 'BAD_REQUEST'] });
  const schema = ['null', 'true', '42', '"AAAA"', '[]', '{}', '{"image": null}', '{"image": 42}', '{"image": ""}', '{"image": ["AAAA"]}',
    '{"image": {"data": "AAAA"}}', '{"image": true}', '{"picture": "AAAA"}', '{"IMAGE": "AAAA"}', '[{"image": "AAAA"}]'];
  for (const text of schema) cases.push({ name: `schema violation ${text}`, send: () => postJsonText(text), status: 400, codes: ['BAD_REQUEST'] });
  const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
  const deepObject = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  for (const depth of [100, 10_000, 100_000]) {
    cases.push({ name: `nested arrays, depth ${depth}`, send: () => postJsonText(deep(depth)), status: 400, codes: ['BAD_REQUEST', 'MALFORMED_JSON'] });
    cases.push({ name: `image: nested objects, depth ${depth}`, send: () => postJsonText(`{"image": ${deepObject(depth)}}`), status: 400, codes: ['BAD_REQUEST', 'MALFORMED_JSON'] });
  }
  cases.push({ name: 'unclosed nesting, depth 100000', send: () => postJsonText('['.repeat(100_000)), status: 400, codes: ['MALFORMED_JSON'] });
  const batch: Array<[string, string, string]> = [
    ['{"images": "AAAA"}', 'BAD_REQUEST', 'images not an array'],
    ['{"images": [null]}', 'BAD_REQUEST', 'a null image'],
    ['{"images": [["AAAA"]]}', 'BAD_REQUEST', 'a nested array image'],
    ['{"images": []}', 'BAD_REQUEST', 'no images'],
    ['{"images": [""]}', 'BAD_REQUEST', 'an empty image string'],
    [JSON.stringify({ images: Array.from({ length: 65 }, () => 'AAAA') }), 'TOO_MANY_IMAGES', '65 images'],
    [JSON.stringify({ images: Array.from({ length: 10_000 }, () => 'A') }), 'TOO_MANY_IMAGES', '10000 images'],
    ['{"images": [', 'MALFORMED_JSON', 'malformed'],
  ];
  for (const [text, code, what] of batch) cases.push({ name: `batch: ${what}`, send: () => postJsonText(text, '/api/predict/batch'), status: 400, codes: [code] });
  return cases;
}

function base64Cases(): Case[] {
  const bad = ['!!!!', 'data:image/png;base64,@@@@', 'data:image/png,rawbytes', 'data:image/png;base64,', '   ', 'AAA=A', 'A===',
    'ü', '%89PNG', 'data:image/png;base64', 'data:image/png;charset=utf-8,abc', 'data:image/png;base64,AA AA!', '#', 'AAAA\u0000',
    'data:image/png;base64,' + '*'.repeat(100), '<svg/>'];
  const cases: Case[] = bad.map((text) => ({ name: `bad base64 ${JSON.stringify(text.slice(0, 30))}`, send: () => postJsonText(JSON.stringify({ image: text })), status: 400, codes: ['BAD_REQUEST'] }));
  const notImages = ['iVBORw0KGgo=\u2028', 'AA', 'AAAA', 'aGVsbG8gd29ybGQ=', 'data:;base64,aGVsbG8=', 'data:image/png;base64,aGVsbG8=', Buffer.from('<html></html>').toString('base64url')];
  for (const text of notImages) cases.push({ name: `base64 of no image ${JSON.stringify(text)}`, send: () => postJsonText(JSON.stringify({ image: text })), status: 422, codes: ['NOT_AN_IMAGE', 'CORRUPT_IMAGE'] });
  cases.push({ name: 'batch: bad base64 items are per-item errors', send: async () => {
    const answer = await postJsonText(JSON.stringify({ images: ['!!!!', 'AAAA', `data:image/png;base64,${validPng.toString('base64')}`] }), '/api/predict/batch');
    const codes = answer.body.results.map((item: any) => item.error?.code ?? 'ok'); // eslint-disable-line @typescript-eslint/no-explicit-any
    return { ...answer, status: codes.join(',') === 'BAD_REQUEST,NOT_AN_IMAGE,ok' ? 200 : 0 };
  }, status: 200, codes: [] });
  return cases;
}

function svgCases(): Case[] {
  return Object.entries(hostileSvgs(externalUrl)).map(([name, svg]) => ({
    name: `hostile SVG ${name}`,
    send: async () => {
      const answer = await post('/api/predict', svg, 'image/svg+xml');
      expect(answer.text).not.toMatch(/root:|\/bin\/(ba)?sh/); // nothing of /etc/passwd comes back
      // A harmless SVG may be recognized (200) or refused as no image (422); either is documented.
      return answer.status === 200 ? { ...answer, status: 422, body: { error: { code: 'RECOGNIZED', message: 'recognized harmlessly' } } } : answer;
    },
    // An SVG declaring 1000000 x 1000000 px is over 50 megapixels by its header, like any other image.
    status: name === 'huge-canvas.svg' ? 413 : 422,
    codes: name === 'huge-canvas.svg' ? ['IMAGE_TOO_LARGE'] : ['RECOGNIZED', 'NOT_AN_IMAGE', 'CORRUPT_IMAGE', 'NO_INK'],
  }));
}

function multipartCases(): Case[] {
  const png = (): Blob => blob(validPng);
  const part = (name: string, body: string, extra = ''): string => `--XyZ\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${body}\r\n`;
  return [
    { name: 'multipart without an image field', send: () => post('/api/predict', form([['picture', png(), 'a.png']])), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart with only text fields', send: () => post('/api/predict', form([['note', 'hello'], ['other', 'x']])), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart image text field that is not base64', send: () => post('/api/predict', form([['image', 'hello world!']])), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart image text field of base64 garbage', send: () => post('/api/predict', form([['image', 'aGVsbG8=']])), status: 422, codes: ['NOT_AN_IMAGE'] },
    { name: 'multipart image file of text', send: () => post('/api/predict', form([['image', blob(Buffer.from('just text'), 'text/plain'), 'a.txt']])), status: 422, codes: ['NOT_AN_IMAGE'] },
    { name: 'multipart: two image files', send: () => post('/api/predict', form([['image', png(), 'a.png'], ['image', png(), 'b.png']])), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'multipart: 20 fields', send: () => post('/api/predict', form(Array.from({ length: 20 }, (_, i): [string, string] => [`f${i}`, 'x']))), status: 413, codes: ['BODY_TOO_LARGE'] },
    { name: 'multipart: truncated body', send: () => rawMultipart('--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: boundary in the header differs from the body', send: () => rawMultipart(`${part('image', 'AAAA')}--XyZ--\r\n`, 'Other'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: no boundary parameter', send: () => post('/api/predict', `${part('image', 'AAAA')}--XyZ--\r\n`, 'multipart/form-data'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: only the closing boundary', send: () => rawMultipart('--XyZ--\r\n'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: empty body', send: () => rawMultipart(''), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: a part without Content-Disposition', send: () => rawMultipart('--XyZ\r\nContent-Type: image/png\r\n\r\nAAAA\r\n--XyZ--\r\n'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: a part header of 20 kB', send: () => rawMultipart(`--XyZ\r\nContent-Disposition: form-data; name="image"\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\nAAAA\r\n--XyZ--\r\n`), status: 422, codes: ['NOT_AN_IMAGE'] },
    { name: 'multipart: a boundary of 200 characters', send: () => rawMultipart(`--${'b'.repeat(200)}\r\n${part('image', 'AAAA').slice(7)}--${'b'.repeat(200)}--\r\n`, 'b'.repeat(200)), status: 422, codes: ['NOT_AN_IMAGE', 'BAD_REQUEST'] },
    { name: 'multipart: LF instead of CRLF', send: () => rawMultipart('--XyZ\nContent-Disposition: form-data; name="image"\n\nAAAA\n--XyZ--\n'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: garbage only', send: () => rawMultipart('this is not multipart at all'), status: 400, codes: ['BAD_REQUEST'] },
    { name: 'multipart: image field with a data URL of no image', send: () => post('/api/predict', form([['image', 'data:image/png;base64,aGVsbG8=']])), status: 422, codes: ['NOT_AN_IMAGE'] },
    { name: 'multipart: a nested multipart part', send: () => rawMultipart(`--XyZ\r\nContent-Disposition: form-data; name="image"\r\nContent-Type: multipart/mixed; boundary=Inner\r\n\r\n--Inner\r\n\r\nAAAA\r\n--Inner--\r\n\r\n--XyZ--\r\n`), status: 422, codes: ['NOT_AN_IMAGE', 'BAD_REQUEST'] },
    { name: 'multipart: filename with a path', send: () => post('/api/predict', form([['image', blob(Buffer.from('x')), '../../etc/passwd']])), status: 422, codes: ['NOT_AN_IMAGE'] },
  ];
}

function rawHttpCases(): Case[] {
  const raw = (name: string, parts: Array<string | Buffer>, status: number, codes: string[], halfClose = false): Case => ({
    name: `raw socket: ${name}`,
    send: async () => {
      const answer = await rawRequest(port, parts, { halfClose });
      expect(answer.socketError).toBeUndefined();
      return { status: answer.status, body: answer.body, text: answer.raw };
    },
    status,
    codes,
  });
  const png = (headers: Record<string, string | number>): string => head('POST', '/api/predict', { 'Content-Type': 'image/png', ...headers });
  return [
    raw('a 20 kB URL', [head('GET', `/api/health?${'q'.repeat(20_000)}`)], 431, ['HEADERS_TOO_LARGE']),
    raw('a 20 kB header', [head('GET', '/api/health', { 'X-Pad': 'p'.repeat(20_000) })], 431, ['HEADERS_TOO_LARGE']),
    raw('500 headers of 40 bytes', [head('GET', '/api/health', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-H${i}`, 'v'.repeat(30)])))], 431, ['HEADERS_TOO_LARGE']),
    raw('Content-Length longer than the body', [png({ 'Content-Length': 1000 }), 'short'], 400, ['BAD_REQUEST'], true),
    raw('Content-Length: -5', [png({ 'Content-Length': -5 }), 'hello'], 400, ['BAD_REQUEST']),
    raw('Content-Length: 1e3', [png({ 'Content-Length': '1e3' })], 400, ['BAD_REQUEST']),
    raw('Content-Length: 0x10', [png({ 'Content-Length': '0x10' })], 400, ['BAD_REQUEST']),
    raw('Content-Length of 25 digits', [png({ 'Content-Length': '9'.repeat(25) })], 400, ['BAD_REQUEST']),
    raw('two Content-Lengths', ['POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello'], 400, ['BAD_REQUEST']),
    raw('Content-Length with Transfer-Encoding', [png({ 'Content-Length': 5, 'Transfer-Encoding': 'chunked' }), '5\r\nhello\r\n0\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a chunk size that is not hexadecimal', [png({ 'Transfer-Encoding': 'chunked' }), 'zz\r\nhello\r\n0\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a chunk size of 20 hex digits', [png({ 'Transfer-Encoding': 'chunked' }), 'fffffffffffffffffff\r\nhello\r\n0\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a chunk longer than its size', [png({ 'Transfer-Encoding': 'chunked' }), '2\r\nhello\r\n0\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('an unknown transfer coding', [png({ 'Transfer-Encoding': 'gzip, chunked, rot13' }), '5\r\nhello\r\n0\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('TLS ClientHello bytes', [Buffer.from(`16030100a5010000a10303${'00'.repeat(64)}`, 'hex')], 400, ['BAD_REQUEST']),
    raw('an HTTP/2 preface', ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('HTTP/9.9', ['GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a line that is not HTTP', ['HELLO THERE\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a header without a colon', ['GET /api/health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a space in a header name', ['GET /api/health HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a bare CR in a header value', ['GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a NUL byte in the URL', ['GET /api/he\0alth HTTP/1.1\r\nHost: x\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('obsolete header line folding', ['GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('HTTP/1.1 without Host', ['GET /api/health HTTP/1.1\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('a method with a space', ['GE T /api/health HTTP/1.1\r\nHost: x\r\n\r\n'], 400, ['BAD_REQUEST']),
    raw('bad percent-encoding in the path', [head('GET', '/api/%zz')], 400, ['BAD_REQUEST']),
  ];
}

function routeCases(): Case[] {
  const method = (verb: string, path: string): Case => ({ name: `${verb} ${path.slice(0, 40)}`, send: () => send(path, { method: verb }), status: 404, codes: ['NOT_FOUND'] });
  return [
    method('GET', '/api/predict'), method('PUT', '/api/predict'), method('DELETE', '/api/predict'), method('PATCH', '/api/predict'),
    method('POST', '/api/health'), method('GET', '/api/predict/batch/'), method('GET', '/api/../../etc/passwd'),
    method('GET', '/api/predict%00'), method('GET', `/api/${'x'.repeat(9000)}`), method('GET', '/.env'),
  ];
}

describe('reliability corpus: malformed and hostile requests get their documented status and the error shape', () => {
  const all: Case[] = [];
  // Built lazily in the first test: the images come from beforeAll.
  it('has at least 300 requests', () => {
    all.push(...imageCases(), ...oversizeCases(), ...contentTypeCases(), ...jsonCases(), ...base64Cases(), ...svgCases(),
      ...multipartCases(), ...rawHttpCases(), ...routeCases());
    expect(all.length).toBeGreaterThanOrEqual(300);
    console.log(`reliability corpus: ${all.length} requests`);
  });

  it('answers each as documented, never a 5xx, and keeps recognizing valid images in between', async () => {
    const wrong: string[] = [];
    let valid = 0;
    for (const [index, entry] of all.entries()) {
      let answer: Answer;
      try {
        answer = await entry.send();
      } catch (error) {
        wrong.push(`${entry.name}: the request failed: ${(error as Error).message}`);
        continue;
      }
      const code = answer.body?.error?.code;
      const shapeOk = entry.codes.length === 0 ||
        (Object.keys(answer.body ?? {}).join() === 'error' && typeof answer.body.error.message === 'string' && answer.body.error.message.length > 5);
      if (answer.status !== entry.status || (entry.codes.length > 0 && !entry.codes.includes(code)) || !shapeOk) {
        wrong.push(`${entry.name}: got ${answer.status} ${code ?? answer.text.slice(0, 80)}, documented ${entry.status} ${entry.codes.join('|')}`);
      }
      if (index % CHECK_EVERY === CHECK_EVERY - 1) {
        const check = await post('/api/predict', validPng, 'image/png');
        if (check.status === 200 && check.body.label === '7') valid++;
        else wrong.push(`valid request after ${entry.name}: got ${check.status} ${check.text.slice(0, 80)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(valid).toBe(Math.floor(all.length / CHECK_EVERY));
    expect(outbound, 'requests hostile SVGs made to an external server').toEqual([]);
  });
});

/**
 * The server's transport under abuse, on a real loopback port with raw sockets: an oversize body gets the 413 JSON
 * even from a client that writes everything before reading (no reset, no EPIPE), and requests that Node's HTTP
 * parser rejects before any route runs (huge URL or header, bad Content-Length, bad chunk size, TLS bytes) are
 * answered in the one error shape `{ "error": { "code", "message" } }`.
 */
import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRecognizer } from '../../src/node/recognizer.ts';
import { buildServer } from '../../src/server/server.ts';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { head, rawRequest, type RawAnswer, type RawRequestOptions } from './rawHttp.ts';

const SIX_MB = 6 * 1024 * 1024;

let app: FastifyInstance;
let port: number;
let validPng: Buffer;

beforeAll(async () => {
  app = buildServer({ recognizer: loadRecognizer(process.env.HWR_MODEL ?? 'digits'), webRoot: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  validPng = await digitPng((await mnistTestDigits(1))[0]!);
});

afterAll(async () => {
  await app?.close();
});

/** The one error shape, with the given status and code. */
function expectErrorShape(answer: RawAnswer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body?.error?.code, socketError: answer.socketError })
    .toEqual({ status, code, socketError: undefined });
  expect(Object.keys(answer.body)).toEqual(['error']);
  expect(Object.keys(answer.body.error).sort()).toEqual(['code', 'message']);
  expect(answer.body.error.message).toMatch(/\w{3,}/);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
}

/** A valid recognition on a fresh connection: the server still works. */
async function expectStillServing(): Promise<void> {
  const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': validPng.length, Connection: 'close' }), validPng]);
  expect(answer.status).toBe(200);
  expect(answer.body.label).toBe('7');
}

describe('a body over 5 MB gets the 413 JSON, never a reset', () => {
  for (const contentType of ['image/png', 'application/json']) {
    it(`a write-then-read client sending 6 MB of ${contentType} with Content-Length, 10 times`, async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': contentType, 'Content-Length': SIX_MB }), Buffer.alloc(SIX_MB, 0x41)]);
        expectErrorShape(answer, 413, 'BODY_TOO_LARGE');
      }
    });

    it(`fetch sending 6 MB of ${contentType}, 10 times`, async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const response = await fetch(`http://127.0.0.1:${port}/api/predict`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(SIX_MB).fill(0x41) });
        expect(response.status).toBe(413);
        expect(await response.json()).toEqual({ error: { code: 'BODY_TOO_LARGE', message: expect.stringMatching(/5 ?MB|5242880/) } });
      }
    });
  }

  it('a write-then-read client that asks for Connection: close (as urllib does), and one on HTTP/1.0, 5 times each', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const closing = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': SIX_MB, Connection: 'close' }), Buffer.alloc(SIX_MB, 0x41)]);
      expectErrorShape(closing, 413, 'BODY_TOO_LARGE');
      const http10 = await rawRequest(port, [`POST /api/predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: ${SIX_MB}\r\n\r\n`, Buffer.alloc(SIX_MB, 0x41)]);
      expectErrorShape(http10, 413, 'BODY_TOO_LARGE');
    }
  });

  it('Expect: 100-continue with 6 MB declared: the 413 comes at once, without "100 Continue", and no body is sent', async () => {
    const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': SIX_MB, Expect: '100-continue' })], { writeBeforeRead: false });
    expectErrorShape(answer, 413, 'BODY_TOO_LARGE');
    expect(answer.raw).not.toMatch(/100 Continue/);
  });

  it('Expect: 100-continue with a small body: "100 Continue", then the answer', async () => {
    const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': validPng.length, Expect: '100-continue' }), validPng]);
    expect(answer.raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('a chunked 6 MB body (no Content-Length)', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    const chunks = Array.from({ length: 6 }, () => [`${chunk.length.toString(16)}\r\n`, chunk, '\r\n']).flat();
    const answer = await rawRequest(port, [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' }), ...chunks, '0\r\n\r\n']);
    expectErrorShape(answer, 413, 'BODY_TOO_LARGE');
  });

  it('keeps the connection usable: the body is drained, and a later request on it is answered', async () => {
    let giveUp!: (error: Error) => void;
    const neverLoaded = new Promise<never>((_, reject) => { giveUp = reject; });
    const quick = buildServer({ recognizer: neverLoaded, webRoot: false, limits: { drainMs: 300 } });
    await quick.listen({ port: 0, host: '127.0.0.1' });
    const socket = net.connect((quick.server.address() as AddressInfo).port, '127.0.0.1');
    try {
      let text = '';
      socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
      const answers = (count: number): Promise<void> => new Promise((resolve, reject) => {
        const check = (): void => { if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= count) resolve(); };
        socket.on('data', check);
        socket.once('close', () => reject(new Error(`connection closed after: ${text.slice(0, 300)}`)));
      });
      socket.write(head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': SIX_MB }));
      socket.write(Buffer.alloc(SIX_MB, 0x41));
      await answers(1);
      expect(text).toMatch(/^HTTP\/1\.1 413 /);
      await new Promise((resolve) => setTimeout(resolve, 600)); // past drainMs: an idle connection is not cut
      socket.write(head('GET', '/api/health'));
      await answers(2);
      expect(text).toMatch(/HTTP\/1\.1 503 [^]*"MODEL_NOT_READY"/);
    } finally {
      socket.destroy();
      giveUp(new Error('not needed'));
      await quick.close();
    }
  });

  it('keeps serving afterwards', expectStillServing);
});

describe('keep-alive', () => {
  it('serves 40 requests on one connection, some refused, without piling up listeners (no MaxListenersExceededWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`); };
    process.on('warning', onWarning);
    const socket = net.connect(port, '127.0.0.1');
    try {
      let text = '';
      socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
      for (let i = 0; i < 40; i++) {
        const count = (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;
        // Every fourth request is refused before its body is read (415), the others are health checks.
        socket.write(i % 4 === 3
          ? head('POST', '/api/predict', { 'Content-Type': 'text/plain', 'Content-Length': 5 }) + 'hello'
          : head('GET', '/api/health'));
        while ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length === count) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect((text.match(/HTTP\/1\.1 200/g) ?? []).length).toBe(30);
      expect((text.match(/HTTP\/1\.1 415/g) ?? []).length).toBe(10);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(warnings).toEqual([]);
    } finally {
      socket.destroy();
      process.off('warning', onWarning);
    }
  });
});

describe("requests Node's HTTP parser rejects are answered in the error shape", () => {
  const cases: Array<[string, Array<string | Buffer>, number, string, RawRequestOptions?]> = [
    ['a 20 kB URL', [head('GET', `/api/health?${'q'.repeat(20_000)}`)], 431, 'HEADERS_TOO_LARGE'],
    ['a 20 kB header', [head('GET', '/api/health', { 'X-Padding': 'p'.repeat(20_000) })], 431, 'HEADERS_TOO_LARGE'],
    ['Content-Length longer than the body', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': 1000 }), 'short'], 400, 'BAD_REQUEST', { halfClose: true }],
    ['Content-Length: -5', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': -5 }), 'hello'], 400, 'BAD_REQUEST'],
    ['Content-Length: abc', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': 'abc' })], 400, 'BAD_REQUEST'],
    ['two different Content-Lengths', ['POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello'], 400, 'BAD_REQUEST'],
    ['Content-Length with Transfer-Encoding', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': 5, 'Transfer-Encoding': 'chunked' }), '5\r\nhello\r\n0\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['a chunk size that is not hexadecimal', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' }), 'zz\r\nhello\r\n0\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['an unknown transfer coding', [head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Transfer-Encoding': 'gzip, chunked, rot13' }), '5\r\nhello\r\n0\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['TLS ClientHello bytes on plain HTTP', [Buffer.from('16030100a5010000a10303' + '00'.repeat(64), 'hex')], 400, 'BAD_REQUEST'],
    ['a line that is not HTTP', ['HELLO THERE\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['a header without a colon', ['GET /api/health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['a bare LF inside a header value', ['GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'], 400, 'BAD_REQUEST'],
    ['HTTP/1.1 without Host', ['GET /api/health HTTP/1.1\r\n\r\n'], 400, 'BAD_REQUEST'],
  ];

  for (const [name, parts, status, code, options] of cases) {
    it(`${name}: ${status} ${code}`, async () => {
      expectErrorShape(await rawRequest(port, parts, options), status, code);
    });
  }

  describe('a slow-loris client gets 408 REQUEST_TIMEOUT once the request timeout has passed', () => {
    let slow: FastifyInstance;
    let slowPort: number;
    beforeAll(async () => {
      // A loaded model, so that the multipart handler gets as far as reading the parts.
      slow = buildServer({ recognizer: loadRecognizer(process.env.HWR_MODEL ?? 'digits'), webRoot: false, limits: { requestTimeoutMs: 500 } });
      await slow.listen({ port: 0, host: '127.0.0.1' });
      slowPort = (slow.server.address() as AddressInfo).port;
      while ((await fetch(`http://127.0.0.1:${slowPort}/api/health`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    });
    afterAll(async () => {
      await slow.close();
    });

    it('part of the headers, then nothing', async () => {
      const answer = await rawRequest(slowPort, ['POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n'], { writeBeforeRead: false });
      expectErrorShape(answer, 408, 'REQUEST_TIMEOUT');
    });

    for (const contentType of ['image/png', 'application/json']) {
      it(`half of a ${contentType} body, then nothing`, async () => {
        const answer = await rawRequest(slowPort, [head('POST', '/api/predict', { 'Content-Type': contentType, 'Content-Length': 100 }), 'x'.repeat(50)], { writeBeforeRead: false });
        expectErrorShape(answer, 408, 'REQUEST_TIMEOUT');
      });
    }

    it('half of a multipart body, then nothing', async () => {
      const answer = await rawRequest(slowPort, [head('POST', '/api/predict', { 'Content-Type': 'multipart/form-data; boundary=XyZ', 'Content-Length': 1000 }),
        '--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG'], { writeBeforeRead: false });
      expectErrorShape(answer, 408, 'REQUEST_TIMEOUT');
    });
  });

  it('keeps serving afterwards', expectStillServing);
});

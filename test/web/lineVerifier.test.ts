/**
 * Line mode's verifier lookup in the browser (web/src/recognition/lineVerifier.ts), in Node with a stub fetch: the
 * index `models/line-verifiers.json` beside the model folders maps a script to its verifier's folder; a missing or
 * malformed index, or a script without an entry, means no verifier (the line reads without one, never an error).
 */
import { describe, expect, it } from 'vitest';
import { lineVerifierUrl, loadLineVerifier } from '../../web/src/recognition/lineVerifier.ts';

/** A fetch serving `body` at http://host.test/app/models/line-verifiers.json (404 elsewhere); records the URLs asked. */
function stubFetch(body: string | null, status = 200): typeof fetch & { asked: string[] } {
  const asked: string[] = [];
  const stub = (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    if (body === null || url !== 'http://host.test/app/models/line-verifiers.json') return new Response('<h1>Not found</h1>', { status: 404 });
    return new Response(body, { status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch & { asked: string[] };
  stub.asked = asked;
  return stub;
}

describe('lineVerifierUrl', () => {
  const index = JSON.stringify({ hanzi: 'hanzi-segments/', other: 'other-verifier' });

  it('finds the script\'s verifier folder in the index beside the model folders', async () => {
    const fetchStub = stubFetch(index);
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', fetchStub)).toBe('http://host.test/app/models/hanzi-segments/');
    expect(fetchStub.asked).toEqual(['http://host.test/app/models/line-verifiers.json']);
    // A model.json URL and a folder without its trailing slash name the same folder; an entry gets its slash.
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/model.json', fetchStub)).toBe('http://host.test/app/models/hanzi-segments/');
    expect(await lineVerifierUrl('http://host.test/app/models/other', fetchStub)).toBe('http://host.test/app/models/other-verifier/');
  });

  it('answers null for a script without an entry, and for a missing, failing or malformed index', async () => {
    expect(await lineVerifierUrl('http://host.test/app/models/digits/', stubFetch(index))).toBeNull();
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', stubFetch(null))).toBeNull();
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', stubFetch(index, 500))).toBeNull();
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', stubFetch('{ not json'))).toBeNull();
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', stubFetch('["hanzi-segments/"]'))).toBeNull();
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', stubFetch('{"hanzi": 3}'))).toBeNull();
    const throwing = (async () => { throw new TypeError('network down'); }) as unknown as typeof fetch;
    expect(await lineVerifierUrl('http://host.test/app/models/hanzi/', throwing)).toBeNull();
  });
});

describe('loadLineVerifier', () => {
  it('answers null without loading anything when the app publishes no verifier for the script', async () => {
    const warnings: string[] = [];
    const verifier = await loadLineVerifier('http://host.test/app/models/digits/', 'http://host.test/app/wasm/', 'tfjs',
      { metadata: { name: 'digits' } as never }, stubFetch(JSON.stringify({ hanzi: 'hanzi-segments/' })), (text) => warnings.push(text));
    expect(verifier).toBeNull();
    expect(warnings).toEqual([]);
  });
});

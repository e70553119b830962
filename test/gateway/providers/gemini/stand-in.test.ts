/**
 * The Gemini stand-in speaks the wire format Google's own SDK expects: `@google/genai` straight
 * against it (no gateway) generates, streams, calls functions, embeds and raises ApiError on its
 * errors, and the stand-in refuses what the API refuses (unknown fields, empty parts, a missing
 * or wrong key). The tests through tracegate rely on it.
 */
import { ApiError, GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type GeminiStub, startGeminiStub } from '../../../helpers/providers/gemini.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/index.js';

let stub: GeminiStub;
let ai: GoogleGenAI;

beforeAll(async () => {
  stub = await startGeminiStub({ apiKey: 'AIza-stand-in', usage: { input: 9, output: 6, cacheRead: 3, reasoning: 2 } });
  ai = new GoogleGenAI({ apiKey: 'AIza-stand-in', httpOptions: { baseUrl: stub.url } });
});
afterAll(() => stub?.close());
beforeEach(() => stub.reset());

const post = (path: string, body: unknown, key = 'AIza-stand-in') =>
  fetch(`${stub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': key }, body: JSON.stringify(body) });

describe('the Gemini stand-in with @google/genai', () => {
  it('generateContent: text and usage in Gemini counting (prompt includes cached, thoughts apart)', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    expect(r.text).toBe(DEFAULT_TEXT);
    expect(r.usageMetadata).toMatchObject({ promptTokenCount: 12, cachedContentTokenCount: 3, candidatesTokenCount: 4, thoughtsTokenCount: 2, totalTokenCount: 18 });
    expect(r.candidates?.[0].finishReason).toBe('STOP');
  });

  it('generateContentStream: several chunks, the last with the finish reason', async () => {
    const chunks = [];
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hi' })) chunks.push(c);
    expect(chunks.map((c) => c.text ?? '').join('')).toBe(DEFAULT_TEXT);
    expect(chunks.at(-1)?.candidates?.[0].finishReason).toBe('STOP');
    expect(stub.requests[0].query).toEqual({ alt: 'sse' });
  });

  it('function calls, with a thought signature on the first', async () => {
    const r = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'weather?',
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }] },
    });
    expect(r.functionCalls?.[0]).toMatchObject({ name: 'get_weather', args: JSON.parse(DEFAULT_TOOL_ARGS) });
    expect(r.candidates?.[0].content?.parts?.[0].thoughtSignature).toBeTypeOf('string');
  });

  it('embedContent (batchEmbedContents) with outputDimensionality', async () => {
    const r = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['a', 'b'], config: { outputDimensionality: 5 } });
    expect(r.embeddings?.map((e) => e.values?.length)).toEqual([5, 5]);
  });

  it('errors: ApiError with the status; 429 with RetryInfo', async () => {
    stub.failNext(1, 429, { retryAfter: 7 });
    const err = (await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(429);
    expect(JSON.parse(err.message).error.details).toEqual([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }]);
  });

  it('refuses what the API refuses', async () => {
    const cases: [string, unknown, string | undefined, number, RegExp][] = [
      ['unknown field', { contents: [{ parts: [{ text: 'x' }] }], generation_config: {} }, undefined, 400, /Unknown name "generation_config"/],
      ['unknown generationConfig field', { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { max_tokens: 5 } }, undefined, 400, /Unknown name "max_tokens"/],
      ['empty parts', { contents: [{ role: 'user', parts: [] }] }, undefined, 400, /must not be empty/],
      ['a bad role', { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, undefined, 400, /valid role/],
      ['two data in a part', { contents: [{ parts: [{ text: 'x', inlineData: { mimeType: 'a/b', data: '' } }] }] }, undefined, 400, /exactly one/],
      ['a wrong key', { contents: [{ parts: [{ text: 'x' }] }] }, 'AIza-wrong', 400, /API key not valid/],
    ];
    for (const [name, body, key, status, message] of cases) {
      const r = await post('/v1beta/models/gemini-2.5-flash:generateContent', body, key);
      const j = (await r.json()) as { error: { code: number; message: string; status: string } };
      expect([name, r.status, j.error.code]).toEqual([name, status, status]);
      expect(j.error.message).toMatch(message);
    }
    const noKey = await fetch(`${stub.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', body: '{}' });
    expect(noKey.status).toBe(403);
  });
});

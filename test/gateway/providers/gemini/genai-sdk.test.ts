/**
 * Google's Gen AI SDK (`@google/genai`, pointed at tracegate with `httpOptions.baseUrl`) through
 * the native passthrough `/v1beta/models/{model}:generateContent` and `:streamGenerateContent`,
 * to the Gemini API and to Gemini on Vertex AI, on loopback stand-ins. The client's
 * `x-goog-api-key` is a tracegate key (checked, never forwarded); the gateway sends its own.
 */
import { ApiError, GoogleGenAI, Type } from '@google/genai';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../../../gateway/policy/keys.js';
import { BLOCK_WORD } from '../../../helpers/providers/gemini.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/index.js';
import { eventually } from '../../helpers.js';
import { useGoogleStack } from './google-stack.js';

const PEPPER = 'pepper-for-tests-0123456789abcdef';
const CLIENT_KEY = 'tg-gemini-client-key-0123456789';
const ONE_A_MINUTE = 'tg-gemini-one-a-minute-0123456789';
const FEW_TOKENS = 'tg-gemini-few-tokens-0123456789';

const stack = useGoogleStack({
  location: 'europe-west4',
  gemini: { usage: { input: 20, output: 12, cacheRead: 100, reasoning: 7 } },
  deps: { keyPepper: PEPPER },
  documents: [
    `kind: Route
metadata: { name: models }
spec:
  rules:
    - name: on-vertex
      matches: [{ model: "gemini-2.5-pro" }]
      targets: [{ backend: vertex }]
    - name: gemini
      matches: [{ model: "gemini-*" }]
      targets: [{ backend: gemini }]`,
    `kind: ApiKey
metadata: { name: sdk-user }
spec:
  hash: "${hashKey(CLIENT_KEY, PEPPER)}"`,
    `kind: ApiKey
metadata: { name: one-a-minute }
spec:
  hash: "${hashKey(ONE_A_MINUTE, PEPPER)}"
  limits: { requestsPerMinute: 1 }`,
    `kind: ApiKey
metadata: { name: few-tokens }
spec:
  hash: "${hashKey(FEW_TOKENS, PEPPER)}"
  limits: { tokensPerMinute: 100 }`,
  ],
});
let ai: GoogleGenAI;
beforeAll(() => {
  ai = new GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: stack.g.url } });
});

describe('@google/genai → tracegate → Gemini API', () => {
  it('generateContent: the answer as Google sent it; the gateway key upstream, the client key never', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', config: { systemInstruction: 'Be brief.', temperature: 0.1 } });
    expect(r.text).toBe(DEFAULT_TEXT);
    expect(r.usageMetadata).toMatchObject({ promptTokenCount: 120, cachedContentTokenCount: 100, thoughtsTokenCount: 7 });
    const rec = stack.gem.requests[0];
    expect(rec.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(rec.headers['x-goog-api-key']).toBe('AIza-upstream');
    expect(JSON.stringify(rec)).not.toContain(CLIENT_KEY);
    expect(rec.body).toMatchObject({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], systemInstruction: { parts: [{ text: 'Be brief.' }] }, generationConfig: { temperature: 0.1 } });
  });

  it('generateContentStream: chunks pass through', async () => {
    let text = '';
    let chunks = 0;
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hi' })) {
      text += c.text ?? '';
      chunks++;
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(chunks).toBeGreaterThan(1);
    expect(stack.gem.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(stack.gem.requests[0].query).toEqual({ alt: 'sse' });
  });

  it('function calling', async () => {
    const r = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'weather in Paris?',
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } } } }] }] },
    });
    expect(r.functionCalls?.[0]).toMatchObject({ name: 'get_weather', args: JSON.parse(DEFAULT_TOOL_ARGS) });
  });

  it('a blocked prompt comes back as Google says it (promptFeedback), not as an error', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: `please ${BLOCK_WORD}` });
    expect(r.promptFeedback?.blockReason).toBe('SAFETY');
    expect(r.text).toBeUndefined();
  });

  it("the upstream's error in Google's envelope, for the SDK's ApiError", async () => {
    stack.gem.failNext(1, 400, { message: 'Invalid value at generation_config.temperature' });
    const err = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect(JSON.parse((err as ApiError).message)).toEqual({ error: { code: 400, message: 'Invalid value at generation_config.temperature', status: 'INVALID_ARGUMENT' } });
  });

  it("an unknown tracegate key: 401 in Google's envelope", async () => {
    const other = new GoogleGenAI({ apiKey: 'tg-not-a-key-000000000000', httpOptions: { baseUrl: stack.g.url } });
    const err = await other.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(401);
    expect(JSON.parse((err as ApiError).message).error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    expect(stack.gem.requests).toHaveLength(0);
  });

  it("a method the gateway does not serve (countTokens): 404 in Google's envelope", async () => {
    const r = await fetch(`${stack.g.url}/v1beta/models/gemini-2.5-flash:countTokens`, {
      method: 'POST',
      headers: { 'x-goog-api-key': CLIENT_KEY, 'content-type': 'application/json' },
      body: '{"contents":[]}',
    });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: unknown }).error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
  });

  it("a model no route serves: 404 in Google's envelope", async () => {
    const err = await ai.models.generateContent({ model: 'gpt-4o', contents: 'hi' }).catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(404);
    expect(JSON.parse((err as ApiError).message).error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
  });

  it("keys' limits apply: requests per minute, and maxOutputTokens counted against tokens per minute, refused in Google's envelope", async () => {
    const limited = new GoogleGenAI({ apiKey: ONE_A_MINUTE, httpOptions: { baseUrl: stack.g.url } });
    await limited.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    const err = (await limited.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(429);
    expect(JSON.parse(err.message).error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    const few = new GoogleGenAI({ apiKey: FEW_TOKENS, httpOptions: { baseUrl: stack.g.url } });
    const big = (await few.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', config: { maxOutputTokens: 500 } }).catch((e: unknown) => e)) as ApiError;
    expect(big.status).toBe(429);
    expect((await few.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', config: { maxOutputTokens: 20 } })).text).toBe(DEFAULT_TEXT);
    expect(stack.gem.requests).toHaveLength(2);
  });

  it('the span: generate_content with Gemini usage and finish reasons', async () => {
    stack.g.exporter.reset();
    await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    const span = await eventually(async () => (await stack.g.calls()).find((s) => s.attributes['gen_ai.operation.name'] === 'generate_content'));
    expect(span.attributes).toMatchObject({
      'llm.provider': 'google',
      'llm.system': 'vertexai',
      'gen_ai.provider.name': 'gcp.gemini',
      'llm.token_count.prompt': 120,
      'llm.token_count.completion': 12,
      'llm.token_count.prompt_details.cache_read': 100,
      'llm.token_count.completion_details.reasoning': 7,
    });
    expect(span.attributes['gen_ai.response.finish_reasons']).toEqual(['STOP']);
    const all = JSON.stringify((await stack.g.spans()).map((s) => [s.name, s.attributes, s.events, s.status]));
    expect(all).not.toContain(CLIENT_KEY);
    expect(all).not.toContain('AIza-upstream');
  });
});

describe('@google/genai → tracegate → Gemini on Vertex AI', () => {
  it('the same client, routed to Vertex: a bearer token, the project URL, streaming too', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' });
    expect(r.text).toBe(DEFAULT_TEXT);
    expect(stack.vtx.requests[0].path).toBe('/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent');
    expect(String(stack.vtx.requests[0].headers.authorization)).toMatch(/^Bearer ya29\.stub-/);
    expect(stack.vtx.requests[0].headers['x-goog-api-key']).toBeUndefined();
    let text = '';
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'hi' })) text += c.text ?? '';
    expect(text).toBe(DEFAULT_TEXT);
  });
});

/**
 * The `openai` SDK through tracegate to Google: the Gemini API (key in x-goog-api-key), and Vertex
 * AI with Gemini and Claude models (OAuth2 tokens from a service account, exchanged at a loopback
 * token endpoint), all on loopback stand-ins speaking Google's and Anthropic's wire formats.
 * Chat, streaming, tools (and the thought signature round trip), JSON mode, embeddings, a prompt
 * blocked by the safety filters, and a 429 RESOURCE_EXHAUSTED retried, then fallen back.
 */
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_WORD } from '../../../helpers/providers/gemini.js';
import { DEFAULT_JSON, DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/index.js';
import { useGoogleStack } from './google-stack.js';

const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const fast = '      retry: { retries: 1, backoff: { base: 1ms, max: 5ms } }';

const stack = useGoogleStack({
  location: 'us-east5',
  gemini: { usage: { input: 20, output: 12, cacheRead: 100, reasoning: 7 } },
  documents: [
    `kind: Route
metadata: { name: models }
spec:
  rules:
    - name: gemini
      matches: [{ model: "gemini-*" }]
      targets: [{ backend: gemini }]
${fast}
    - name: vertex
      matches: [{ model: "vertex-pro" }]
      targets: [{ backend: vertex, model: gemini-2.5-pro }]
    - name: claude
      matches: [{ model: "claude-*" }]
      targets: [{ backend: vertex }]
    - name: fallback
      matches: [{ model: "busy-gemini" }]
      targets: [{ backend: gemini, model: gemini-2.5-flash }]
      fallbacks: [{ backend: vertex, model: gemini-2.5-flash }]
${fast}`,
  ],
});
let client: OpenAI;
beforeAll(() => {
  client = new OpenAI({ baseURL: `${stack.g.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});

const ask = (model: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ],
    ...extra,
  });

describe('openai SDK → tracegate → Gemini API', () => {
  it('chat: the key in x-goog-api-key (never in the URL), usage with cached and thinking tokens', async () => {
    const r = await ask('gemini-2.5-flash', { temperature: 0.2, max_tokens: 50 });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 120, completion_tokens: 12, total_tokens: 132, prompt_tokens_details: { cached_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 7 } });
    const rec = stack.gem.requests[0];
    expect(rec.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(rec.headers['x-goog-api-key']).toBe('AIza-upstream');
    expect(rec.query).toEqual({});
    expect(JSON.stringify(rec.headers)).not.toContain('client-key');
    expect(rec.body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(rec.body.generationConfig).toEqual({ temperature: 0.2, maxOutputTokens: 50 });
  });

  it('streaming: text in chunks, the usage chunk only when asked', async () => {
    const s = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      usage = c.usage ?? usage;
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 120, completion_tokens: 12 });
    expect(stack.gem.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(stack.gem.requests[0].query).toEqual({ alt: 'sse' });
  });

  it('tools: a call with its thought signature, and the result sent back with it', async () => {
    const first = await ask('gemini-2.5-flash', { tools });
    const call = first.choices[0].message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call.function).toEqual({ name: 'get_weather', arguments: DEFAULT_TOOL_ARGS });
    const second = await client.chat.completions.create({
      model: 'gemini-2.5-flash',
      tools,
      messages: [{ role: 'user', content: 'weather?' }, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }],
    });
    expect(second.choices[0].message.content).toBe(DEFAULT_TEXT);
    const sent = stack.gem.requests[1].body.contents;
    expect(sent[1]).toEqual({
      role: 'model',
      parts: [{ functionCall: { name: 'get_weather', args: JSON.parse(DEFAULT_TOOL_ARGS) }, thoughtSignature: Buffer.from('sig-get_weather').toString('base64') }],
    });
    expect(sent[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] });
  });

  it('tools while streaming: the SDK assembles the call', async () => {
    const s = client.chat.completions.stream({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'weather?' }], tools });
    const final = await s.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: DEFAULT_TOOL_ARGS } });
  });

  it('JSON mode and a response schema', async () => {
    const r = await ask('gemini-2.5-flash', { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', properties: { answer: { type: 'string' } } } } } });
    expect(JSON.parse(r.choices[0].message.content ?? '')).toEqual(JSON.parse(DEFAULT_JSON));
    expect(stack.gem.requests[0].body.generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { answer: { type: 'string' } } } });
  });

  it('embeddings, as base64 (the SDK default) and as floats, with dimensions', async () => {
    const r = await client.embeddings.create({ model: 'gemini-embedding-001', input: ['a', 'b'], dimensions: 4 });
    expect(r.data.map((d) => d.embedding.length)).toEqual([4, 4]);
    const f = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'a', dimensions: 4, encoding_format: 'float' });
    expect(r.data[0].embedding).toEqual(f.data[0].embedding.map((v) => Math.fround(v)));
    expect(stack.gem.requests[0].path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
  });

  it('a prompt the safety filters block: 400 content_filter', async () => {
    const err = await ask('gemini-2.5-flash', { messages: [{ role: 'user', content: `please ${BLOCK_WORD}` }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('content_filter');
  });

  it('429 RESOURCE_EXHAUSTED is retried', async () => {
    stack.gem.failNext(1, 429, { retryAfter: 0 });
    const r = await ask('gemini-2.5-flash');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(stack.gem.requests).toHaveLength(2);
  });

  it('429 on every try falls back to Vertex', async () => {
    stack.gem.failNext(2, 429, { retryAfter: 0 });
    const r = await ask('busy-gemini');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(stack.gem.requests).toHaveLength(2);
    expect(stack.vtx.requests).toHaveLength(1);
  });
});

describe('openai SDK → tracegate → Vertex AI', () => {
  it('Gemini on Vertex: the project and region URL, a bearer token from the service account', async () => {
    const r = await ask('vertex-pro');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    const rec = stack.vtx.requests[0];
    expect(rec.path).toBe('/v1/projects/my-proj/locations/us-east5/publishers/google/models/gemini-2.5-pro:generateContent');
    expect(stack.auth.tokens.has(String(rec.headers.authorization).slice(7))).toBe(true);
  });

  it('the token is fetched once and reused', async () => {
    const before = stack.auth.requests.length;
    await Promise.all([ask('vertex-pro'), ask('vertex-pro'), ask('vertex-pro')]);
    expect(stack.auth.requests.length - before).toBeLessThanOrEqual(1);
  });

  it('Claude on Vertex: rawPredict with anthropic_version, streaming too', async () => {
    const r = await ask('claude-sonnet-4@20250514');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    const rec = stack.vtx.requests[0];
    expect(rec.path).toBe('/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict');
    expect(rec.body.anthropic_version).toBe('vertex-2023-10-16');
    expect(rec.body.model).toBeUndefined();

    const s = await client.chat.completions.create({ model: 'claude-sonnet-4@20250514', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(DEFAULT_TEXT);
    expect(stack.vtx.requests[1].path).toMatch(/:streamRawPredict$/);
  });
});

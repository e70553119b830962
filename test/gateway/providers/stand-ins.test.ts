/**
 * The stand-ins speak the wire formats: the real `openai` and `@anthropic-ai/sdk` clients talk to
 * them directly and parse every answer, stream and error without complaint.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS, startAnthropicStub, startOpenAIStub, type AnthropicStub, type OpenAIStub } from '../../helpers/providers/index.js';

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

describe('OpenAI stand-in with the openai SDK', () => {
  let p: OpenAIStub;
  let client: OpenAI;
  beforeAll(async () => {
    p = await startOpenAIStub({ apiKey: 'sk-test', usage: { input: 10, output: 6, cacheRead: 4, reasoning: 2 } });
    client = new OpenAI({ baseURL: p.url, apiKey: 'sk-test', maxRetries: 0 });
  });
  afterAll(() => p.close());

  it('answers a chat completion with usage and records the request', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], seed: 7 });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 6, total_tokens: 20, prompt_tokens_details: { cached_tokens: 4 } });
    const rec = p.requests.at(-1)!;
    expect(rec.headers.authorization).toBe('Bearer sk-test');
    expect(rec.body.seed).toBe(7);
    expect(rec.completed).toBe(true);
  });

  it('streams text with the usage chunk last when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(20);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
  });

  it('streams tool calls that the SDK helper reassembles', async () => {
    const runner = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather?' }], tools });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0];
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual(JSON.parse(DEFAULT_TOOL_ARGS));
    expect(final.choices[0].finish_reason).toBe('tool_calls');
  });

  it('answers embeddings in base64 (the SDK default) and as floats', async () => {
    const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(b64.data).toHaveLength(2);
    expect(b64.data[0].embedding).toHaveLength(8);
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'a', encoding_format: 'float' });
    expect(floats.data[0].embedding[0]).toBeCloseTo(b64.data[0].embedding[0], 6);
  });

  it('serves models and Responses (plain and streamed)', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
    const r = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    expect(r.output_text).toBe(DEFAULT_TEXT);
    const s = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    let text = '';
    let done = false;
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response.usage?.total_tokens === 20;
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(done).toBe(true);
  });

  it('fails in OpenAI envelopes the SDK maps to its error classes', async () => {
    p.failNext(1, 429, { retryAfter: 2 });
    const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('2');
    const bad = new OpenAI({ baseURL: p.url, apiKey: 'wrong', maxRetries: 0 });
    await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('serves Azure deployment paths', async () => {
    const azure = new OpenAI({
      baseURL: `${p.origin}/openai/deployments/dep1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultQuery: { 'api-version': '2024-10-21' },
      defaultHeaders: { 'api-key': 'sk-test' },
    });
    const r = await azure.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(p.requests.at(-1)!.query['api-version']).toBe('2024-10-21');
  });

  it('records a client that leaves mid-stream', async () => {
    p.setDelays({ betweenChunksMs: 30 });
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    const rec = await p.waitForAbort();
    expect(rec.aborted).toBe(true);
    p.setDelays({});
  });

  it('hangs on request and records the client giving up', async () => {
    p.reset();
    p.hangNext(1);
    const ac = new AbortController();
    const pending = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { signal: ac.signal }).catch((e: unknown) => e);
    await p.waitForRequests(1);
    ac.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect((await p.waitForAbort()).completed).toBe(false);
  });

  it('omits usage when told, on answers and streams', async () => {
    p.set({ omitUsage: true });
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(r.usage).toBeUndefined();
    const s = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    for await (const c of s) expect(c.usage ?? undefined).toBeUndefined();
    p.set({ omitUsage: false });
  });
});

describe('Anthropic stand-in with @anthropic-ai/sdk', () => {
  let a: AnthropicStub;
  let client: Anthropic;
  beforeAll(async () => {
    a = await startAnthropicStub({ apiKey: 'sk-ant', usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 } });
    client = new Anthropic({ baseURL: a.url, apiKey: 'sk-ant', maxRetries: 0 });
  });
  afterAll(() => a.close());

  it('answers a message with cache usage', async () => {
    const m = await client.messages.create({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(m.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    expect(m.usage).toMatchObject({ input_tokens: 20, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 30 });
    const h = a.requests.at(-1)!.headers;
    expect(h['x-api-key'] ?? h.authorization).toMatch(/sk-ant$/);
  });

  it('streams text and tool use that the SDK accumulates', async () => {
    const text = await client.messages.stream({ model: 'c', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(text.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    expect(text.usage.output_tokens).toBe(5);
    const tool = await client.messages
      .stream({ model: 'c', max_tokens: 100, messages: [{ role: 'user', content: 'w' }], tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] })
      .finalMessage();
    expect(tool.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: JSON.parse(DEFAULT_TOOL_ARGS) });
    expect(tool.stop_reason).toBe('tool_use');
  });

  it('refuses what the API refuses, in its envelope', async () => {
    const err = await client.messages.create({ model: 'c', max_tokens: 10, messages: [{ role: 'system' as 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    a.failNext(1, 529);
    const over = await client.messages.create({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((over as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((over as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
});

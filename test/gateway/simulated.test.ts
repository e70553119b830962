import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { createSimulatedTransport, simulate } from '../../gateway/providers/simulated.js';
import { startSimulatedServer, type SimulatedServer } from '../../gateway/providers/simulated/server.js';
import { valueFor } from '../../gateway/providers/simulated/generate.js';
import { rngFrom } from '../../gateway/providers/simulated/seed.js';

const NO_LATENCY = { latency: { minMs: 0, maxMs: 0, perTokenMs: 0 } };

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 7 },
      },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};

describe('simulated provider over HTTP with the openai SDK', () => {
  let server: SimulatedServer;
  let client: OpenAI;

  beforeAll(async () => {
    server = await startSimulatedServer({ config: NO_LATENCY });
    client = new OpenAI({ baseURL: server.baseUrl, apiKey: 'not-needed', maxRetries: 0 });
  });
  afterAll(async () => server?.close());

  it('answers a chat call deterministically with realistic usage', async () => {
    const ask = () => client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'What is an AI gateway?' }] });
    const a = await ask();
    const b = await ask();
    expect(a.object).toBe('chat.completion');
    expect(a.choices[0].message.content).toMatch(/AI gateway/);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.choices[0].finish_reason).toBe('stop');
    expect(a.usage?.prompt_tokens).toBeGreaterThan(5);
    expect(a.usage?.completion_tokens).toBeGreaterThan(5);
    expect(a.usage?.total_tokens).toBe((a.usage?.prompt_tokens ?? 0) + (a.usage?.completion_tokens ?? 0));
    expect(a.model).toBe('tracegate-sim-1');
  });

  it('gives a different answer to a different request', async () => {
    const one = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'first question' }] });
    const two = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'another question entirely' }] });
    expect(one.choices[0].message.content).not.toBe(two.choices[0].message.content);
  });

  it('streams like OpenAI, with usage when asked', async () => {
    const body = { model: 'tracegate-sim-1', messages: [{ role: 'user' as const, content: 'Stream me something' }] };
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    const whole = await client.chat.completions.create(body);
    expect(chunks).toBeGreaterThan(5);
    expect(text).toBe(whole.choices[0].message.content);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(whole.usage?.completion_tokens);

    const noUsage = await client.chat.completions.create({ ...body, stream: true });
    for await (const chunk of noUsage) expect(chunk.usage ?? undefined).toBeUndefined();
  });

  it('calls a tool with arguments that fit its schema, then answers the tool result', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({ model: 'tracegate-sim-1', messages, tools: [weatherTool] });
    const call = first.choices[0].message.tool_calls?.[0];
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as { city: string; unit: string; days: number };
    expect(typeof args.city).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(args.unit);
    expect(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7).toBe(true);

    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' });
    const second = await client.chat.completions.create({ model: 'tracegate-sim-1', messages, tools: [weatherTool] });
    expect(second.choices[0].message.tool_calls).toBeUndefined();
    expect(second.choices[0].message.content).toContain('get_weather');
  });

  it('streams tool calls as OpenAI does', async () => {
    const stream = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool], stream: true });
    let args = '';
    let name = '';
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
    }
    expect(name).toBe('get_weather');
    expect(() => JSON.parse(args)).not.toThrow();
  });

  it('answers JSON when response_format asks for it', async () => {
    const obj = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'Reply in JSON' }], response_format: { type: 'json_object' } });
    expect(JSON.parse(obj.choices[0].message.content ?? '')).toHaveProperty('answer');
    const schema = await client.chat.completions.create({
      model: 'tracegate-sim-1',
      messages: [{ role: 'user', content: 'Rate it' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'rating',
          schema: { type: 'object', properties: { score: { type: 'number', minimum: 0, maximum: 1 }, label: { type: 'string', enum: ['good', 'bad'] } }, required: ['score', 'label'] },
        },
      },
    });
    const parsed = JSON.parse(schema.choices[0].message.content ?? '') as { score: number; label: string };
    expect(parsed.score).toBeGreaterThanOrEqual(0);
    expect(parsed.score).toBeLessThanOrEqual(1);
    expect(['good', 'bad']).toContain(parsed.label);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const r = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'Tell me a lot' }], max_tokens: 5 });
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(5);
  });

  it('embeds deterministically, as floats and as base64', async () => {
    const a = await client.embeddings.create({ model: 'tracegate-sim-embed-1', input: ['hello', 'world'], dimensions: 64 });
    const b = await client.embeddings.create({ model: 'tracegate-sim-embed-1', input: 'hello', dimensions: 64, encoding_format: 'float' });
    expect(a.data).toHaveLength(2);
    expect(a.data[0].embedding).toHaveLength(64);
    expect(a.data[0].embedding[0]).toBeCloseTo(b.data[0].embedding[0], 6);
    const norm = Math.sqrt(a.data[0].embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 4);
    expect(a.usage.prompt_tokens).toBe(2);
  });

  it('lists its models and rejects bad requests with OpenAI errors', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('tracegate-sim-1');
    await expect(client.chat.completions.create({ model: 'tracegate-sim-1', messages: [] })).rejects.toMatchObject({ status: 400 });
    await expect(client.chat.completions.create({ model: 'tracegate-sim-error-429', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  });
});

describe('simulated provider in process', () => {
  it('answers the same request the same way and reports cache reads for some long prompts', async () => {
    const system = 'You are a careful assistant. '.repeat(40);
    const cached: number[] = [];
    for (const q of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const body = {
        model: 'tracegate-sim-1',
        messages: [
          { role: 'system', content: `${system}${q}` },
          { role: 'user', content: 'hi' },
        ],
      };
      const one = await simulate('chat', body, { config: NO_LATENCY, now: () => 0 });
      const two = await simulate('chat', body, { config: NO_LATENCY, now: () => 0 });
      expect(one).toEqual(two);
      if (one.kind !== 'json') throw new Error('expected json');
      cached.push((one.json as { usage: { prompt_tokens_details: { cached_tokens: number } } }).usage.prompt_tokens_details.cached_tokens);
    }
    expect(cached.some((c) => c > 0)).toBe(true);
    expect(cached.some((c) => c === 0)).toBe(true);
  });

  it('serves the gateway as a Transport', async () => {
    const transport = createSimulatedTransport(NO_LATENCY);
    const answer = await transport.request({
      url: 'http://simulated.tracegate.invalid/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: new AbortController().signal,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/text\/event-stream/);
    let text = '';
    for await (const c of answer.body) text += String(c);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const bad = await transport.request({ url: 'http://x/v1/chat/completions', method: 'POST', headers: {}, body: '{', signal: new AbortController().signal });
    expect(bad.status).toBe(400);
  });

  it('stops a stream when the caller aborts', async () => {
    const abort = new AbortController();
    const result = await simulate(
      'chat',
      { model: 'm', messages: [{ role: 'user', content: 'go' }], stream: true },
      { signal: abort.signal, config: { latency: { minMs: 0, maxMs: 0, perTokenMs: 1 } } },
    );
    if (result.kind !== 'stream') throw new Error('expected a stream');
    const it = result.frames[Symbol.asyncIterator]();
    await it.next();
    abort.abort();
    await expect(it.next()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it.each([
    [{ type: 'string', minLength: 30 }, (v: unknown) => typeof v === 'string' && v.length >= 30],
    [{ type: 'integer', minimum: 5, maximum: 5 }, (v: unknown) => v === 5],
    [{ type: 'array', items: { type: 'boolean' }, minItems: 2, maxItems: 2 }, (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'boolean')],
    [{ anyOf: [{ type: 'null' }, { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }] }, (v: unknown) => typeof v === 'number' && v > 0 && v < 1],
    [{ const: 'fixed' }, (v: unknown) => v === 'fixed'],
    [{ type: 'string', format: 'date-time' }, (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v))],
  ])('makes a value for %j', (schema, ok) => {
    for (let seed = 0; seed < 20; seed++) expect(ok(valueFor(schema, rngFrom(seed), { words: [] }))).toBe(true);
  });
});

/**
 * The real `openai` and `@anthropic-ai/sdk` clients against the gateway, routing to loopback
 * stand-ins that speak OpenAI's and Anthropic's wire formats.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS, startAnthropicStub, startOpenAIStub, type AnthropicStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from './helpers.js';

let oai: OpenAIStub;
let ant: AnthropicStub;
let g: TestGateway;
let client: OpenAI;

const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

beforeAll(async () => {
  oai = await startOpenAIStub({ apiKey: 'sk-upstream' });
  ant = await startAnthropicStub({ apiKey: 'sk-ant-upstream', usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 } });
  const cfg = config(
    docs(
      'kind: Gateway\nmetadata: { name: gw }\nspec: { bodyLimit: 64kb }',
      backendDoc('openai', 'openai', oai.url, '  apiKey: { env: OPENAI_KEY }'),
      backendDoc('anthropic', 'anthropic', ant.url, '  apiKey: { env: ANTHROPIC_KEY }'),
      `kind: Route
metadata: { name: models }
spec:
  rules:
    - name: gpt
      matches: [{ model: "gpt-*" }, { model: "text-embedding-*" }]
      targets: [{ backend: openai }]
    - name: claude
      matches: [{ model: "claude-*" }]
      targets: [{ backend: anthropic }]`,
    ),
    { OPENAI_KEY: 'sk-upstream', ANTHROPIC_KEY: 'sk-ant-upstream' },
  );
  g = await startGateway(cfg);
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  await oai?.close();
  await ant?.close();
});
beforeEach(() => {
  oai.reset();
  ant.reset();
});

describe('openai SDK → gateway → OpenAI stand-in', () => {
  it('chat: answers, and the upstream gets the provider key, never the client key', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2 });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
    expect(oai.requests[0].headers.authorization).toBe('Bearer sk-upstream');
    expect(JSON.stringify(oai.requests[0].headers)).not.toContain('client-key');
    expect(oai.requests[0].body.temperature).toBe(0.2);
  });

  it('streaming: text arrives in chunks; the forced usage chunk is hidden unless asked for', async () => {
    const s = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let usageChunks = 0;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usageChunks++;
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(usageChunks).toBe(0);
    expect(oai.requests[0].body.stream_options).toEqual({ include_usage: true });

    const s2 = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of s2) usage = c.usage ?? usage;
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('tools: a tool call, non-streaming and streaming', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'weather?' }], tools });
    expect(r.choices[0].finish_reason).toBe('tool_calls');
    expect(r.choices[0].message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: DEFAULT_TOOL_ARGS } });
    const s = client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'weather?' }], tools });
    const final = await s.finalChatCompletion();
    expect(final.choices[0].message.tool_calls?.[0].function.arguments).toBe(DEFAULT_TOOL_ARGS);
  });

  it('embeddings', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0].embedding.length).toBeGreaterThan(0);
  });

  it('responses: passed through', async () => {
    const r = await client.responses.create({ model: 'gpt-4o', input: 'hi' });
    expect(r.output_text).toBe(DEFAULT_TEXT);
    expect(oai.requests[0].path).toBe('/v1/responses');
  });

  it('models: the public names routes serve', async () => {
    const list = await client.models.list();
    expect(list.data).toEqual([]);
  });
});

describe('errors in OpenAI envelope', () => {
  it.each([
    { name: 'unknown model', call: () => client.chat.completions.create({ model: 'llama-3', messages: [{ role: 'user', content: 'x' }] }), status: 404, code: 'model_not_found', param: 'model' },
    { name: 'missing messages', call: () => client.chat.completions.create({ model: 'gpt-4o', messages: [] }), status: 400, code: 'invalid_parameter', param: 'messages' },
    {
      name: 'model not a string',
      call: () => client.chat.completions.create({ model: 42 as unknown as string, messages: [{ role: 'user', content: 'x' }] }),
      status: 400,
      code: 'invalid_parameter',
      param: 'model',
    },
  ])('$name → $status $code', async ({ call, status, code, param }) => {
    const err = (await call().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.param).toBe(param);
  });

  it("an upstream 401/403 (the provider refusing the gateway's key) is a 502 upstream_auth_failed, without the provider's words", async () => {
    for (const status of [401, 403]) {
      oai.reset();
      oai.failNext(1, status);
      const err = (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(502);
      expect(err.code).toBe('upstream_auth_failed');
      expect(err.message).toContain(`backend "openai" refused the gateway's credential for it (${status})`);
      expect(err.message).not.toMatch(/Incorrect API key|permission/i);
      expect(oai.requests).toHaveLength(1);
    }
    ant.failNext(1, 401);
    const a = (await new Anthropic({ baseURL: g.url, apiKey: 'client-key', maxRetries: 0 }).messages
      .create({ model: 'claude-sonnet-4', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(a.status).toBe(502);
    expect(JSON.stringify(a.error)).not.toContain('invalid x-api-key');
  });

  it.each([
    { name: 'malformed JSON', body: '{"model": "gpt-4o", ', type: 'application/json', status: 400, code: 'invalid_json' },
    { name: 'a JSON array', body: '[1,2]', type: 'application/json', status: 400, code: 'invalid_json' },
    {
      name: 'a body past the limit',
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }),
      type: 'application/json',
      status: 413,
      code: 'body_too_large',
    },
    { name: 'not JSON at all', body: 'hello', type: 'text/plain', status: 415, code: 'unsupported_media_type' },
  ])('$name → $status $code', async ({ body, type, status, code }) => {
    const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': type }, body });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message.length).toBeGreaterThan(5);
  });

  it('an unknown path is a 404 envelope', async () => {
    const res = await fetch(`${g.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

describe('Anthropic', () => {
  it('@anthropic-ai/sdk messages are passed through to an Anthropic backend, streaming too', async () => {
    const a = new Anthropic({ baseURL: g.url, apiKey: 'client-key', maxRetries: 0 });
    const m = await a.messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(m.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    expect(m.usage.cache_read_input_tokens).toBe(100);
    expect(ant.requests[0].headers['x-api-key']).toBe('sk-ant-upstream');
    const s = a.messages.stream({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(await s.finalText()).toBe(DEFAULT_TEXT);
  });

  it('Anthropic clients get errors in their own envelope', async () => {
    const a = new Anthropic({ baseURL: g.url, apiKey: 'client-key', maxRetries: 0 });
    const err = (await a.messages.create({ model: 'nope', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err.status).toBe(404);
    expect((err.error as { type: string }).type).toBe('error');
  });

  it('openai SDK chat to a Claude model is translated to Messages and back, streaming included', async () => {
    const r = await client.chat.completions.create({
      model: 'claude-sonnet-4',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.usage?.prompt_tokens).toBe(150);
    expect(ant.requests[0].body.system).toBeDefined();
    const s = await client.chat.completions.create({ model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(DEFAULT_TEXT);
  });
});

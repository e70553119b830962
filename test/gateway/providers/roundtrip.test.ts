/**
 * Translators end to end without the gateway core: the real SDKs → a thirty-line test relay built
 * only from the provider contract (translatorFor, auth.authorize, error, SseParser, writeFrames) → the
 * provider stand-ins. Proves that translated answers, streams and errors are what the SDKs parse.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSE_HEADERS, SseParser, writeFrames } from '../../../gateway/sse.js';
import { providerFor, translatorFor } from '../../../gateway/providers/registry.js';
import type { BackendDescriptor, Endpoint, ResponseFacts } from '../../../gateway/providers/types.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS, startAnthropicStub, startOpenAIStub, type AnthropicStub, type OpenAIStub } from '../../helpers/providers/index.js';

const ENDPOINTS: Record<string, Endpoint> = { '/v1/chat/completions': 'chat', '/v1/embeddings': 'embeddings', '/v1/responses': 'responses', '/v1/messages': 'messages' };

interface Relay {
  url: string;
  backend: BackendDescriptor;
  facts: ResponseFacts[];
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function relay(req: IncomingMessage, res: ServerResponse, r: Relay, key: string): Promise<void> {
  const body = await readJson(req);
  const t = translatorFor(ENDPOINTS[req.url ?? ''], r.backend.kind)!;
  const up = t.request(body, { model: 'upstream-model', backend: r.backend }, { forceUsageOnStream: true, clientHeaders: req.headers });
  if (!up.ok) return void res.writeHead(up.error.status, { 'content-type': 'application/json' }).end(JSON.stringify(up.error.body));
  const provider = providerFor(r.backend.kind);
  const auth = await provider.auth.authorize({ ...up.request, signal: AbortSignal.timeout(10_000) }, r.backend, { key, fields: {} });
  const answer = await fetch(up.request.url, { method: 'POST', headers: { ...up.request.headers, ...auth }, body: up.request.body });
  const ctx = { clientBody: body, nowMs: Date.now() };
  if (!answer.ok) {
    const e = provider.error(answer.status, await answer.text(), answer.headers, t.clientApi);
    return void res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.body));
  }
  if (!up.request.stream) {
    const out = t.response(answer.status, await answer.text(), ctx);
    if (out.ok) r.facts.push(out);
    return void res.writeHead(out.ok ? 200 : out.error.status, { 'content-type': 'application/json' }).end(out.ok ? out.body : JSON.stringify(out.error.body));
  }
  res.writeHead(200, SSE_HEADERS);
  const s = t.stream(ctx);
  const parser = new SseParser();
  for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) {
    for (const ev of parser.push(chunk)) await writeFrames(res, s.push(ev));
  }
  for (const ev of parser.end()) await writeFrames(res, s.push(ev));
  await writeFrames(res, s.end());
  r.facts.push(s.facts);
  res.end();
}

async function startRelay(backend: BackendDescriptor, key: string): Promise<Relay> {
  const r = { backend, facts: [] as ResponseFacts[] } as Relay;
  const server = createServer((req, res) => void relay(req, res, r, key).catch((e) => res.destroy(e)));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return r;
}

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const usage = { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 };

describe('openai SDK → chat/openai_anthropic → Anthropic stand-in', () => {
  let a: AnthropicStub;
  let r: Relay;
  let client: OpenAI;
  beforeAll(async () => {
    a = await startAnthropicStub({ apiKey: 'sk-ant', usage });
    r = await startRelay({ kind: 'anthropic', baseUrl: a.url }, 'sk-ant');
    client = new OpenAI({ baseURL: `${r.url}/v1`, apiKey: 'client', maxRetries: 0 });
  });
  afterAll(async () => {
    await r.close();
    await a.close();
  });

  it('non-streaming text with cache usage; the key arrives as x-api-key', async () => {
    const c = await client.chat.completions.create({
      model: 'x',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(c.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(c.usage).toMatchObject({ prompt_tokens: 150, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 100 } });
    expect(a.requests.at(-1)!.headers['x-api-key']).toBe('sk-ant');
    expect(a.requests.at(-1)!.body).toMatchObject({ model: 'upstream-model', system: 'S', max_tokens: 4096 });
  });

  it('streamed tool calls reassemble in the SDK; a tool round trip is accepted upstream', async () => {
    const final = await client.chat.completions.stream({ model: 'x', messages: [{ role: 'user', content: 'w?' }], tools, stream_options: { include_usage: true } }).finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0] as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual(JSON.parse(DEFAULT_TOOL_ARGS));
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.usage?.total_tokens).toBe(155);
    const next = await client.chat.completions.create({
      model: 'x',
      tools,
      messages: [{ role: 'user', content: 'w?' }, final.choices[0].message as OpenAI.Chat.Completions.ChatCompletionMessageParam, { role: 'tool', tool_call_id: call.id, content: '18C' }],
    });
    expect(next.choices[0].message.content).toBe(DEFAULT_TEXT);
  });

  it('streamed text without usage asked: no usage chunk reaches the client, facts keep it', async () => {
    const stream = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) {
      expect(c.choices).toHaveLength(1);
      text += c.choices[0].delta.content ?? '';
    }
    expect(text).toBe(DEFAULT_TEXT);
    expect(r.facts.at(-1)!.usage).toEqual({ promptTokens: 150, completionTokens: 5, totalTokens: 155, cacheReadTokens: 100, cacheWriteTokens: 30 });
  });

  it('json_schema answers come back as parseable content', async () => {
    const c = await client.chat.completions.create({
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: { type: 'object', properties: { city: { type: 'string' } } } } },
    });
    expect(JSON.parse(c.choices[0].message.content!)).toEqual(JSON.parse(DEFAULT_TOOL_ARGS));
    expect(c.choices[0].finish_reason).toBe('stop');
  });

  it('upstream errors become the SDK error classes', async () => {
    a.failNext(1, 429, { retryAfter: 3 });
    await expect(client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    a.failNext(1, 529);
    await expect(client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const bad = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], n: 2 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
  });
});

describe('OpenAI and Azure passthroughs, Responses, embeddings', () => {
  let p: OpenAIStub;
  let openai: Relay;
  let azure: Relay;
  beforeAll(async () => {
    p = await startOpenAIStub({ apiKey: 'sk-up', usage: { input: 10, output: 5 } });
    openai = await startRelay({ kind: 'openai', baseUrl: p.url }, 'sk-up');
    azure = await startRelay({ kind: 'azure', baseUrl: p.origin, options: { deployment: 'dep-1' } }, 'sk-up');
  });
  afterAll(async () => {
    await Promise.all([openai.close(), azure.close()]);
    await p.close();
  });

  it('streams with forced usage, hiding the usage chunk from a client that did not ask', async () => {
    const client = new OpenAI({ baseURL: `${openai.url}/v1`, apiKey: 'c', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true, seed: 3 });
    let text = '';
    for await (const c of stream) text += c.choices[0].delta.content ?? '';
    expect(text).toBe(DEFAULT_TEXT);
    expect(p.requests.at(-1)!.body).toMatchObject({ model: 'upstream-model', seed: 3, stream_options: { include_usage: true } });
    expect(p.requests.at(-1)!.headers.authorization).toBe('Bearer sk-up');
    expect(openai.facts.at(-1)!.usage?.totalTokens).toBe(15);
  });

  it('Azure: deployment URL, api-version, api-key', async () => {
    const client = new OpenAI({ baseURL: `${azure.url}/v1`, apiKey: 'c', maxRetries: 0 });
    const c = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    expect(c.choices[0].message.content).toBe(DEFAULT_TEXT);
    const rec = p.requests.at(-1)!;
    expect(rec.path).toBe('/openai/deployments/dep-1/chat/completions');
    expect(rec.query['api-version']).toBeTruthy();
    expect(rec.headers['api-key']).toBe('sk-up');
    const e = await client.embeddings.create({ model: 'x', input: 'a' });
    expect(e.data[0].embedding).toHaveLength(8);
  });

  it('Responses streamed and plain', async () => {
    const client = new OpenAI({ baseURL: `${openai.url}/v1`, apiKey: 'c', maxRetries: 0 });
    const plain = await client.responses.create({ model: 'x', input: 'hi' });
    expect(plain.output_text).toBe(DEFAULT_TEXT);
    const s = await client.responses.create({ model: 'x', input: 'hi', stream: true });
    let text = '';
    for await (const ev of s) if (ev.type === 'response.output_text.delta') text += ev.delta;
    expect(text).toBe(DEFAULT_TEXT);
    expect(openai.facts.at(-1)).toMatchObject({ outputText: DEFAULT_TEXT, usage: { totalTokens: 15 }, finishReasons: ['completed'] });
  });
});

describe('@anthropic-ai/sdk → messages/anthropic_anthropic → Anthropic stand-in', () => {
  it('streams and reads usage; version header forwarded, client auth not', async () => {
    const a = await startAnthropicStub({ apiKey: 'sk-ant', usage });
    const r = await startRelay({ kind: 'anthropic', baseUrl: a.url }, 'sk-ant');
    try {
      const client = new Anthropic({ baseURL: r.url, apiKey: 'client-key', maxRetries: 0 });
      const m = await client.messages.stream({ model: 'x', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
      expect(m.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
      const rec = a.requests.at(-1)!;
      expect(rec.headers['anthropic-version']).toBeTruthy();
      expect(rec.headers.authorization).toBeUndefined();
      expect(rec.headers['x-api-key']).toBe('sk-ant');
      expect(r.facts.at(-1)).toMatchObject({ usage: { promptTokens: 150, completionTokens: 5 }, finishReasons: ['end_turn'] });
    } finally {
      await r.close();
      await a.close();
    }
  });
});

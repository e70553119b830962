/**
 * The gateway's spans and metrics: parent from traceparent, OpenInference and GenAI attributes,
 * token counts (reported or estimated), content capture modes, and no secret anywhere.
 */
import OpenAI from 'openai';
import pino from 'pino';
import { textSink } from '../helpers/text-sink.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from './helpers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const SECRET = 'sk-upstream-very-secret';

let stub: OpenAIStub;
let logText = '';

const route = `kind: Route
metadata: { name: main }
spec:
  rules:
    - matches: [{ model: "gpt-*" }, { model: "text-embedding-*" }]
      targets: [{ backend: up }]
      retry: { retries: 0 }`;

async function gatewayWith(capture: string): Promise<{ g: TestGateway; client: OpenAI }> {
  const cfg = config(docs(`kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { content: ${capture} }`, backendDoc('up', 'openai', stub.url, '  apiKey: { env: UP_KEY }'), route), {
    UP_KEY: SECRET,
  });
  const logger = pino(
    { level: 'debug' },
    textSink((t) => {
      logText += t;
    }),
  );
  const g = await startGateway(cfg, { logger });
  return { g, client: new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client-secret-key', maxRetries: 0 }) };
}

let on: { g: TestGateway; client: OpenAI };

beforeAll(async () => {
  stub = await startOpenAIStub({ apiKey: SECRET, usage: { input: 12, output: 7, cacheRead: 4, reasoning: 3 } });
  on = await gatewayWith('{ capture: on }');
});
afterAll(async () => {
  await on?.g.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  stub.set({ omitUsage: false });
  on.g.exporter.reset();
});

const onlyCall = async (g: TestGateway) => eventually(async () => (await g.calls())[0]);

describe('call spans', () => {
  it('continues the incoming traceparent and records tokens in both conventions', async () => {
    const r = await on.client.chat.completions.create(
      {
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hi' },
        ],
        temperature: 0.3,
        max_tokens: 50,
        user: 'body-user',
      },
      { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, 'x-session-id': 'sess-1' } },
    );
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    const span = await onlyCall(on.g);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span.name).toBe('chat gpt-4o');
    expect(span.attributes).toMatchObject({
      'openinference.span.kind': 'LLM',
      'tracegate.origin': 'gateway',
      'tracegate.route': 'main',
      'tracegate.backend': 'up',
      'llm.system': 'openai',
      'llm.provider': 'openai',
      'llm.model_name': 'gpt-4o',
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o',
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.max_tokens': 50,
      'llm.token_count.prompt': 16,
      'llm.token_count.completion': 7,
      'llm.token_count.total': 23,
      'llm.token_count.prompt_details.cache_read': 4,
      'llm.token_count.completion_details.reasoning': 3,
      'gen_ai.usage.input_tokens': 16,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
      'session.id': 'sess-1',
      'user.id': 'body-user',
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'be brief',
      'llm.input_messages.1.message.content': 'hi',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': DEFAULT_TEXT,
    });
    expect(JSON.parse(span.attributes['llm.invocation_parameters'] as string)).toMatchObject({ model: 'gpt-4o', temperature: 0.3 });
    // Answered by its first attempt: one span, which names the backend's server.
    expect(span.attributes['server.address']).toBe(new URL(stub.url).host);
    expect((await on.g.spans()).filter((s) => s.name.startsWith('upstream '))).toEqual([]);
  });

  it('writes a child span for the attempt of every call with attemptSpans: always', async () => {
    const always = await gatewayWith('{ capture: on }, attemptSpans: always');
    try {
      await always.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      const span = await onlyCall(always.g);
      const child = await eventually(async () => (await always.g.spans()).find((s) => s.name === 'upstream up'));
      expect(child.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
      expect(child.attributes).toMatchObject({ 'tracegate.backend': 'up', 'http.response.status_code': 200, 'server.address': new URL(stub.url).host });
      expect(child.attributes['openinference.span.kind']).toBeUndefined();
    } finally {
      await always.g.close();
    }
  });

  it('starts a new trace without traceparent; streams carry time to first token and provider usage', async () => {
    const s = await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _c of s) {
      // drain
    }
    const span = await onlyCall(on.g);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes['tracegate.streaming']).toBe(true);
    expect(span.attributes['tracegate.time_to_first_token_ms']).toBeGreaterThan(0);
    expect(span.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
    expect(span.attributes['llm.token_count.prompt']).toBe(16);
    expect(span.attributes['tracegate.usage.estimated']).toBeUndefined();
    expect(span.attributes['output.value']).toBe(DEFAULT_TEXT);
  });

  it('estimates tokens when the provider reports none, and says so', async () => {
    stub.set({ omitUsage: true });
    await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }] });
    const span = await onlyCall(on.g);
    expect(span.attributes['tracegate.usage.estimated']).toBe(true);
    expect(span.attributes['llm.token_count.prompt']).toBeGreaterThan(0);
    expect(span.attributes['llm.token_count.completion']).toBeGreaterThan(0);
  });

  it('embeddings are EMBEDDING spans', async () => {
    await on.client.embeddings.create({ model: 'text-embedding-3-small', input: 'some text' });
    const span = await onlyCall(on.g);
    expect(span.attributes).toMatchObject({
      'openinference.span.kind': 'EMBEDDING',
      'embedding.model_name': 'text-embedding-3-small',
      'gen_ai.operation.name': 'embeddings',
      'embedding.embeddings.0.embedding.text': 'some text',
    });
    expect(span.attributes['llm.system']).toBeUndefined();
  });

  it('a failed call is an error span with error.type', async () => {
    stub.failNext(1, 500);
    await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
    const span = await onlyCall(on.g);
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('502');
    expect(span.attributes['http.response.status_code']).toBe(502);
  });

  it('never puts a key or an authorization header into spans or logs', async () => {
    stub.failNext(1, 401);
    await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-api-key': 'client-secret-key' } }).catch(() => undefined);
    await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const all = JSON.stringify((await on.g.spans()).map((s) => s.attributes));
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('client-secret-key');
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain('client-secret-key');
  });
});

describe('content capture', () => {
  it.each([
    { capture: '{ capture: off }', present: false, truncated: false },
    { capture: '{ capture: truncate, maxBytes: 8 }', present: true, truncated: true },
  ])('$capture', async ({ capture, present, truncated }) => {
    const { g, client } = await gatewayWith(capture);
    try {
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a fairly long question' }] });
      const a = (await onlyCall(g)).attributes;
      expect(a['llm.token_count.total']).toBeGreaterThan(0);
      if (!present) {
        expect(Object.keys(a).filter((k) => k.includes('messages') || k === 'input.value' || k === 'output.value')).toEqual([]);
        return;
      }
      expect(a['llm.input_messages.0.message.content']).toBe('a fairly');
      if (truncated) expect(String(a['tracegate.truncated'])).toContain('llm.input_messages.0.message.content');
    } finally {
      await g.close();
    }
  });
});

describe('metrics', () => {
  it('exposes the GenAI histograms with their buckets, and request counters, as Prometheus text', async () => {
    await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const s = await on.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    for await (const _c of s) {
      // drain
    }
    await onlyCall(on.g);
    const text = await (await fetch(`${on.g.url}/metrics`)).text();
    expect(text).toMatch(/gen_ai_client_token_usage_bucket\{.*gen_ai_token_type="input".*le="16"\}/);
    expect(text).toMatch(/gen_ai_client_token_usage_bucket\{.*le="67108864"\}/);
    expect(text).toMatch(/gen_ai_server_request_duration_bucket\{.*le="81.92"\}/);
    expect(text).toMatch(/gen_ai_server_time_to_first_token_bucket\{.*le="0.001"\}/);
    expect(text).toMatch(/tracegate_gateway_requests_total\{route="main",status_code="200"\} \d+/);
    expect(text).toMatch(/tracegate_gateway_upstream_attempts_total\{backend="up",outcome="ok"\}/);
    expect(text).toMatch(/tracegate_gateway_circuit_state\{backend="up"\} 0/);
  });
});

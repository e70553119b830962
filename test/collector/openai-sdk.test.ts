/**
 * The `openai` SDK, instrumented by OpenInference, against a loopback OpenAI stand-in, exporting
 * over OTLP/gRPC to a running collector: the LLM spans land in otel_traces and in the typed
 * views with model, provider, tokens and the cost the processor's cost stage computed. What the
 * instrumentation records is asserted as it really is (shared/reference/clients.md): a stream
 * records no token counts, a failed call's span is never ended and so never exported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { setSession } from '@arizeai/openinference-core';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { node } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { formatUsd } from '../../collector/processors/cost.js';
import { computeCost, indexPrices, loadPriceTable } from '../../schemas/prices.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS, startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { useCollector } from './helpers.js';

const API_KEY = 'sk-test-secret-4f1c';
const MODEL = 'gpt-4o-mini';
const SERVICE = 'sdk-app';
/** Fixed usage for every answer: 40 fresh + 8 cached prompt tokens, 12 completion tokens. */
const USAGE = { input: 40, output: 12, cacheRead: 8 };
const PROMPT = USAGE.input + USAGE.cacheRead;

const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

const fx = useCollector();
let stub: OpenAIStub;
let provider: InstanceType<typeof node.NodeTracerProvider>;
let memory: InMemorySpanExporter;
let client: OpenAI;

/** What the SDK sent (from the in-memory copy) and the trace ids of the flows below. */
const sent = { plain: '', agent: '', stream: '' };
let failedCallError = '';

function priced() {
  const price = indexPrices(loadPriceTable()).find(MODEL);
  if (!price) throw new Error(`${MODEL} is not in schemas/prices.json`);
  return computeCost(price, { prompt: PROMPT, completion: USAGE.output, cacheRead: USAGE.cacheRead });
}

/** An AGENT span around a tool-calling loop: LLM (asks for the tool) → TOOL → LLM (answers). */
async function agentFlow(): Promise<string> {
  const tracer = trace.getTracer('sdk-test-agent');
  const ctx = setSession(context.active(), { sessionId: 'sess-sdk-1' });
  return context.with(ctx, () =>
    tracer.startActiveSpan('weather-agent', { attributes: { 'openinference.span.kind': 'AGENT', 'agent.name': 'weather-agent' } }, async (agent) => {
      const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS });
      const call = first.choices[0].message.tool_calls?.[0];
      if (call?.type !== 'function') throw new Error('the stand-in did not call the tool');
      messages.push(first.choices[0].message);
      const result = tracer.startActiveSpan('get_weather', { attributes: { 'openinference.span.kind': 'TOOL', 'tool.name': 'get_weather' } }, (tool) => {
        tool.end();
        return '{"forecast":"sunny"}';
      });
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
      await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS });
      agent.setStatus({ code: SpanStatusCode.OK });
      agent.end();
      return agent.spanContext().traceId;
    }),
  );
}

beforeAll(async () => {
  stub = await startOpenAIStub({ apiKey: API_KEY, usage: USAGE });
  memory = new InMemorySpanExporter();
  provider = new node.NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE }),
    spanProcessors: [new SimpleSpanProcessor(memory), new BatchSpanProcessor(new OTLPTraceExporter({ url: fx.run.grpcUrl }), { scheduledDelayMillis: 20 })],
  });
  // The context manager lets session.id and the AGENT parent reach the instrumentation's spans.
  provider.register();
  const instrumentation = new OpenAIInstrumentation({ tracerProvider: provider });
  // Under ESM the instrumentation patches nothing by itself.
  instrumentation.manuallyInstrument(OpenAI);
  client = new OpenAI({ baseURL: stub.url, apiKey: API_KEY, maxRetries: 0 });

  await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }] });
  sent.agent = await agentFlow();
  const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Stream a hello.' }], stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) void chunk;
  stub.failNext(1, 429);
  await client.chat.completions.create({ model: 'gpt-4o-mini-will-fail', messages: [{ role: 'user', content: 'x' }] }).catch((e: Error) => {
    failedCallError = e.message;
  });

  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  const llm = (pred: (s: ReadableSpan) => boolean) => spans.find((s) => s.attributes['openinference.span.kind'] === 'LLM' && pred(s));
  sent.plain = llm((s) => s.attributes['llm.input_messages.0.message.content'] === 'Say hello.')!.spanContext().traceId;
  sent.stream = llm((s) => s.attributes['llm.input_messages.0.message.content'] === 'Stream a hello.')!.spanContext().traceId;
  expect(await fx.run.collector.idle()).toBe(true);
  await refreshRollups(fx.store.client, fx.store.database);
});

afterAll(async () => {
  await provider?.shutdown();
  await stub?.close();
});

interface LlmRow {
  span_id: string;
  model: string;
  provider: string;
  system: string;
  service_name: string;
  session_id: string;
  agent_name: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cache_read_tokens: number;
  cost_prompt: number;
  cost_completion: number;
  cost_total: number;
  cost_source: string;
  finish_reason: string;
  streaming: number;
  status_code: string;
  counted: number;
}

const llmRows = (traceId: string) =>
  fx.store.rows<LlmRow>(
    `SELECT span_id, model, provider, system, service_name, session_id, agent_name, prompt_tokens, completion_tokens, total_tokens,
        cache_read_tokens, cost_prompt, cost_completion, cost_total, cost_source, finish_reason, streaming, status_code, counted
     FROM tracegate.llm_spans WHERE trace_id = {t:String} AND span_kind = 'LLM' ORDER BY timestamp`,
    { t: traceId },
  );

const attrsOf = async (traceId: string, spanId: string) =>
  (
    await fx.store.rows<{ a: Record<string, string>; name: string; kind: string; status: string }>(
      `SELECT SpanAttributes AS a, SpanName AS name, SpanKind AS kind, StatusCode AS status FROM tracegate.otel_traces
     WHERE TraceId = {t:String} AND SpanId = {s:String}`,
      { t: traceId, s: spanId },
    )
  )[0];

describe('openai SDK + OpenInference instrumentation → collector (OTLP/gRPC) → ClickHouse', () => {
  it('every span the SDK finished lands in otel_traces, its attributes intact (ints as decimal text)', async () => {
    const spans = memory.getFinishedSpans();
    expect(spans.length).toBe(6); // plain, AGENT + 2 LLM + TOOL, stream
    for (const s of spans) {
      const row = await attrsOf(s.spanContext().traceId, s.spanContext().spanId);
      expect(row, s.name).toBeDefined();
      const want = Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [k, String(v)]));
      expect(row.a).toMatchObject(want);
      // The OpenTelemetry kind is INTERNAL; the OpenInference kind is only the attribute.
      expect(row.kind).toBe('Internal');
    }
  });

  it('a plain call: model, provider/system, tokens (cached included) and the cost from the price table', async () => {
    const c = priced();
    const [row] = await llmRows(sent.plain);
    expect(row).toMatchObject({
      model: MODEL,
      provider: 'openai',
      system: 'openai',
      service_name: SERVICE,
      prompt_tokens: PROMPT,
      completion_tokens: USAGE.output,
      total_tokens: PROMPT + USAGE.output,
      cache_read_tokens: USAGE.cacheRead,
      finish_reason: 'stop',
      streaming: 0,
      status_code: 'Ok',
      counted: 1,
      // the cost stage wrote llm.cost.* onto the span; the view keeps the span's figures
      cost_source: 'span',
    });
    expect(row.cost_prompt).toBe(Number(formatUsd(c.prompt)));
    expect(row.cost_completion).toBe(Number(formatUsd(c.completion)));
    expect(row.cost_total).toBe(Number(formatUsd(c.total)));
    expect(row.cost_total).toBeCloseTo(c.total, 12);
    // cached tokens are cheaper: the cost is below the all-fresh price
    expect(c.total).toBeLessThan((PROMPT * 0.15 + USAGE.output * 0.6) / 1e6);
    const a = (await attrsOf(sent.plain, row.span_id)).a;
    expect(a).toMatchObject({
      'llm.cost.total': formatUsd(c.total),
      'llm.cost.prompt': formatUsd(c.prompt),
      'llm.cost.completion': formatUsd(c.completion),
      'llm.cost.prompt_details.cache_read': formatUsd(c.cacheRead),
      'llm.cost.prompt_details.input': formatUsd(c.input),
      'llm.output_messages.0.message.content': DEFAULT_TEXT,
    });
  });

  it('a tool-calling agent run: the tool call and its result are recorded, and agent_runs adds the two calls up', async () => {
    const rows = await llmRows(sent.agent);
    expect(rows.map((r) => [r.finish_reason, r.session_id, r.model])).toEqual([
      ['tool_calls', 'sess-sdk-1', MODEL],
      ['stop', 'sess-sdk-1', MODEL],
    ]);
    const ask = (await attrsOf(sent.agent, rows[0].span_id)).a;
    expect(ask['llm.output_messages.0.message.tool_calls.0.tool_call.function.name']).toBe('get_weather');
    expect(ask['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments']).toBe(DEFAULT_TOOL_ARGS);
    expect(JSON.parse(ask['llm.tools.0.tool.json_schema'])).toMatchObject({ function: { name: 'get_weather' } });
    const answer = (await attrsOf(sent.agent, rows[1].span_id)).a;
    const callId = ask['llm.output_messages.0.message.tool_calls.0.tool_call.id'];
    expect(callId).toMatch(/^call_/);
    expect(answer['llm.input_messages.1.message.tool_calls.0.tool_call.id']).toBe(callId);
    expect(answer['llm.input_messages.2.message.role']).toBe('tool');
    expect(answer['llm.input_messages.2.message.tool_call_id']).toBe(callId);

    const c = priced();
    const [runRow] = await fx.store.rows<Record<string, unknown>>(
      `SELECT root_span_kind, agent_name, session_id, service_name, llm_calls, tool_calls, agent_spans, prompt_tokens, completion_tokens,
          cache_read_tokens, cost_total, models, status FROM tracegate.agent_runs WHERE trace_id = {t:String}`,
      { t: sent.agent },
    );
    expect(runRow).toMatchObject({
      root_span_kind: 'AGENT',
      agent_name: 'weather-agent',
      session_id: 'sess-sdk-1',
      service_name: SERVICE,
      llm_calls: 2,
      tool_calls: 1,
      agent_spans: 1,
      prompt_tokens: 2 * PROMPT,
      completion_tokens: 2 * USAGE.output,
      cache_read_tokens: 2 * USAGE.cacheRead,
      models: [MODEL],
      status: 'Ok',
    });
    expect(runRow.cost_total).toBeCloseTo(2 * Number(formatUsd(c.total)), 12);
  });

  it('a streaming call: the instrumentation records no token counts (even with include_usage), so no cost', async () => {
    const [row] = await llmRows(sent.stream);
    expect(row).toMatchObject({
      model: MODEL,
      provider: 'openai',
      streaming: 1,
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
      // the model is in the price table, so the view prices it: at zero tokens
      cost_total: 0,
      cost_source: 'price_table',
      status_code: 'Unset',
      finish_reason: 'stop',
      counted: 1,
    });
    const a = (await attrsOf(sent.stream, row.span_id)).a;
    expect(a['output.value']).toBe(DEFAULT_TEXT);
    expect(Object.keys(a).filter((k) => k.startsWith('llm.token_count.') || k.startsWith('llm.cost.'))).toEqual([]);
  });

  it('a failed call (429) leaves its span unended: nothing of it is exported', async () => {
    expect(failedCallError).toMatch(/429/);
    const [{ n }] = await fx.store.rows<{ n: number }>(`SELECT count() AS n FROM tracegate.otel_traces WHERE SpanAttributes['llm.model_name'] = 'gpt-4o-mini-will-fail'`);
    expect(Number(n)).toBe(0);
  });

  it('the API key reaches neither a span nor a table', async () => {
    expect(stub.requests.every((r) => r.headers.authorization === `Bearer ${API_KEY}`)).toBe(true);
    const [{ n }] = await fx.store.rows<{ n: number }>(
      `SELECT count() AS n FROM tracegate.otel_traces
       WHERE arrayExists(v -> position(v, {k:String}) > 0, arrayConcat(mapValues(SpanAttributes), mapValues(ResourceAttributes)))`,
      { k: API_KEY },
    );
    expect(Number(n)).toBe(0);
  });
});

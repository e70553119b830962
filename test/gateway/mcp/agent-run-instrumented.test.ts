/**
 * The same agent loop as agent-run.test.ts, instrumented: an OpenTelemetry SDK with the
 * OpenInference OpenAI instrumentation, an AGENT span of the application's own, `traceparent` on
 * every HTTP request (model and MCP), and `params._meta.traceparent` on the tool call. Stored in
 * the embedded ClickHouse: one trace rooted at the application's AGENT span, the gateway's TOOL
 * span its child, no AGENT span of the gateway's, and agent_runs counting 2 LLM calls (each once,
 * though the application and the gateway both recorded them) and 1 tool call.
 */
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { node } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { refreshRollups } from '../../../schemas/rollups.js';
import { useAgentStack } from './agent-stack.js';

const fx = useAgentStack('');

let provider: node.NodeTracerProvider | undefined;
afterAll(async () => {
  await provider?.shutdown();
});

/** fetch that sends the active span's traceparent. */
const tracingFetch: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  propagation.inject(context.active(), headers, { set: (h, k, v) => h.set(k, v) });
  return fetch(input, { ...init, headers });
};

async function runAgent(): Promise<string> {
  provider = new node.NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'weather-agent-app' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: fx.collector.grpcUrl }), { scheduledDelayMillis: 20 })],
  });
  provider.register();
  const instrumentation = new OpenAIInstrumentation({ tracerProvider: provider });
  instrumentation.manuallyInstrument(OpenAI);
  const tracer = trace.getTracer('weather-agent');
  const traceId = await tracer.startActiveSpan('weather-agent', { attributes: { 'openinference.span.kind': 'AGENT', 'agent.name': 'weather-agent' } }, async (span) => {
    const openai = new OpenAI({ baseURL: `${fx.url}/v1`, apiKey: 'unused', maxRetries: 0, fetch: tracingFetch });
    const mcp = new Client({ name: 'weather-agent', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${fx.url}/mcp`), { fetch: tracingFetch }));
    const tools = (await mcp.listTools()).tools.map((t) => ({ type: 'function' as const, function: { name: t.name, parameters: t.inputSchema } }));
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Lyon?' }];
    const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
    const call = first.choices[0].message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('no tool chosen');
    const meta: Record<string, string> = {};
    propagation.inject(context.active(), meta);
    const result = await mcp.callTool({ name: call.function.name, arguments: JSON.parse(call.function.arguments), _meta: meta });
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result.content) });
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    await mcp.close();
    span.end();
    return span.spanContext().traceId;
  });
  await provider.forceFlush();
  return traceId;
}

describe('an instrumented agent through tracegate', () => {
  it("is one trace under its own AGENT span, the gateway's TOOL span inside it, counted once in agent_runs", async () => {
    const traceId = await runAgent();
    await fx.gw.flush();
    let run: Record<string, string | number> | undefined;
    for (let i = 0; i < 100 && !run; i++) {
      await fx.collector.collector.idle(10_000);
      await refreshRollups(fx.store.client, fx.store.database);
      [run] = await fx.store.rows<Record<string, string | number>>(`SELECT * FROM ${fx.store.database}.agent_runs WHERE trace_id = {t:String} AND tool_calls = 1 AND gateway_calls = 2`, {
        t: traceId,
      });
      if (!run) await new Promise((r) => setTimeout(r, 100));
    }
    expect(run).toMatchObject({ root_span_kind: 'AGENT', root_span_name: 'weather-agent', agent_name: 'weather-agent', llm_calls: 2, tool_calls: 1, agent_spans: 1, gateway_calls: 2 });
    const spans = await fx.store.rows<{ SpanName: string; SpanId: string; ParentSpanId: string; kind: string; service: string }>(
      `SELECT SpanName, SpanId, ParentSpanId, SpanAttributes['openinference.span.kind'] AS kind, ServiceName AS service FROM ${fx.store.database}.otel_traces WHERE TraceId = {t:String}`,
      { t: traceId },
    );
    const agent = spans.find((s) => s.kind === 'AGENT');
    expect(agent).toMatchObject({ SpanName: 'weather-agent', service: 'weather-agent-app', ParentSpanId: '' });
    expect(spans.find((s) => s.kind === 'TOOL')).toMatchObject({ SpanName: 'tools/call get_weather', ParentSpanId: agent?.SpanId, service: 'tracegate-gateway' });
    // The gateway's chat spans are children of the instrumentation's LLM spans.
    const appLlm = new Set(spans.filter((s) => s.kind === 'LLM' && s.service === 'weather-agent-app').map((s) => s.SpanId));
    const gwLlm = spans.filter((s) => s.kind === 'LLM' && s.service === 'tracegate-gateway');
    expect(appLlm.size).toBe(2);
    expect(gwLlm.map((s) => appLlm.has(s.ParentSpanId))).toEqual([true, true]);
    // Every MCP request carried trace context: the gateway opened no run of its own.
    const [others] = await fx.store.rows<{ n: string }>(`SELECT count() AS n FROM ${fx.store.database}.otel_traces WHERE SpanAttributes['tracegate.agent.ended_by'] != ''`);
    expect(Number(others.n)).toBe(0);
  });
});

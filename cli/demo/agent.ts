import { context, propagation, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { setSession, setUser } from '@arizeai/openinference-core';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { OI } from '../../common/semconv.js';

/**
 * A small research agent, instrumented the way an application would be: an AGENT span
 * around a retrieval step, three model calls through the gateway with the `openai` SDK
 * (instrumented by OpenInference; one streaming, one with tool calls) and two TOOL spans.
 * The W3C traceparent of each LLM span is sent to the gateway, so the gateway's spans join
 * the same trace as children of the application's LLM spans.
 */
export interface DemoAgentOptions {
  gatewayUrl: string;
  otlpGrpcUrl: string;
  model: string;
  apiKey?: string;
  serviceName?: string;
  sessionId?: string;
  userId?: string;
}

export interface DemoAgentResult {
  traceId: string;
  answer: string;
}

const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'search_flights',
      description: 'Flights between two cities on a date',
      parameters: {
        type: 'object',
        properties: { from: { type: 'string' }, to: { type: 'string' }, date: { type: 'string' } },
        required: ['from', 'to'],
      },
    },
  },
];

const DOCUMENTS = [
  { id: 'kb-17', content: 'Lisbon is mild in spring; pack a light jacket for the evenings.', score: 0.91 },
  { id: 'kb-42', content: 'Direct flights from Berlin to Lisbon take about three and a half hours.', score: 0.84 },
];

/** Injects the active context's traceparent into every request the SDK sends. */
function tracingFetch(): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    propagation.inject(context.active(), headers, { set: (h, k, v) => h.set(k, v) });
    return fetch(input, { ...init, headers });
  };
}

function runTool(name: string, args: string): string {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(args) as Record<string, unknown>;
  } catch {
    return JSON.stringify({ error: 'arguments were not valid JSON' });
  }
  if (name === 'get_weather') return JSON.stringify({ city: parsed.city ?? 'Lisbon', forecast: 'sunny', high_c: 22 });
  return JSON.stringify({ flights: [{ number: 'TG 217', departs: '09:40', arrives: '12:10' }], query: parsed });
}

async function inSpan<T>(tracer: Tracer, name: string, attrs: Record<string, string | number>, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes: attrs }, async (span) => {
    try {
      const result = await fn(span);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export async function runDemoAgent(opts: DemoAgentOptions): Promise<DemoAgentResult> {
  // sdk-node would otherwise also start metric and log exporters toward localhost:4318.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const instrumentation = new OpenAIInstrumentation();
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName ?? 'tracegate-demo-agent', [OI.PROJECT_NAME]: 'tracegate-demo' }),
    traceExporter: new OTLPTraceExporter({ url: opts.otlpGrpcUrl }),
    instrumentations: [instrumentation],
    autoDetectResources: false,
  });
  sdk.start();
  // Under ESM the instrumentation patches nothing by itself.
  instrumentation.manuallyInstrument(OpenAI);
  const client = new OpenAI({ baseURL: `${opts.gatewayUrl}/v1`, apiKey: opts.apiKey ?? 'demo-key', fetch: tracingFetch(), maxRetries: 0 });
  const tracer = trace.getTracer('tracegate-demo');
  const question = 'Plan a spring weekend in Lisbon from Berlin: weather and a flight.';
  let ctx = setSession(context.active(), { sessionId: opts.sessionId ?? `demo-session-${Date.now().toString(36)}` });
  ctx = setUser(ctx, { userId: opts.userId ?? 'demo-user' });
  try {
    return await context.with(ctx, () =>
      inSpan(tracer, 'research-agent', { [OI.SPAN_KIND]: 'AGENT', [OI.AGENT_NAME]: 'research-agent', [OI.INPUT_VALUE]: question }, async (agent) => {
        const traceId = agent.spanContext().traceId;
        const docs = await inSpan(tracer, 'retrieve-travel-notes', { [OI.SPAN_KIND]: 'RETRIEVER', [OI.INPUT_VALUE]: question }, async (span) => {
          DOCUMENTS.forEach((d, i) => {
            span.setAttribute(`retrieval.documents.${i}.document.id`, d.id);
            span.setAttribute(`retrieval.documents.${i}.document.content`, d.content);
            span.setAttribute(`retrieval.documents.${i}.document.score`, d.score);
          });
          return DOCUMENTS;
        });
        const messages: ChatCompletionMessageParam[] = [
          { role: 'system', content: `You are a travel agent. Notes:\n${docs.map((d) => `- ${d.content}`).join('\n')}` },
          { role: 'user', content: question },
        ];
        // Call 1: the model asks for tools.
        const first = await client.chat.completions.create({ model: opts.model, messages, tools: TOOLS, parallel_tool_calls: true });
        const calls = first.choices[0]?.message.tool_calls ?? [];
        messages.push(first.choices[0].message);
        for (const call of calls) {
          if (call.type !== 'function') continue;
          const output = await inSpan(
            tracer,
            call.function.name,
            { [OI.SPAN_KIND]: 'TOOL', [OI.TOOL_NAME]: call.function.name, [OI.TOOL_PARAMETERS]: call.function.arguments, [OI.INPUT_VALUE]: call.function.arguments },
            async (span) => {
              const out = runTool(call.function.name, call.function.arguments);
              span.setAttribute(OI.OUTPUT_VALUE, out);
              return out;
            },
          );
          messages.push({ role: 'tool', tool_call_id: call.id, content: output });
        }
        // Call 2: the model reads the tool results.
        const second = await client.chat.completions.create({ model: opts.model, messages });
        const draft = second.choices[0]?.message.content ?? '';
        // Call 3: a streamed summary.
        const stream = await client.chat.completions.create({
          model: opts.model,
          stream: true,
          messages: [
            { role: 'system', content: 'Summarize the plan in two sentences.' },
            { role: 'user', content: draft },
          ],
        });
        let answer = '';
        for await (const chunk of stream) answer += chunk.choices[0]?.delta?.content ?? '';
        agent.setAttribute(OI.OUTPUT_VALUE, answer);
        return { traceId, answer };
      }),
    );
  } finally {
    await sdk.shutdown();
  }
}

/**
 * The gateway's own spans (telemetry/spans): a call's span and its attempt spans, written straight
 * into OTLP protobuf by the OTLP processor's sink, decode field for field like the official
 * serializer's encoding of the same spans (which reads the materialized `attributes`), for calls
 * of every shape; traceparent parsing and sampling; re-creation through an SDK TracerProvider.
 */
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../../gateway/config/model.js';
import { Abort } from '../../gateway/proxy/abort.js';
import type { CallInput, CallOutcome, CallResult } from '../../gateway/proxy/types.js';
import { CallTelemetry } from '../../gateway/telemetry/call.js';
import { buildMetrics } from '../../gateway/telemetry/metrics.js';
import { encodeTraceRequest } from '../../gateway/telemetry/otlp/encode.js';
import { ProtoWriter } from '../../common/protobuf/writer.js';
import { TracerReplayProcessor } from '../../gateway/telemetry/spans/replay.js';
import { MAX_VALUE_CHARS, type Capture } from '../../gateway/telemetry/spans/sink.js';
import { GatewaySpan } from '../../gateway/telemetry/spans/span.js';
import { parseTraceparent } from '../../common/trace-context.js';
import { GatewayTracer } from '../../gateway/telemetry/spans/tracer.js';
import { gatewayResource } from '../../gateway/telemetry/tracing.js';
import { decode } from '../collector/otlp-proto.js';
import { backendDoc, config, docs } from './helpers.js';

const CFG: GatewayConfig = config(
  docs(
    backendDoc('up', 'openai', 'http://127.0.0.1:9/v1'),
    backendDoc('claude', 'anthropic', 'http://127.0.0.1:9'),
    'kind: Route\nmetadata: { name: main }\nspec:\n  rules:\n    - matches: [{ model: "*" }]\n      targets: [{ backend: up }]',
  ),
);
const RULE = CFG.routes[0].rules[0];
const UNICODE = 'héllo wörld — 日本語 🚀';
const LONG = 'long text '.repeat(30); // > 127 bytes: two-byte lengths
const HUGE = 'x'.repeat(20_000); // > 16 KiB: three-byte lengths
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function collect(): { processor: SpanProcessor; spans: ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  return { spans, processor: { onStart() {}, onEnd: (s) => void spans.push(s), forceFlush: async () => {}, shutdown: async () => {} } };
}

interface CallCase {
  name: string;
  endpoint?: CallInput['endpoint'];
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  capture?: Capture;
  result: CallResult;
  backend?: string;
  attempts?: number;
  output?: string;
}

const OK_FACTS = {
  id: 'chatcmpl-1',
  responseModel: 'gpt-4o-2024-08-06',
  finishReasons: ['stop', 'length'],
  usage: { promptTokens: 230, completionTokens: 7, totalTokens: 237, cacheReadTokens: 100, cacheWriteTokens: 20, reasoningTokens: 3 },
  outputText: `answer ${UNICODE}`,
};
const json = (facts = OK_FACTS, body = '{"id":"chatcmpl-1"}'): CallResult => ({ ok: true, kind: 'json', status: 200, body, facts });

const CASES: CallCase[] = [
  {
    name: 'chat with every message shape, tools, unicode and long texts',
    body: {
      model: 'gpt-4o',
      temperature: 0.7,
      top_p: 1,
      max_tokens: 2 ** 40,
      user: 'body-user',
      messages: [
        { role: 'system', content: LONG },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: UNICODE }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }, { type: 'input_audio' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, 'junk'] },
        { role: 'tool', tool_call_id: 'call_1', content: HUGE },
        'not a message',
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    },
    headers: { traceparent: TRACEPARENT, tracestate: 'vendor=v1', 'x-session-id': 'sess-1' },
    result: json({ ...OK_FACTS, toolCalls: [{ id: 'call_2', name: 'lookup', arguments: `{"q":"${UNICODE}"}` }] } as typeof OK_FACTS, `{"choices":[${JSON.stringify(UNICODE)}]}`),
    output: `{"choices":[${JSON.stringify(UNICODE)}]}`,
  },
  {
    name: 'Anthropic messages with a system list, tool use and tool results',
    endpoint: 'messages',
    backend: 'claude',
    body: {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      metadata: { user_id: 'meta-user' },
      system: [{ type: 'text', text: 'be brief' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: 'sunny' }] },
            { type: 'tool_result', tool_use_id: 'tu_2', content: 'second' },
          ],
        },
        {
          role: 'assistant',
          tool_call_id: 'own',
          content: [
            { type: 'tool_use', id: 'tu_3', name: 'a', input: {} },
            { type: 'tool_result', tool_use_id: 'tu_4', content: 'r' },
          ],
          tool_calls: [{ id: 'call_9', function: { name: 'b', arguments: '{}' } }],
        },
      ],
    },
    result: json({
      id: 'msg_1',
      responseModel: 'claude-sonnet-4-5',
      finishReasons: ['end_turn'],
      usage: { promptTokens: 10, completionTokens: 2, totalTokens: 12 },
      outputText: 'Sunny.',
    } as typeof OK_FACTS),
    output: '{"type":"message"}',
  },
  {
    name: 'stream with time to first token, cut short by the client',
    body: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    result: {
      ok: true,
      kind: 'stream',
      facts: { responseModel: 'gpt-4o-mini', outputText: 'Hel', usage: { promptTokens: 5, completionTokens: 1, totalTokens: 6 } },
      ttftMs: 12.3456,
      cutShort: { status: 499, body: { error: { message: 'gone', type: 'x', param: null, code: null } }, message: 'the client closed the request', retryable: false },
    },
  },
  {
    name: 'failed call after retries and a fallback',
    body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
    result: {
      ok: false,
      cause: 'status',
      status: 502,
      error: {
        status: 502,
        body: { error: { message: 'every attempt failed', type: 'api_error', param: null, code: 'upstream_failed' } },
        message: `every attempt failed: ${UNICODE}`,
        retryable: false,
      },
    },
    attempts: 3,
  },
  {
    name: 'embeddings of a list',
    endpoint: 'embeddings',
    body: { model: 'text-embedding-3-small', input: ['first', UNICODE, 7], dimensions: 256 },
    result: json({ responseModel: 'text-embedding-3-small', usage: { promptTokens: 9, completionTokens: 0, totalTokens: 9 } } as typeof OK_FACTS, '{"data":[]}'),
    output: '{"data":[]}',
  },
  {
    name: 'truncated content (multi-byte characters cut)',
    capture: { mode: 'truncate', maxBytes: 8 },
    body: { model: 'gpt-4o', messages: [{ role: 'user', content: UNICODE }] },
    result: json(),
    output: '{"id":"chatcmpl-1","object":"chat.completion"}',
  },
  {
    name: 'content capture off',
    capture: { mode: 'off', maxBytes: 0 },
    body: { model: 'gpt-4o', temperature: 1, messages: [{ role: 'user', content: 'secret prompt' }] },
    result: json(),
    output: '{"id":"chatcmpl-1"}',
  },
];

/**
 * Runs one call's telemetry to the end; returns the spans in the order they ended. Every attempt
 * has its span unless `attemptSpans` is `retried` (the gateway's default), so that the encodings
 * below cover both kinds of span.
 */
function run(c: CallCase, attemptSpans: 'retried' | 'always' = 'always'): ReadableSpan[] {
  const { processor, spans } = collect();
  const tracer = new GatewayTracer({ processor, resource: gatewayResource('gw-test'), callOnStart: false });
  const capture = c.capture ?? { mode: 'on', maxBytes: 0 };
  const tel = new CallTelemetry(
    { tracer, capture, metrics: buildMetrics(() => []), headers: CFG.gateway.headers, attemptSpans },
    {
      endpoint: c.endpoint ?? 'chat',
      clientBody: c.body,
      rawBody: JSON.stringify(c.body),
      clientHeaders: c.headers ?? {},
      rule: RULE,
      model: c.body.model as string,
      stream: c.body.stream === true,
      startedAt: performance.now(),
      clientGone: new Abort(),
    },
    CFG.backends,
  );
  const backend = CFG.backends.get(c.backend ?? 'up')!;
  const attempts = c.attempts ?? 1;
  for (let i = 0; i < attempts; i++)
    tel.observe(
      backend,
      c.body.model as string,
      i,
      i > 1,
    )(
      i < attempts - 1
        ? { ok: false, cause: 'timeout', error: { status: 504, body: { error: { message: 't', type: 'api_error', param: null, code: null } }, message: 'timed out', retryable: true } }
        : c.result,
    );
  const outcome: CallOutcome = { result: c.result, path: { attempts, fallbackUsed: attempts > 2, skipped: attempts > 1 ? ['other'] : [], backend: backend.name, model: c.body.model as string } };
  tel.finish(outcome, c.result.ok ? 200 : c.result.error.status, c.output);
  return spans;
}

type Obj = Record<string, unknown>;
const normalize = (req: Obj): Obj => {
  for (const rs of req.resource_spans as Obj[]) for (const ss of rs.scope_spans as Obj[]) for (const s of ss.spans as Obj[]) s.status ??= { message: '', code: 0 };
  return req;
};
const official = (spans: ReadableSpan[]) => normalize(decode('ExportTraceServiceRequest', ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array));
const ours = (spans: ReadableSpan[], w?: ProtoWriter) => normalize(decode('ExportTraceServiceRequest', encodeTraceRequest(spans, w)));

describe('gateway spans in OTLP', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: the direct encoding decodes like the official one', (_n, c) => {
    const spans = run(c);
    expect(spans.length).toBe((c.attempts ?? 1) + 1);
    const decoded = ours(spans);
    expect(decoded).toEqual(official(spans));
    // An attribute map holds a key once; the direct encoding must not repeat one either.
    for (const rs of decoded.resource_spans as Obj[]) {
      for (const ss of rs.scope_spans as Obj[]) {
        for (const span of ss.spans as Obj[]) {
          const keys = (span.attributes as Obj[]).map((a) => a.key);
          expect(new Set(keys).size).toBe(keys.length);
        }
      }
    }
    // Into a tiny reused writer too: every length prefix that grows moves its message.
    const w = new ProtoWriter(16);
    expect(ours(spans, w)).toEqual(official(spans));
    expect(ours(spans, w)).toEqual(official(spans));
  });

  it('writes repeated values from the kept entries exactly as the first time', () => {
    const first = ours(run(CASES[0]));
    const again = ours(run(CASES[0]));
    const attrs = (r: Obj) => (((r.resource_spans as Obj[])[0].scope_spans as Obj[])[0].spans as Obj[]).map((s) => s.attributes);
    expect(attrs(again)).toEqual(attrs(first));
  });

  it('the call span carries what the call learned; attempts are its children', () => {
    const spans = run(CASES[3]);
    const call = spans.at(-1)!;
    expect(call).toBeInstanceOf(GatewaySpan);
    expect(call.name).toBe('chat gpt-4o');
    expect(call.kind).toBe(SpanKind.SERVER);
    expect(call.status).toEqual({ code: SpanStatusCode.ERROR, message: `every attempt failed: ${UNICODE}` });
    expect(call.attributes).toMatchObject({ 'tracegate.attempts': 3, 'tracegate.retries': 2, 'tracegate.circuit.skipped': 'other', 'error.type': '502', 'llm.model_name': 'gpt-4o' });
    for (const a of spans.slice(0, -1)) {
      expect(a.kind).toBe(SpanKind.CLIENT);
      expect(a.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
      expect(a.spanContext().traceId).toBe(call.spanContext().traceId);
      expect(a.attributes['openinference.span.kind']).toBeUndefined();
    }
    expect(spans[0].attributes).toMatchObject({ 'error.type': 'timeout', 'tracegate.retries': 0 });
    expect(call.endTime[0] * 1e9 + call.endTime[1]).toBeGreaterThanOrEqual(call.startTime[0] * 1e9 + call.startTime[1]);
  });

  it('by default a call answered by its first attempt is one span; a call with more attempts has a span for each, the first timed from its own start', () => {
    const one = run(CASES[0], 'retried');
    expect(one.map((s) => s.kind)).toEqual([SpanKind.SERVER]);
    expect(one[0].attributes).toMatchObject({ 'tracegate.backend': 'up', 'server.address': new URL(CFG.backends.get('up')!.url).host, 'tracegate.attempts': 1 });
    const three = run(CASES[3], 'retried');
    expect(three.map((s) => s.kind)).toEqual([SpanKind.CLIENT, SpanKind.CLIENT, SpanKind.CLIENT, SpanKind.SERVER]);
    expect(three.map((s) => s.attributes['tracegate.retries'])).toEqual([0, 1, 2, 2]);
    const call = three[3];
    const ns = (t: [number, number]) => t[0] * 1e9 + t[1];
    for (const a of three.slice(0, 3)) {
      expect(a.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
      expect(ns(a.startTime)).toBeGreaterThanOrEqual(ns(call.startTime));
      expect(ns(a.endTime)).toBeGreaterThanOrEqual(ns(a.startTime));
    }
    expect(ns(three[0].endTime)).toBeLessThanOrEqual(ns(three[1].startTime));
  });

  it('continues the caller trace: parent, trace state, remote flag', () => {
    const call = run(CASES[0]).at(-1)!;
    expect(call.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(call.parentSpanContext).toMatchObject({ spanId: '00f067aa0ba902b7', isRemote: true });
    expect(call.spanContext().traceState?.serialize()).toBe('vendor=v1');
  });

  it('a gateway span someone set attributes on is encoded from the merged map', () => {
    const spans = run(CASES[2]);
    const { processor, spans: more } = collect();
    const tracer = new GatewayTracer({ processor, resource: gatewayResource('gw-test') });
    const s = tracer.start('chat m', SpanKind.SERVER, undefined, performance.now(), (spans.at(-1) as GatewaySpan).source, { mode: 'on', maxBytes: 0 })!;
    s.setAttribute('tracegate.route', 'overridden');
    s.setAttribute('extra.key', 7);
    s.addEvent('marker', { n: 1 });
    s.recordException(new Error('boom'));
    s.end();
    expect(more[0].attributes).toMatchObject({ 'tracegate.route': 'overridden', 'extra.key': 7, 'llm.model_name': 'gpt-4o-mini' });
    expect(ours(more)).toEqual(official(more));
  });

  it('Anthropic tool results: the first one in a message, tool calls numbered after tool_use blocks', () => {
    const a = run(CASES[1]).at(-1)!.attributes;
    expect(a).toMatchObject({
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.contents.0.message_content.text': 'be brief',
      'llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments': '{"city":"Paris"}',
      'llm.input_messages.3.message.tool_call_id': 'tu_1',
      'llm.input_messages.3.message.content': '[{"type":"text","text":"sunny"}]',
      'llm.input_messages.4.message.tool_call_id': 'own',
      'llm.input_messages.4.message.content': 'r',
      'llm.input_messages.4.message.tool_calls.0.tool_call.id': 'tu_3',
      'llm.input_messages.4.message.tool_calls.1.tool_call.id': 'call_9',
      'user.id': 'meta-user',
    });
  });

  it.each([
    ['on', { mode: 'on', maxBytes: 0 }],
    ['truncate with a budget past the cap', { mode: 'truncate', maxBytes: 1 << 30 }],
  ] as const)('capture %s: values past MAX_VALUE_CHARS are cut, not inside a surrogate pair, and listed', (_n, capture) => {
    // 'a' then pairs: the cut point falls after a high surrogate.
    const long = `a${'😀'.repeat(MAX_VALUE_CHARS / 2 + 100)}`;
    const body = { model: 'gpt-4o', extra: long, messages: [{ role: 'user', content: long }] };
    const spans = run({ name: 'long', capture, body, result: json({ ...OK_FACTS, outputText: long }), output: JSON.stringify({ text: long }) });
    const a = spans.at(-1)!.attributes;
    const cut = ['input.value', 'llm.invocation_parameters', 'llm.input_messages.0.message.content', 'output.value', 'llm.output_messages.0.message.content'];
    for (const k of cut) expect((a[k] as string).length, k).toBeLessThanOrEqual(MAX_VALUE_CHARS);
    expect(a['llm.input_messages.0.message.content']).toBe(long.slice(0, MAX_VALUE_CHARS - 1));
    expect(String(a['tracegate.truncated']).split(',').sort()).toEqual([...cut].sort());
    expect(ours(spans)).toEqual(official(spans));
  });

  it('values at MAX_VALUE_CHARS are kept whole and not listed', () => {
    const text = 'x'.repeat(MAX_VALUE_CHARS);
    const a = run({ name: 'at the cap', body: { model: 'gpt-4o', messages: [{ role: 'user', content: text }] }, result: json({ ...OK_FACTS, outputText: text }) }).at(-1)!.attributes;
    expect(a['llm.input_messages.0.message.content']).toBe(text);
    expect(a['llm.output_messages.0.message.content']).toBe(text);
    expect(String(a['tracegate.truncated'])).toBe('input.value');
  });

  it('truncation lists the cut keys', () => {
    const a = run(CASES[5]).at(-1)!.attributes;
    expect(a['llm.input_messages.0.message.content']).toBe('héllo w');
    expect(String(a['tracegate.truncated']).split(',')).toEqual(['input.value', 'llm.input_messages.0.message.content', 'output.value', 'llm.output_messages.0.message.content']);
  });
});

describe('traceparent', () => {
  it.each([
    ['valid, sampled', TRACEPARENT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }],
    ['valid, not sampled', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', { traceFlags: 0 }],
    ['a future version with more fields', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever', { traceFlags: 1 }],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', undefined],
    ['version 00 with more fields', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x', undefined],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', undefined],
    ['all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', undefined],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', undefined],
    ['short', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01', undefined],
    ['garbage', 'hello', undefined],
  ])('%s', (_n, header, want) => {
    const ctx = parseTraceparent({ traceparent: header });
    if (want === undefined) expect(ctx).toBeUndefined();
    else expect(ctx).toMatchObject({ ...want, isRemote: true });
  });

  it('takes the first of repeated headers, and joins repeated tracestate', () => {
    const ctx = parseTraceparent({ traceparent: [TRACEPARENT, 'garbage'], tracestate: ['a=1', 'b=2'] });
    expect(ctx?.spanId).toBe('00f067aa0ba902b7');
    expect(ctx?.traceState?.serialize()).toBe('a=1,b=2');
  });

  it('records nothing under a caller that did not sample (ParentBased)', () => {
    const { processor, spans } = collect();
    const tracer = new GatewayTracer({ processor, resource: gatewayResource('x') });
    const parent = parseTraceparent({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    expect(tracer.start('chat m', SpanKind.SERVER, parent, performance.now(), undefined, { mode: 'on', maxBytes: 0 })).toBeUndefined();
    const root = tracer.start('chat m', SpanKind.SERVER, undefined, performance.now(), undefined, { mode: 'on', maxBytes: 0 })!;
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    root.end();
    root.end();
    expect(spans).toHaveLength(1);
  });
});

describe('through an SDK TracerProvider', () => {
  it('re-creates the call span and its attempts with the same names, times, attributes and tree', () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    const replay = new TracerReplayProcessor(provider.getTracer('tracegate-gateway'));
    const original = run(CASES[3]);
    for (const s of original) replay.onEnd(s);
    const got = memory.getFinishedSpans();
    expect(got.map((s) => s.name).sort()).toEqual(original.map((s) => s.name).sort());
    const call = got.find((s) => s.kind === SpanKind.SERVER)!;
    const orig = original.at(-1)!;
    expect(call.attributes).toEqual(orig.attributes);
    expect(call.startTime).toEqual(orig.startTime);
    expect(call.status).toEqual(orig.status);
    expect(call.parentSpanContext?.spanId).toBeUndefined();
    for (const a of got.filter((s) => s.kind === SpanKind.CLIENT)) expect(a.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
  });

  it('keeps the caller as parent of the call span', () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    const replay = new TracerReplayProcessor(provider.getTracer('t'));
    for (const s of run(CASES[0])) replay.onEnd(s);
    const call = memory.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(call.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(call.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });
});

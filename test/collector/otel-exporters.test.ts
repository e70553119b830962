import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { useCollector } from './helpers.js';

const fx = useCollector();

const KINDS = ['Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const STATUS = ['Unset', 'Ok', 'Error'];
const ns = (t: HrTime) => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
const str = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v));
const strAttrs = (a: Record<string, unknown>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, str(v)]));

/** Makes a small trace covering every attribute type, kinds, events, links and statuses. */
function emit(provider: BasicTracerProvider, tag: string): void {
  const tracer = provider.getTracer(`scope-${tag}`, '1.2.3');
  const linked = tracer.startSpan('linked');
  linked.end();
  {
    const root = tracer.startSpan('root', { kind: SpanKind.SERVER, attributes: { 'http.route': '/x', 'n.int': 42, 'n.double': 2.5, 'n.bool': true } });
    const child = tracer.startSpan(
      'child',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'arr.str': ['a', 'b'], 'arr.int': [1, 2, 3], unicode: "héllo ✓ \t tab\nnewline 'quote'", big: 9007199254740991 },
        links: [{ context: linked.spanContext(), attributes: { 'link.kind': 'follows' } }],
      },
      trace.setSpan(ROOT_CONTEXT, root),
    );
    child.addEvent('retry', { attempt: 2, reason: 'timeout' });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed' });
    child.end();
    root.setStatus({ code: SpanStatusCode.OK });
    root.end();
  }
  for (const kind of [SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL]) tracer.startSpan(`kind-${kind}`, { kind }).end();
}

interface Row {
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ScopeName: string;
  ScopeVersion: string;
  ts: string;
  Duration: string;
  StatusCode: string;
  StatusMessage: string;
  SpanAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
  ev_ts: string[];
  'Events.Name': string[];
  'Events.Attributes': Record<string, string>[];
  'Links.TraceId': string[];
  'Links.SpanId': string[];
  'Links.Attributes': Record<string, string>[];
}

async function sendAndRead(tag: string, exporter: SpanExporter): Promise<{ sent: ReadableSpan[]; rows: Map<string, Row> }> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `svc-${tag}`, 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(memory), new BatchSpanProcessor(exporter, { scheduledDelayMillis: 10 })],
  });
  emit(provider, tag);
  await provider.forceFlush();
  const sent = memory.getFinishedSpans();
  await provider.shutdown();
  expect(await fx.run.collector.idle()).toBe(true);
  const rows = await fx.store.rows<Row>(
    `SELECT *, toString(toUnixTimestamp64Nano(Timestamp)) AS ts, arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS ev_ts
     FROM tracegate.otel_traces WHERE ServiceName = {svc:String}`,
    { svc: `svc-${tag}` },
  );
  return { sent, rows: new Map(rows.map((r) => [r.SpanId, r])) };
}

function expectRowMatches(span: ReadableSpan, row: Row | undefined, tag: string): void {
  expect(row, `row for span ${span.name}`).toBeDefined();
  const r = row!;
  expect(r.TraceId).toBe(span.spanContext().traceId);
  expect(r.ParentSpanId).toBe(span.parentSpanContext?.spanId ?? '');
  expect(r.SpanName).toBe(span.name);
  expect(r.SpanKind).toBe(KINDS[span.kind]);
  expect(r.ServiceName).toBe(`svc-${tag}`);
  expect(r.ResourceAttributes).toMatchObject(strAttrs(span.resource.attributes));
  expect(r.ScopeName).toBe(`scope-${tag}`);
  expect(r.ScopeVersion).toBe('1.2.3');
  expect(r.ts).toBe(ns(span.startTime));
  expect(BigInt(r.Duration)).toBe(BigInt(ns(span.endTime)) - BigInt(ns(span.startTime)));
  expect(r.StatusCode).toBe(STATUS[span.status.code]);
  expect(r.StatusMessage).toBe(span.status.message ?? '');
  expect(r.SpanAttributes).toEqual(strAttrs(span.attributes));
  expect(r['Events.Name']).toEqual(span.events.map((e) => e.name));
  expect(r.ev_ts).toEqual(span.events.map((e) => ns(e.time)));
  expect(r['Events.Attributes']).toEqual(span.events.map((e) => strAttrs(e.attributes ?? {})));
  expect(r['Links.TraceId']).toEqual(span.links.map((l) => l.context.traceId));
  expect(r['Links.SpanId']).toEqual(span.links.map((l) => l.context.spanId));
  expect(r['Links.Attributes']).toEqual(span.links.map((l) => strAttrs(l.attributes ?? {})));
}

describe('the OpenTelemetry JS exporters into a running collector', () => {
  const cases: Array<[string, () => SpanExporter]> = [
    ['grpc', () => new GrpcExporter({ url: fx.run.grpcUrl })],
    ['http-json', () => new HttpJsonExporter({ url: `${fx.run.httpUrl}/v1/traces` })],
    ['http-proto', () => new HttpProtoExporter({ url: `${fx.run.httpUrl}/v1/traces` })],
    ['grpc-gzip', () => new GrpcExporter({ url: fx.run.grpcUrl, compression: 'gzip' as never })],
    ['http-proto-gzip', () => new HttpProtoExporter({ url: `${fx.run.httpUrl}/v1/traces`, compression: 'gzip' as never })],
  ];
  it.each(cases)('%s: every span lands, attribute by attribute, ids and timestamps included', async (tag, make) => {
    const { sent, rows } = await sendAndRead(tag, make());
    expect(sent.length).toBe(6);
    expect(rows.size).toBe(sent.length);
    for (const span of sent) expectRowMatches(span, rows.get(span.spanContext().spanId), tag);
  });
});

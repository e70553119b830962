/**
 * The gateway's OTLP span encoder against the official one (`ProtobufTraceSerializer` of
 * @opentelemetry/otlp-transformer): both outputs decoded with protobufjs definitions written from
 * the OTLP specification (test/collector/otlp-proto.ts) and compared field by field, for real SDK
 * spans of every shape; then the span processor over real gRPC (the receiver's answers decoded by
 * the official ProtobufTraceSerializer).
 */
import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Link, type SpanOptions } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTraceRequest, groupSpans, requestFraming, spanEntry } from '../../gateway/telemetry/otlp/encode.js';
import { TRACE_EXPORT_PATH } from '../../gateway/telemetry/otlp/delegate.js';
import { OtlpGrpcSpanProcessor } from '../../gateway/telemetry/otlp/processor.js';
import { ProtoWriter } from '../../common/protobuf/writer.js';
import { ExactBuffers } from '../../gateway/telemetry/otlp/buffers.js';
import { decode } from '../collector/otlp-proto.js';

const LONG = 'long value '.repeat(20); // > 127 bytes: two-byte length prefixes
const HUGE = 'x'.repeat(20_000); // > 16 KiB: three-byte length prefixes, enclosing messages move
const UNICODE = 'héllo wörld — 日本語 🚀 Ωμέγα';

const ATTRS: Attributes = {
  'str.empty': '',
  'str.ascii': 'gpt-4o-mini',
  'str.long': LONG,
  'str.huge': HUGE,
  'str.unicode': UNICODE,
  'str.unicode.long': UNICODE.repeat(10),
  'str.lone.surrogate': 'a\ud800b',
  'bool.true': true,
  'bool.false': false,
  'int.zero': 0,
  'int.small': 42,
  'int.negative': -1,
  'int.2^31': 2 ** 31,
  'int.2^32': 2 ** 32,
  'int.max.safe': Number.MAX_SAFE_INTEGER,
  'int.min.safe': Number.MIN_SAFE_INTEGER,
  'int.2^62': 2 ** 62,
  'int.-2^63': -(2 ** 63),
  'double.half': 0.5,
  'double.negative': -1.25,
  'double.tiny': 5e-324,
  'double.2^63': 2 ** 63,
  'double.infinity': Infinity,
  'arr.str': ['a', UNICODE, ''],
  'arr.bool': [true, false],
  'arr.int': [1, -2, 3_000_000_000],
  'arr.double': [0.25, -0.5],
  'arr.empty': [],
  'arr.with.null': ['a', null, 'b'],
  'ключ.unicode.key': 'v',
};

interface Case {
  name: string;
  options?: SpanOptions;
  /** Parent span context (remote when `remote`). */
  parent?: { traceId: string; spanId: string; remote: boolean; state?: string };
  build?: (span: ReturnType<ReturnType<BasicTracerProvider['getTracer']>['startSpan']>) => void;
  end?: [number, number];
}

const LINK: Link = {
  context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: new TraceState('vendor=v1,other=x') },
  attributes: { 'link.kind': 'follows', 'link.n': 3 },
};

const CASES: Case[] = [
  { name: 'every attribute type', options: { kind: SpanKind.SERVER, attributes: ATTRS } },
  { name: 'no attributes, internal', options: { kind: SpanKind.INTERNAL } },
  { name: 'client, error status with unicode message', options: { kind: SpanKind.CLIENT }, build: (s) => s.setStatus({ code: SpanStatusCode.ERROR, message: `upstream failed: ${UNICODE}` }) },
  { name: 'ok status without message', options: { kind: SpanKind.PRODUCER }, build: (s) => s.setStatus({ code: SpanStatusCode.OK }) },
  {
    name: 'consumer with events',
    options: { kind: SpanKind.CONSUMER },
    build: (s) => {
      s.addEvent('first token', { 'ttft.ms': 12.5, text: UNICODE });
      s.addEvent('no attributes');
      s.addEvent('at a time', { n: 1 }, [1_700_000_000, 999_999_999]);
      s.recordException(new Error('boom'));
    },
  },
  { name: 'links', options: { links: [LINK, { context: { traceId: 'aa92f3577b34da6a3ce929d0e0e47361', spanId: 'b0f067aa0ba902b7', traceFlags: TraceFlags.NONE } }] } },
  { name: 'remote parent with trace state', parent: { traceId: 'aa92f3577b34da6a3ce929d0e0e47361', spanId: 'b0f067aa0ba902b7', remote: true, state: 'tg=1' } },
  { name: 'local parent', parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', remote: false } },
  { name: 'explicit large times', options: { startTime: [1_700_000_000, 123] }, end: [4_000_000_000, 999_999_999] },
  { name: 'epoch start', options: { startTime: [0, 1] }, end: [0, 2] },
  {
    name: 'dropped attributes, events and links',
    options: { attributes: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i])), links: [LINK, LINK, LINK] },
    build: (s) => {
      for (let i = 0; i < 5; i++) s.addEvent(`e${i}`, Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`a${j}`, j])));
    },
  },
];

/** Spans from two providers (two resources) and three tracers (scopes), one of each case per scope. */
function makeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const limits = { attributeCountLimit: 40, eventCountLimit: 4, linkCountLimit: 2, attributePerEventCountLimit: 8, attributePerLinkCountLimit: 8 };
  const providers = [
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'gw', 'service.namespace': 'tracegate', 'host.cpus': 2 }),
      spanLimits: limits,
      spanProcessors: [new SimpleSpanProcessor(memory)],
    }),
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'ünïcode-svc', 'deployment.environment': 'test' }),
      spanLimits: limits,
      spanProcessors: [new SimpleSpanProcessor(memory)],
    }),
  ];
  const tracers = [providers[0].getTracer('tracegate-gateway'), providers[0].getTracer('other-scope', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }), providers[1].getTracer('')];
  for (const tracer of tracers) {
    for (const c of CASES) {
      const ctx = c.parent
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: c.parent.traceId,
            spanId: c.parent.spanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: c.parent.remote,
            traceState: c.parent.state ? new TraceState(c.parent.state) : undefined,
          })
        : ROOT_CONTEXT;
      const span = tracer.startSpan(c.name, c.options, ctx);
      c.build?.(span);
      span.end(c.end);
    }
  }
  return memory.getFinishedSpans();
}

type Obj = Record<string, unknown>;

/** An unset status and a status with code 0 are the same to a reader. */
function normalize(req: Obj): Obj {
  for (const rs of req.resource_spans as Obj[]) {
    for (const ss of rs.scope_spans as Obj[]) {
      for (const s of ss.spans as Obj[]) s.status ??= { message: '', code: 0 };
    }
  }
  return req;
}

const official = (spans: ReadableSpan[]) => normalize(decode('ExportTraceServiceRequest', ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array));
const ours = (spans: ReadableSpan[], w?: ProtoWriter) => normalize(decode('ExportTraceServiceRequest', encodeTraceRequest(spans, w)));

describe('OTLP span encoder', () => {
  const spans = makeSpans();

  it('groups spans by resource and scope as the official serializer does', () => {
    const req = ours(spans);
    const rs = req.resource_spans as Obj[];
    expect(rs).toHaveLength(2);
    expect((rs[0].scope_spans as Obj[]).map((s) => (s.scope as Obj).name)).toEqual(['tracegate-gateway', 'other-scope']);
    expect((rs[1].scope_spans as Obj[]).map((s) => (s.spans as Obj[]).length)).toEqual([CASES.length]);
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: decodes field for field like the official encoding', (_name, i) => {
    const some = spans.filter((_s, j) => j % CASES.length === i);
    expect(ours(some)).toEqual(official(some));
  });

  it('encodes the whole set (all resources and scopes at once) identically, and again into a reused writer', () => {
    const w = new ProtoWriter(64); // tiny: grows while writing
    expect(ours(spans, w)).toEqual(official(spans));
    expect(ours(spans.slice(3), w)).toEqual(official(spans.slice(3)));
  });

  it('request framing around one group of entries gives the same bytes as writing the request whole', () => {
    const groups = groupSpans(spans);
    const big = (n: number) => Array.from({ length: n }, () => spans).flat(); // entries past 2^14 bytes: three-byte lengths
    for (const [resource, scopes] of groups) {
      for (const [scope, list] of scopes) {
        for (const some of [list, big(40).filter((s) => s.instrumentationScope === scope && s.resource === resource)]) {
          const entries = new ProtoWriter();
          for (const s of some) spanEntry(entries, s);
          const { head, tail } = requestFraming(resource, scope, entries.pos);
          const framed = Buffer.concat([head, entries.buf.subarray(0, entries.pos), tail]);
          expect(framed.equals(Buffer.from(encodeTraceRequest(some)))).toBe(true);
        }
      }
    }
    const withSchemas = { attributes: { 'service.name': 'x' }, schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' };
    const scope = { name: 's', version: '1', schemaUrl: 'https://example.com/s' };
    const fake = spans.slice(0, 3).map((s) => Object.assign(Object.create(Object.getPrototypeOf(s) as object), s, { resource: withSchemas, instrumentationScope: scope }) as ReadableSpan);
    const entries = new ProtoWriter();
    for (const s of fake) spanEntry(entries, s);
    const { head, tail } = requestFraming(withSchemas, scope, entries.pos);
    expect(Buffer.concat([head, entries.buf.subarray(0, entries.pos), tail]).equals(Buffer.from(encodeTraceRequest(fake)))).toBe(true);
  });

  it('exact buffers hold exactly the bytes given, are reused once released, and copy what is past their bound', () => {
    const pool = new ExactBuffers(64, 1);
    const w = new ProtoWriter(16);
    w.string('x'.repeat(40));
    const ab = pool.take(w.buf, w.pos);
    expect(ab.byteLength).toBe(41);
    expect(Buffer.from(ab).toString('latin1', 1)).toBe('x'.repeat(40));
    pool.release(ab);
    const again = pool.take(Buffer.from([7]), 1);
    expect(again).toBe(ab); // the released buffer, shrunk in place
    expect([...Buffer.from(again)]).toEqual([7]);
    const other = pool.take(Buffer.from([8, 9]), 2); // the pool is empty: a new one
    expect(other).not.toBe(ab);
    pool.release(again);
    pool.release(other); // past `keep`: let go
    expect(pool.take(Buffer.from([1]), 1)).toBe(again);
    const big = Buffer.alloc(100, 5);
    const copy = pool.take(big, 100); // past 64 bytes: a plain copy, never pooled
    expect(copy.resizable).toBe(false);
    expect([...Buffer.from(copy)]).toEqual([...big]);
  });

  it('writes nothing for no spans', () => {
    expect(encodeTraceRequest([])).toHaveLength(0);
  });
});

const RESPONSE_PROTO = `syntax = "proto3";
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; string unknown = 9; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; fixed32 unknown = 7; }`;
const responseType = protobuf.parse(RESPONSE_PROTO, { keepCase: true }).root.lookupType('ExportTraceServiceResponse');
const response = (v: Obj) => responseType.encode(responseType.fromObject(v)).finish();

/** An OTLP/gRPC trace receiver that keeps the raw requests and answers `answer` (once `hold` lets it). */
async function startReceiver(answer: Uint8Array, hold?: { wait: Promise<void>; open: number }): Promise<{ url: string; received: Buffer[]; server: grpc.Server }> {
  const received: Buffer[] = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService(
    { Export: { path: TRACE_EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        received.push(call.request);
        if (!hold) return cb(null, Buffer.from(answer));
        hold.open++;
        void hold.wait.then(() => cb(null, Buffer.from(answer)));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { url: `http://127.0.0.1:${port}`, received, server };
}

async function eventuallyTrue(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every span of the decoded requests, as (resource service name, scope name, span) triples. */
function flatten(reqs: Obj[]): Obj[] {
  return reqs.flatMap((req) =>
    (req.resource_spans as Obj[]).flatMap((rs) => (rs.scope_spans as Obj[]).flatMap((ss) => (ss.spans as Obj[]).map((span) => ({ resource: rs.resource, scope: ss.scope, span })))),
  );
}

describe('export over real gRPC', () => {
  const servers: grpc.Server[] = [];
  afterAll(() => {
    for (const s of servers) s.forceShutdown();
  });

  it.each([
    ['a partial success', response({ partial_success: { rejected_spans: 1, error_message: 'one refused' } })],
    ['a partial success with fields the decoder does not know', response({ unknown: 'x', partial_success: { rejected_spans: 2 ** 40, unknown: 5 } })],
    ['an answer that is not a response', Uint8Array.from([0x0a, 0x05, 0x08])],
  ])('OtlpGrpcSpanProcessor counts a request answered with %s as exported (the delegate logs what was refused)', async (_name, answer) => {
    const rx = await startReceiver(answer);
    servers.push(rx.server);
    const processor = new OtlpGrpcSpanProcessor({ url: rx.url });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    for (let i = 0; i < 4; i++) provider.getTracer('t').startSpan(`s${i}`).end();
    await provider.forceFlush();
    expect(rx.received).toHaveLength(1);
    expect(processor.stats).toEqual({ exported: 4, dropped: 0, failed: 0, queuedBytes: 0, encodeErrors: 0 });
    await provider.shutdown();
  });

  it('OtlpGrpcSpanProcessor batches sampled spans of several scopes, back to back, exactly as the official encoding', async () => {
    const rx = await startReceiver(new Uint8Array(0));
    servers.push(rx.server);
    const processor = new OtlpGrpcSpanProcessor({ url: rx.url, maxBatchSpans: 5 });
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'gw' }), spanProcessors: [processor, new SimpleSpanProcessor(memory)] });
    const tracers = [provider.getTracer('a'), provider.getTracer('b', '1.0')];
    for (let i = 0; i < 12; i++) tracers[i % 2].startSpan(`s${i}`, { attributes: { i, text: UNICODE.repeat(i) } }).end();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'aa92f3577b34da6a3ce929d0e0e47361', spanId: 'b0f067aa0ba902b7', traceFlags: TraceFlags.NONE, isRemote: true });
    tracers[0].startSpan('not sampled', {}, unsampled).end();
    await provider.forceFlush();
    expect(rx.received).toHaveLength(3); // 5 + 5 + 2
    const got = flatten(rx.received.map((b) => normalize(decode('ExportTraceServiceRequest', b))));
    const want = flatten([official(memory.getFinishedSpans().filter((s) => s.name !== 'not sampled'))]);
    const byName = (a: Obj, b: Obj) => String((a.span as Obj).name).localeCompare(String((b.span as Obj).name));
    expect(got.sort(byName)).toEqual(want.sort(byName));
    expect(processor.stats).toEqual({ exported: 12, dropped: 0, failed: 0, queuedBytes: 0, encodeErrors: 0 });
    await provider.shutdown();
  });

  it('OtlpGrpcSpanProcessor keeps a slow collector to a few exports at once, queues the rest, drops past its queue, and delivers the queue in order', async () => {
    let release!: () => void;
    const hold = { wait: new Promise<void>((r) => (release = r)), open: 0 };
    const rx = await startReceiver(new Uint8Array(0), hold);
    servers.push(rx.server);
    // 10 spans a batch, about 2 KB each: the queue holds about 3 batches.
    const processor = new OtlpGrpcSpanProcessor({ url: rx.url, maxBatchSpans: 10, maxConcurrentExports: 2, maxQueueBytes: 70_000 });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('slow');
    for (let i = 0; i < 100; i++) tracer.startSpan(`s${String(i).padStart(3, '0')}`, { attributes: { text: 'x'.repeat(2000) } }).end();
    await new Promise((r) => setImmediate(r));
    await eventuallyTrue(() => hold.open === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(hold.open).toBe(2); // the others wait in the processor, not in gRPC
    expect(processor.stats.dropped).toBeGreaterThan(0);
    expect(processor.stats.queuedBytes).toBeLessThanOrEqual(70_000);
    release();
    await processor.forceFlush();
    const { exported, dropped, failed, queuedBytes } = processor.stats;
    expect(exported + dropped).toBe(100);
    expect(failed).toBe(0);
    expect(queuedBytes).toBe(0);
    expect(rx.received).toHaveLength(exported / 10);
    const names = flatten(rx.received.map((b) => decode('ExportTraceServiceRequest', b))).map((x) => String((x.span as Obj).name));
    expect(names).toEqual([...names].sort());
    await provider.shutdown();
  });

  it('OtlpGrpcSpanProcessor encodes ended spans in bursts: when a burst fills, when its delay has passed, or on flush', async () => {
    const rx = await startReceiver(new Uint8Array(0));
    servers.push(rx.server);
    // A batch of 3 spans is sealed (and sent) as soon as 3 spans are encoded: sends show what was encoded.
    const processor = new OtlpGrpcSpanProcessor({ url: rx.url, maxBatchSpans: 3, encodeBurstSpans: 6, encodeDelayMillis: 200 });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('burst');
    const end = (n: number, from: number) => {
      for (let i = from; i < from + n; i++) tracer.startSpan(`s${i}`).end();
    };
    end(5, 0); // one short of a burst: nothing encoded yet
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.received).toHaveLength(0);
    end(1, 5); // the burst fills inside this end(): 6 spans, 2 batches
    await eventuallyTrue(() => rx.received.length === 2);
    end(3, 6); // waits for the delay
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.received).toHaveLength(2);
    await eventuallyTrue(() => rx.received.length === 3);
    end(2, 9); // flush encodes what waits
    await processor.forceFlush();
    expect(rx.received).toHaveLength(4);
    const names = flatten(rx.received.map((b) => decode('ExportTraceServiceRequest', b))).map((x) => String((x.span as Obj).name));
    expect(names).toEqual(Array.from({ length: 11 }, (_, i) => `s${i}`));
    expect(processor.stats).toEqual({ exported: 11, dropped: 0, failed: 0, queuedBytes: 0, encodeErrors: 0 });
    await provider.shutdown();
  });

  it('OtlpGrpcSpanProcessor counts spans it could not deliver and never throws', async () => {
    const processor = new OtlpGrpcSpanProcessor({ url: 'http://127.0.0.1:9', timeoutMillis: 2000 });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    for (let i = 0; i < 3; i++) provider.getTracer('t').startSpan(`s${i}`).end();
    await provider.forceFlush();
    expect(processor.stats).toEqual({ exported: 0, dropped: 0, failed: 3, queuedBytes: 0, encodeErrors: 0 });
    await provider.shutdown();
    provider.getTracer('t').startSpan('after shutdown').end();
    expect(processor.stats.failed + processor.stats.exported + processor.stats.dropped).toBe(3);
  });
});

/**
 * The collector's input, tried as a hostile sender would: deep nesting (OTLP/JSON, protobuf over
 * HTTP and gRPC), the bearer token on every data route, huge counts, malformed protobuf, wrong
 * content types, and fuzzed bodies. Each case asserts the answer, that the collector still
 * serves and stores the next valid export (read back from the real store), and that nothing
 * connected to the canary listener.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { decodeTraceJson, JsonShapeError } from '../../collector/otlp/json.js';
import { WireError } from '../../common/protobuf/reader.js';
import { decodeTraceRequest } from '../../collector/otlp/protobuf.js';
import { MAX_VALUE_DEPTH } from '../../collector/otlp/spans.js';
import { grpcExport, useCollector } from '../collector/helpers.js';
import { encodeRequest, ids } from '../collector/otlp-encode.js';
import { deepRequestJson, deepRequestProto } from '../collector/otlp-deep.js';
import { canaryListener, type CanaryListener } from './canary.js';
import { fuzzParams } from './fuzz.js';

const TOKEN = 'collector-test-token-1';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const PB = { 'content-type': 'application/x-protobuf' };
const JS = { 'content-type': 'application/json' };
const DEEP = 100_000;

const fx = useCollector({ authToken: TOKEN, maxRequestBytes: 8 * 1024 * 1024 });
let canary: CanaryListener;
beforeAll(async () => {
  canary = await canaryListener();
});
afterAll(async () => {
  await canary?.close();
});

async function post(path: string, body: Buffer | string | undefined, headers: Record<string, string>, method: 'POST' | 'GET' = 'POST') {
  const res = await request(`${fx.run.httpUrl}${path}`, { method, body, headers });
  const raw = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, raw, text: raw.toString('latin1') };
}

const traces = (body: Buffer | string, headers: Record<string, string>) => post('/v1/traces', body, { ...AUTH, ...headers });

const spanNames = async (service: string) =>
  (await fx.store.rows<{ SpanName: string }>(`SELECT SpanName FROM tracegate.otel_traces WHERE ServiceName = {s:String} ORDER BY SpanName`, { s: service })).map((r) => r.SpanName);

let nextN = 0;
/** After every case: the collector answers a valid export and the span reaches the table; nothing dialled out. */
async function stillServes(): Promise<void> {
  const service = `next-${++nextN}`;
  const res = await traces(encodeRequest(service, [{ ...ids(), name: 'next' }]), PB);
  expect(res.status).toBe(200);
  expect(await fx.run.collector.idle()).toBe(true);
  expect(await spanNames(service)).toEqual(['next']);
  expect(canary.connections).toBe(0);
}

/** ExportTraceServiceResponse bytes: partial_success = 1 { rejected_spans = 1 (varint), error_message = 2 }. */
function rejectedSpans(response: Buffer): number {
  expect(response[0]).toBe(0x0a);
  expect(response[2]).toBe(0x08);
  return response[3];
}

const depthMessage = new RegExp(`nests arrays or key-value lists deeper than ${MAX_VALUE_DEPTH} levels`);

describe('deep nesting is a permanent refusal of that span, the others kept', () => {
  it(`OTLP/JSON: ${DEEP} levels refuse the deep span (200, partial success), the shallow one is stored`, async () => {
    const res = await traces(deepRequestJson(DEEP, { service: 'deep-json' }), JS);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(depthMessage) } });
    await fx.run.collector.idle();
    expect(await spanNames('deep-json')).toEqual(['shallow']);
    await stillServes();
  });

  it('OTLP/JSON: every span too deep is a 400 (INVALID_ARGUMENT), not a retryable 503', async () => {
    const res = await traces(deepRequestJson(DEEP, { service: 'deep-json-all', shallow: false }), JS);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: expect.stringMatching(depthMessage) });
    await stillServes();
  });

  it('OTLP/HTTP protobuf: the same', async () => {
    const res = await traces(deepRequestProto(DEEP, { service: 'deep-proto' }), PB);
    expect(res.status).toBe(200);
    expect(rejectedSpans(res.raw)).toBe(1);
    expect(res.text).toMatch(depthMessage);
    await fx.run.collector.idle();
    expect(await spanNames('deep-proto')).toEqual(['shallow']);
    const all = await traces(deepRequestProto(DEEP, { shallow: false }), PB);
    expect(all.status).toBe(400);
    expect(all.text).toMatch(depthMessage);
    await stillServes();
  });

  it('OTLP/gRPC: partial success over the real gRPC path; every span too deep is INVALID_ARGUMENT', async () => {
    const res = await grpcExport(fx.run.grpcUrl, deepRequestProto(DEEP, { service: 'deep-grpc' }), TOKEN);
    expect(res.code).toBe(grpc.status.OK);
    expect(rejectedSpans(res.response!)).toBe(1);
    expect(res.response!.toString('latin1')).toMatch(depthMessage);
    await fx.run.collector.idle();
    expect(await spanNames('deep-grpc')).toEqual(['shallow']);
    const all = await grpcExport(fx.run.grpcUrl, deepRequestProto(DEEP, { shallow: false }), TOKEN);
    expect(all.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(all.details).toMatch(depthMessage);
    await stillServes();
  });

  it('deeply nested JSON text inside a string attribute is stored as text (no parse of it can crash a stage)', async () => {
    const text = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
    const res = await traces(encodeRequest('deep-text', [{ ...ids(), name: 'text', attributes: { 'input.value': text, 'llm.invocation_parameters': text, 'output.value': `{"a":${text}}` } }]), PB);
    expect(res.status).toBe(200);
    await fx.run.collector.idle();
    expect(await spanNames('deep-text')).toEqual(['text']);
    await stillServes();
  });
});

describe('the bearer token guards every data route; health and metrics stay open', () => {
  const feedback = JSON.stringify({ trace_id: 'ab'.repeat(16), name: 'thumbs', score: 1 });
  const routes: Array<[string, (auth: Record<string, string>) => Promise<{ status: number; text: string; headers: Record<string, unknown> }>, number]> = [
    ['POST /v1/traces (JSON)', (a) => post('/v1/traces', JSON.stringify({ resourceSpans: [] }), { ...JS, ...a }), 200],
    ['POST /v1/traces (protobuf)', (a) => post('/v1/traces', Buffer.alloc(0), { ...PB, ...a }), 200],
    ['POST /v1/feedback', (a) => post('/v1/feedback', feedback, { ...JS, ...a }), 201],
    ['GET /v1/usage', (a) => post('/v1/usage?since=1h', undefined, a, 'GET'), 200],
  ];
  const wrong: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['a wrong token', { authorization: 'Bearer collector-test-token-2' }],
    ['a longer token', { authorization: `Bearer ${TOKEN}x` }],
    ['the token without the scheme', { authorization: TOKEN }],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }],
  ];
  for (const [route, call, ok] of routes) {
    it.each(wrong)(`${route} with %s: 401 with an UNAUTHENTICATED status`, async (_name, auth) => {
      const res = await call(auth);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      if (route.includes('protobuf')) expect(res.text).toMatch(/bearer token/);
      else expect(JSON.parse(res.text)).toMatchObject({ code: grpc.status.UNAUTHENTICATED, message: expect.stringMatching(/bearer token/) });
      expect(canary.connections).toBe(0);
    });
    it(`${route} with the token (scheme in any case) is served`, async () => {
      expect((await call({ authorization: `bearer ${TOKEN}` })).status).toBe(ok);
      expect((await call(AUTH)).status).toBe(ok);
    });
  }

  it('OTLP/gRPC without or with a wrong token: UNAUTHENTICATED', async () => {
    const body = encodeRequest('grpc-auth', [{ ...ids(), name: 'x' }]);
    expect((await grpcExport(fx.run.grpcUrl, body)).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await grpcExport(fx.run.grpcUrl, body, 'collector-test-token-2')).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await spanNames('grpc-auth')).toEqual([]);
    await stillServes();
  });

  it('/healthz and /metrics answer without a token', async () => {
    expect((await post('/healthz', undefined, {}, 'GET')).status).toBe(200);
    expect((await post('/metrics', undefined, {}, 'GET')).status).toBe(200);
  });

  /** Spans made by the SDK, exported by `exporter`: its result code (0 success, 1 failure). */
  async function exportWith(exporter: SpanExporter, service: string): Promise<number> {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(memory)] });
    provider.getTracer('t').startSpan('exported').end();
    const spans: ReadableSpan[] = memory.getFinishedSpans();
    const code = await new Promise<number>((resolve) => exporter.export(spans, (r) => resolve(r.code)));
    await exporter.shutdown();
    await provider.shutdown();
    trace.disable();
    return code;
  }

  it.each<[string, (token?: string) => SpanExporter]>([
    [
      'the OTLP/gRPC exporter (metadata)',
      (t) => {
        const metadata = new grpc.Metadata();
        if (t) metadata.set('authorization', `Bearer ${t}`);
        return new GrpcExporter({ url: fx.run.grpcUrl, metadata });
      },
    ],
    ['the OTLP/HTTP JSON exporter (headers)', (t) => new HttpJsonExporter({ url: `${fx.run.httpUrl}/v1/traces`, headers: t ? { authorization: `Bearer ${t}` } : {} })],
    ['the OTLP/HTTP protobuf exporter (headers)', (t) => new HttpProtoExporter({ url: `${fx.run.httpUrl}/v1/traces`, headers: t ? { authorization: `Bearer ${t}` } : {} })],
  ])('%s: refused without the token, stored with it', async (name, make) => {
    const service = `exp-${name.replace(/\W+/g, '-')}`;
    expect(await exportWith(make(), `${service}-none`)).toBe(1);
    expect(await exportWith(make('collector-test-token-2'), `${service}-wrong`)).toBe(1);
    expect(await exportWith(make(TOKEN), service)).toBe(0);
    await fx.run.collector.idle();
    expect(await spanNames(service)).toEqual(['exported']);
    expect(await spanNames(`${service}-none`)).toEqual([]);
    await stillServes();
  });
});

describe('huge counts are bounded by the request size and handled in linear work', () => {
  it('one span with 100,000 attributes', async () => {
    const attributes = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v']));
    const res = await traces(encodeRequest('many-attrs', [{ ...ids(), name: 'wide', attributes }]), PB);
    expect(res.status).toBe(200);
    await fx.run.collector.idle();
    const [row] = await fx.store.rows<{ n: string }>(`SELECT length(SpanAttributes) AS n FROM tracegate.otel_traces WHERE ServiceName = 'many-attrs'`);
    expect(Number(row.n)).toBe(100_000);
    await stillServes();
  });

  it('20,000 spans in one request', async () => {
    const spans = Array.from({ length: 20_000 }, () => ({ ...ids(), name: 's' }));
    const res = await traces(encodeRequest('many-spans', spans), PB);
    expect(res.status).toBe(200);
    await fx.run.collector.idle();
    const [row] = await fx.store.rows<{ n: string }>(`SELECT count() AS n FROM tracegate.otel_traces WHERE ServiceName = 'many-spans'`);
    expect(Number(row.n)).toBe(20_000);
    await stillServes();
  });

  it('a 4 MB string attribute is stored cut to the attribute limit (32 KiB), the cut recorded', async () => {
    const res = await traces(encodeRequest('long-string', [{ ...ids(), name: 'long', attributes: { 'input.value': 'x'.repeat(4 << 20) } }]), PB);
    expect(res.status).toBe(200);
    await fx.run.collector.idle();
    const [row] = await fx.store.rows<{ n: string; cut: string }>(
      `SELECT length(SpanAttributes['input.value']) AS n, SpanAttributes['tracegate.truncated'] AS cut FROM tracegate.otel_traces WHERE ServiceName = 'long-string'`,
    );
    expect(Number(row.n)).toBe(32 * 1024);
    expect(row.cut).toBe('input.value');
    await stillServes();
  });

  it('past the request limit: 413, not read further', async () => {
    const res = await traces(Buffer.alloc(8 * 1024 * 1024 + 1), PB);
    expect(res.status).toBe(413);
    await stillServes();
  });
});

describe('malformed protobuf is a 400 (INVALID_ARGUMENT over gRPC) that says where', () => {
  const tag = (field: number, wire: number) => (field << 3) | wire;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a length past the end', Buffer.from([tag(1, 2), 0x05, 0x01]), /runs past the end/],
    ['an 11-byte varint', Buffer.from([...Array(10).fill(0x80), 0x01]), /varint longer than 10 bytes/],
    ['a negative length (10-byte -1)', Buffer.from([tag(1, 2), ...Array(9).fill(0xff), 0x01]), /runs past the end/],
    ['a truncated varint', Buffer.from([tag(1, 2), 0x80]), /truncated varint/],
    ['unknown wire type 6', Buffer.from([tag(1, 6), 0x00]), /unknown wire type 6/],
    ['unknown wire type 7', Buffer.from([tag(1, 7), 0x00]), /unknown wire type 7/],
    ['wire types 3/4 (groups)', Buffer.from([tag(5, 3), tag(5, 4)]), /unknown wire type 3/],
    ['a zero-length span (no ids): every span refused', Buffer.from([tag(1, 2), 0x04, tag(2, 2), 0x02, tag(2, 2), 0x00]), /trace id is missing/],
  ];
  it.each(cases)('%s', async (_name, body, message) => {
    const res = await traces(body, PB);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(message);
    const g = await grpcExport(fx.run.grpcUrl, body, TOKEN);
    expect(g.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(g.details).toMatch(message);
    await stillServes();
  });

  it('zero-length fields elsewhere (an empty request, an empty resource) are an empty success', async () => {
    for (const body of [Buffer.alloc(0), Buffer.from([tag(1, 2), 0x00])]) {
      const res = await traces(body, PB);
      expect(res.status).toBe(200);
      expect(res.raw.length).toBe(0);
    }
    await stillServes();
  });
});

describe('wrong content types are a 415 that names the type', () => {
  it.each<[string, Record<string, string>, number, RegExp]>([
    ['text/plain', { 'content-type': 'text/plain' }, 415, /content-type "text\/plain" is not supported/],
    ['application/xml', { 'content-type': 'application/xml' }, 415, /content-type "application\/xml"/],
    ['no content type', {}, 415, /content-type "\(none\)"/],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 415, /multipart\/form-data/],
    ['protobuf bytes labelled JSON', JS, 400, /not valid JSON/],
    ['JSON labelled protobuf', PB, 400, /not a valid OTLP protobuf/],
  ])('%s', async (_name, headers, status, message) => {
    const body = headers === JS ? encodeRequest('ct', [{ ...ids(), name: 'x' }]) : '{"resourceSpans":[]}';
    const res = await traces(body, headers);
    expect(res.status).toBe(status);
    expect(headers === PB ? res.text : (JSON.parse(res.text) as { message: string }).message).toMatch(message);
    await stillServes();
  });
});

describe('fuzzing the OTLP decoders: a decoded request or a typed permanent error, nothing else', () => {
  const valid = encodeRequest('fuzz', [
    { ...ids(), name: 'a', attributes: { 'k.one': 'v', 'llm.invocation_parameters': '{"temperature":0}' } },
    { ...ids(), parentSpanId: ids().spanId, name: 'b' },
  ]);
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
  function mutate(base: Buffer, ms: Mutation[]): Buffer {
    let b = Buffer.from(base);
    for (const m of ms) {
      const at = b.length === 0 ? 0 : m.at % b.length;
      if (m.kind === 'flip' && b.length) b[at] ^= m.bits;
      else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
      else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
      else if (m.kind === 'truncate') b = b.subarray(0, at);
    }
    return b;
  }
  const protobufOk = (bytes: Uint8Array) => {
    try {
      decodeTraceRequest(Buffer.from(bytes));
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
    }
  };
  const jsonOk = (value: unknown) => {
    try {
      decodeTraceJson(value);
    } catch (err) {
      if (!(err instanceof JsonShapeError)) throw err;
    }
  };
  const otlpJson = JSON.parse(deepRequestJson(3)) as Record<string, unknown>;
  /** Replaces the value at a random path of `o` with `v`. */
  function graft(o: unknown, path: number[], v: unknown): unknown {
    if (path.length === 0 || typeof o !== 'object' || o === null) return v;
    const keys = Object.keys(o);
    if (keys.length === 0) return v;
    const k = keys[path[0] % keys.length];
    const copy: Record<string, unknown> = Array.isArray(o) ? ([...o] as unknown as Record<string, unknown>) : { ...(o as Record<string, unknown>) };
    copy[k] = graft((o as Record<string, unknown>)[k], path.slice(1), v);
    return copy;
  }

  it('protobuf: arbitrary bytes', () => fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), protobufOk), fuzzParams(500)));
  it('protobuf: mutated valid requests (flip, insert, delete, truncate)', () =>
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => protobufOk(mutate(valid, ms))),
      fuzzParams(500),
    ));
  it('JSON: arbitrary JSON values', () => fc.assert(fc.property(fc.jsonValue(), jsonOk), fuzzParams(500)));
  it('JSON: an OTLP request with arbitrary JSON grafted anywhere', () =>
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.jsonValue(), (path, v) => jsonOk(graft(otlpJson, path, v))),
      fuzzParams(500),
    ));

  it('the HTTP receiver answers 200/400/413/415 to fuzzed bodies (never 5xx) and keeps serving', async () => {
    const body = fc.oneof(
      fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ({ body: mutate(valid, ms), headers: PB })),
      fc.uint8Array({ maxLength: 300 }).map((b) => ({ body: Buffer.from(b), headers: PB })),
      fc.tuple(fc.array(fc.nat(), { maxLength: 12 }), fc.jsonValue()).map(([p, v]) => ({ body: JSON.stringify(graft(otlpJson, p, v)) ?? '', headers: JS })),
      fc.string().map((s) => ({ body: s, headers: JS })),
    );
    await fc.assert(
      fc.asyncProperty(body, async ({ body: b, headers }) => {
        const res = await traces(b, headers);
        expect([200, 400, 413, 415]).toContain(res.status);
      }),
      fuzzParams(60),
    );
    await stillServes();
  });
});

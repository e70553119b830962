import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { encodeRequest, ids } from './otlp-encode.js';
import { grpcExport, startCollector, tempStore, type RunningCollector } from './helpers.js';
import type { TempStore } from '../helpers/store.js';

const LIMIT = 64 * 1024;
let store: TempStore;
let run: RunningCollector;

beforeAll(async () => {
  store = await tempStore();
  run = await startCollector(store, { maxRequestBytes: LIMIT, authToken: 'test-token-123' });
});
afterAll(async () => {
  await run?.stop();
  await store?.destroy();
});

const AUTH = { authorization: 'Bearer test-token-123' };

async function post(body: Buffer | string | Readable, headers: Record<string, string>) {
  const res = await request(`${run.httpUrl}/v1/traces`, { method: 'POST', body, headers: { ...AUTH, ...headers } });
  const text = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, text: text.toString('utf8'), raw: text };
}

const valid = () => encodeRequest('bad-input', [{ ...ids(), name: 'ok' }]);
const PB = { 'content-type': 'application/x-protobuf' };
const JS = { 'content-type': 'application/json' };

describe('OTLP/HTTP answers bad input with its documented status, and keeps running', () => {
  const cases: Array<[string, () => { body: Buffer | string | Readable; headers: Record<string, string> }, number, RegExp]> = [
    ['garbage bytes', () => ({ body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), headers: PB }), 400, /not a valid OTLP protobuf/],
    [
      'truncated protobuf',
      () => {
        const b = valid();
        return { body: b.subarray(0, b.length - 7), headers: PB };
      },
      400,
      /runs past the end|truncated/,
    ],
    ['wrong content type', () => ({ body: 'hello', headers: { 'content-type': 'text/plain' } }), 415, /content-type "text\/plain" is not supported/],
    ['no content type', () => ({ body: valid(), headers: {} }), 415, /not supported/],
    ['invalid JSON', () => ({ body: '{"resourceSpans": [', headers: JS }), 400, /not valid JSON/],
    ['JSON of the wrong shape', () => ({ body: '{"resourceSpans": 5}', headers: JS }), 400, /resourceSpans must be an array/],
    ['oversized body with content-length', () => ({ body: Buffer.alloc(LIMIT + 1), headers: PB }), 413, /larger than the limit of 65536 bytes/],
    ['oversized chunked body', () => ({ body: Readable.from([Buffer.alloc(LIMIT / 2), Buffer.alloc(LIMIT / 2), Buffer.alloc(LIMIT / 2)]), headers: PB }), 413, /larger than the limit/],
    ['oversized after gunzip', () => ({ body: gzipSync(Buffer.alloc(LIMIT * 4)), headers: { ...PB, 'content-encoding': 'gzip' } }), 413, /larger than the limit/],
    ['gzip that does not decompress', () => ({ body: Buffer.from('not gzip at all'), headers: { ...PB, 'content-encoding': 'gzip' } }), 400, /does not decompress/],
    ['unsupported content encoding', () => ({ body: valid(), headers: { ...PB, 'content-encoding': 'br' } }), 415, /content-encoding "br"/],
    ['missing bearer token', () => ({ body: valid(), headers: { ...PB, authorization: '' } }), 401, /bearer token/],
  ];
  it.each(cases)('%s', async (_name, make, status, message) => {
    const { body, headers } = make();
    const res = await post(body, headers);
    expect(res.status).toBe(status);
    const text = headers['content-type'] === 'application/x-protobuf' ? res.raw.toString('latin1') : (JSON.parse(res.text) as { message: string }).message;
    expect(text).toMatch(message);
    const health = await request(`${run.httpUrl}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
  });

  it('keeps the valid spans of a request whose other spans have missing or malformed ids (partial success)', async () => {
    const good = [
      { ...ids(), name: 'good-1' },
      { ...ids(), name: 'good-2' },
    ];
    const bad = [
      { traceId: Buffer.alloc(0), spanId: ids().spanId, name: 'no-trace-id' },
      { traceId: ids().traceId, spanId: Buffer.alloc(4, 1), name: 'short-span-id' },
      { traceId: Buffer.alloc(16), spanId: ids().spanId, name: 'zero-trace-id' },
      { ...ids(), parentSpanId: Buffer.alloc(3, 1), name: 'bad-parent' },
    ];
    const res = await post(encodeRequest('partial', [good[0], ...bad, good[1]]), PB);
    expect(res.status).toBe(200);
    const text = res.raw.toString('latin1');
    expect(text).toMatch(/4 span\(s\) rejected/);
    expect(text).toMatch(/trace id is missing/);
    expect(text).toMatch(/span id must be 8 bytes, got 4/);
    await run.collector.idle();
    const rows = await store.rows<{ SpanName: string }>(`SELECT SpanName FROM tracegate.otel_traces WHERE ServiceName = 'partial' ORDER BY SpanName`);
    expect(rows.map((r) => r.SpanName)).toEqual(['good-1', 'good-2']);
  });

  it('answers partial success in OTLP/JSON with rejectedSpans and the reason', async () => {
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-partial' } }] },
          scopeSpans: [
            {
              spans: [
                { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'kept', startTimeUnixNano: `${Date.now()}000000`, endTimeUnixNano: `${Date.now() + 1}000000` },
                { traceId: 'not-hex-at-all-not-hex-at-all-xx', spanId: 'b7ad6b7169203332', name: 'dropped' },
              ],
            },
          ],
        },
      ],
    });
    const res = await post(body, JS);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/trace id is not hex/) } });
  });

  it('stores invalid UTF-8 as U+FFFD instead of refusing the span', async () => {
    const span = { ...ids(), name: 'utf8', attributes: { 'bad.text': Buffer.from([0x61, 0xff, 0xfe, 0x62]) } };
    const res = await post(encodeRequest('utf8', [span]), PB);
    expect(res.status).toBe(200);
    await run.collector.idle();
    const [row] = await store.rows<{ v: string }>(`SELECT SpanAttributes['bad.text'] AS v FROM tracegate.otel_traces WHERE ServiceName = 'utf8'`);
    expect(row.v).toBe('a\uFFFD\uFFFDb');
  });
});

describe('OTLP/gRPC answers bad input with its status code', () => {
  const call = (body: Buffer, token = 'test-token-123') => grpcExport(run.grpcUrl, body, token);
  const cases: Array<[string, () => Buffer, string | undefined, number, RegExp]> = [
    ['garbage bytes', () => Buffer.from([0xff, 0xff, 0xff]), undefined, grpc.status.INVALID_ARGUMENT, /not a valid OTLP protobuf/],
    ['truncated protobuf', () => valid().subarray(0, 10), undefined, grpc.status.INVALID_ARGUMENT, /runs past the end|truncated/],
    ['oversized message', () => Buffer.alloc(LIMIT + 10), undefined, grpc.status.RESOURCE_EXHAUSTED, /larger than max/],
    ['wrong bearer token', () => valid(), 'wrong-token-000', grpc.status.UNAUTHENTICATED, /bearer token/],
  ];
  it.each(cases)('%s', async (_name, make, token, code, details) => {
    const res = await call(make(), token);
    expect(res.code).toBe(code);
    expect(res.details).toMatch(details);
  });

  it('keeps valid spans and reports the rejected ones in ExportTracePartialSuccess', async () => {
    const res = await call(
      encodeRequest('grpc-partial', [
        { ...ids(), name: 'kept' },
        { traceId: Buffer.alloc(3), spanId: Buffer.alloc(8, 2), name: 'bad' },
      ]),
    );
    expect(res.code).toBe(0);
    // partial_success = 1 { rejected_spans = 1 (varint 1) … }
    expect(res.response!.toString('latin1')).toMatch(/trace id must be 16 bytes, got 3/);
    expect(res.response![2]).toBe(0x08);
    expect(res.response![3]).toBe(1);
  });
});

/**
 * Span fields through both decoders (protobuf and OTLP/JSON), stated once: kinds and status
 * codes as the exporter's strings, times, events and links, resource and scope, service.name,
 * and spans refused one by one for missing or malformed ids while the rest are kept.
 */
import { describe, expect, it } from 'vitest';
import { decodeBoth, oneSpan, PARENT, SPAN, TRACE, type ResourceSpec, type SpanSpec } from './otlp-spec.js';

const firstSpan = (s: SpanSpec) => decodeBoth(oneSpan(s)).map(([encoding, r]) => [encoding, r.spans[0]] as const);

describe('span kinds and status codes → the exporter strings', () => {
  it.each([
    [0, 'Unspecified'],
    [1, 'Internal'],
    [2, 'Server'],
    [3, 'Client'],
    [4, 'Producer'],
    [5, 'Consumer'],
    [9, 'Unspecified'],
  ])('kind %i → %s', (kind, want) => {
    for (const [encoding, span] of firstSpan({ kind })) expect(span.kind, encoding).toBe(want);
  });

  it.each<[string, SpanSpec['status'], string, string]>([
    ['no status', undefined, 'Unset', ''],
    ['unset', { code: 0 }, 'Unset', ''],
    ['ok', { code: 1 }, 'Ok', ''],
    ['error with a message', { code: 2, message: 'upstream failed: 503' }, 'Error', 'upstream failed: 503'],
    ['an unknown code', { code: 7, message: 'm' }, 'Unset', 'm'],
  ])('%s', (_name, status, code, message) => {
    for (const [encoding, span] of firstSpan({ status })) {
      expect(span.statusCode, encoding).toBe(code);
      expect(span.statusMessage, encoding).toBe(message);
    }
  });
});

describe('span fields', () => {
  it('ids (lower-case hex), name, trace state and nanosecond times past 2^53, exactly', () => {
    const start = '1732540000123456789';
    const end = '1732540001987654321';
    for (const [encoding, span] of firstSpan({ parentSpanId: PARENT, name: 'chat gpt-4o', traceState: 'vendor=1,other=x', start, end })) {
      expect(span, encoding).toMatchObject({
        traceId: TRACE,
        spanId: SPAN,
        parentSpanId: PARENT,
        name: 'chat gpt-4o',
        traceState: 'vendor=1,other=x',
        startTimeUnixNano: BigInt(start),
        endTimeUnixNano: BigInt(end),
      });
    }
  });

  it.each([
    ['absent', undefined],
    ['all zeros', '0000000000000000'],
  ])('a parent id %s means a root span', (_n, parentSpanId) => {
    for (const [encoding, span] of firstSpan({ parentSpanId })) expect(span.parentSpanId, encoding).toBe('');
  });

  it('events and links in order, with their times, ids, states and attributes', () => {
    const other = 'ffeeddccbbaa99887766554433221100';
    const s: SpanSpec = {
      events: [
        { time: '1732540000000000001', name: 'retry', attributes: { attempt: { int: '2' } } },
        { time: '1732540000000000002', name: 'exception', attributes: { 'exception.type': { str: 'TimeoutError' } } },
        { time: '3', name: 'bare' },
      ],
      links: [
        { traceId: other, spanId: PARENT, traceState: 'k=v', attributes: { 'link.kind': { str: 'follows' } } },
        { traceId: TRACE, spanId: '1111111111111111' },
      ],
    };
    for (const [encoding, span] of firstSpan(s)) {
      expect(span.events, encoding).toEqual([
        { timeUnixNano: 1732540000000000001n, name: 'retry', attributes: { attempt: '2' } },
        { timeUnixNano: 1732540000000000002n, name: 'exception', attributes: { 'exception.type': 'TimeoutError' } },
        { timeUnixNano: 3n, name: 'bare', attributes: {} },
      ]);
      expect(span.links, encoding).toEqual([
        { traceId: other, spanId: PARENT, traceState: 'k=v', attributes: { 'link.kind': 'follows' } },
        { traceId: TRACE, spanId: '1111111111111111', traceState: '', attributes: {} },
      ]);
    }
  });

  it('each span carries its own resource (service.name included) and scope', () => {
    const span = (n: number): SpanSpec => ({ traceId: TRACE, spanId: `${n}`.padStart(16, 'a'), name: `s${n}` });
    const req: ResourceSpec[] = [
      {
        attributes: { 'service.name': { str: 'checkout' }, 'deployment.environment': { str: 'prod' }, 'host.cpus': { int: '8' } },
        scopes: [
          { name: 'openinference', version: '2.1', spans: [span(1), span(2)] },
          { name: 'http', spans: [span(3)] },
        ],
      },
      { attributes: { 'telemetry.sdk.language': { str: 'python' } }, scopes: [{ name: 'x', version: '9', spans: [span(4)] }] },
      { scopes: [{ spans: [span(5)] }] },
    ];
    for (const [encoding, { spans, rejected }] of decodeBoth(req)) {
      expect(rejected.count, encoding).toBe(0);
      expect(
        spans.map((s) => [s.name, s.serviceName, s.scopeName, s.scopeVersion]),
        encoding,
      ).toEqual([
        ['s1', 'checkout', 'openinference', '2.1'],
        ['s2', 'checkout', 'openinference', '2.1'],
        ['s3', 'checkout', 'http', ''],
        ['s4', '', 'x', '9'],
        ['s5', '', '', ''],
      ]);
      expect(spans[0].resourceAttributes, encoding).toEqual({ 'service.name': 'checkout', 'deployment.environment': 'prod', 'host.cpus': '8' });
      expect(spans[3].resourceAttributes, encoding).toEqual({ 'telemetry.sdk.language': 'python' });
      expect(spans[4].resourceAttributes, encoding).toEqual({});
    }
  });

  it('a request without spans decodes to none', () => {
    for (const [encoding, { spans, rejected }] of decodeBoth([])) expect([spans.length, rejected.count], encoding).toEqual([0, 0]);
    for (const [encoding, { spans }] of decodeBoth([{ scopes: [{ spans: [] }] }])) expect(spans.length, encoding).toBe(0);
  });
});

describe('spans with missing or malformed ids are refused one by one; the others are kept', () => {
  const CASES: Array<[string, SpanSpec, string]> = [
    ['trace id missing', { traceId: '' }, 'trace id is missing'],
    ['trace id of 8 bytes', { traceId: TRACE.slice(0, 16) }, 'trace id must be 16 bytes, got 8'],
    ['trace id of 17 bytes', { traceId: `${TRACE}ab` }, 'trace id must be 16 bytes, got 17'],
    ['trace id all zeros', { traceId: '0'.repeat(32) }, 'trace id is all zeros'],
    ['span id missing', { spanId: '' }, 'span id is missing'],
    ['span id of 4 bytes', { spanId: SPAN.slice(0, 8) }, 'span id must be 8 bytes, got 4'],
    ['span id all zeros', { spanId: '0'.repeat(16) }, 'span id is all zeros'],
    ['parent id of 4 bytes', { parentSpanId: 'abcdef01' }, 'parent span id must be 8 bytes or empty, got 4'],
  ];
  const where = { protobuf: 'resource 0 scope 0 span 1', json: 'resourceSpans[0].scopeSpans[0].spans[1]' } as Record<string, string>;

  it.each(CASES)('%s', (_name, bad, reason) => {
    const good = (n: string): SpanSpec => ({ traceId: TRACE, spanId: n.repeat(16), name: `good-${n}` });
    const req: ResourceSpec[] = [{ scopes: [{ spans: [good('1'), { traceId: TRACE, spanId: SPAN, name: 'bad', ...bad }, good('2')] }] }];
    for (const [encoding, { spans, rejected }] of decodeBoth(req)) {
      expect(
        spans.map((s) => s.name),
        encoding,
      ).toEqual(['good-1', 'good-2']);
      expect(rejected.count, encoding).toBe(1);
      expect(rejected.message(), encoding).toBe(`1 span(s) rejected: ${where[encoding]}: ${reason}`);
    }
  });

  it('the answer names the first five and counts the rest', () => {
    const bad = Array.from({ length: 7 }, (_, i): SpanSpec => ({ traceId: '', spanId: SPAN, name: `b${i}` }));
    for (const [encoding, { spans, rejected }] of decodeBoth([{ scopes: [{ spans: bad }] }])) {
      expect(spans.length, encoding).toBe(0);
      expect(rejected.count, encoding).toBe(7);
      expect(rejected.message(), encoding).toMatch(/^7 span\(s\) rejected: .*spans?\W*4\W*: trace id is missing \(and 2 more\)$/);
    }
  });
});

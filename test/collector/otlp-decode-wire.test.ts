/**
 * What each decoder does with bytes and JSON that are not the happy path. Protobuf: truncated
 * or garbled messages are errors (the receiver's 400), unknown fields of every wire type at
 * every level are skipped, invalid UTF-8 becomes U+FFFD. OTLP/JSON: hex ids, 64-bit integers
 * as strings or numbers, enums as numbers or names, snake_case names, unknown fields ignored,
 * and shape errors that say where.
 */
import { describe, expect, it } from 'vitest';
import { decodeTraceJson, JsonShapeError } from '../../collector/otlp/json.js';
import { WireError } from '../../common/protobuf/reader.js';
import { decodeTraceRequest } from '../../collector/otlp/protobuf.js';
import { encode, requestWithRawSpans, withUnknowns } from './otlp-proto.js';
import { jsonRequest, oneSpan, PARENT, protoRequest, SPAN, TRACE } from './otlp-spec.js';

const id = (hex: string) => Buffer.from(hex, 'hex');
const kv = (key: string, value: Record<string, unknown>) => encode('KeyValue', { key, value });

describe('protobuf: a body that is not a whole message is an error, never a partial decode', () => {
  const full = protoRequest(oneSpan({ name: 'n', attributes: { a: { str: 'x'.repeat(40) }, b: { arr: [{ int: '1' }] } }, events: [{ time: '1', name: 'e' }] }));

  it('every truncation of a request throws WireError', () => {
    expect(decodeTraceRequest(full).spans.length).toBe(1);
    for (let n = 1; n < full.length; n++) expect(() => decodeTraceRequest(full.subarray(0, n)), `cut at ${n} of ${full.length}`).toThrow(WireError);
  });

  it('a span cut short inside a well-formed outer message throws (a field runs past its message)', () => {
    const span = encode('Span', { trace_id: id(TRACE), span_id: id(SPAN), name: 'cut', attributes: [{ key: 'k', value: { string_value: 'v' } }] });
    expect(() => decodeTraceRequest(requestWithRawSpans([span.subarray(0, span.length - 3)]))).toThrow(/runs past the end|truncated/);
  });

  it.each<[string, Buffer, RegExp]>([
    ['wire type 6', Buffer.from([(1 << 3) | 6]), /unknown wire type 6/],
    ['wire type 7', Buffer.from([(1 << 3) | 7]), /unknown wire type 7/],
    ['a varint longer than 10 bytes', Buffer.from([(9 << 3) | 0, ...Array(11).fill(0xff), 0x01]), /longer than 10 bytes/],
    ['a length past the end', Buffer.from([(1 << 3) | 2, 0x7f, 0x00]), /runs past the end/],
    ['a fixed64 cut short', Buffer.from([(9 << 3) | 1, 1, 2, 3]), /truncated/],
    ['text, not protobuf', Buffer.from('{"resourceSpans": []}'), /./],
  ])('%s → WireError', (_n, bytes, message) => {
    expect(() => decodeTraceRequest(bytes)).toThrow(WireError);
    expect(() => decodeTraceRequest(bytes)).toThrow(message);
  });

  it('an empty body is an empty request', () => {
    expect(decodeTraceRequest(Buffer.alloc(0)).spans).toEqual([]);
  });
});

describe('protobuf: unknown fields are skipped at every level', () => {
  it('fields of every wire type after each message, and the OTLP fields the collector does not read', () => {
    const value = withUnknowns(encode('AnyValue', { int_value: 7 }));
    const listItem = withUnknowns(encode('AnyValue', { string_value: 'item' }));
    const array = withUnknowns(encode('RawAnyValueLists', { array_value: withUnknowns(encode('RawList', { values: [listItem] })) }));
    const kvlist = encode('RawAnyValueLists', { kvlist_value: withUnknowns(encode('RawList', { values: [withUnknowns(kv('inner', { bool_value: true }))] })) });
    const span = withUnknowns(
      encode('RawSpanParts', {
        trace_id: id(TRACE),
        span_id: id(SPAN),
        attributes: [
          withUnknowns(kv('plain', { string_value: 'p' })),
          encode('RawKeyValueValue', { key: 'int', value }),
          encode('RawKeyValueValue', { key: 'array', value: array }),
          encode('RawKeyValueValue', { key: 'map', value: kvlist }),
        ],
        events: [withUnknowns(encode('Event', { time_unix_nano: 5, name: 'ev', attributes: [{ key: 'k', value: { string_value: 'v' } }], dropped_attributes_count: 2 }))],
        links: [withUnknowns(encode('Link', { trace_id: id(TRACE), span_id: id(PARENT), flags: 0x301, dropped_attributes_count: 1 }))],
        status: withUnknowns(encode('Status', { code: 2, message: 'bad' })),
      }),
    );
    // flags (fixed32), dropped counts (varint) and a deprecated field number are in the span too
    const spanExtras = encode('Span', { flags: 0x101, dropped_attributes_count: 3, dropped_events_count: 4, dropped_links_count: 5 });
    const scope = withUnknowns(encode('InstrumentationScope', { name: 'sc', version: '1', attributes: [{ key: 'scope.attr', value: { string_value: 'x' } }], dropped_attributes_count: 1 }));
    const resource = withUnknowns(encode('Resource', { attributes: [{ key: 'service.name', value: { string_value: 'svc' } }], dropped_attributes_count: 9 }));
    const body = Buffer.concat([requestWithRawSpans([Buffer.concat([span, spanExtras])], { scope, resource }), encode('Unknowns', { u_len: 'top level' })]);

    const { spans, rejected } = decodeTraceRequest(body);
    expect(rejected.count).toBe(0);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
      serviceName: 'svc',
      resourceAttributes: { 'service.name': 'svc' },
      scopeName: 'sc',
      scopeVersion: '1',
      attributes: { plain: 'p', int: '7', array: '["item"]', map: '{"inner":true}' },
      events: [{ timeUnixNano: 5n, name: 'ev', attributes: { k: 'v' } }],
      links: [{ traceId: TRACE, spanId: PARENT, traceState: '', attributes: {} }],
      statusCode: 'Error',
      statusMessage: 'bad',
    });
  });
});

describe('protobuf: invalid UTF-8 becomes U+FFFD, the span is kept', () => {
  const BAD = Buffer.from([0x61, 0xff, 0x62, 0xc3]); // a, invalid byte, b, a lead byte with no continuation
  it.each<[string, Record<string, unknown>, (s: ReturnType<typeof decodeTraceRequest>['spans'][0]) => unknown, unknown]>([
    ['in the name', { name: BAD }, (s) => s.name, 'a\uFFFDb\uFFFD'],
    ['in an attribute value', { attributes: [{ key: Buffer.from('k'), value: { string_value: BAD } }] }, (s) => s.attributes, { k: 'a\uFFFDb\uFFFD' }],
    ['in an attribute key', { attributes: [{ key: BAD, value: { string_value: Buffer.from('v') } }] }, (s) => s.attributes, { 'a\uFFFDb\uFFFD': 'v' }],
  ])('%s', (_n, fields, pick, want) => {
    const span = encode('RawNamedSpan', { trace_id: id(TRACE), span_id: id(SPAN), name: Buffer.from('ok'), ...fields });
    // twice: a decoder that caches keys between requests must give the same answer
    for (let round = 0; round < 2; round++) {
      const { spans } = decodeTraceRequest(requestWithRawSpans([span]));
      expect(pick(spans[0])).toEqual(want);
    }
  });
});

describe('OTLP/JSON specifics', () => {
  const base = () => jsonRequest(oneSpan({ name: 'j' })) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> };
  const withSpan = (patch: Record<string, unknown>) => {
    const body = base();
    Object.assign(body.resourceSpans[0].scopeSpans[0].spans[0], patch);
    return decodeTraceJson(body);
  };

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['upper-case hex ids are lower-cased', { traceId: TRACE.toUpperCase(), spanId: SPAN.toUpperCase(), parentSpanId: PARENT.toUpperCase() }, { traceId: TRACE, spanId: SPAN, parentSpanId: PARENT }],
    [
      'times as decimal strings',
      { startTimeUnixNano: '1732540000123456789', endTimeUnixNano: '1732540000123456790' },
      { startTimeUnixNano: 1732540000123456789n, endTimeUnixNano: 1732540000123456790n },
    ],
    ['times as JSON numbers', { startTimeUnixNano: 1700000000000, endTimeUnixNano: 1700000000001 }, { startTimeUnixNano: 1700000000000n, endTimeUnixNano: 1700000000001n }],
    ['kind as its enum name', { kind: 'SPAN_KIND_CLIENT' }, { kind: 'Client' }],
    ['status code as its enum name', { status: { code: 'STATUS_CODE_ERROR', message: 'x' } }, { statusCode: 'Error', statusMessage: 'x' }],
    ['an unknown enum name', { kind: 'SPAN_KIND_WHATEVER' }, { kind: 'Unspecified' }],
    ['snake_case field names', { trace_id: TRACE, traceId: undefined, start_time_unix_nano: '7', startTimeUnixNano: undefined }, { traceId: TRACE, startTimeUnixNano: 7n }],
    ['unknown fields', { flags: 257, droppedAttributesCount: 3, somethingNew: { deep: [1, 2] } }, { name: 'j' }],
    ['an int value as a JSON number', { attributes: [{ key: 'n', value: { intValue: 42 } }] }, { attributes: { n: '42' } }],
    ['a double as "NaN"', { attributes: [{ key: 'd', value: { doubleValue: 'NaN' } }] }, { attributes: { d: 'NaN' } }],
    [
      'snake_case value names',
      {
        attributes: [
          { key: 's', value: { string_value: 'x' } },
          { key: 'a', value: { array_value: { values: [{ int_value: '1' }] } } },
        ],
      },
      { attributes: { s: 'x', a: '[1]' } },
    ],
  ])('%s', (_n, patch, want) => {
    const { spans, rejected } = withSpan(patch);
    expect(rejected.count).toBe(0);
    expect(spans[0]).toMatchObject(want);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a trace id that is not hex', { traceId: 'z'.repeat(32) }, 'trace id is not hex'],
    ['a span id of odd length', { spanId: 'abc' }, 'span id is not hex'],
    ['a trace id as base64 (the protobuf JSON default, not OTLP)', { traceId: Buffer.from(TRACE, 'hex').toString('base64') }, 'trace id is not hex'],
    ['a span id as a number', { spanId: 12345 }, 'span id is missing'],
  ])('%s → the span is refused', (_n, patch, reason) => {
    const { spans, rejected } = withSpan(patch);
    expect(spans).toEqual([]);
    expect(rejected.message()).toContain(reason);
  });

  it.each<[string, unknown, string]>([
    ['an array body', [], 'the body must be a JSON object'],
    ['resourceSpans not an array', { resourceSpans: {} }, 'request.resourceSpans must be an array'],
    ['a span that is not an object', { resourceSpans: [{ scopeSpans: [{ spans: ['x'] }] }] }, 'resourceSpans[0].scopeSpans[0].spans[0] must be an object'],
    [
      'attributes not an array',
      { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE, spanId: SPAN, attributes: 5 }] }] }] },
      'resourceSpans[0].scopeSpans[0].spans[0].attributes must be an array',
    ],
    ['a scope that is not an object', { resourceSpans: [{ scopeSpans: [{ scope: 'x' }] }] }, 'resourceSpans[0].scopeSpans[0].scope must be an object'],
  ])('%s → JsonShapeError saying where', (_n, body, message) => {
    expect(() => decodeTraceJson(body)).toThrow(JsonShapeError);
    expect(() => decodeTraceJson(body)).toThrow(message);
  });

  it('null and absent lists are empty, not errors', () => {
    expect(decodeTraceJson({}).spans).toEqual([]);
    expect(decodeTraceJson({ resourceSpans: null }).spans).toEqual([]);
    expect(decodeTraceJson({ resourceSpans: [{ resource: null, scopeSpans: [{ scope: null, spans: null }] }] }).spans).toEqual([]);
  });
});

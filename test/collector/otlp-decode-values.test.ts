/**
 * AnyValue → the string the OpenTelemetry Collector's ClickHouse exporter stores in its
 * Map(String, String) columns (`pcommon.Value.AsString()`): ints in decimal, doubles as
 * ECMAScript prints them (the exporter's float64AsString follows the same rule), bools as
 * true/false, arrays and maps as JSON, bytes as standard base64, an empty value as ''. Both
 * decoders (protobuf, OTLP/JSON), on span, event, link and resource attributes.
 */
import { describe, expect, it } from 'vitest';
import { decodeTraceJson } from '../../collector/otlp/json.js';
import { decodeTraceRequest } from '../../collector/otlp/protobuf.js';
import { encodeRequest } from './otlp-proto.js';
import { MAX_VALUE_DEPTH } from '../../collector/otlp/spans.js';
import { decodeBoth, jsonRequest, oneSpan, PARENT, SPAN, TRACE, type SpanSpec, type V } from './otlp-spec.js';
import { deepRequestJson, deepRequestProto } from './otlp-deep.js';

const s = (str: string): V => ({ str });
const i = (int: string | number): V => ({ int: String(int) });
const d = (dbl: number): V => ({ dbl });

const CASES: Array<[string, V, string]> = [
  ['string', s('héllo ✓ "q" \\ \n\t'), 'héllo ✓ "q" \\ \n\t'],
  ['empty string', s(''), ''],
  ['bool true', { bool: true }, 'true'],
  ['bool false', { bool: false }, 'false'],
  ['int zero', i(0), '0'],
  ['int', i(42), '42'],
  ['negative int', i(-7), '-7'],
  ['int past 2^53, exact', i('9007199254740993'), '9007199254740993'],
  ['int64 max', i('9223372036854775807'), '9223372036854775807'],
  ['int64 min', i('-9223372036854775808'), '-9223372036854775808'],
  ['double', d(2.5), '2.5'],
  ['double 0.1 (shortest round trip)', d(0.1), '0.1'],
  ['whole double', d(3), '3'],
  ['negative double', d(-1.25), '-1.25'],
  ['double below 1e21: fixed notation', d(1e20), '100000000000000000000'],
  ['double at 1e21: exponent', d(1e21), '1e+21'],
  ['double at 1e-6: fixed notation', d(0.000001), '0.000001'],
  ['double below 1e-6: exponent without padding', d(1.5e-7), '1.5e-7'],
  ['largest double', d(1.7976931348623157e308), '1.7976931348623157e+308'],
  ['smallest subnormal', d(5e-324), '5e-324'],
  ['array of strings', { arr: [s('a'), s('b')] }, '["a","b"]'],
  ['array of ints', { arr: [i(1), i(2), i(3)] }, '[1,2,3]'],
  ['array of doubles', { arr: [d(0.5), d(1e21), d(3)] }, '[0.5,1e+21,3]'],
  ['mixed array with an empty value', { arr: [i(1), s('x'), { bool: true }, d(2.5), { empty: true }] }, '[1,"x",true,2.5,null]'],
  ['nested arrays', { arr: [{ arr: [i(1), i(2)] }, { arr: [s('a')] }] }, '[[1,2],["a"]]'],
  ['empty array', { arr: [] }, '[]'],
  ['array with bytes', { arr: [{ bytes: [0, 1, 2, 255] }] }, '["AAEC/w=="]'],
  ['array escaping', { arr: [s('quote " backslash \\ newline \n')] }, '["quote \\" backslash \\\\ newline \\n"]'],
  [
    'kvlist',
    {
      kv: [
        ['a', i(1)],
        ['b', s('x')],
        ['c', { arr: [{ bool: true }] }],
      ],
    },
    '{"a":1,"b":"x","c":[true]}',
  ],
  ['nested kvlist', { kv: [['outer', { kv: [['inner', d(2.5)]] }]] }, '{"outer":{"inner":2.5}}'],
  ['empty kvlist', { kv: [] }, '{}'],
  ['bytes as standard base64', { bytes: [0, 1, 2, 255] }, 'AAEC/w=='],
  ['empty bytes', { bytes: [] }, ''],
  ['empty AnyValue', { empty: true }, ''],
];

describe('AnyValue → the exporter string form', () => {
  it.each(CASES)('%s', (_name, value, want) => {
    for (const [encoding, { spans, rejected }] of decodeBoth(oneSpan({ attributes: { v: value } }))) {
      expect(rejected.count, encoding).toBe(0);
      expect(spans[0].attributes, encoding).toEqual({ v: want });
    }
  });

  it('the same on resource, event and link attributes', () => {
    const all: Record<string, V> = Object.fromEntries(CASES.map(([name, v]) => [name, v]));
    const want = Object.fromEntries(CASES.map(([name, , w]) => [name, w]));
    const req = oneSpan({ events: [{ time: '5', name: 'e', attributes: all }], links: [{ traceId: TRACE, spanId: PARENT, attributes: all }] }, { 'service.name': s('svc'), ...all });
    for (const [encoding, { spans }] of decodeBoth(req)) {
      expect(spans[0].resourceAttributes, encoding).toEqual({ 'service.name': 'svc', ...want });
      expect(spans[0].events[0].attributes, encoding).toEqual(want);
      expect(spans[0].links[0].attributes, encoding).toEqual(want);
    }
  });

  it('a repeated key keeps the last value, as a map insert does', () => {
    const attrs = [
      { key: 'k', value: { string_value: 'first' } },
      { key: 'k', value: { string_value: 'last' } },
    ];
    const proto = encodeRequest({ resource_spans: [{ scope_spans: [{ spans: [{ trace_id: Buffer.from(TRACE, 'hex'), span_id: Buffer.from(PARENT, 'hex'), attributes: attrs }] }] }] });
    const json = jsonRequest(oneSpan({}));
    const jsonSpan = (json as any).resourceSpans[0].scopeSpans[0].spans[0];
    jsonSpan.attributes = [
      { key: 'k', value: { stringValue: 'first' } },
      { key: 'k', value: { stringValue: 'last' } },
    ];
    expect(decodeTraceRequest(proto).spans[0].attributes).toEqual({ k: 'last' });
    expect(decodeTraceJson(json).spans[0].attributes).toEqual({ k: 'last' });
  });
});

/**
 * Where the decoder's string differs from `pcommon.Value.AsString()` (Go's encoding/json for
 * arrays and maps). Asserted as they are today, with the exporter's form beside them, so a
 * change is a decision; see the collector report for which matter.
 */
const DIVERGENCES: Array<[string, V, ours: string, exporter: string]> = [
  [
    'map keys: insertion order here, sorted by Go',
    {
      kv: [
        ['b', i(1)],
        ['a', i(2)],
      ],
    },
    '{"b":1,"a":2}',
    '{"a":2,"b":1}',
  ],
  ['<, > and & in array strings: Go escapes them', { arr: [s('<a&b>')] }, '["<a&b>"]', '["\\u003ca\\u0026b\\u003e"]'],
  ['an int past 2^53 inside an array: a JSON string here, a number in Go', { arr: [i('9007199254740993')] }, '["9007199254740993"]', '[9007199254740993]'],
  ['NaN double', d(Number.NaN), 'NaN', 'json: unsupported value: NaN'],
  ['+Inf double', d(Number.POSITIVE_INFINITY), 'Infinity', 'json: unsupported value: +Inf'],
  ['NaN inside an array: null here, the whole value empty in Go', { arr: [d(Number.NaN)] }, '[null]', ''],
  ['negative zero', d(-0), '0', '-0'],
];

describe('a key named __proto__ is kept, in a map value and as an attribute', () => {
  it('in both encodings', () => {
    for (const [encoding, { spans }] of decodeBoth(oneSpan({ attributes: { v: { kv: [['__proto__', i(1)]] }, ['__proto__']: s('x') } as never }))) {
      expect(spans[0].attributes.v, encoding).toBe('{"__proto__":1}');
      expect(Object.keys(spans[0].attributes), encoding).toContain('__proto__');
    }
  });
});

describe('known differences from the exporter (pcommon.Value.AsString)', () => {
  it.each(DIVERGENCES)('%s', (_name, value, ours, exporter) => {
    expect(ours).not.toBe(exporter);
    for (const [encoding, { spans }] of decodeBoth(oneSpan({ attributes: { v: value } }))) expect(spans[0].attributes.v, encoding).toBe(ours);
  });
});

/** A value `levels` arrays and key-value lists deep, alternating. */
const nested = (levels: number): V => {
  let v: V = s('leaf');
  for (let n = 0; n < levels; n++) v = n % 2 ? { arr: [v] } : { kv: [['k', v]] };
  return v;
};

describe(`value nesting is bounded at MAX_VALUE_DEPTH (${MAX_VALUE_DEPTH}) levels: deeper refuses that span only`, () => {
  const where = { protobuf: 'resource 0 scope 0 span 0', json: 'resourceSpans[0].scopeSpans[0].spans[0]' } as Record<string, string>;
  const twoSpans = (deep: SpanSpec, resourceAttributes?: Record<string, V>) => [
    {
      attributes: resourceAttributes,
      scopes: [
        {
          spans: [
            { traceId: TRACE, spanId: SPAN, ...deep },
            { traceId: TRACE, spanId: PARENT, name: 'shallow' },
          ],
        },
      ],
    },
  ];

  it(`${MAX_VALUE_DEPTH} levels are kept, as JSON`, () => {
    for (const [encoding, { spans, rejected }] of decodeBoth(twoSpans({ attributes: { v: nested(MAX_VALUE_DEPTH) } }))) {
      expect(rejected.count, encoding).toBe(0);
      expect(JSON.parse(spans[0].attributes.v), encoding).toBeTruthy();
    }
  });

  it.each<[string, SpanSpec]>([
    ['a span attribute', { attributes: { v: nested(MAX_VALUE_DEPTH + 1) } }],
    ['an event attribute', { events: [{ time: '1', name: 'e', attributes: { v: nested(MAX_VALUE_DEPTH + 1) } }] }],
    ['a link attribute', { links: [{ traceId: TRACE, spanId: PARENT, attributes: { v: nested(MAX_VALUE_DEPTH + 1) } }] }],
  ])('one level more in %s refuses the span, the other is kept', (_name, deep) => {
    for (const [encoding, { spans, rejected }] of decodeBoth(twoSpans(deep))) {
      expect(
        spans.map((x) => x.name),
        encoding,
      ).toEqual(['shallow']);
      expect(rejected.message(), encoding).toBe(`1 span(s) rejected: ${where[encoding]}: an attribute value nests arrays or key-value lists deeper than ${MAX_VALUE_DEPTH} levels`);
    }
  });

  it('too deep in the resource refuses every span of that resource, not the other resources', () => {
    const req = [...twoSpans({}, { v: nested(MAX_VALUE_DEPTH + 1) }), ...oneSpan({ name: 'other resource' })];
    for (const [encoding, { spans, rejected }] of decodeBoth(req)) {
      expect(
        spans.map((x) => x.name),
        encoding,
      ).toEqual(['other resource']);
      expect(rejected.count, encoding).toBe(2);
      expect(rejected.message(), encoding).toMatch(/: resource: an attribute value nests/);
    }
  });

  const decodeDeep = (levels: number) =>
    [
      ['protobuf', decodeTraceRequest(deepRequestProto(levels))],
      ['json', decodeTraceJson(JSON.parse(deepRequestJson(levels)))],
    ] as const;

  it('100,000 levels (far past any stack) are refused the same way', () => {
    for (const [encoding, { spans, rejected }] of decodeDeep(100_000)) {
      expect(
        spans.map((x) => x.name),
        encoding,
      ).toEqual(['shallow']);
      expect(rejected.count, encoding).toBe(1);
    }
  });
});

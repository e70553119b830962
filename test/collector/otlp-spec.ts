/**
 * One description of an OTLP request, written as both encodings the collector takes: protobuf
 * (through otlp-proto.ts) and OTLP/JSON (hex ids, 64-bit integers as decimal strings, enums as
 * numbers). Decoder tests state a case once and check that both decoders agree on it.
 */
import { decodeTraceJson } from '../../collector/otlp/json.js';
import { decodeTraceRequest } from '../../collector/otlp/protobuf.js';
import type { DecodeResult } from '../../collector/otlp/spans.js';
import type { SpanRecord } from '../../collector/model.js';
import { encodeRequest } from './otlp-proto.js';

/** An AnyValue. */
export type V = { str: string } | { bool: boolean } | { int: string } | { dbl: number } | { arr: V[] } | { kv: Array<[string, V]> } | { bytes: number[] } | { empty: true };

export type Attrs = Record<string, V>;

export interface SpanSpec {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  traceState?: string;
  name?: string;
  kind?: number;
  start?: string;
  end?: string;
  attributes?: Attrs;
  events?: Array<{ time: string; name: string; attributes?: Attrs }>;
  links?: Array<{ traceId: string; spanId: string; traceState?: string; attributes?: Attrs }>;
  status?: { code?: number; message?: string };
}

export interface ScopeSpec {
  name?: string;
  version?: string;
  spans: SpanSpec[];
}

export interface ResourceSpec {
  attributes?: Attrs;
  scopes: ScopeSpec[];
}

type Obj = Record<string, unknown>;
const jsonDouble = (d: number): number | string => (Number.isFinite(d) ? d : String(d));

export function protoValue(v: V): Obj {
  if ('str' in v) return { string_value: v.str };
  if ('bool' in v) return { bool_value: v.bool };
  if ('int' in v) return { int_value: v.int };
  if ('dbl' in v) return { double_value: v.dbl };
  if ('arr' in v) return { array_value: { values: v.arr.map(protoValue) } };
  if ('kv' in v) return { kvlist_value: { values: v.kv.map(([key, x]) => ({ key, value: protoValue(x) })) } };
  if ('bytes' in v) return { bytes_value: Buffer.from(v.bytes) };
  return {};
}

export function jsonValue(v: V): Obj {
  if ('str' in v) return { stringValue: v.str };
  if ('bool' in v) return { boolValue: v.bool };
  if ('int' in v) return { intValue: v.int };
  if ('dbl' in v) return { doubleValue: jsonDouble(v.dbl) };
  if ('arr' in v) return { arrayValue: { values: v.arr.map(jsonValue) } };
  if ('kv' in v) return { kvlistValue: { values: v.kv.map(([key, x]) => ({ key, value: jsonValue(x) })) } };
  if ('bytes' in v) return { bytesValue: Buffer.from(v.bytes).toString('base64') };
  return {};
}

const protoAttrs = (a: Attrs = {}) => Object.entries(a).map(([key, v]) => ({ key, value: protoValue(v) }));
const jsonAttrs = (a: Attrs = {}) => Object.entries(a).map(([key, v]) => ({ key, value: jsonValue(v) }));
const bytes = (hex: string | undefined) => Buffer.from(hex ?? '', 'hex');

function protoSpan(s: SpanSpec): Obj {
  return {
    trace_id: bytes(s.traceId),
    span_id: bytes(s.spanId),
    parent_span_id: bytes(s.parentSpanId),
    trace_state: s.traceState ?? '',
    name: s.name ?? '',
    kind: s.kind ?? 0,
    start_time_unix_nano: s.start ?? '0',
    end_time_unix_nano: s.end ?? '0',
    attributes: protoAttrs(s.attributes),
    events: (s.events ?? []).map((e) => ({ time_unix_nano: e.time, name: e.name, attributes: protoAttrs(e.attributes) })),
    links: (s.links ?? []).map((l) => ({ trace_id: bytes(l.traceId), span_id: bytes(l.spanId), trace_state: l.traceState ?? '', attributes: protoAttrs(l.attributes) })),
    ...(s.status ? { status: { code: s.status.code ?? 0, message: s.status.message ?? '' } } : {}),
  };
}

function jsonSpan(s: SpanSpec): Obj {
  return {
    traceId: s.traceId ?? '',
    spanId: s.spanId ?? '',
    parentSpanId: s.parentSpanId ?? '',
    traceState: s.traceState ?? '',
    name: s.name ?? '',
    kind: s.kind ?? 0,
    startTimeUnixNano: s.start ?? '0',
    endTimeUnixNano: s.end ?? '0',
    attributes: jsonAttrs(s.attributes),
    events: (s.events ?? []).map((e) => ({ timeUnixNano: e.time, name: e.name, attributes: jsonAttrs(e.attributes) })),
    links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: l.traceState ?? '', attributes: jsonAttrs(l.attributes) })),
    ...(s.status ? { status: { code: s.status.code ?? 0, message: s.status.message ?? '' } } : {}),
  };
}

export const protoRequest = (resources: ResourceSpec[]): Buffer =>
  encodeRequest({
    resource_spans: resources.map((r) => ({
      resource: { attributes: protoAttrs(r.attributes) },
      scope_spans: r.scopes.map((sc) => ({ scope: { name: sc.name ?? '', version: sc.version ?? '' }, spans: sc.spans.map(protoSpan) })),
    })),
  });

export const jsonRequest = (resources: ResourceSpec[]): Obj => ({
  resourceSpans: resources.map((r) => ({
    resource: { attributes: jsonAttrs(r.attributes) },
    scopeSpans: r.scopes.map((sc) => ({ scope: { name: sc.name ?? '', version: sc.version ?? '' }, spans: sc.spans.map(jsonSpan) })),
  })),
});

/** Decodes the request in both encodings (the JSON one through a real JSON text round trip). */
export function decodeBoth(resources: ResourceSpec[]): Array<[encoding: string, result: DecodeResult<SpanRecord>]> {
  return [
    ['protobuf', decodeTraceRequest(protoRequest(resources))],
    ['json', decodeTraceJson(JSON.parse(JSON.stringify(jsonRequest(resources))))],
  ];
}

export const TRACE = '0af7651916cd43dd8448eb211c80319c';
export const SPAN = 'b7ad6b7169203331';
export const PARENT = '00f067aa0ba902b7';

/** A request with one span (valid ids unless the spec says otherwise). */
export const oneSpan = (s: SpanSpec, resourceAttributes: Attrs = { 'service.name': { str: 'svc' } }): ResourceSpec[] => [
  { attributes: resourceAttributes, scopes: [{ name: 'scope', version: '1.0', spans: [{ traceId: TRACE, spanId: SPAN, ...s }] }] },
];

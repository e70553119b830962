/**
 * OTLP trace messages for tests, written from the OTLP specification (opentelemetry-proto:
 * collector/trace/v1, trace/v1, common/v1, resource/v1) and encoded with protobufjs: an encoder
 * independent of the collector's hand-written decoder. Fields the collector does not read
 * (flags, dropped counts, schema URLs, scope attributes) are declared so tests can send them.
 * `Raw*` messages hold a sub-message or a string as bytes, for wrong bytes on purpose (invalid
 * UTF-8, extra unknown fields appended to an encoded message).
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12;
  repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
message Status { string message = 2; int32 code = 3; }

message RawScopeSpans { bytes scope = 1; repeated bytes spans = 2; }
message RawResourceSpans { bytes resource = 1; repeated bytes scope_spans = 2; }
message RawRequest { repeated bytes resource_spans = 1; }
message RawKeyValue { bytes key = 1; RawAnyValue value = 2; }
message RawAnyValue { bytes string_value = 1; }
message RawNamedSpan { bytes trace_id = 1; bytes span_id = 2; bytes name = 5; repeated RawKeyValue attributes = 9; }
message RawSpanParts { bytes trace_id = 1; bytes span_id = 2; repeated bytes attributes = 9; repeated bytes events = 11; repeated bytes links = 13; bytes status = 15; }
message RawKeyValueValue { string key = 1; bytes value = 2; }
message RawAnyValueLists { bytes array_value = 5; bytes kvlist_value = 6; }
message RawList { repeated bytes values = 1; }
/** One field of every wire type at numbers no OTLP message uses. */
message Unknowns { uint64 u_varint = 90; fixed64 u_i64 = 91; string u_len = 92; fixed32 u_i32 = 93; Resource u_msg = 94; }
`;

let root: protobuf.Root | undefined;
const type = (name: string): protobuf.Type => (root ??= protobuf.parse(PROTO, { keepCase: true }).root).lookupType(`otlp.${name}`);

/** Encodes a plain object (snake_case fields; int64 as string or number; bytes as Buffer) as `otlp.<name>`. */
export function encode(name: string, value: Record<string, unknown>): Buffer {
  const t = type(name);
  // fromObject, not verify: verify refuses 64-bit integers given as decimal strings
  return Buffer.from(t.encode(t.fromObject(value)).finish());
}

/** A whole ExportTraceServiceRequest from plain objects. */
export const encodeRequest = (value: Record<string, unknown>): Buffer => encode('ExportTraceServiceRequest', value);

/** A request holding already-encoded parts: spans, and optionally the scope and resource messages. */
export function requestWithRawSpans(spans: Buffer[], parts: { scope?: Buffer; resource?: Buffer } = {}): Buffer {
  const scope = encode('RawScopeSpans', { scope: parts.scope ?? encode('InstrumentationScope', { name: 's' }), spans });
  const rs = encode('RawResourceSpans', { resource: parts.resource ?? Buffer.alloc(0), scope_spans: [scope] });
  return encode('RawRequest', { resource_spans: [rs] });
}

/** A message with one unknown field of each wire type, to append to any encoded message. */
export const unknownFields = (): Buffer =>
  encode('Unknowns', { u_varint: '18446744073709551615', u_i64: '1', u_len: 'ignored', u_i32: 7, u_msg: { attributes: [{ key: 'x', value: { string_value: 'y' } }] } });

/** An encoded message followed by unknown fields of every wire type. */
export const withUnknowns = (message: Buffer): Buffer => Buffer.concat([message, unknownFields()]);

/** Decodes `otlp.<name>` bytes to a plain object: snake_case, every field present (defaults filled), 64-bit integers as strings, bytes as hex. */
export function decode(name: string, bytes: Uint8Array): Record<string, unknown> {
  const t = type(name);
  const hex = (o: unknown): unknown => {
    if (o instanceof Uint8Array) return Buffer.from(o).toString('hex');
    if (Array.isArray(o)) return o.map(hex);
    if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, hex(v)]));
    return o;
  };
  return hex(t.toObject(t.decode(bytes), { longs: String, defaults: true, arrays: true, oneofs: true })) as Record<string, unknown>;
}

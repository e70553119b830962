/**
 * OTLP trace protobuf, written straight from SDK spans in one pass (opentelemetry-proto
 * trace/v1, common/v1, resource/v1, collector/trace/v1 ExportTraceServiceRequest): no
 * intermediate object tree. Zero-valued scalar fields are left out, as proto3 encoders do.
 *
 * Field numbers, with wire types, are spelled as the tag bytes: (field << 3) | wire type.
 */
import type { Attributes, AttributeValue, Link, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { GatewaySpan } from '../spans/span.js';
import { ProtoSink } from './sink.js';
import { ProtoWriter, varintSize } from '../../../common/protobuf/writer.js';

/** Span flags: the low byte is the W3C trace flags; bit 8 says bit 9 (parent or link is remote) is known. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** What resource and scope grouping needs to know (SDK Resource and InstrumentationScope objects). */
export interface ResourceLike {
  readonly attributes: Attributes;
  readonly schemaUrl?: string;
}
export interface ScopeLike {
  readonly name: string;
  readonly version?: string;
  readonly schemaUrl?: string;
  readonly attributes?: Attributes;
}

const flagsOf = (traceFlags: number, remote: boolean | undefined) => (traceFlags & 0xff) | HAS_IS_REMOTE | (remote ? IS_REMOTE : 0);

/** AnyValue body. Types an attribute cannot hold (null in an array) leave it empty, as OTLP reads an unset value. */
function anyValue(w: ProtoWriter, v: unknown): void {
  switch (typeof v) {
    case 'string':
      w.byte(0x0a); // string_value = 1
      w.string(v);
      return;
    case 'boolean':
      w.byte(0x10); // bool_value = 2
      w.byte(v ? 1 : 0);
      return;
    case 'number':
      w.anyNumber(v); // int_value = 3 or double_value = 4
      return;
    case 'object':
      if (v === null) return;
      if (v instanceof Uint8Array) {
        w.byte(0x3a); // bytes_value = 7
        w.bytes(v);
      } else if (Array.isArray(v)) {
        w.byte(0x2a); // array_value = 5 → ArrayValue { values = 1 }
        const list = w.begin();
        for (const item of v) {
          w.byte(0x0a);
          const m = w.begin();
          anyValue(w, item);
          w.end(m);
        }
        w.end(list);
      } else {
        w.byte(0x32); // kvlist_value = 6 → KeyValueList { values = 1 }
        const list = w.begin();
        keyValues(w, 0x0a, v as Record<string, unknown>);
        w.end(list);
      }
      return;
    default:
  }
}

/** Repeated KeyValue under the tag byte `tag`; keys with an undefined value are skipped, as the SDK never stores them. */
function keyValues(w: ProtoWriter, tag: number, attrs: Record<string, unknown>): void {
  for (const key in attrs) {
    const v = attrs[key];
    if (v === undefined) continue;
    w.byte(tag);
    const kv = w.begin();
    w.byte(0x0a); // key = 1
    w.string(key);
    w.byte(0x12); // value = 2
    const value = w.begin();
    anyValue(w, v as AttributeValue);
    w.end(value);
    w.end(kv);
  }
}

/** A count field, left out when zero. */
function counted(w: ProtoWriter, tag: number, n: number | undefined): void {
  if (!n) return;
  w.byte(tag);
  w.uvarint(n);
}

/** trace_id = 1, span_id = 2, trace_state = 3: the same fields in a Span and in a Link. */
function identity(w: ProtoWriter, ctx: SpanContext): void {
  w.byte(0x0a);
  w.hexId(ctx.traceId);
  w.byte(0x12);
  w.hexId(ctx.spanId);
  const state = ctx.traceState?.serialize();
  if (state) {
    w.byte(0x1a);
    w.string(state);
  }
}

function event(w: ProtoWriter, e: TimedEvent): void {
  w.byte(0x5a); // Span.events = 11
  const m = w.begin();
  w.byte(0x09); // time_unix_nano = 1, fixed64
  w.hrTime(e.time[0], e.time[1]);
  w.byte(0x12); // name = 2
  w.string(e.name);
  if (e.attributes) keyValues(w, 0x1a, e.attributes); // attributes = 3
  counted(w, 0x20, e.droppedAttributesCount); // dropped_attributes_count = 4
  w.end(m);
}

function link(w: ProtoWriter, l: Link): void {
  const ctx = l.context;
  w.byte(0x6a); // Span.links = 13
  const m = w.begin();
  identity(w, ctx);
  if (l.attributes) keyValues(w, 0x22, l.attributes); // attributes = 4
  counted(w, 0x28, l.droppedAttributesCount); // dropped_attributes_count = 5
  w.byte(0x35); // flags = 6, fixed32
  w.fixed32(flagsOf(ctx.traceFlags, ctx.isRemote));
  w.end(m);
}

/** One Span message body (without its own tag and length). */
export function spanBody(w: ProtoWriter, s: ReadableSpan): void {
  const ctx = s.spanContext();
  identity(w, ctx);
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.byte(0x22); // parent_span_id = 4
    w.hexId(parent.spanId);
  }
  w.byte(0x2a); // name = 5
  w.string(s.name);
  w.byte(0x30); // kind = 6: the API's SpanKind is OTLP's minus one (OTLP 0 is "unspecified")
  w.uvarint(s.kind + 1);
  if (s instanceof GatewaySpan && !s.extra) {
    // The gateway's own spans: times kept in milliseconds, attributes written by their source.
    w.byte(0x39); // start_time_unix_nano = 7, fixed64
    w.msTime(s.startMs);
    w.byte(0x41); // end_time_unix_nano = 8, fixed64
    w.msTime(s.endMs);
    s.source?.writeAttributes(new ProtoSink(s.capture, w, 0x4a)); // attributes = 9
  } else {
    // Any other span, or a gateway span someone set attributes on (merged into one map).
    w.byte(0x39);
    w.hrTime(s.startTime[0], s.startTime[1]);
    w.byte(0x41);
    w.hrTime(s.endTime[0], s.endTime[1]);
    keyValues(w, 0x4a, s.attributes);
  }
  counted(w, 0x50, s.droppedAttributesCount); // 10
  for (const e of s.events) event(w, e);
  counted(w, 0x60, s.droppedEventsCount); // 12
  for (const l of s.links) link(w, l);
  counted(w, 0x70, s.droppedLinksCount); // 14
  const st = s.status;
  if (st.code || st.message) {
    w.byte(0x7a); // status = 15 → Status { message = 2, code = 3 }
    const m = w.begin();
    if (st.message) {
      w.byte(0x12);
      w.string(st.message);
    }
    if (st.code) {
      w.byte(0x18);
      w.uvarint(st.code);
    }
    w.end(m);
  }
  w.uvarint((16 << 3) | 5); // flags = 16, fixed32
  w.fixed32(flagsOf(ctx.traceFlags, parent?.isRemote));
}

/** A Resource message body. */
export function resourceBody(w: ProtoWriter, r: ResourceLike): void {
  keyValues(w, 0x0a, r.attributes); // attributes = 1
}

/** An InstrumentationScope message body. */
export function scopeBody(w: ProtoWriter, s: ScopeLike): void {
  if (s.name) {
    w.byte(0x0a); // name = 1
    w.string(s.name);
  }
  if (s.version) {
    w.byte(0x12); // version = 2
    w.string(s.version);
  }
  if (s.attributes) keyValues(w, 0x1a, s.attributes); // attributes = 3
}

/** Spans by resource, then by scope, both by identity (the SDK shares one object per tracer and provider). */
export function groupSpans(spans: readonly ReadableSpan[]): Map<ResourceLike, Map<ScopeLike, ReadableSpan[]>> {
  const out = new Map<ResourceLike, Map<ScopeLike, ReadableSpan[]>>();
  for (const s of spans) {
    let scopes = out.get(s.resource);
    if (!scopes) out.set(s.resource, (scopes = new Map()));
    let list = scopes.get(s.instrumentationScope);
    if (!list) scopes.set(s.instrumentationScope, (list = []));
    list.push(s);
  }
  return out;
}

function writeSchema(w: ProtoWriter, url: string | undefined): void {
  if (!url) return;
  w.byte(0x1a); // schema_url = 3 (in ScopeSpans and in ResourceSpans)
  w.string(url);
}

/**
 * ResourceSpans { resource = 1, scope_spans = 2, schema_url = 3 } → ScopeSpans { scope = 1, spans = 2,
 * schema_url = 3 }, one per group. `spans(scope)` writes the scope's repeated Span entries.
 */
export function resourceSpans(w: ProtoWriter, resource: ResourceLike, scopes: Iterable<ScopeLike>, spans: (scope: ScopeLike) => void): void {
  w.byte(0x0a); // ExportTraceServiceRequest.resource_spans = 1
  const rs = w.begin(3);
  w.byte(0x0a);
  const r = w.begin(2);
  resourceBody(w, resource);
  w.end(r);
  for (const scope of scopes) {
    w.byte(0x12);
    const ss = w.begin(3);
    w.byte(0x0a);
    const sc = w.begin();
    scopeBody(w, scope);
    w.end(sc);
    spans(scope);
    writeSchema(w, scope.schemaUrl);
    w.end(ss);
  }
  writeSchema(w, resource.schemaUrl);
  w.end(rs);
}

/** `tag`, length and body of a Resource or InstrumentationScope (once per export request). */
function fieldOf<T>(tag: number, x: T, body: (w: ProtoWriter, x: T) => void): Buffer {
  const w = new ProtoWriter(256);
  w.byte(tag);
  const m = w.begin();
  body(w, x);
  w.end(m);
  return w.buf.subarray(0, w.pos);
}

/**
 * The bytes around `spansLength` bytes of Span entries of one resource and scope that make them a
 * whole ExportTraceServiceRequest: what `resourceSpans` writes, with every length known up front,
 * so the entries need not be copied behind it.
 */
export function requestFraming(resource: ResourceLike, scope: ScopeLike, spansLength: number): { head: Buffer; tail: Buffer } {
  const r = fieldOf(0x0a, resource, resourceBody); // ResourceSpans.resource = 1
  const sc = fieldOf(0x0a, scope, scopeBody); // ScopeSpans.scope = 1
  const tw = new ProtoWriter(64);
  writeSchema(tw, scope.schemaUrl);
  const scopeTail = tw.pos;
  writeSchema(tw, resource.schemaUrl);
  const ssLength = sc.length + spansLength + scopeTail;
  const rsLength = r.length + 1 + varintSize(ssLength) + ssLength + (tw.pos - scopeTail);
  const hw = new ProtoWriter(r.length + sc.length + 16);
  hw.byte(0x0a); // ExportTraceServiceRequest.resource_spans = 1
  hw.uvarint(rsLength);
  hw.raw(r);
  hw.byte(0x12); // ResourceSpans.scope_spans = 2
  hw.uvarint(ssLength);
  hw.raw(sc);
  return { head: hw.buf.subarray(0, hw.pos), tail: tw.buf.subarray(0, tw.pos) };
}

/** Writes one `ScopeSpans.spans` entry (tag, length, Span). */
export function spanEntry(w: ProtoWriter, s: ReadableSpan): void {
  w.byte(0x12);
  const m = w.begin(2);
  spanBody(w, s);
  w.end(m);
}

/** A whole ExportTraceServiceRequest for `spans`, written into `w` from its current position. */
export function writeTraceRequest(w: ProtoWriter, spans: readonly ReadableSpan[]): void {
  for (const [resource, scopes] of groupSpans(spans)) {
    resourceSpans(w, resource, scopes.keys(), (scope) => {
      for (const s of scopes.get(scope) as ReadableSpan[]) spanEntry(w, s);
    });
  }
}

/** ExportTraceServiceRequest bytes for `spans` (a fresh buffer). */
export function encodeTraceRequest(spans: readonly ReadableSpan[], w = new ProtoWriter(Math.max(1024, spans.length * 1024))): Uint8Array {
  w.reset();
  writeTraceRequest(w, spans);
  return w.copy();
}

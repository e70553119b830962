/**
 * `ExportTraceServiceRequest` (opentelemetry/proto/collector/trace/v1) decoded from protobuf
 * into `SpanRecord`s. Field numbers are those of the OTLP specification's trace, common and
 * resource messages (listed beside each case); unknown fields are skipped, as protobuf requires.
 */
import type { Attributes, SpanEvent, SpanLink, SpanRecord } from '../model.js';
import { KeyCache, Reader, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../../common/protobuf/reader.js';
import { deeper, normalizeParent, parentIdProblem, Rejections, spanIdProblem, spanKind, statusCode, traceIdProblem, ValueDepthError, type DecodeResult } from './spans.js';

interface Scope {
  keys: KeyCache;
  serviceName: string;
  resourceAttributes: Attributes;
  scopeName: string;
  scopeVersion: string;
}

/**
 * Decodes a whole request; throws WireError when the bytes are not a valid message. `keys`
 * carries decoded attribute keys from one request to the next (one cache per thread).
 */
export function decodeTraceRequest(buf: Buffer, keys: KeyCache = new KeyCache()): DecodeResult<SpanRecord> {
  const out: DecodeResult<SpanRecord> = { spans: [], rejected: new Rejections() };
  const r = new Reader(buf);
  let index = 0;
  while (!r.done()) {
    const tag = r.uint32();
    // ExportTraceServiceRequest.resource_spans = 1
    if (tag === ((1 << 3) | WIRE_LEN)) readResourceSpans(r, r.lenEnd(), index++, keys, out);
    else r.skip(tag & 7);
  }
  return out;
}

/** ResourceSpans: resource = 1, scope_spans = 2 (in any order: the resource is read first). */
function readResourceSpans(r: Reader, end: number, index: number, keys: KeyCache, out: DecodeResult<SpanRecord>): void {
  const scopes: Array<[number, number]> = [];
  let resourceAttributes: Attributes = Object.create(null);
  let deep: ValueDepthError | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd();
      try {
        resourceAttributes = readResource(r, e, keys);
      } catch (err) {
        if (!(err instanceof ValueDepthError)) throw err;
        deep = err;
        r.pos = e;
      }
    } else if (tag === ((2 << 3) | WIRE_LEN)) scopes.push(r.bytesRange());
    else r.skip(tag & 7);
  }
  r.pos = end;
  if (deep) {
    rejectResource(r.buf, scopes, index, deep.message, out);
    return;
  }
  const serviceName = resourceAttributes['service.name'] ?? '';
  for (let i = 0; i < scopes.length; i++) {
    const [s, e] = scopes[i];
    const scope: Scope = { keys, serviceName, resourceAttributes, scopeName: '', scopeVersion: '' };
    readScopeSpans(new Reader(r.buf, s, e), scope, index, i, out);
  }
}

/** Every span carries its resource's attributes: when those are refused, so is each span. */
function rejectResource(buf: Buffer, scopes: Array<[number, number]>, index: number, reason: string, out: DecodeResult<SpanRecord>): void {
  for (let i = 0; i < scopes.length; i++) {
    const r = new Reader(buf, scopes[i][0], scopes[i][1]);
    let span = 0;
    while (!r.done()) {
      const tag = r.uint32();
      if (tag === ((2 << 3) | WIRE_LEN)) out.rejected.add(`resource ${index} scope ${i} span ${span++}`, `resource: ${reason}`);
      r.skip(tag & 7);
    }
  }
}

/** Resource: attributes = 1. */
function readResource(r: Reader, end: number, keys: KeyCache): Attributes {
  const attrs: Attributes = Object.create(null);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) readKeyValue(r, r.lenEnd(), keys, attrs);
    else r.skip(tag & 7);
  }
  r.pos = end;
  return attrs;
}

/** ScopeSpans: scope = 1 (InstrumentationScope: name = 1, version = 2), spans = 2. */
function readScopeSpans(r: Reader, scope: Scope, resource: number, scopeIndex: number, out: DecodeResult<SpanRecord>): void {
  const spans: Array<[number, number]> = [];
  while (!r.done()) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) readScope(r, r.lenEnd(), scope);
    else if (tag === ((2 << 3) | WIRE_LEN)) spans.push(r.bytesRange());
    else r.skip(tag & 7);
  }
  for (let i = 0; i < spans.length; i++) {
    const [s, e] = spans[i];
    let span: SpanRecord | string;
    try {
      span = readSpan(new Reader(r.buf, s, e), scope);
    } catch (err) {
      if (!(err instanceof ValueDepthError)) throw err;
      span = err.message;
    }
    if (typeof span === 'string') out.rejected.add(`resource ${resource} scope ${scopeIndex} span ${i}`, span);
    else out.spans.push(span);
  }
}

function readScope(r: Reader, end: number, scope: Scope): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) scope.scopeName = r.string();
    else if (tag === ((2 << 3) | WIRE_LEN)) scope.scopeVersion = r.string();
    else r.skip(tag & 7);
  }
  r.pos = end;
}

/**
 * Span: trace_id = 1, span_id = 2, trace_state = 3, parent_span_id = 4, name = 5, kind = 6,
 * start_time_unix_nano = 7, end_time_unix_nano = 8, attributes = 9, events = 11, links = 13,
 * status = 15. Returns why, instead of a span, when its ids are unusable.
 */
function readSpan(r: Reader, scope: Scope): SpanRecord | string {
  const { keys } = scope;
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let traceState = '';
  let name = '';
  let kind = 0;
  let start = 0n;
  let end = 0n;
  const attributes: Attributes = Object.create(null);
  const events: SpanEvent[] = [];
  const links: SpanLink[] = [];
  let status = 0;
  let statusMessage = '';
  while (!r.done()) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | WIRE_LEN:
        traceId = r.hex();
        break;
      case (2 << 3) | WIRE_LEN:
        spanId = r.hex();
        break;
      case (3 << 3) | WIRE_LEN:
        traceState = r.string();
        break;
      case (4 << 3) | WIRE_LEN:
        parentSpanId = r.hex();
        break;
      case (5 << 3) | WIRE_LEN:
        name = r.string();
        break;
      case (6 << 3) | WIRE_VARINT:
        kind = r.uint32();
        break;
      case (7 << 3) | WIRE_I64:
        start = r.fixed64();
        break;
      case (8 << 3) | WIRE_I64:
        end = r.fixed64();
        break;
      case (9 << 3) | WIRE_LEN:
        readKeyValue(r, r.lenEnd(), keys, attributes);
        break;
      case (11 << 3) | WIRE_LEN:
        events.push(readEvent(r, r.lenEnd(), keys));
        break;
      case (13 << 3) | WIRE_LEN:
        links.push(readLink(r, r.lenEnd(), keys));
        break;
      case (15 << 3) | WIRE_LEN: {
        // Status: message = 2, code = 3
        const e = r.lenEnd();
        while (r.pos < e) {
          const t = r.uint32();
          if (t === ((2 << 3) | WIRE_LEN)) statusMessage = r.string();
          else if (t === ((3 << 3) | WIRE_VARINT)) status = r.uint32();
          else r.skip(t & 7);
        }
        r.pos = e;
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  const problem = traceIdProblem(traceId) ?? spanIdProblem(spanId) ?? parentIdProblem(parentSpanId);
  if (problem) return problem;
  return {
    traceId,
    spanId,
    parentSpanId: normalizeParent(parentSpanId),
    traceState,
    name,
    kind: spanKind(kind),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    serviceName: scope.serviceName,
    resourceAttributes: scope.resourceAttributes,
    scopeName: scope.scopeName,
    scopeVersion: scope.scopeVersion,
    attributes,
    statusCode: statusCode(status),
    statusMessage,
    events,
    links,
  };
}

/** Event: time_unix_nano = 1, name = 2, attributes = 3. */
function readEvent(r: Reader, end: number, keys: KeyCache): SpanEvent {
  const ev: SpanEvent = { timeUnixNano: 0n, name: '', attributes: {} };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_I64)) ev.timeUnixNano = r.fixed64();
    else if (tag === ((2 << 3) | WIRE_LEN)) ev.name = r.string();
    else if (tag === ((3 << 3) | WIRE_LEN)) readKeyValue(r, r.lenEnd(), keys, ev.attributes);
    else r.skip(tag & 7);
  }
  r.pos = end;
  return ev;
}

/** Link: trace_id = 1, span_id = 2, trace_state = 3, attributes = 4. */
function readLink(r: Reader, end: number, keys: KeyCache): SpanLink {
  const link: SpanLink = { traceId: '', spanId: '', traceState: '', attributes: {} };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) link.traceId = r.hex();
    else if (tag === ((2 << 3) | WIRE_LEN)) link.spanId = r.hex();
    else if (tag === ((3 << 3) | WIRE_LEN)) link.traceState = r.string();
    else if (tag === ((4 << 3) | WIRE_LEN)) readKeyValue(r, r.lenEnd(), keys, link.attributes);
    else r.skip(tag & 7);
  }
  r.pos = end;
  return link;
}

/** KeyValue: key = 1, value = 2; the value is stored as the exporter's string form. */
function readKeyValue(r: Reader, end: number, keys: KeyCache, into: Attributes): void {
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) key = r.key(keys);
    else if (tag === ((2 << 3) | WIRE_LEN)) value = stringValue(r, r.lenEnd());
    else r.skip(tag & 7);
  }
  r.pos = end;
  into[key] = value;
}

/**
 * AnyValue: string_value = 1, bool_value = 2, int_value = 3, double_value = 4, array_value = 5,
 * kvlist_value = 6, bytes_value = 7. Scalars become their text; arrays and maps JSON; bytes base64.
 */
function stringValue(r: Reader, end: number): string {
  let out = '';
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | WIRE_LEN:
        out = r.string();
        break;
      case (2 << 3) | WIRE_VARINT:
        out = r.uint32() !== 0 ? 'true' : 'false';
        break;
      case (3 << 3) | WIRE_VARINT:
        out = r.int64String();
        break;
      case (4 << 3) | WIRE_I64:
        out = String(r.double());
        break;
      case (5 << 3) | WIRE_LEN:
        out = JSON.stringify(arrayValue(r, r.lenEnd(), deeper(0)));
        break;
      case (6 << 3) | WIRE_LEN:
        out = JSON.stringify(kvlistValue(r, r.lenEnd(), deeper(0)));
        break;
      case (7 << 3) | WIRE_LEN: {
        const [s, e] = r.bytesRange();
        out = r.buf.toString('base64', s, e);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  r.pos = end;
  return out;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** `depth`: arrays and key-value lists around this value (bounded: see MAX_VALUE_DEPTH). */
function anyValue(r: Reader, end: number, depth: number): Json {
  let out: Json = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | WIRE_LEN:
        out = r.string();
        break;
      case (2 << 3) | WIRE_VARINT:
        out = r.uint32() !== 0;
        break;
      case (3 << 3) | WIRE_VARINT: {
        const s = r.int64String();
        const n = Number(s);
        out = Number.isSafeInteger(n) ? n : s;
        break;
      }
      case (4 << 3) | WIRE_I64:
        out = r.double();
        break;
      case (5 << 3) | WIRE_LEN:
        out = arrayValue(r, r.lenEnd(), deeper(depth));
        break;
      case (6 << 3) | WIRE_LEN:
        out = kvlistValue(r, r.lenEnd(), deeper(depth));
        break;
      case (7 << 3) | WIRE_LEN: {
        const [s, e] = r.bytesRange();
        out = r.buf.toString('base64', s, e);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  r.pos = end;
  return out;
}

/** ArrayValue: values = 1. */
function arrayValue(r: Reader, end: number, depth: number): Json[] {
  const out: Json[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) out.push(anyValue(r, r.lenEnd(), depth));
    else r.skip(tag & 7);
  }
  r.pos = end;
  return out;
}

/** KeyValueList: values = 1 (KeyValue). */
function kvlistValue(r: Reader, end: number, depth: number): { [k: string]: Json } {
  // Null prototype: a key named __proto__ is data like any other.
  const out: { [k: string]: Json } = Object.create(null);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd();
      let key = '';
      let value: Json = null;
      while (r.pos < e) {
        const t = r.uint32();
        if (t === ((1 << 3) | WIRE_LEN)) key = r.string();
        else if (t === ((2 << 3) | WIRE_LEN)) value = anyValue(r, r.lenEnd(), depth);
        else r.skip(t & 7);
      }
      r.pos = e;
      out[key] = value;
    } else r.skip(tag & 7);
  }
  r.pos = end;
  return out;
}

/**
 * OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions: trace and span ids are hex
 * strings, enums are numbers, 64-bit integers may be strings). Field names are lowerCamelCase;
 * the original snake_case names are accepted too, as protobuf JSON parsers do. Unknown fields
 * are ignored.
 */
import type { Attributes, SpanEvent, SpanLink, SpanRecord } from '../model.js';
import {
  deeper,
  normalizeParent,
  parentIdProblem,
  Rejections,
  spanIdProblem,
  spanKind,
  statusCode,
  stringifyValue,
  traceIdProblem,
  SPAN_KINDS,
  STATUS_CODES,
  ValueDepthError,
  type DecodeResult,
} from './spans.js';

/** The body is JSON but not an OTLP request: a 400 that says where. */
export class JsonShapeError extends Error {}

type Obj = Record<string, unknown>;

function field(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  return v !== undefined || snake === undefined ? v : o[snake];
}

function list(o: Obj, camel: string, snake: string | undefined, where: string): Obj[] {
  const v = field(o, camel, snake);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new JsonShapeError(`${where}.${camel} must be an array`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'object' || v[i] === null || Array.isArray(v[i])) throw new JsonShapeError(`${where}.${camel}[${i}] must be an object`);
  }
  return v as Obj[];
}

function obj(o: Obj, camel: string, snake: string | undefined, where: string): Obj {
  const v = field(o, camel, snake);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new JsonShapeError(`${where}.${camel} must be an object`);
  return v as Obj;
}

function str(o: Obj, camel: string, snake?: string): string {
  const v = field(o, camel, snake);
  return typeof v === 'string' ? v : '';
}

/** Ids are hex in OTLP/JSON; anything else leaves the id unusable (the span is rejected). */
function hexId(o: Obj, camel: string, snake: string): string {
  const v = field(o, camel, snake);
  if (typeof v !== 'string' || v.length === 0) return '';
  return /^[0-9a-fA-F]*$/.test(v) && v.length % 2 === 0 ? v.toLowerCase() : `invalid:${v.length}`;
}

function nanos(o: Obj, camel: string, snake: string): bigint {
  const v = field(o, camel, snake);
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  return 0n;
}

function enumValue(v: unknown, names: readonly string[], prefix: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const i = names.findIndex((n) => `${prefix}${n.toUpperCase()}` === v);
    return Math.max(i, 0);
  }
  return 0;
}

/** `depth`: arrays and key-value lists around this value (bounded: see MAX_VALUE_DEPTH). */
function anyValue(v: unknown, depth: number): unknown {
  if (typeof v !== 'object' || v === null) return null;
  const a = v as Obj;
  if ('stringValue' in a || 'string_value' in a) return String(field(a, 'stringValue', 'string_value') ?? '');
  if ('boolValue' in a || 'bool_value' in a) return Boolean(field(a, 'boolValue', 'bool_value'));
  if ('intValue' in a || 'int_value' in a) {
    const n = field(a, 'intValue', 'int_value');
    const num = Number(n);
    return Number.isSafeInteger(num) ? num : String(n);
  }
  if ('doubleValue' in a || 'double_value' in a) return Number(field(a, 'doubleValue', 'double_value'));
  if ('arrayValue' in a || 'array_value' in a) {
    const d = deeper(depth);
    return list(obj(a, 'arrayValue', 'array_value', 'value'), 'values', undefined, 'arrayValue').map((x) => anyValue(x, d));
  }
  if ('kvlistValue' in a || 'kvlist_value' in a) {
    const d = deeper(depth);
    const out: Obj = Object.create(null);
    for (const kv of list(obj(a, 'kvlistValue', 'kvlist_value', 'value'), 'values', undefined, 'kvlistValue')) out[str(kv, 'key')] = anyValue(kv.value, d);
    return out;
  }
  if ('bytesValue' in a || 'bytes_value' in a) return String(field(a, 'bytesValue', 'bytes_value') ?? '');
  return null;
}

function attributes(o: Obj, camel: string, where: string): Attributes {
  const out: Attributes = Object.create(null);
  for (const kv of list(o, camel, camel, where)) {
    const v = anyValue(kv.value, 0);
    out[str(kv, 'key')] = stringifyValue(v);
  }
  return out;
}

/** Decodes a parsed OTLP/JSON request; throws JsonShapeError when it is not one. */
export function decodeTraceJson(body: unknown): DecodeResult<SpanRecord> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new JsonShapeError('the body must be a JSON object (ExportTraceServiceRequest)');
  const out: DecodeResult<SpanRecord> = { spans: [], rejected: new Rejections() };
  list(body as Obj, 'resourceSpans', 'resource_spans', 'request').forEach((rs, ri) => {
    const scopes = list(rs, 'scopeSpans', 'scope_spans', `resourceSpans[${ri}]`).map((ss, si) => {
      const where = `resourceSpans[${ri}].scopeSpans[${si}]`;
      return { scope: obj(ss, 'scope', undefined, where), spans: list(ss, 'spans', undefined, where), where };
    });
    let resourceAttributes: Attributes;
    try {
      resourceAttributes = attributes(obj(rs, 'resource', undefined, `resourceSpans[${ri}]`), 'attributes', `resourceSpans[${ri}].resource`);
    } catch (err) {
      if (!(err instanceof ValueDepthError)) throw err;
      // Every span of the resource carries its attributes: all of them are refused, the other resources kept.
      for (const { spans, where } of scopes) for (let i = 0; i < spans.length; i++) out.rejected.add(`${where}.spans[${i}]`, `resource: ${err.message}`);
      return;
    }
    const serviceName = resourceAttributes['service.name'] ?? '';
    for (const { scope, spans, where: scopeWhere } of scopes) {
      const base = { serviceName, resourceAttributes, scopeName: str(scope, 'name'), scopeVersion: str(scope, 'version') };
      spans.forEach((sp, i) => {
        const where = `${scopeWhere}.spans[${i}]`;
        const span = readSpan(sp, base, where, out.rejected);
        if (span) out.spans.push(span);
      });
    }
  });
  return out;
}

type ScopeBase = Pick<SpanRecord, 'serviceName' | 'resourceAttributes' | 'scopeName' | 'scopeVersion'>;

function readSpan(sp: Obj, base: ScopeBase, where: string, rejected: Rejections): SpanRecord | undefined {
  try {
    return spanOf(sp, base, where, rejected);
  } catch (err) {
    if (!(err instanceof ValueDepthError)) throw err;
    rejected.add(where, err.message);
    return undefined;
  }
}

function spanOf(sp: Obj, base: ScopeBase, where: string, rejected: Rejections): SpanRecord | undefined {
  const traceId = hexId(sp, 'traceId', 'trace_id');
  const spanId = hexId(sp, 'spanId', 'span_id');
  const parentSpanId = hexId(sp, 'parentSpanId', 'parent_span_id');
  const problem = idProblem(traceId, traceIdProblem) ?? idProblem(spanId, spanIdProblem) ?? idProblem(parentSpanId, parentIdProblem);
  if (problem) {
    rejected.add(where, problem);
    return undefined;
  }
  const status = obj(sp, 'status', undefined, where);
  return {
    ...base,
    traceId,
    spanId,
    parentSpanId: normalizeParent(parentSpanId),
    traceState: str(sp, 'traceState', 'trace_state'),
    name: str(sp, 'name'),
    kind: spanKind(enumValue(sp.kind, SPAN_KINDS, 'SPAN_KIND_')),
    startTimeUnixNano: nanos(sp, 'startTimeUnixNano', 'start_time_unix_nano'),
    endTimeUnixNano: nanos(sp, 'endTimeUnixNano', 'end_time_unix_nano'),
    attributes: attributes(sp, 'attributes', where),
    statusCode: statusCode(enumValue(status.code, STATUS_CODES, 'STATUS_CODE_')),
    statusMessage: str(status, 'message'),
    events: list(sp, 'events', undefined, where).map(
      (e, i): SpanEvent => ({
        timeUnixNano: nanos(e, 'timeUnixNano', 'time_unix_nano'),
        name: str(e, 'name'),
        attributes: attributes(e, 'attributes', `${where}.events[${i}]`),
      }),
    ),
    links: list(sp, 'links', undefined, where).map(
      (l, i): SpanLink => ({
        traceId: hexId(l, 'traceId', 'trace_id').replace(/^invalid:.*/, ''),
        spanId: hexId(l, 'spanId', 'span_id').replace(/^invalid:.*/, ''),
        traceState: str(l, 'traceState', 'trace_state'),
        attributes: attributes(l, 'attributes', `${where}.links[${i}]`),
      }),
    ),
  };
}

function idProblem(hex: string, check: (h: string) => string | undefined): string | undefined {
  if (hex.startsWith('invalid:')) return `${check === traceIdProblem ? 'trace id' : check === spanIdProblem ? 'span id' : 'parent span id'} is not hex`;
  return check(hex);
}

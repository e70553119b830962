/**
 * Requests with one attribute value nested `levels` arrays deep, written without recursion in
 * linear time (the protobuf from the inside out, lengths known as it grows), so a test can
 * send 100,000 levels. Each request holds a shallow span named `shallow` first, then the deep
 * span named `deep`.
 */
import { randomBytes } from 'node:crypto';
import { varintBytes } from '../../common/protobuf/writer.js';

export interface DeepOptions {
  service?: string;
  /** Hex ids; fresh random ones by default (a resent request with the same ids is a retry). */
  traceId?: string;
  shallowSpanId?: string;
  deepSpanId?: string;
  /** false: the deep span alone (every span of the request refused). */
  shallow?: boolean;
}

/** A message built from the inside out: wrap() makes what there is a field of an outer message. */
class Inside {
  private readonly parts: Buffer[] = [];
  size = 0;
  prepend(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  wrap(field: number): this {
    return this.prepend(Buffer.from([(field << 3) | 2, ...varintBytes(this.size)]));
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts.reverse());
  }
}

/** A length-delimited field: tag, length, bytes. */
const lenField = (field: number, bytes: Buffer) => Buffer.concat([Buffer.from([(field << 3) | 2, ...varintBytes(bytes.length)]), bytes]);

function ids(o: DeepOptions) {
  return {
    traceId: o.traceId ?? randomBytes(16).toString('hex'),
    shallow: o.shallowSpanId ?? randomBytes(8).toString('hex'),
    deep: o.deepSpanId ?? randomBytes(8).toString('hex'),
  };
}

/** Span fields before the attributes: trace_id = 1, span_id = 2, name = 5. */
function spanHead(traceId: string, spanId: string, name: string): Buffer {
  // start_time_unix_nano = 7, end_time_unix_nano = 8 (fixed64): now, so the row is not expired at once
  const times = Buffer.alloc(18);
  times[0] = (7 << 3) | 1;
  times.writeBigUInt64LE(nowNanos(), 1);
  times[9] = (8 << 3) | 1;
  times.writeBigUInt64LE(nowNanos() + 1_000_000n, 10);
  return Buffer.concat([lenField(1, Buffer.from(traceId, 'hex')), lenField(2, Buffer.from(spanId, 'hex')), lenField(5, Buffer.from(name)), times]);
}

const nowNanos = () => BigInt(Date.now()) * 1_000_000n;

export function deepRequestProto(levels: number, o: DeepOptions = {}): Buffer {
  const id = ids(o);
  // AnyValue { string_value = 1 }, then `levels` × AnyValue { array_value = 5 { values = 1 } }
  const m = new Inside().prepend(lenField(1, Buffer.from('leaf')));
  for (let i = 0; i < levels; i++) m.wrap(1).wrap(5);
  m.wrap(2).prepend(lenField(1, Buffer.from('deep.value'))); // KeyValue { key = 1, value = 2 }
  m.wrap(9).prepend(spanHead(id.traceId, id.deep, 'deep')); // Span.attributes = 9
  m.wrap(2); // ScopeSpans.spans = 2
  if (o.shallow !== false) m.prepend(lenField(2, spanHead(id.traceId, id.shallow, 'shallow')));
  // ResourceSpans { resource = 1 { attributes = 1 { service.name } }, scope_spans = 2 }
  const serviceName = lenField(1, Buffer.concat([lenField(1, Buffer.from('service.name')), lenField(2, lenField(1, Buffer.from(o.service ?? 'deep')))]));
  m.wrap(2).prepend(lenField(1, serviceName));
  return m.wrap(1).bytes();
}

export function deepRequestJson(levels: number, o: DeepOptions = {}): string {
  const id = ids(o);
  const span = (spanId: string, name: string, attributes = '') =>
    `{"traceId":"${id.traceId}","spanId":"${spanId}","name":"${name}","startTimeUnixNano":"${nowNanos()}","endTimeUnixNano":"${nowNanos() + 1_000_000n}"${attributes}}`;
  const value = `${'{"arrayValue":{"values":['.repeat(levels)}{"stringValue":"leaf"}${']}}'.repeat(levels)}`;
  const deep = span(id.deep, 'deep', `,"attributes":[{"key":"deep.value","value":${value}}]`);
  const resource = `{"attributes":[{"key":"service.name","value":{"stringValue":${JSON.stringify(o.service ?? 'deep')}}}]}`;
  return `{"resourceSpans":[{"resource":${resource},"scopeSpans":[{"spans":[${o.shallow === false ? '' : `${span(id.shallow, 'shallow')},`}${deep}]}]}]}`;
}

/**
 * `SpanRecord`s written as ClickHouse RowBinary rows of `otel_traces`: strings are length-prefixed
 * bytes (no escaping to get wrong, nothing to parse twice), times and durations little-endian
 * 64-bit integers. The spool stores exactly these bytes, and the embedded engine reads the spool
 * file itself (`INSERT … SELECT FROM file(…, RowBinary)`), so a span is encoded once.
 */
import type { Attributes, SpanRecord } from '../model.js';
import type { NativeBuffer } from '../otlp/reader.js';

/** The columns written, in order, with the types RowBinary is encoded for. */
export const OTEL_TRACES_COLUMNS: ReadonlyArray<readonly [name: string, type: string]> = [
  ['Timestamp', 'DateTime64(9)'],
  ['TraceId', 'String'],
  ['SpanId', 'String'],
  ['ParentSpanId', 'String'],
  ['TraceState', 'String'],
  ['SpanName', 'String'],
  ['SpanKind', 'String'],
  ['ServiceName', 'String'],
  ['ResourceAttributes', 'Map(String, String)'],
  ['ScopeName', 'String'],
  ['ScopeVersion', 'String'],
  ['SpanAttributes', 'Map(String, String)'],
  ['Duration', 'UInt64'],
  ['StatusCode', 'String'],
  ['StatusMessage', 'String'],
  ['Events.Timestamp', 'Array(DateTime64(9))'],
  ['Events.Name', 'Array(String)'],
  ['Events.Attributes', 'Array(Map(String, String))'],
  ['Links.TraceId', 'Array(String)'],
  ['Links.SpanId', 'Array(String)'],
  ['Links.TraceState', 'Array(String)'],
  ['Links.Attributes', 'Array(Map(String, String))'],
];

/** `(a, b, …)` column list for the INSERT. */
export const columnList = (): string => `(${OTEL_TRACES_COLUMNS.map(([n]) => `\`${n}\``).join(', ')})`;
/** The structure argument of `file()` / `input()`. */
export const structure = (): string => OTEL_TRACES_COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ');

/**
 * A growable byte buffer, kept between calls so that a batch is encoded without regrowing
 * (one per encoding thread).
 */
export class RowWriter {
  private buf: NativeBuffer = Buffer.allocUnsafe(1 << 20) as NativeBuffer;
  private pos = 0;

  /** The map last written by `sharedMap` and where its bytes are, to repeat them. */
  private shared: Attributes | undefined;
  private sharedStart = 0;
  private sharedEnd = 0;

  reset(): void {
    this.pos = 0;
    this.shared = undefined;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n)) as NativeBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(n: number): void {
    this.ensure(5);
    let v = n;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /**
   * Length prefix then UTF-8 bytes. Most strings of a span (keys, ids, enums, numbers) are short
   * ASCII: those are copied char by char, cheaper than a call into the native UTF-8 writer; the
   * rest go to the native writer, its prefix sized from the char count and fixed up if short.
   */
  string(s: string): void {
    const len = s.length;
    if (len < SHORT_ASCII) {
      this.ensure(len + 1);
      const { buf } = this;
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = start + len;
        return;
      }
    }
    const max = len * 3;
    this.ensure(max + 5);
    const reserve = varintSize(s.length);
    const start = this.pos + reserve;
    const n = this.buf.utf8Write(s, start, max);
    const need = varintSize(n);
    if (need !== reserve) this.buf.copyWithin(this.pos + need, start, start + n);
    this.varint(n);
    this.pos += n;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  map(m: Attributes): void {
    const keys = Object.keys(m);
    this.varint(keys.length);
    for (let i = 0; i < keys.length; i++) {
      this.string(keys[i]);
      this.string(m[keys[i]]);
    }
  }

  /**
   * A map that many rows share (a request's resource attributes: one object for all the spans
   * of a resource, unchanged once the stages are done): written once, then its bytes repeated.
   */
  sharedMap(m: Attributes): void {
    if (m === this.shared) {
      const n = this.sharedEnd - this.sharedStart;
      this.ensure(n);
      this.buf.copyWithin(this.pos, this.sharedStart, this.sharedEnd);
      this.pos += n;
      return;
    }
    const start = this.pos;
    this.map(m);
    this.shared = m;
    this.sharedStart = start;
    this.sharedEnd = this.pos;
  }

  /** The bytes written since `reset`: a view of the writer's buffer, valid until its next use. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Strings shorter than this (one length byte) are tried as ASCII in JS first. */
const SHORT_ASCII = 64;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/**
 * Encodes spans as RowBinary rows in OTEL_TRACES_COLUMNS order. With a writer the answer is a
 * view of its buffer (valid until the writer's next use); without one, a buffer of its own.
 */
export function encodeRows(spans: readonly SpanRecord[], writer?: RowWriter): Buffer {
  const w = writer ?? new RowWriter();
  w.reset();
  for (const s of spans) encodeRow(w, s);
  return writer ? w.view() : Buffer.from(w.view());
}

function encodeRow(w: RowWriter, s: SpanRecord): void {
  w.u64(s.startTimeUnixNano);
  w.string(s.traceId);
  w.string(s.spanId);
  w.string(s.parentSpanId);
  w.string(s.traceState);
  w.string(s.name);
  w.string(s.kind);
  w.string(s.serviceName);
  w.sharedMap(s.resourceAttributes);
  w.string(s.scopeName);
  w.string(s.scopeVersion);
  w.map(s.attributes);
  const d = s.endTimeUnixNano - s.startTimeUnixNano;
  w.u64(d > 0n ? d : 0n);
  w.string(s.statusCode);
  w.string(s.statusMessage);
  const ev = s.events;
  w.varint(ev.length);
  for (const e of ev) w.u64(e.timeUnixNano);
  w.varint(ev.length);
  for (const e of ev) w.string(e.name);
  w.varint(ev.length);
  for (const e of ev) w.map(e.attributes);
  const ln = s.links;
  w.varint(ln.length);
  for (const l of ln) w.string(l.traceId);
  w.varint(ln.length);
  for (const l of ln) w.string(l.spanId);
  w.varint(ln.length);
  for (const l of ln) w.string(l.traceState);
  w.varint(ln.length);
  for (const l of ln) w.map(l.attributes);
}

/**
 * `SpanRecord`s written as ClickHouse RowBinary rows of `otel_traces`: strings are length-prefixed
 * bytes (no escaping to get wrong, nothing to parse twice), times and durations little-endian
 * 64-bit integers. The spool stores exactly these bytes, and the embedded engine reads the spool
 * file itself (`INSERT … SELECT FROM file(…, RowBinary)`), so a span is encoded once.
 */
import type { Attributes, SpanRecord } from '../model.js';
import { ProtoWriter } from '../../common/protobuf/writer.js';

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
 * A growable byte buffer, kept between calls so that a batch is encoded without regrowing (one
 * per encoding thread). RowBinary's length prefixes are the LEB128 varints of protobuf, so its
 * strings and lengths are the protobuf writer's.
 */
export class RowWriter extends ProtoWriter {
  /** The map last written by `sharedMap` and where its bytes are, to repeat them. */
  private shared: Attributes | undefined;
  private sharedStart = 0;
  private sharedEnd = 0;

  constructor() {
    super(1 << 20);
  }

  override reset(): void {
    this.pos = 0;
    this.shared = undefined;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  map(m: Attributes): void {
    const keys = Object.keys(m);
    this.uvarint(keys.length);
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

/**
 * The latest span or event time stored: 2100-01-01T00:00:00Z. Times are the sender's (any 64-bit
 * nanosecond count), and the store cannot take all of them: its DateTime64(9) ends in 2262, where
 * the insert-time views' start + duration overflows, the engine refuses the whole insert and the
 * exporter would retry that batch for ever with every later batch behind it; its DateTime (the
 * partitions, the TTLs: toDateTime(Timestamp) + 30 or 400 days) wraps after 2106, which turns
 * such a row into one already expired and drops it. So later times are written as this one (a
 * start after it as both start and end): a span's row is kept, with a time no real span has.
 */
const LAST_NS = 4_102_444_800n * 1_000_000_000n;
const inRange = (t: bigint) => (t > LAST_NS ? LAST_NS : t);

function encodeRow(w: RowWriter, s: SpanRecord): void {
  const start = inRange(s.startTimeUnixNano);
  w.u64(start);
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
  const d = inRange(s.endTimeUnixNano) - start;
  w.u64(d > 0n ? d : 0n);
  w.string(s.statusCode);
  w.string(s.statusMessage);
  const ev = s.events;
  w.uvarint(ev.length);
  for (const e of ev) w.u64(inRange(e.timeUnixNano));
  w.uvarint(ev.length);
  for (const e of ev) w.string(e.name);
  w.uvarint(ev.length);
  for (const e of ev) w.map(e.attributes);
  const ln = s.links;
  w.uvarint(ln.length);
  for (const l of ln) w.string(l.traceId);
  w.uvarint(ln.length);
  for (const l of ln) w.string(l.spanId);
  w.uvarint(ln.length);
  for (const l of ln) w.string(l.traceState);
  w.uvarint(ln.length);
  for (const l of ln) w.map(l.attributes);
}

/** A tiny OTLP protobuf writer for tests: requests with exactly the (possibly wrong) bytes a case needs. */
export interface TestSpan {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId?: Buffer;
  name: string;
  start?: bigint;
  end?: bigint;
  /** String attributes; a Buffer value is written as raw string bytes (e.g. invalid UTF-8). */
  attributes?: Record<string, string | Buffer>;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

const len = (field: number, body: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
const fixed64 = (field: number, v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return Buffer.concat([varint((field << 3) | 1), b]);
};
const str = (field: number, s: string | Buffer) => len(field, typeof s === 'string' ? Buffer.from(s) : s);
/** KeyValue { key = 1, value = 2 (AnyValue { string_value = 1 }) }. */
const kv = (k: string, v: string | Buffer) => Buffer.concat([str(1, k), len(2, str(1, v))]);

export function encodeSpan(s: TestSpan): Buffer {
  const start = s.start ?? BigInt(Date.now()) * 1_000_000n;
  return Buffer.concat([
    len(1, s.traceId),
    len(2, s.spanId),
    s.parentSpanId ? len(4, s.parentSpanId) : Buffer.alloc(0),
    str(5, s.name),
    Buffer.from([(6 << 3) | 0, 1]),
    fixed64(7, start),
    fixed64(8, s.end ?? start + 1_000_000n),
    ...Object.entries(s.attributes ?? {}).map(([k, v]) => len(9, kv(k, v))),
  ]);
}

/** ExportTraceServiceRequest with one resource (service.name) and one scope. */
export function encodeRequest(service: string, spans: TestSpan[]): Buffer {
  const resource = len(1, len(1, kv('service.name', service)));
  const scope = len(1, str(1, 'test-scope'));
  const scopeSpans = len(2, Buffer.concat([scope, ...spans.map((s) => len(2, encodeSpan(s)))]));
  return len(1, Buffer.concat([resource, scopeSpans]));
}

let counter = 1;
/** Fresh valid ids. */
export function ids(): { traceId: Buffer; spanId: Buffer } {
  const n = counter++;
  const traceId = Buffer.alloc(16, 0xab);
  traceId.writeUInt32BE(n, 12);
  const spanId = Buffer.alloc(8, 0xcd);
  spanId.writeUInt32BE(n, 4);
  return { traceId, spanId };
}

/**
 * ExportTraceServiceResponse { partial_success = 1: ExportTracePartialSuccess { rejected_spans = 1
 * (int64), error_message = 2 } }. The export delegate logs a partial success (spans the receiver
 * refused) through the OpenTelemetry diag logger; an empty response is a full success.
 */

export interface ExportTraceResponse {
  partialSuccess?: { rejectedSpans?: number; errorMessage?: string };
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.b.length;
  }

  /** A varint as a number (exact up to 2^53, enough for a span count). */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.b.length) throw new Error('truncated varint');
      const byte = this.b[this.pos++];
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) return v;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.b.length) throw new Error('truncated field');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.b.length) throw new Error('truncated field');
  }
}

function partialSuccess(b: Uint8Array): { rejectedSpans?: number; errorMessage?: string } {
  const r = new Reader(b);
  const out: { rejectedSpans?: number; errorMessage?: string } = {};
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 0) {
      // int64: a negative count is nonsense; read its low bits as the number it claims.
      out.rejectedSpans = r.varint();
    } else if (field === 2 && wire === 2) {
      out.errorMessage = Buffer.from(r.bytes()).toString('utf8');
    } else r.skip(wire);
  }
  return out;
}

/** Decodes the receiver's answer; throws on bytes that are not a valid message (the delegate logs it and keeps the export a success). */
export function decodeExportResponse(data: Uint8Array): ExportTraceResponse {
  const r = new Reader(data);
  const out: ExportTraceResponse = {};
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) out.partialSuccess = partialSuccess(r.bytes());
    else r.skip(wire);
  }
  return out;
}

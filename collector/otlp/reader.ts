/**
 * Protocol-buffers wire-format reading, by hand: OTLP trace requests are decoded straight from
 * the bytes into `SpanRecord`s, with no intermediate message objects (the receiver's hot path).
 * Every read checks bounds and throws `WireError` with the byte offset, so a truncated or
 * garbled body becomes one clear 400 instead of a crash.
 */
export class WireError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint that fits in 32 bits (tags, lengths, enums); larger ones are an error here. */
  uint32(): number {
    const { buf } = this;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const b = buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result > 0xffffffff ? result % TWO_32 : result;
      shift += 7;
    }
    // A negative int32 enum is sent as 10 bytes: skip the sign-extension bytes.
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      if (buf[this.pos++] < 0x80) return result % TWO_32;
    }
    throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** A 64-bit varint as a signed decimal string (int64), exact past 2^53. */
  int64String(): string {
    const { buf } = this;
    let lo = 0;
    let hi = 0;
    let i = 0;
    for (; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const b = buf[this.pos++];
      const bits = b & 0x7f;
      const shift = i * 7;
      if (shift < 28) lo += bits * 2 ** shift;
      else if (shift === 28) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >> 4;
      } else hi += bits * 2 ** (shift - 32);
      if (b < 0x80) break;
    }
    if (i === 10) throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
    lo %= TWO_32;
    hi %= TWO_32;
    if (hi === 0) return String(lo);
    if (hi < 0x200000) return String(hi * TWO_32 + lo);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  fixed64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Starts a length-delimited field: returns its end and leaves `pos` at its first byte. */
  lenEnd(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new WireError(`field of ${len} bytes at byte ${this.pos} runs past the end of its message`);
    return end;
  }

  /** A length-delimited string; invalid UTF-8 becomes U+FFFD (what the engine stores as text). */
  string(): string {
    const end = this.lenEnd();
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  /** A length-delimited bytes field, as [start, end) offsets into the buffer. */
  bytesRange(): [number, number] {
    const end = this.lenEnd();
    const start = this.pos;
    this.pos = end;
    return [start, end];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.int64String();
        return;
      case WIRE_I64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.lenEnd();
        return;
      case WIRE_I32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`unknown wire type ${wireType} at byte ${this.pos}`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new WireError(`truncated fixed-size field at byte ${this.pos}`);
  }
}

/**
 * Protocol-buffers wire-format reading, by hand: the collector decodes OTLP trace requests
 * straight from the bytes into `SpanRecord`s with it (collector/otlp/protobuf.ts), with no
 * intermediate message objects (the receiver's hot path). Every read checks bounds and throws
 * `WireError` with the byte offset, so a truncated or garbled body becomes one clear 400 instead
 * of a crash. Writing is writer.ts.
 */
export class WireError extends Error {}

/**
 * Node's native Buffer methods behind `toString` and `write`, without their argument
 * normalization (on Buffer.prototype in every Node release; the decoder and the writers call
 * them per string, where the wrappers cost about a third of the time).
 */
export interface NativeBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
  utf8Write(s: string, offset: number, maxLength?: number): number;
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;

export class Reader {
  pos: number;
  readonly buf: NativeBuffer;
  constructor(
    buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.buf = buf as NativeBuffer;
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint that fits in 32 bits (tags, lengths, enums); larger ones are an error here. */
  uint32(): number {
    const { buf } = this;
    // Tags and most lengths are one or two bytes.
    if (this.pos + 1 < this.end) {
      const b0 = buf[this.pos];
      if (b0 < 0x80) {
        this.pos++;
        return b0;
      }
      const b1 = buf[this.pos + 1];
      if (b1 < 0x80) {
        this.pos += 2;
        return (b0 & 0x7f) | (b1 << 7);
      }
    }
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
    if (this.pos < this.end && buf[this.pos] < 0x80) return String(buf[this.pos++]);
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
    const s = this.buf.utf8Slice(this.pos, end);
    this.pos = end;
    return s;
  }

  /** A length-delimited string that repeats across spans (attribute keys), through the cache. */
  key(cache: KeyCache): string {
    const end = this.lenEnd();
    const s = cache.get(this.buf, this.pos, end);
    this.pos = end;
    return s;
  }

  /** A length-delimited bytes field as lower-case hex (ids). */
  hex(): string {
    const end = this.lenEnd();
    const s = this.buf.hexSlice(this.pos, end);
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

const CACHE_SLOTS = 4096;
const CACHE_MAX_KEY_BYTES = 96;

/**
 * Attribute keys repeat in every span of every request: each distinct key is decoded once and
 * the same string handed out again, found by a hash of its bytes and a byte compare. That skips
 * the UTF-8 decode and the allocation, and V8 stores a property under a string it has seen as a
 * key faster. Direct-mapped (a colliding key replaces the slot), so it stays small and needs no
 * eviction; one per decoding thread.
 */
export class KeyCache {
  private readonly bytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(CACHE_SLOTS).fill(undefined);
  private readonly strings: string[] = new Array<string>(CACHE_SLOTS).fill('');
  /** The slot that followed each slot last time: spans of one SDK list their keys in the same order. */
  private readonly next = new Int32Array(CACHE_SLOTS).fill(-1);
  private last = 0;

  get(buf: NativeBuffer, start: number, end: number): string {
    const len = end - start;
    if (len > CACHE_MAX_KEY_BYTES) return buf.utf8Slice(start, end);
    const guess = this.next[this.last];
    if (guess >= 0 && this.matches(guess, buf, start, len)) {
      this.last = guess;
      return this.strings[guess];
    }
    // FNV-1a over the bytes.
    let h = 0x811c9dc5 ^ len;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    const slot = (h ^ (h >>> 16)) & (CACHE_SLOTS - 1);
    this.next[this.last] = slot;
    this.last = slot;
    if (this.matches(slot, buf, start, len)) return this.strings[slot];
    const s = buf.utf8Slice(start, end);
    this.bytes[slot] = new Uint8Array(buf.subarray(start, end));
    this.strings[slot] = s;
    return s;
  }

  private matches(slot: number, buf: Buffer, start: number, len: number): boolean {
    const known = this.bytes[slot];
    if (known === undefined || known.length !== len) return false;
    for (let i = len - 1; i >= 0; i--) if (known[i] !== buf[start + i]) return false;
    return true;
  }
}

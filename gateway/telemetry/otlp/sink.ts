/**
 * An attribute sink that writes OTLP `KeyValue` entries (tag, length, key, AnyValue) straight into
 * a ProtoWriter, with each key's bytes encoded once (spans/keys.ts). The common entries, a short
 * ASCII string or a small integer, are written in one pass with their lengths known up front;
 * values that recur (`tok`) are encoded once and copied; anything else reserves its lengths and
 * lets the writer move a body when a guess was short.
 */
import type { AttrKey } from '../spans/keys.js';
import { AttrSink, type Capture } from '../spans/sink.js';
import { putBytes, varintSize, type ProtoWriter } from '../../../common/protobuf/writer.js';

/** Distinct values whose entries one key keeps (`tok`); more are written each time. */
const TOKENS_PER_KEY = 64;
/** Span.attributes = 9, length-delimited. */
const SPAN_ATTRIBUTES = 0x4a;

export class ProtoSink extends AttrSink {
  constructor(
    capture: Capture,
    private readonly w: ProtoWriter,
    /** The tag byte of the repeated KeyValue field: Span.attributes = 9 → 0x4a. */
    private readonly tag = SPAN_ATTRIBUTES,
  ) {
    super(capture);
  }

  str(k: AttrKey, v: string): void {
    const n = v.length;
    const f = k.field;
    const fl = f.length;
    // KeyValue body: key field, 0x12, AnyValue length, AnyValue { 0x0a, length, bytes }.
    const body = fl + n + 4;
    if (body < 0x80) {
      const w = this.w;
      w.ensure(body + 2);
      const b = w.buf;
      const start = w.pos;
      let p = start;
      b[p++] = this.tag;
      b[p++] = body;
      p = putBytes(b, p, f);
      b[p++] = 0x12;
      b[p++] = n + 2;
      b[p++] = 0x0a;
      b[p++] = n;
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c > 0x7f) {
          w.pos = start;
          this.strAny(k, v);
          return;
        }
        b[p++] = c;
      }
      w.pos = p;
      return;
    }
    this.strAny(k, v);
  }

  /** Any string: lengths reserved from the UTF-16 length (exact for ASCII), moved when short. */
  private strAny(k: AttrKey, v: string): void {
    const w = this.w;
    const n = v.length;
    w.byte(this.tag);
    const kv = w.begin(varintSize(k.field.length + n + 6));
    w.raw(k.field);
    w.byte(0x12); // KeyValue.value = 2
    const av = w.begin(varintSize(n + 3));
    w.byte(0x0a); // AnyValue.string_value = 1
    w.string(v);
    w.end(av);
    w.end(kv);
  }

  override tok(k: AttrKey, v: string): void {
    if (this.tag !== SPAN_ATTRIBUTES) {
      this.str(k, v);
      return;
    }
    if (k.lastValue === v) {
      this.w.raw(k.lastEntry as Uint8Array);
      return;
    }
    let entries = k.entries;
    let hit = entries?.get(v);
    if (!hit) {
      const w = this.w;
      const start = w.pos;
      this.str(k, v);
      entries ??= k.entries = new Map();
      if (entries.size >= TOKENS_PER_KEY) return;
      hit = Uint8Array.prototype.slice.call(w.buf, start, w.pos);
      entries.set(v, hit);
    } else this.w.raw(hit);
    k.lastValue = v;
    k.lastEntry = hit;
  }

  num(k: AttrKey, v: number): void {
    const w = this.w;
    const f = k.field;
    const fl = f.length;
    if (v >= 0 && v < 0x10000000 && Number.isInteger(v) && fl < 0x70) {
      // int_value = 3 as a varint of at most 4 bytes: every length is one byte.
      const vs = v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
      w.ensure(fl + vs + 6);
      const b = w.buf;
      let p = w.pos;
      b[p++] = this.tag;
      b[p++] = fl + vs + 3;
      p = putBytes(b, p, f);
      b[p++] = 0x12;
      b[p++] = vs + 1;
      b[p++] = 0x18;
      while (v > 0x7f) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
      w.pos = p;
      return;
    }
    w.byte(this.tag);
    const kv = w.begin(varintSize(fl + 13));
    w.raw(f);
    w.byte(0x12);
    const av = w.begin(1);
    w.anyNumber(v);
    w.end(av);
    w.end(kv);
  }

  bool(k: AttrKey, v: boolean): void {
    const w = this.w;
    const f = k.field;
    w.byte(this.tag);
    const kv = w.begin(varintSize(f.length + 4));
    w.raw(f);
    w.byte(0x12);
    w.byte(2);
    w.byte(0x10); // bool_value = 2
    w.byte(v ? 1 : 0);
    w.end(kv);
  }

  strs(k: AttrKey, v: readonly string[]): void {
    const w = this.w;
    w.byte(this.tag);
    const kv = w.begin(1);
    w.raw(k.field);
    w.byte(0x12);
    const av = w.begin(1);
    w.byte(0x2a); // array_value = 5 → ArrayValue { values = 1 }
    const list = w.begin(1);
    for (const s of v) {
      w.byte(0x0a);
      const item = w.begin(varintSize(s.length + 3));
      w.byte(0x0a);
      w.string(s);
      w.end(item);
    }
    w.end(list);
    w.end(av);
    w.end(kv);
  }
}

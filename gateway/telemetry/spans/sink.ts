/**
 * Where a span's attributes are written: one function per span produces them (spans/call.ts),
 * and a sink decides what they become. `ProtoSink` (otlp/sink.ts) writes OTLP KeyValue bytes
 * into the export batch; `ObjectSink` builds the `Attributes` object any other span processor or
 * exporter reads. Both get exactly the same calls, so the two views of a span cannot differ.
 *
 * Content capture is decided here, for every sink alike: `content()` writes prompt and answer
 * text only when capture is on, cut to the byte budget in `truncate` mode.
 *
 * Every value that can be as long as a request or an answer (content, input.value, output.value,
 * invocation parameters) is also cut to MAX_VALUE_CHARS in every mode, as the OpenTelemetry SDKs
 * cut to OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: a 3.5 MB prompt used to be encoded into the export
 * batch four times over (input.value, the message, output.value, the answer message).
 */
import type { Attributes } from '@opentelemetry/api';
import type { ContentCapture } from '../../config/schema.js';
import type { AttrKey } from './keys.js';

/**
 * Longest string value a span keeps, in UTF-16 code units as OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT
 * counts them (at most 192 KiB of UTF-8). Twice the collector's own default cut (32 KiB), so
 * it still decides what its tables keep; longer values are cut and their keys listed in
 * `tracegate.truncated`.
 */
export const MAX_VALUE_CHARS = 64 * 1024;

/** `v` cut to `max` UTF-16 units, not inside a surrogate pair. */
export function cutChars(v: string, max: number): string {
  if (v.length <= max) return v;
  const last = v.charCodeAt(max - 1);
  return v.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

export interface Capture {
  readonly mode: ContentCapture;
  /** The byte budget of one value in `truncate` mode. */
  readonly maxBytes: number;
}

export abstract class AttrSink {
  /** Keys whose content was cut, in the order they were written. */
  truncated: string[] | undefined;

  constructor(readonly capture: Capture) {}

  get contentOn(): boolean {
    return this.capture.mode !== 'off';
  }

  abstract str(k: AttrKey, v: string): void;
  /**
   * A string from a small set that recurs from span to span (a kind, a role, a name from the
   * config, a model name): a sink may keep its encoding. Anything else goes through `str`.
   */
  tok(k: AttrKey, v: string): void {
    this.str(k, v);
  }
  /** An integer is written as OTLP int_value, any other number as double_value (as the SDK's serializer does). */
  abstract num(k: AttrKey, v: number): void;
  abstract bool(k: AttrKey, v: boolean): void;
  abstract strs(k: AttrKey, v: readonly string[]): void;

  /** A string attribute, skipped when undefined. */
  opt(k: AttrKey, v: string | undefined): void {
    if (v !== undefined) this.str(k, v);
  }

  /** A finite number, skipped otherwise. */
  optNum(k: AttrKey, v: unknown): void {
    if (typeof v === 'number' && Number.isFinite(v)) this.num(k, v);
  }

  /** A string that can be as long as a request or an answer: cut to MAX_VALUE_CHARS, and listed when cut. */
  long(k: AttrKey, v: string): void {
    if (v.length > MAX_VALUE_CHARS) {
      (this.truncated ??= []).push(k.name);
      v = cutChars(v, MAX_VALUE_CHARS);
    }
    this.str(k, v);
  }

  /** A content-bearing string: written only when capture is on, cut in `truncate` mode, never past MAX_VALUE_CHARS. */
  content(k: AttrKey, v: string | undefined): void {
    if (v === undefined) return;
    const { mode, maxBytes } = this.capture;
    if (mode === 'off') return;
    // A string cannot take more than 3 bytes per UTF-16 unit: most values need no byte count.
    if (mode === 'truncate' && v.length * 3 > maxBytes) {
      // Bytes past the cap are never counted: only its first MAX_VALUE_CHARS units can be kept.
      const head = cutChars(v, MAX_VALUE_CHARS);
      if (head.length < v.length || Buffer.byteLength(head) > maxBytes) {
        (this.truncated ??= []).push(k.name);
        // A cut inside a multi-byte character decodes to U+FFFD, which is fine for a preview.
        const bytes = Buffer.from(head);
        this.str(k, bytes.length > maxBytes ? bytes.subarray(0, maxBytes).toString('utf8') : head);
        return;
      }
    }
    this.long(k, v);
  }
}

/** Builds the plain `Attributes` object of a ReadableSpan. */
export class ObjectSink extends AttrSink {
  readonly attributes: Attributes = {};

  str(k: AttrKey, v: string): void {
    this.attributes[k.name] = v;
  }

  num(k: AttrKey, v: number): void {
    this.attributes[k.name] = v;
  }

  bool(k: AttrKey, v: boolean): void {
    this.attributes[k.name] = v;
  }

  strs(k: AttrKey, v: readonly string[]): void {
    this.attributes[k.name] = [...v];
  }
}

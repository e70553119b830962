/**
 * Where a span's attributes are written: one function per span produces them (spans/call.ts),
 * and a sink decides what they become. `ProtoSink` (otlp/sink.ts) writes OTLP KeyValue bytes
 * into the export batch; `ObjectSink` builds the `Attributes` object any other span processor or
 * exporter reads. Both get exactly the same calls, so the two views of a span cannot differ.
 *
 * Content capture is decided here, for every sink alike: `content()` writes prompt and answer
 * text only when capture is on, cut to the byte budget in `truncate` mode.
 */
import type { Attributes } from '@opentelemetry/api';
import type { ContentCapture } from '../../config/schema.js';
import type { AttrKey } from './keys.js';

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

  /** A content-bearing string: written only when capture is on, cut in `truncate` mode. */
  content(k: AttrKey, v: string | undefined): void {
    if (v === undefined) return;
    const { mode, maxBytes } = this.capture;
    if (mode === 'off') return;
    // A string cannot take more than 3 bytes per UTF-16 unit: most values need no byte count.
    if (mode === 'truncate' && v.length * 3 > maxBytes && Buffer.byteLength(v) > maxBytes) {
      (this.truncated ??= []).push(k.name);
      // A cut inside a multi-byte character decodes to U+FFFD, which is fine for a preview.
      v = Buffer.from(v).subarray(0, maxBytes).toString('utf8');
    }
    this.str(k, v);
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

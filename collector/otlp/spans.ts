import type { SpanKindStr, StatusCodeStr } from '../model.js';

/** OTLP `Span.SpanKind` numbers to the exporter's strings (unknown numbers: Unspecified). */
export const SPAN_KINDS: readonly SpanKindStr[] = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
/** OTLP `Status.StatusCode` numbers to the exporter's strings. */
export const STATUS_CODES: readonly StatusCodeStr[] = ['Unset', 'Ok', 'Error'];

export const spanKind = (n: number): SpanKindStr => SPAN_KINDS[n] ?? 'Unspecified';
export const statusCode = (n: number): StatusCodeStr => STATUS_CODES[n] ?? 'Unset';

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Why an id is unusable, or undefined when it is fine. `hex` is lower-case hex of the bytes. */
export function traceIdProblem(hex: string): string | undefined {
  if (hex.length !== 32) return hex.length === 0 ? 'trace id is missing' : `trace id must be 16 bytes, got ${hex.length / 2}`;
  return hex === ZERO_TRACE ? 'trace id is all zeros' : undefined;
}

export function spanIdProblem(hex: string, what = 'span id'): string | undefined {
  if (hex.length !== 16) return hex.length === 0 ? `${what} is missing` : `${what} must be 8 bytes, got ${hex.length / 2}`;
  return hex === ZERO_SPAN ? `${what} is all zeros` : undefined;
}

/** A parent id may be absent (a root span); all zeros means absent too. */
export function parentIdProblem(hex: string): string | undefined {
  if (hex.length === 0 || hex === ZERO_SPAN) return undefined;
  return hex.length === 16 ? undefined : `parent span id must be 8 bytes or empty, got ${hex.length / 2}`;
}

export const normalizeParent = (hex: string): string => (hex === ZERO_SPAN ? '' : hex);

/**
 * Spans refused one by one (bad ids) while the rest of the request is kept: the count and the
 * first few reasons become the OTLP partial-success answer.
 */
export class Rejections {
  count = 0;
  private readonly reasons: string[] = [];

  add(where: string, reason: string): void {
    this.count++;
    if (this.reasons.length < 5) this.reasons.push(`${where}: ${reason}`);
  }

  message(): string {
    if (this.count === 0) return '';
    const more = this.count > this.reasons.length ? ` (and ${this.count - this.reasons.length} more)` : '';
    return `${this.count} span(s) rejected: ${this.reasons.join('; ')}${more}`;
  }
}

/**
 * How deep arrays and key-value lists may nest inside one attribute value (a scalar is 0,
 * `[1]` is 1, `{"a":[1]}` is 2). The OpenTelemetry Collector's pdata sets no limit; SDKs write
 * at most a few levels, and JSON-shaped attributes (invocation parameters, tool schemas) a
 * dozen or so. Past it the span is refused (permanently, not retried), so the decoders recurse
 * at most this deep: no input can exhaust the stack, and work stays linear in the bytes.
 */
export const MAX_VALUE_DEPTH = 32;

/** A value nests deeper than MAX_VALUE_DEPTH: its span (or resource's spans) is refused. */
export class ValueDepthError extends Error {
  constructor() {
    super(`an attribute value nests arrays or key-value lists deeper than ${MAX_VALUE_DEPTH} levels`);
  }
}

/** Descends one level into an array or key-value list, refusing past the limit. */
export function deeper(depth: number): number {
  if (depth >= MAX_VALUE_DEPTH) throw new ValueDepthError();
  return depth + 1;
}

/** What a decoder returns: the usable spans and the ones it refused. */
export interface DecodeResult<S> {
  spans: S[];
  rejected: Rejections;
}

/** Value of an OTLP AnyValue as the exporter stores it in a Map(String, String). */
export function stringifyValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

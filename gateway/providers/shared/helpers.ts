/** Small pure helpers every translator uses: URLs, JSON, headers. */
import type { BackendDescriptor, HeaderSource, ResponseContext } from '../types.js';

export type Json = Record<string, unknown>;

/** `base` + `path` (+ query), tolerating a trailing slash on the base. */
export function joinUrl(base: string, path: string, query?: Record<string, string>): string {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  let url = trimmed + path;
  if (query) {
    const qs = new URLSearchParams(query).toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  return url;
}

/** JSON text → object, or undefined when it is not a JSON object. */
export function parseObject(text: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** An answer's JSON object: the value parsed already, if it was (ResponseContext.parsed), else parsed from its text. */
export function answerObject(bodyText: string, ctx?: ResponseContext): Json | undefined {
  if (!ctx?.parsed) return parseObject(bodyText);
  return isObject(ctx.parsed.value) ? ctx.parsed.value : undefined;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Non-secret request headers: JSON content type, SSE accept for streams, the backend's extras. */
export function baseHeaders(backend: BackendDescriptor, stream: boolean): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  h.accept = stream ? 'text/event-stream' : 'application/json';
  if (backend.headers) for (const [k, v] of Object.entries(backend.headers)) h[k.toLowerCase()] = v;
  return h;
}

/** One header value from undici's header object or a fetch `Headers`. */
export function headerValue(headers: HeaderSource | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const v = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Characters of a stream's output (text, or one tool call's arguments) kept for telemetry and
 * token estimation: an upstream may stream gigabytes, and a string of that size exhausts memory
 * or V8's string limit. 1 Mi characters is above any real model output (about 250k tokens).
 */
export const MAX_KEPT_OUTPUT = 1024 * 1024;

/** `kept + more`, cut at MAX_KEPT_OUTPUT characters. */
export function keepOutput(kept: string, more: string): string {
  if (kept.length >= MAX_KEPT_OUTPUT) return kept;
  const next = kept + more;
  return next.length > MAX_KEPT_OUTPUT ? next.slice(0, MAX_KEPT_OUTPUT) : next;
}

/**
 * What every provider's error mapping shares: the retry facts (`isRetryableStatus`,
 * `retryAfterMs`) and the client's error envelope. OpenAI clients get
 * `{error:{message,type,param,code}}`; clients of the Messages endpoint (Anthropic's API) get
 * `{type:"error",error:{type,message}}`.
 */
import { headerValue, isObject, parseObject, str } from './helpers.js';
import type { ClientError, HeaderSource } from '../types.js';

/** Connect errors and timeouts are retryable too; the core knows those without a status. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Delay the upstream asked for: `retry-after-ms` (OpenAI), else `retry-after` in seconds or as
 * an HTTP date (measured from `nowMs`). Undefined when absent or unreadable.
 */
export function retryAfterMs(headers: HeaderSource | undefined, nowMs: number = Date.now()): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headerValue(headers, 'retry-after');
  if (ra === undefined || ra.trim() === '') return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** OpenAI's error `type` for a status, for errors the gateway writes itself. */
export function openaiTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openaiError(
  status: number,
  message: string,
  opts: { type?: string; code?: string | null; param?: string | null; retryAfterMs?: number } = {},
): ClientError {
  const err: ClientError = {
    status,
    body: { error: { message, type: opts.type ?? openaiTypeFor(status), param: opts.param ?? null, code: opts.code ?? null } },
    message,
    retryable: isRetryableStatus(status),
  };
  if (opts.retryAfterMs !== undefined) err.retryAfterMs = opts.retryAfterMs;
  return err;
}

/** A 400 for a client parameter the translation cannot honour, naming it. */
export function invalidParam(param: string, message: string): ClientError {
  return openaiError(400, `${param}: ${message}`, { param, code: 'invalid_value' });
}

export const ANTHROPIC_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function anthropicTypeFor(status: number): string {
  return ANTHROPIC_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export function anthropicError(status: number, message: string, type?: string, retryAfter?: number): ClientError {
  const err: ClientError = {
    status,
    body: { type: 'error', error: { type: type ?? anthropicTypeFor(status), message } },
    message,
    retryable: isRetryableStatus(status),
  };
  if (retryAfter !== undefined) err.retryAfterMs = retryAfter;
  return err;
}

/** The client never sees a body the upstream did not shape as an error: it may hold internals. */
export function fallbackMessage(status: number): string {
  return `upstream answered ${status} without an error message`;
}

/** For logs: the start of an unreadable error body. */
export function logSummary(status: number, bodyText: string): string {
  const snippet = bodyText.trim().slice(0, 200).replace(/\s+/g, ' ');
  return snippet ? `upstream answered ${status}: ${snippet}` : `upstream answered ${status} with an empty body`;
}

/** A 2xx answer the gateway could not read. */
export function badUpstreamBody(what: string): ClientError {
  const err = openaiError(502, `upstream returned an unreadable ${what}`, { type: 'upstream_error', code: 'bad_upstream_response' });
  err.retryable = true;
  return err;
}

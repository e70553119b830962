/**
 * What every provider's error mapping shares: the retry facts (`retryAfterMs`), and errors in the
 * client's envelope built by the gateway's one catalogue (gateway/errors.ts). OpenAI clients get
 * `{error:{message,type,param,code}}`; clients of the Messages endpoint (Anthropic's API) get
 * `{type:"error",error:{type,message}}`.
 */
import { anthropicTypeFor, clientError, envelope, GatewayError, gatewayClientError, isRetryableStatus, openaiTypeFor } from '../../errors.js';
import type { ClientError, HeaderSource } from '../types.js';
import { headerValue } from './helpers.js';

/** The catalogue's status vocabulary, for providers' error mappings. */
export { ANTHROPIC_TYPE_BY_STATUS, anthropicTypeFor, isRetryableStatus, openaiTypeFor } from '../../errors.js';

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

/** An error for an OpenAI client with the status, type and code an upstream's error maps to; retryable by its status. */
export function openaiError(status: number, message: string, opts: { type?: string; code?: string | null; param?: string | null; retryAfterMs?: number } = {}): ClientError {
  const body = envelope('openai', { message, type: opts.type ?? openaiTypeFor(status), code: opts.code, param: opts.param });
  return clientError(status, body, message, isRetryableStatus(status), opts.retryAfterMs);
}

/** An error for a Messages client (Anthropic's envelope); retryable by its status. */
export function anthropicError(status: number, message: string, type?: string, retryAfter?: number): ClientError {
  return clientError(status, envelope('anthropic', { message, type: type ?? anthropicTypeFor(status) }), message, isRetryableStatus(status), retryAfter);
}

/** A 400 for a client parameter the translation cannot honour, naming it. */
export function invalidParam(param: string, message: string): ClientError {
  return gatewayClientError(new GatewayError('invalid_value', `${param}: ${message}`, { param }));
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

/** A 2xx answer the gateway could not read (retryable: another attempt may read). */
export function badUpstreamBody(what: string): ClientError {
  return gatewayClientError(new GatewayError('bad_upstream_response', `upstream returned an unreadable ${what}`));
}

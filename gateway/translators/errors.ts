/**
 * Upstream errors → the client's error envelope, and the retry facts the core needs.
 * OpenAI clients get `{error:{message,type,param,code}}`; Anthropic clients (the Messages
 * passthrough) get `{type:"error",error:{type,message}}`.
 */
import { headerValue, isObject, parseObject, str } from './shared.js';
import type { ClientError, HeaderSource } from './types.js';

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

const ANTHROPIC_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** Anthropic error type → the status an OpenAI client gets and OpenAI's type/code for it. */
const ANTHROPIC_TO_OPENAI: Record<string, { status: number; type: string; code: string | null }> = {
  invalid_request_error: { status: 400, type: 'invalid_request_error', code: null },
  authentication_error: { status: 401, type: 'authentication_error', code: 'invalid_api_key' },
  permission_error: { status: 403, type: 'permission_error', code: null },
  not_found_error: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  request_too_large: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { status: 500, type: 'server_error', code: null },
  // 529 is Anthropic's own; OpenAI clients understand 503.
  overloaded_error: { status: 503, type: 'server_error', code: 'overloaded' },
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
function fallbackMessage(status: number): string {
  return `upstream answered ${status} without an error message`;
}

/** For logs: the start of an unreadable error body. */
function logSummary(status: number, bodyText: string): string {
  const snippet = bodyText.trim().slice(0, 200).replace(/\s+/g, ' ');
  return snippet ? `upstream answered ${status}: ${snippet}` : `upstream answered ${status} with an empty body`;
}

/** An OpenAI-compatible upstream's error for an OpenAI client: its envelope is kept when well formed. */
export function fromOpenAIUpstream(status: number, bodyText: string, headers?: HeaderSource): ClientError {
  const parsed = parseObject(bodyText);
  const e = parsed && isObject(parsed.error) ? parsed.error : undefined;
  // OpenAI's envelope; Ollama's `{error: "…"}`; vLLM's older top-level `{message, type, code}`.
  const message = str(e?.message) ?? (typeof parsed?.error === 'string' ? parsed.error : str(parsed?.message));
  const code = e?.code;
  const err = openaiError(status, message ?? fallbackMessage(status), {
    type: str(e?.type) ?? openaiTypeFor(status),
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : null,
    param: str(e?.param) ?? null,
    retryAfterMs: retryAfterMs(headers),
  });
  if (message === undefined) err.message = logSummary(status, bodyText);
  return err;
}

function anthropicParts(status: number, bodyText: string): { type: string; message: string; log: string } {
  const parsed = parseObject(bodyText);
  const e = parsed && isObject(parsed.error) ? parsed.error : undefined;
  const message = str(e?.message);
  return {
    type: str(e?.type) ?? anthropicTypeFor(status),
    message: message ?? fallbackMessage(status),
    log: message ?? logSummary(status, bodyText),
  };
}

/** An Anthropic upstream's error for an OpenAI client. */
export function fromAnthropicUpstreamToOpenAI(status: number, bodyText: string, headers?: HeaderSource): ClientError {
  const { type, message, log } = anthropicParts(status, bodyText);
  const mapped = ANTHROPIC_TO_OPENAI[type];
  const outStatus = status >= 400 && status !== 529 ? status : (mapped?.status ?? 502);
  const err = openaiError(outStatus, message, {
    type: mapped?.type ?? openaiTypeFor(outStatus),
    code: mapped?.code ?? null,
    retryAfterMs: retryAfterMs(headers),
  });
  // 529 becomes 503 for the client, but it is the upstream's condition that decides retrying.
  err.retryable = isRetryableStatus(status);
  err.message = log;
  return err;
}

/** An Anthropic upstream's error for an Anthropic client: its envelope is kept. */
export function fromAnthropicUpstream(status: number, bodyText: string, headers?: HeaderSource): ClientError {
  const { type, message, log } = anthropicParts(status, bodyText);
  const err = anthropicError(status, message, type, retryAfterMs(headers));
  err.message = log;
  return err;
}

/** A mid-stream Anthropic `error` event's data, for an Anthropic client (the frame itself passes as it came). */
export function anthropicStreamErrorNative(data: string): ClientError {
  const { type, message } = anthropicParts(500, data);
  const status = Object.entries(ANTHROPIC_TYPE_BY_STATUS).find(([, t]) => t === type)?.[0];
  return anthropicError(status ? Number(status) : 500, message, type);
}

/** A mid-stream Anthropic `error` event's data, as an OpenAI error. */
export function anthropicStreamError(data: string): ClientError {
  const { type, message } = anthropicParts(500, data);
  const mapped = ANTHROPIC_TO_OPENAI[type];
  return openaiError(mapped?.status ?? 500, message, { type: mapped?.type ?? 'server_error', code: mapped?.code ?? null });
}

/** A 2xx answer the gateway could not read. */
export function badUpstreamBody(what: string): ClientError {
  const err = openaiError(502, `upstream returned an unreadable ${what}`, { type: 'upstream_error', code: 'bad_upstream_response' });
  err.retryable = true;
  return err;
}

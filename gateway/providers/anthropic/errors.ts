/** Anthropic's error bodies for OpenAI clients (mapped) and for Messages clients (kept). */
import { ANTHROPIC_TYPE_BY_STATUS, anthropicError, anthropicTypeFor, fallbackMessage, isRetryableStatus, logSummary, openaiError, openaiTypeFor, retryAfterMs } from '../shared/errors.js';
import { isObject, parseObject, str } from '../shared/helpers.js';
import type { ClientError, HeaderSource } from '../types.js';

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

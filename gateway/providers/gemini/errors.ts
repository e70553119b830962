/**
 * Google API errors (Gemini API and Vertex AI): `{error:{code,message,status,details}}`, where
 * `status` is the canonical gRPC code name. For OpenAI clients they become OpenAI's envelope with
 * the type and code of the status (RESOURCE_EXHAUSTED → 429 rate_limit_error, UNAVAILABLE → 503,
 * …); Gemini SDK clients of the native passthrough get Google's envelope as it is. A 429's
 * `google.rpc.RetryInfo.retryDelay` ("37s") is the retry delay when no `retry-after` header came.
 */
import { clientError, envelope, googleStatusFor } from '../../errors.js';
import { fallbackMessage, isRetryableStatus, logSummary, openaiError, openaiTypeFor, retryAfterMs } from '../shared/errors.js';
import { isObject, parseObject, str } from '../shared/helpers.js';
import type { ClientApi, ClientError, GeminiErrorBody, HeaderSource } from '../types.js';

/** Canonical status name → HTTP status and OpenAI's type and code for it. */
const BY_STATUS: Record<string, { http: number; type: string; code: string | null }> = {
  INVALID_ARGUMENT: { http: 400, type: 'invalid_request_error', code: null },
  FAILED_PRECONDITION: { http: 400, type: 'invalid_request_error', code: 'failed_precondition' },
  OUT_OF_RANGE: { http: 400, type: 'invalid_request_error', code: null },
  UNAUTHENTICATED: { http: 401, type: 'authentication_error', code: 'invalid_api_key' },
  PERMISSION_DENIED: { http: 403, type: 'permission_error', code: null },
  NOT_FOUND: { http: 404, type: 'invalid_request_error', code: 'not_found' },
  ABORTED: { http: 409, type: 'invalid_request_error', code: null },
  ALREADY_EXISTS: { http: 409, type: 'invalid_request_error', code: null },
  RESOURCE_EXHAUSTED: { http: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  CANCELLED: { http: 499, type: 'server_error', code: null },
  INTERNAL: { http: 500, type: 'server_error', code: null },
  UNKNOWN: { http: 500, type: 'server_error', code: null },
  DATA_LOSS: { http: 500, type: 'server_error', code: null },
  NOT_IMPLEMENTED: { http: 501, type: 'server_error', code: null },
  UNIMPLEMENTED: { http: 501, type: 'server_error', code: null },
  UNAVAILABLE: { http: 503, type: 'server_error', code: 'service_unavailable' },
  DEADLINE_EXCEEDED: { http: 504, type: 'server_error', code: 'upstream_timeout' },
};

/** `"37s"`, `"0.5s"` (a protobuf Duration in JSON) → milliseconds. */
function durationMs(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(v) : null;
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** The delay of a `google.rpc.RetryInfo` entry among an error's details. */
function retryInfoMs(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    if (isObject(d) && str(d['@type'])?.endsWith('google.rpc.RetryInfo')) return durationMs(d.retryDelay);
  }
  return undefined;
}

interface GoogleError {
  status: string | undefined;
  message: string;
  /** For logs: the message, or the head of an unreadable body. */
  log: string;
  retryDelayMs?: number;
  /** The upstream's envelope, when it sent a well-formed one. */
  envelope?: Record<string, unknown>;
}

/** A Google error body; some endpoints wrap it in a one-element array. */
export function readGoogleError(status: number, bodyText: string): GoogleError {
  let parsed: unknown = parseObject(bodyText);
  if (!parsed && bodyText.trimStart().startsWith('[')) {
    try {
      parsed = (JSON.parse(bodyText) as unknown[])[0];
    } catch {
      parsed = undefined;
    }
  }
  const e = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
  const message = str(e?.message);
  return {
    status: str(e?.status),
    message: message ?? fallbackMessage(status),
    log: message ?? logSummary(status, bodyText),
    retryDelayMs: retryInfoMs(e?.details),
    envelope: message !== undefined && isObject(parsed) ? parsed : undefined,
  };
}

/** An error in Google's envelope, for Gemini SDK clients. */
export function geminiError(status: number, message: string, statusName = googleStatusFor(status), retryAfter?: number): ClientError {
  return clientError(status, envelope('gemini', { message, type: statusName, status }), message, isRetryableStatus(status), retryAfter);
}

/** A Google upstream's error, in the envelope of the client's API. */
export function fromGoogleUpstream(status: number, bodyText: string, headers: HeaderSource | undefined, api: ClientApi): ClientError {
  const g = readGoogleError(status, bodyText);
  const retryAfter = retryAfterMs(headers) ?? g.retryDelayMs;
  if (api === 'gemini') {
    const err = geminiError(status, g.message, g.status ?? googleStatusFor(status), retryAfter);
    if (g.envelope) err.body = g.envelope as unknown as GeminiErrorBody;
    err.message = g.log;
    return err;
  }
  const mapped = g.status ? BY_STATUS[g.status] : undefined;
  const outStatus = status >= 400 ? status : (mapped?.http ?? 502);
  const err = openaiError(outStatus, g.message, {
    type: mapped?.type ?? openaiTypeFor(outStatus),
    code: mapped?.code ?? null,
    retryAfterMs: retryAfter,
  });
  err.message = g.log;
  return err;
}

/** A mid-stream `{"error": {...}}` chunk, as the client's API says it. */
export function googleStreamError(data: Record<string, unknown>, api: ClientApi): ClientError {
  const e = isObject(data.error) ? data.error : {};
  const code = typeof e.code === 'number' && e.code >= 400 && e.code < 600 ? e.code : (BY_STATUS[str(e.status) ?? '']?.http ?? 500);
  return fromGoogleUpstream(code, JSON.stringify(data), undefined, api);
}

/**
 * The prompt itself was blocked (`promptFeedback.blockReason`, no candidates): for an OpenAI
 * client a 400 `content_filter`, as OpenAI answers a prompt its own filter refuses. (Gemini
 * clients of the passthrough get the 200 answer with its `promptFeedback`, as Google sends it.)
 */
export function promptBlocked(reason: string): ClientError {
  return openaiError(400, `the prompt was blocked by the provider's safety filters (${reason})`, { type: 'invalid_request_error', code: 'content_filter' });
}

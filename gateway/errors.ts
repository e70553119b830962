/**
 * Every error the gateway answers by itself, with a stable code. One handler (server.ts) turns
 * them into OpenAI's envelope `{error:{message,type,param,code}}` (or Anthropic's on /v1/messages).
 * Upstream errors are translated by the translators and passed through with their own status.
 */
import { anthropicTypeFor } from './providers/shared/errors.js';
import type { AnthropicErrorBody, ClientApi, OpenAIErrorBody } from './providers/types.js';

export const CATALOGUE = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_parameter: { status: 400, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  endpoint_not_supported: { status: 400, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  // Answered before a route runs: malformed HTTP or URL, a request that never finished arriving,
  // headers past Node's limit, and requests that arrive while the gateway shuts down.
  invalid_request: { status: 400, type: 'invalid_request_error' },
  request_timeout: { status: 408, type: 'invalid_request_error' },
  headers_too_large: { status: 431, type: 'invalid_request_error' },
  shutting_down: { status: 503, type: 'api_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  // Limits and budgets (gateway/policy/refusal.ts), in OpenAI's words: a window or concurrency
  // limit (type `tokens` for token limits), a budget, and the counter store away with failMode closed.
  rate_limit_exceeded: { status: 429, type: 'requests' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  policy_store_unavailable: { status: 503, type: 'api_error' },
  upstream_failed: { status: 502, type: 'api_error' },
  // A provider answered 401/403 to the gateway's own key: not the client's fault, and the
  // provider's message (which may quote that key) is not passed on.
  upstream_auth_failed: { status: 502, type: 'api_error' },
  // A provider's credential could not be had (gateway/providers/types.ts ProviderAuth: a token
  // endpoint or credential chain that failed or timed out); retried like an unreachable upstream.
  upstream_credentials_unavailable: { status: 502, type: 'api_error' },
  // An upstream answer past the gateway's limits (gateway/proxy/limits.ts): refused, not buffered.
  upstream_response_too_large: { status: 502, type: 'api_error' },
  upstream_event_too_large: { status: 502, type: 'api_error' },
  no_healthy_backend: { status: 503, type: 'api_error' },
  // A large request body or upstream answer that its JSON thread (gateway/json-threads.ts) could
  // not parse: past the time limit, with too many bytes already waiting, or the thread failed.
  json_parse_unavailable: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  // A valid key asking for a model or route its ApiKey (or its team's defaults) does not allow.
  // Codes as LiteLLM's proxy names them; type and status as OpenAI answers a project without
  // access to a model (403, invalid_request_error).
  key_model_access_denied: { status: 403, type: 'invalid_request_error' },
  permission_denied: { status: 403, type: 'invalid_request_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof CATALOGUE;

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly opts: { param?: string; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.status = CATALOGUE[code].status;
    this.type = CATALOGUE[code].type;
  }
}

export function openaiEnvelope(err: GatewayError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.type, param: err.opts.param ?? null, code: err.code } };
}

export function anthropicEnvelope(status: number, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicTypeFor(status), message } };
}

export function errorBody(err: GatewayError, api: ClientApi): OpenAIErrorBody | AnthropicErrorBody {
  return api === 'anthropic' ? anthropicEnvelope(err.status, err.message) : openaiEnvelope(err);
}

/** Seconds for a Retry-After header, at least 1. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

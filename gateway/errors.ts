/**
 * The gateway's one error catalogue, and the one place an error envelope is built.
 *
 * Every error the gateway answers by itself is an entry here with a stable code (its status,
 * OpenAI `type`, and whether another attempt may help); a `GatewayError` names the entry and says
 * what was wrong and where. Upstream errors keep the status, type and code the provider's error
 * mapping gives them (gateway/providers/<name>/ `error`), but their envelope is built here too.
 * Envelopes follow the client's API: OpenAI's `{error:{message,type,param,code}}`, and Anthropic's
 * `{type:"error",error:{type,message}}` on the Messages endpoint.
 */
import type { ClientApi, ClientError, ErrorBody } from './providers/types.js';

export const CATALOGUE = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_parameter: { status: 400, type: 'invalid_request_error' },
  // A client parameter a translation cannot honour (gateway/providers/shared/errors.ts invalidParam).
  invalid_value: { status: 400, type: 'invalid_request_error' },
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
  // A backend the gateway cannot send to (a simulated backend where the simulator is not running).
  no_transport: { status: 502, type: 'api_error' },
  // One attempt: the upstream could not be reached, or answered a 2xx the gateway cannot read.
  // Retryable: another try or another target may do better.
  upstream_unreachable: { status: 502, type: 'api_error', retryable: true },
  bad_upstream_response: { status: 502, type: 'upstream_error', retryable: true },
  // A provider answered 401/403 to the gateway's own key: not the client's fault, and the
  // provider's message (which may quote that key) is not passed on.
  upstream_auth_failed: { status: 502, type: 'api_error' },
  // A provider's credential could not be had (gateway/providers/types.ts ProviderAuth: a token
  // endpoint or credential chain that failed or timed out); retried like an unreachable upstream.
  upstream_credentials_unavailable: { status: 502, type: 'api_error', retryable: true },
  // An upstream answer past the gateway's limits (gateway/proxy/limits.ts): refused, not buffered.
  upstream_response_too_large: { status: 502, type: 'api_error' },
  upstream_event_too_large: { status: 502, type: 'api_error' },
  no_healthy_backend: { status: 503, type: 'api_error' },
  // A large request body or upstream answer that its JSON thread (gateway/json-threads.ts) could
  // not parse: past the time limit, with too many bytes already waiting, or the thread failed.
  json_parse_unavailable: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error', retryable: true },
  // nginx's "client closed request": the client went away; nobody reads it (sent as 400 if at all).
  client_closed: { status: 499, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  // A valid key asking for a model or route its ApiKey (or its team's defaults) does not allow.
  // Codes as LiteLLM's proxy names them; type and status as OpenAI answers a project without
  // access to a model (403, invalid_request_error).
  key_model_access_denied: { status: 403, type: 'invalid_request_error' },
  permission_denied: { status: 403, type: 'invalid_request_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string; retryable?: boolean }>;

export type ErrorCode = keyof typeof CATALOGUE;

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** `type`: a variant OpenAI gives the same code (`tokens` for a token-rate limit). */
    readonly opts: { param?: string; retryAfterMs?: number; type?: string } = {},
  ) {
    super(message);
    this.status = CATALOGUE[code].status;
    this.type = opts.type ?? CATALOGUE[code].type;
  }
}

/** Connect errors and timeouts are retryable too; the core knows those without a status. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** OpenAI's error `type` for a status, for errors without one of their own. */
export function openaiTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const ANTHROPIC_TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** Anthropic's error `type` for a status. */
export function anthropicTypeFor(status: number): string {
  return ANTHROPIC_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

const GOOGLE_STATUS_BY_HTTP: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The canonical status name Google's APIs give an HTTP status (the `status` of their error envelope). */
export function googleStatusFor(status: number): string {
  return GOOGLE_STATUS_BY_HTTP[status] ?? (status >= 500 ? 'INTERNAL' : status >= 400 ? 'FAILED_PRECONDITION' : 'UNKNOWN');
}

/** An error `type` in the vocabulary of `api` for a status; for OpenAI clients `openaiType` when the error has its own. */
export function typeFor(api: ClientApi, status: number, openaiType?: string): string {
  if (api === 'anthropic') return anthropicTypeFor(status);
  if (api === 'gemini') return googleStatusFor(status);
  return openaiType ?? openaiTypeFor(status);
}

/** What an envelope says; `type` is in the vocabulary of the API it is written for. */
export interface ErrorFields {
  message: string;
  type: string;
  code?: string | null;
  param?: string | null;
  /** The HTTP status, which Google's envelope repeats as its `code`. */
  status?: number;
}

/** The one builder of error envelopes, in the shape of the client's API. */
export function envelope(api: ClientApi, f: ErrorFields): ErrorBody {
  switch (api) {
    case 'openai':
      return { error: { message: f.message, type: f.type, param: f.param ?? null, code: f.code ?? null } };
    case 'anthropic':
      return { type: 'error', error: { type: f.type, message: f.message } };
    case 'gemini':
      return { error: { code: f.status ?? 500, message: f.message, status: f.type } };
    default: {
      const never: never = api;
      throw new Error(`no error envelope for ${String(never)}`);
    }
  }
}

/** An error as the proxy carries it: the envelope, and the facts retries and logs need. */
export function clientError(status: number, body: ErrorBody, message: string, retryable: boolean, retryAfterMs?: number): ClientError {
  const err: ClientError = { status, body, message, retryable };
  if (retryAfterMs !== undefined) err.retryAfterMs = retryAfterMs;
  return err;
}

/** A catalogued error's envelope for a client of `api`. */
export function errorBody(err: GatewayError, api: ClientApi): ErrorBody {
  return envelope(api, { message: err.message, type: typeFor(api, err.status, err.type), code: err.code, param: err.opts.param, status: err.status });
}

/** A catalogued error as the proxy's ClientError (OpenAI envelope; retried only where the catalogue says so). */
export function gatewayClientError(e: GatewayError): ClientError {
  return clientError(e.status, errorBody(e, 'openai'), e.message, (CATALOGUE[e.code] as { retryable?: boolean }).retryable === true, e.opts.retryAfterMs);
}

/**
 * An error already said in one client API, for a client of another: an error of an OpenAI-shaped
 * ClientError told to a Messages client keeps its status and message in Anthropic's words.
 */
export function bodyFor(api: ClientApi, e: ClientError): ErrorBody {
  if (shapeOf(e.body) === api) return e.body;
  return envelope(api, { message: e.message, type: typeFor(api, e.status), status: e.status });
}

/** An error told to a client whose stream already started, as its API streams one: Anthropic's `error` event, else a data-only event. */
export function streamErrorFrame(api: ClientApi, e: ClientError): string {
  const body = JSON.stringify(bodyFor(api, e));
  switch (api) {
    case 'anthropic':
      return `event: error\ndata: ${body}\n\n`;
    case 'openai':
    case 'gemini':
      return `data: ${body}\n\n`;
    default: {
      const never: never = api;
      throw new Error(`no stream error frame for ${String(never)}`);
    }
  }
}

/** Which client API an envelope is written in. */
function shapeOf(body: ErrorBody): ClientApi {
  if ((body as { type?: string }).type === 'error') return 'anthropic';
  const e = (body as { error?: { status?: unknown; code?: unknown } }).error;
  return typeof e?.status === 'string' && typeof e.code === 'number' ? 'gemini' : 'openai';
}

/** Google's model methods (`/v1beta/models/{model}:generateContent`), as the native Gemini endpoint serves them. */
export const GEMINI_METHOD_PATH = /^\/v1(?:beta)?\/models\/[^/?]*:/;

/**
 * The client API of a request path, for errors answered before (or instead of) its route: the
 * Messages endpoint's is Anthropic's, Google's model methods' Google's.
 */
export function clientApiOfPath(path: string): ClientApi {
  if (path.startsWith('/v1/messages')) return 'anthropic';
  return GEMINI_METHOD_PATH.test(path) ? 'gemini' : 'openai';
}

/** Seconds for a Retry-After header, at least 1. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

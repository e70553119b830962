/**
 * The contract between the gateway core and the providers (gateway/providers/<name>/).
 *
 * A provider is a `ProviderDescriptor` (its `descriptor.ts`): what it serves (one translator per
 * endpoint), how a request to it is authorized, how its errors read, how its streams are framed,
 * what telemetry calls it, and its own fields of a Backend document. The core reaches a provider
 * only through `providerFor(kind)` (registry.ts).
 *
 * A translator handles one pair of APIs: the API the client speaks on one endpoint, and the API
 * the backend speaks (`<name>/<endpoint>/<from>_<to>.ts`). Translators are pure: no I/O, no clock,
 * no logging, no secrets. For one attempt the core:
 *
 *   1. takes `translators[endpoint]` of the backend's provider (undefined: a 400 naming both);
 *   2. calls `request(clientBody, target, opts)` → method, url, non-secret headers, body;
 *      then `authorize(request, backend, secret)` → the credential headers, added by the core;
 *   3. on a 2xx non-streaming answer calls `response(status, bodyText, ctx)` and writes `body`;
 *      on a non-2xx answer calls the provider's `error(status, bodyText, headers, clientApi)` and
 *      decides about retries from `retryable` / `retryAfterMs`;
 *   4. on a 2xx streaming answer decodes the bytes into events (`streamDecoder`, SSE by default),
 *      creates `stream(ctx)` once per attempt, feeds it every event and writes the frames
 *      `push()` / `end()` return.
 *
 * Usage convention (tracegate's, the same as OpenAI's): `promptTokens` INCLUDES cache-read and
 * cache-write tokens; `completionTokens` INCLUDES reasoning tokens. Anthropic's
 * `input_tokens + cache_read_input_tokens + cache_creation_input_tokens` is the prompt count.
 */
import type { z } from 'zod';
import type { ProviderKind } from './kinds.js';

export type { ProviderKind };

/**
 * The client-facing endpoints the gateway serves through translators. `generate` is Google's
 * `POST /v1beta/models/{model}:generateContent` (and `:streamGenerateContent`), for Gemini SDK clients.
 */
export type Endpoint = 'chat' | 'embeddings' | 'responses' | 'messages' | 'generate';

/** The API a client speaks on an endpoint: `messages` is Anthropic's, `generate` Google's, all others OpenAI's. */
export type ClientApi = 'openai' | 'anthropic' | 'gemini';

/** Each endpoint's client API: the shape of its answers and errors. */
export const CLIENT_API: Readonly<Record<Endpoint, ClientApi>> = { chat: 'openai', embeddings: 'openai', responses: 'openai', messages: 'anthropic', generate: 'gemini' };

/**
 * What the core tells a translator about the backend. `baseUrl` follows each provider SDK's
 * convention: OpenAI-compatible `https://api.openai.com/v1` (paths appended: `/chat/completions`),
 * Azure `https://NAME.openai.azure.com` (deployment paths appended), Anthropic
 * `https://api.anthropic.com` (`/v1/messages` appended). A trailing slash is tolerated.
 * `headers` are extra non-secret headers from config, sent on every request.
 */
export interface BackendDescriptor {
  kind: ProviderKind;
  baseUrl: string;
  /**
   * The provider's own fields of the Backend document (its `ProviderConfig.fields`, validated;
   * secret fields are not here, see `BackendSecret`): Azure's `deployment`, a region, a project…
   * Only the provider's own files read them, through the type of its fields.
   */
  options?: Readonly<Record<string, unknown>>;
  headers?: Readonly<Record<string, string>>;
}

export interface Target {
  /** The model name sent upstream, after any route override. */
  model: string;
  backend: BackendDescriptor;
}

export interface RequestOptions {
  /**
   * Ask OpenAI-compatible backends for usage on every stream (`stream_options.include_usage`).
   * The stream translator then hides the usage-only chunk from a client that did not ask for it.
   */
  forceUsageOnStream: boolean;
  /** Anthropic: `max_tokens` when the client gave neither `max_tokens` nor `max_completion_tokens` (default 4096). */
  defaultMaxTokens?: number;
  /**
   * The client's request headers (lower-case names). Only the Messages passthrough reads them,
   * to forward `anthropic-version` and `anthropic-beta`; nothing secret is ever copied.
   */
  clientHeaders?: Record<string, string | string[] | undefined>;
  /**
   * The client's body as received (the JSON text `clientBody` was parsed from). A passthrough
   * translator may forward it as is when it would change nothing, instead of re-serializing.
   */
  rawBody?: string;
  /** `rawBody`'s bytes as received, for large bodies: sent as they are instead of encoding the text again. */
  rawBytes?: Buffer;
}

/**
 * What `response()` and `stream()` need besides the upstream answer: the CLIENT's request body
 * (whether it asked for stream usage, whether JSON output was forced through a tool) and the
 * time, which translators never read from a clock themselves (OpenAI's `created` field).
 */
export interface ResponseContext {
  clientBody: Record<string, unknown>;
  nowMs: number;
  /**
   * The answer's JSON value when it was parsed already (a large answer is parsed off the event
   * loop, gateway/json-threads.ts; `value` undefined: not JSON); absent: parse `bodyText`.
   */
  parsed?: { value: unknown };
}

/** The upstream HTTP request. `headers` never hold a secret: the core adds the key. */
export interface UpstreamRequest {
  method: 'POST';
  /** Full URL: base URL + path + query. */
  url: string;
  headers: Record<string, string>;
  /** Text, or bytes (a large client body passed through). */
  body: string | Buffer;
  /** True when the upstream answer will be an SSE stream. */
  stream: boolean;
}

/** An error as the client sees it. `body` is in the client's API shape (see `openaiErrorBody`). */
export interface ClientError {
  status: number;
  body: ErrorBody;
  /** One-line summary for logs and spans (never holds a secret). */
  message: string;
  /** Whether trying again (same or another target) can help: connect errors, timeouts, 429, 5xx. */
  retryable: boolean;
  /** From `retry-after-ms` / `retry-after` (seconds or HTTP date), when the upstream sent one. */
  retryAfterMs?: number;
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Google's error envelope (Gemini API, Vertex AI): `code` is the HTTP status, `status` its canonical name. */
export interface GeminiErrorBody {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

/** An error envelope in one of the client APIs' shapes. */
export type ErrorBody = OpenAIErrorBody | AnthropicErrorBody | GeminiErrorBody;

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export type RequestResult = { ok: true; request: UpstreamRequest } | { ok: false; error: ClientError };

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  /** True when counted by the gateway's tokenizer, not reported by the provider. */
  estimated?: boolean;
}

/** A tool call the model made, accumulated for telemetry. `arguments` is the JSON text. */
export interface ToolCallOut {
  id: string;
  name: string;
  arguments: string;
}

/** What a translated answer tells telemetry. Every field is optional: providers differ. */
export interface ResponseFacts {
  usage?: Usage;
  /** The model the provider says answered. */
  responseModel?: string;
  /** Finish reasons in the CLIENT's API vocabulary (OpenAI `stop`, `length`, …; Anthropic `end_turn`, …). */
  finishReasons?: string[];
  id?: string;
  /** Assistant text (choice 0 for chat), for output messages when content capture is on. */
  outputText?: string;
  toolCalls?: ToolCallOut[];
}

export interface TranslatedResponse extends ResponseFacts {
  /** Serialized body to send to the client (upstream bytes untouched for passthrough). */
  body: string;
  /** The same body parsed, in the client's API shape. */
  json: unknown;
}

export type ResponseResult = ({ ok: true } & TranslatedResponse) | { ok: false; error: ClientError };

/** One server-sent event as `gateway/sse.ts` parses it. `event` is undefined when the stream sent none. */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/**
 * Per-request streaming state. `push()` returns serialized SSE frames for the client (possibly
 * none: an event can be swallowed, e.g. a usage-only chunk the client did not ask for, or
 * Anthropic `ping`s); `end()` is called once when the upstream stream ends and returns the
 * closing frames (for OpenAI clients of a translated stream, `data: [DONE]`).
 * The getters reflect everything seen so far.
 */
export interface StreamTranslator {
  push(ev: SseEvent): string[];
  end(): string[];
  readonly facts: ResponseFacts;
  /** True once a frame carrying output (text, tool call, refusal, embedding…) has been returned. */
  readonly firstContentSeen: boolean;
  /** Set when the upstream sent an error event mid-stream (already turned into a client frame). */
  readonly streamError?: ClientError;
}

export interface Translator {
  readonly endpoint: Endpoint;
  readonly clientApi: ClientApi;
  readonly backendKind: ProviderKind;
  request(body: Record<string, unknown>, target: Target, opts: RequestOptions): RequestResult;
  response(status: number, bodyText: string, ctx: ResponseContext): ResponseResult;
  stream(ctx: ResponseContext): StreamTranslator;
}

/** Response headers as undici `request()` gives them, or a fetch `Headers`. */
export type HeaderSource = Record<string, string | string[] | undefined> | { get(name: string): string | null };

/** Upstream stream bytes → events, for the stream translators. One per attempt. */
export interface StreamDecoder {
  /** The events the chunk completed. Past a limit: throws `SseLimitError` (gateway/sse.ts) with the events completed before it. */
  push(chunk: Buffer): SseEvent[];
  /** What is still pending when the upstream ends. */
  end(): SseEvent[];
}

/** Bounds a decoder enforces (gateway/proxy/limits.ts gives them). */
export interface StreamLimits {
  /** Longest line (SSE) or frame prefix, in bytes. */
  maxLineBytes: number;
  /** Largest event (SSE data, or an event-stream frame's payload), in bytes. */
  maxEventBytes: number;
}

/** What `authorize` sees of the upstream request: everything a signature may cover. */
export interface AuthRequest {
  readonly method: string;
  /** The full URL, query included. */
  readonly url: string;
  /** The request's non-secret headers, as they will be sent (the hook returns what to add; it never changes these). */
  readonly headers: Readonly<Record<string, string>>;
  /** The exact bytes (or text) that will be sent. */
  readonly body: string | Buffer;
  /** Aborts when the attempt times out or the client goes away: a real AbortSignal, for a token fetch. */
  readonly signal: AbortSignal;
}

/** A backend's credentials, resolved from the config's `{ env }` / `{ file }` references; never logged. */
export interface BackendSecret {
  /** The Backend's `apiKey`. */
  readonly key?: string;
  /** The provider's own secret fields (`ProviderConfig.secrets`), by field name; the absent ones are missing. */
  readonly fields: Readonly<Record<string, string>>;
}

export type AuthHeaders = Record<string, string>;

/** How a provider's requests carry a credential. */
export interface ProviderAuth {
  /**
   * Lower-case names of the request headers that carry its credentials: redacted in logs, never
   * copied into spans, refused as inline `headers` of a Backend document.
   */
  readonly secretHeaders: readonly string[];
  /**
   * The header carrying a bare key, as the provider's own SDKs send it (`x-api-key`, `api-key`,
   * `x-goog-api-key`): clients of the gateway may send their tracegate key in it too
   * (gateway/policy/authenticate.ts).
   */
  readonly keyHeader?: string;
  /**
   * The credential headers for one request, to be added to `req.headers`. Returns a Promise only
   * when it must wait (a token fetch, a credential chain): the core awaits only then, so a
   * synchronous provider stays on the synchronous path. Called once per attempt, after
   * `request()`, so a signature covers the exact method, URL, headers and body sent.
   * Throwing (or rejecting) means no credential could be had: the attempt fails with a 502
   * (`upstream_credentials_unavailable`, retryable); a `GatewayError` thrown is answered as it is.
   * An error's message is logged: it must never hold a secret.
   */
  authorize(req: AuthRequest, backend: BackendDescriptor, secret: BackendSecret): AuthHeaders | Promise<AuthHeaders>;
  /**
   * The provider answered 401 to a request this hook authorized: a provider that keeps a
   * credential it fetched (an access token) forgets it, so that the next attempt fetches anew.
   */
  refused?(backend: BackendDescriptor, secret: BackendSecret): void;
}

/** The names telemetry gives a provider's calls (shared/reference/conventions.md lists the well-known values). */
export interface TelemetryNames {
  /** OpenInference `llm.provider`: who hosts the model (openai, azure, anthropic, google, aws, …). */
  readonly provider: string;
  /**
   * OpenInference `llm.system`: the model's vendor (openai, anthropic, vertexai, amazon, meta, …).
   * A function of the model name where one host serves several vendors' models.
   */
  readonly system: string | ((model: string) => string);
  /** OpenTelemetry GenAI `gen_ai.provider.name` (openai, azure.ai.openai, anthropic, aws.bedrock, gcp.gemini, …). */
  readonly genai: string;
}

/**
 * A provider's own fields of a Backend document's spec. The config schema composes them into the
 * Backend schema's branch for this provider (a discriminated union by `provider`), so that a field
 * of another provider is refused with its path.
 */
export interface ProviderConfig {
  /** zod shapes of its fields (`apiVersion`, `deployment`, `region`, …); the common fields (url, apiKey, headers, …) are not repeated. */
  readonly fields: z.ZodRawShape;
  /**
   * Fields among `fields` that hold a secret reference (`{ env }` / `{ file }`, see
   * gateway/config/fields.ts `secretRef`): resolved apart from the rest of the config, given to
   * `authorize` in `BackendSecret.fields` and never in `BackendDescriptor.options`.
   */
  readonly secrets?: readonly string[];
  /** Cross-field checks over a spec of this provider (its fields and the common ones). */
  check?(spec: Readonly<Record<string, unknown>>, issue: (path: (string | number)[], message: string) => void): void;
}

/** Everything about one provider; the core reaches it only through `providerFor(kind)`. */
export interface ProviderDescriptor {
  readonly kind: ProviderKind;
  /**
   * The base URL when the Backend document gives none (a function of its options when it depends
   * on a region or project). Absent: a Backend of this provider must give `url`.
   */
  readonly defaultBaseUrl?: string | ((options: Readonly<Record<string, unknown>>) => string);
  /** What it serves: one translator per endpoint; an endpoint not listed is answered with a 400. */
  readonly translators: Partial<Record<Endpoint, Translator>>;
  /** How its streamed answers are framed; absent: server-sent events (gateway/sse.ts). */
  streamDecoder?(limits: StreamLimits): StreamDecoder;
  readonly telemetry: TelemetryNames;
  readonly auth: ProviderAuth;
  /**
   * A non-2xx answer as the client hears it: in the envelope of the client's API (`api`), the
   * status, type and code it maps to, and the retry facts (`retryable`, `retryAfterMs`). Upstream
   * bodies that are not a well-formed error are never echoed (they may carry internals).
   */
  error(status: number, bodyText: string, headers: HeaderSource | undefined, api: ClientApi): ClientError;
  readonly config: ProviderConfig;
  /** Served in-process by tracegate's simulator (gateway/providers/simulated/), not over HTTP. */
  readonly simulated?: true;
}

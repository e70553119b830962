/**
 * The contract between the gateway core and the API translators.
 *
 * A translator handles one pair of APIs: the API the client speaks on one endpoint, and the API
 * the backend speaks (`gateway/translators/<endpoint>/<from>_<to>.ts`). Translators are pure:
 * no I/O, no clock, no logging, no secrets. The core:
 *
 *   1. picks a translator with `translatorFor(endpoint, backend.kind)` (translators/index.ts);
 *   2. calls `request(clientBody, target, opts)` → method, url, non-secret headers, body text;
 *      adds the provider key itself with `authHeader(backend.kind, key)` (translators/auth.ts);
 *   3. on a 2xx non-streaming answer calls `response(status, bodyText, ctx)` and writes `body`;
 *      on a non-2xx answer calls `error(status, bodyText, headers)` and decides about retries
 *      from `retryable` / `retryAfterMs`;
 *   4. on a 2xx streaming answer creates `stream(ctx)` once per attempt, feeds it every
 *      SSE event from `gateway/sse.ts` and writes the frames `push()` / `end()` return.
 *
 * Usage convention (tracegate's, the same as OpenAI's): `promptTokens` INCLUDES cache-read and
 * cache-write tokens; `completionTokens` INCLUDES reasoning tokens. Anthropic's
 * `input_tokens + cache_read_input_tokens + cache_creation_input_tokens` is the prompt count.
 */

/** The client-facing endpoints the gateway serves through translators. */
export type Endpoint = 'chat' | 'embeddings' | 'responses' | 'messages';

/** The wire API a backend speaks. `openai` covers every OpenAI-compatible server (vLLM, Ollama, …). */
export type BackendKind = 'openai' | 'azure' | 'anthropic';

/** The API a client speaks on an endpoint: `messages` is Anthropic's, all others OpenAI's. */
export type ClientApi = 'openai' | 'anthropic';

/**
 * What the core tells a translator about the backend. `baseUrl` follows each provider SDK's
 * convention: OpenAI-compatible `https://api.openai.com/v1` (paths appended: `/chat/completions`),
 * Azure `https://NAME.openai.azure.com` (deployment paths appended), Anthropic
 * `https://api.anthropic.com` (`/v1/messages` appended). A trailing slash is tolerated.
 * `headers` are extra non-secret headers from config, sent on every request.
 */
export interface BackendDescriptor {
  kind: BackendKind;
  baseUrl: string;
  /** Azure: `api-version` query value (default `AZURE_DEFAULT_API_VERSION`). Anthropic: `anthropic-version` header (default `2023-06-01`). */
  apiVersion?: string;
  /** Azure: the deployment name; defaults to the target model. */
  deployment?: string;
  headers?: Record<string, string>;
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
  body: OpenAIErrorBody | AnthropicErrorBody;
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
  readonly backendKind: BackendKind;
  request(body: Record<string, unknown>, target: Target, opts: RequestOptions): RequestResult;
  response(status: number, bodyText: string, ctx: ResponseContext): ResponseResult;
  error(status: number, bodyText: string, headers?: HeaderSource): ClientError;
  stream(ctx: ResponseContext): StreamTranslator;
}

/** Response headers as undici `request()` gives them, or a fetch `Headers`. */
export type HeaderSource =
  | Record<string, string | string[] | undefined>
  | { get(name: string): string | null };

export const AZURE_DEFAULT_API_VERSION = '2024-10-21';
export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/**
 * `simulated`: tracegate's built-in OpenAI-compatible responder, so a first run without any
 * provider key still shows the whole pipeline. Answers are deterministic (seeded by the
 * request: the same request gets the same text, tool calls, JSON and vectors), usage is
 * counted with the gateway's tokenizer, and latency is realistic and configurable.
 *
 * Three ways in, one implementation:
 *   - `simulate(endpoint, body, opts)`: the answer as a value (JSON or SSE frames);
 *   - `createSimulatedTransport(config)`: a gateway `Transport` (gateway/upstream.ts), what
 *     `UpstreamDeps.simulated` takes; the core calls it like any OpenAI-compatible backend;
 *   - `startSimulatedServer({ port })` (simulated/server.ts): a loopback HTTP server speaking the
 *     OpenAI wire format.
 *
 * A model named `…-error-NNN` (or `…-fail-NNN`) answers HTTP NNN with an OpenAI error, so
 * retries, fallbacks and error dashboards can be shown without a failing provider.
 */
import { z } from 'zod';
import { envelope } from '../errors.js';
import type { AbortLike } from '../proxy/abort.js';
import { bodyOf, type Transport, type UpstreamAnswer, type UpstreamCall } from '../upstream.js';
import { ChatRequestSchema, chatCompletion, chatStreamFrames, planChat } from './simulated/chat.js';
import { EmbeddingsRequestSchema, embeddingsResponse } from './simulated/embeddings.js';
import { rngFrom, seedOf } from './simulated/seed.js';

export const SimulatedConfigSchema = z
  .object({
    latency: z
      .object({
        /** Time to the first byte (non-streaming: before the whole answer), drawn per request in [minMs, maxMs]. */
        minMs: z.number().nonnegative().default(20),
        maxMs: z.number().nonnegative().default(80),
        /** Added per generated token: between stream chunks, and to a non-streaming answer's wait. */
        perTokenMs: z.number().nonnegative().default(2),
      })
      .strict()
      .refine((l) => l.minMs <= l.maxMs, { message: 'minMs must not exceed maxMs', path: ['minMs'] })
      .prefault({}),
  })
  .strict();
export type SimulatedConfig = z.output<typeof SimulatedConfigSchema>;
export type SimulatedConfigInput = z.input<typeof SimulatedConfigSchema>;

export const SIMULATED_MODELS = ['tracegate-sim-1', 'tracegate-sim-mini', 'tracegate-sim-embed-1'] as const;

export type SimulatedEndpoint = 'chat' | 'embeddings' | 'models';

export type SimulatedResult = { kind: 'json'; status: number; json: unknown; headers?: Record<string, string> } | { kind: 'stream'; status: 200; frames: AsyncIterable<string> };

export interface SimulateOptions {
  signal?: AbortLike;
  config?: SimulatedConfigInput;
  /** Clock for `created`; defaults to Date.now. */
  now?: () => number;
}

/** OpenAI's error body, as OpenAI types it (a rate limit is `requests`), built by the gateway's one envelope builder. */
export function openaiError(status: number, message: string, param: string | null = null, code: string | null = null) {
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return envelope('openai', { message, type, param, code });
}

/** The answer to one request. Waits the simulated time to first byte before it resolves. */
export async function simulate(endpoint: SimulatedEndpoint, body: unknown, opts: SimulateOptions = {}): Promise<SimulatedResult> {
  const config = SimulatedConfigSchema.parse(opts.config ?? {});
  const now = opts.now ?? Date.now;
  if (endpoint === 'models') {
    return { kind: 'json', status: 200, json: { object: 'list', data: SIMULATED_MODELS.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'tracegate' })) } };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { kind: 'json', status: 400, json: openaiError(400, 'the request body must be a JSON object') };
  }
  const forced = forcedError(body as Record<string, unknown>);
  if (forced) return forced;
  const latency = config.latency;
  const firstMs = latency.minMs + rngFrom(seedOf('latency', body)).next() * (latency.maxMs - latency.minMs);
  if (endpoint === 'embeddings') {
    const parsed = EmbeddingsRequestSchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    await sleep(firstMs, opts.signal);
    return { kind: 'json', ...embeddingsResponse(parsed.data) };
  }
  const parsed = ChatRequestSchema.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const plan = planChat(parsed.data, now());
  await sleep(firstMs, opts.signal);
  if (!parsed.data.stream) {
    await sleep(latency.perTokenMs * plan.usage.completion_tokens, opts.signal);
    return { kind: 'json', status: 200, json: chatCompletion(plan) };
  }
  const frames = chatStreamFrames(plan, parsed.data.stream_options?.include_usage === true);
  return { kind: 'stream', status: 200, frames: paced(frames, latency.perTokenMs, opts.signal) };
}

function invalid(error: z.ZodError): SimulatedResult {
  const first = error.issues[0];
  const all = error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  return { kind: 'json', status: 400, json: openaiError(400, `invalid request: ${all}`, first?.path.length ? first.path.join('.') : null, 'invalid_request') };
}

function forcedError(body: Record<string, unknown>): SimulatedResult | undefined {
  const m = typeof body.model === 'string' ? /-(?:error|fail)-([45]\d\d)$/.exec(body.model) : null;
  if (!m) return undefined;
  const status = Number(m[1]);
  const message = `simulated ${status} error (asked for by the model name "${String(body.model)}")`;
  const code = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'simulated_error';
  return { kind: 'json', status, json: openaiError(status, message, null, code), headers: status === 429 ? { 'retry-after-ms': '50' } : undefined };
}

async function* paced(frames: { frame: string; tokens: number }[], perTokenMs: number, signal?: AbortLike): AsyncIterable<string> {
  for (const f of frames) {
    if (f.tokens > 0) await sleep(perTokenMs * f.tokens, signal);
    else if (signal?.aborted) throw abortError();
    yield f.frame;
  }
}

function abortError(): Error {
  return Object.assign(new Error('the request was aborted'), { name: 'AbortError' });
}

function sleep(ms: number, signal?: AbortLike): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Which endpoint a URL path names (with or without the `/v1` prefix), or undefined. */
export function endpointOf(method: string, path: string): SimulatedEndpoint | undefined {
  const p = path.replace(/\?.*$/, '').replace(/\/+$/, '');
  if (method === 'POST' && /(^|\/)chat\/completions$/.test(p)) return 'chat';
  if (method === 'POST' && /(^|\/)embeddings$/.test(p)) return 'embeddings';
  if (method === 'GET' && /(^|\/)models$/.test(p)) return 'models';
  return undefined;
}

/** One HTTP exchange: status, headers and a body of bytes, for the transport and the server. */
export async function answerHttp(
  method: string,
  path: string,
  bodyText: string | undefined,
  opts: SimulateOptions,
): Promise<{ status: number; headers: Record<string, string>; body: AsyncIterable<Buffer> | Buffer }> {
  const endpoint = endpointOf(method, path);
  if (!endpoint)
    return jsonAnswer(
      404,
      openaiError(
        404,
        `the simulated provider has no ${method} ${path.replace(/\?.*$/, '').slice(0, 100)}; it serves POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models`,
        null,
        'unknown_url',
      ),
    );
  let body: unknown;
  if (endpoint !== 'models') {
    try {
      body = JSON.parse(bodyText ?? '');
    } catch {
      return jsonAnswer(400, openaiError(400, 'the request body is not valid JSON'));
    }
  }
  const result = await simulate(endpoint, body, opts);
  if (result.kind === 'json') return jsonAnswer(result.status, result.json, result.headers);
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-simulated': 'tracegate' },
    body: bytes(result.frames),
  };
}

async function* bytes(frames: AsyncIterable<string>): AsyncIterable<Buffer> {
  for await (const f of frames) yield Buffer.from(f);
}

function jsonAnswer(status: number, json: unknown, headers: Record<string, string> = {}) {
  return { status, headers: { 'content-type': 'application/json', 'x-simulated': 'tracegate', ...headers }, body: Buffer.from(JSON.stringify(json)) };
}

/** The gateway Transport for `provider: simulated` backends (pass as `UpstreamDeps.simulated`). */
export function createSimulatedTransport(config: SimulatedConfigInput = {}, deps: { now?: () => number } = {}): Transport {
  const parsed = SimulatedConfigSchema.parse(config);
  return {
    async request(call: UpstreamCall): Promise<UpstreamAnswer> {
      const path = new URL(call.url).pathname;
      const answer = await answerHttp(call.method, path, typeof call.body === 'string' || call.body === undefined ? call.body : call.body.toString('utf8'), {
        signal: call.signal,
        config: parsed,
        now: deps.now,
      });
      return { status: answer.status, headers: answer.headers, body: bodyOf(answer.body) };
    },
    close: () => Promise.resolve(),
  };
}

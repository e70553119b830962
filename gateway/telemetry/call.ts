/**
 * The span of one call (OpenInference LLM / EMBEDDING, mirrored in GenAI keys, plus tracegate's
 * own) and a child span per upstream attempt (no openinference.span.kind: never counted as a
 * call), then the call's metrics.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { GENAI, OI, TG, TG_ORIGIN_GATEWAY } from '../../common/semconv.js';
import type { BackendConfig, GatewaySpecHeaders } from '../config/model.js';
import type { AttemptResult } from '../proxy/attempt.js';
import type { AttemptObserver } from '../proxy/run.js';
import type { CallInput, CallOutcome } from '../proxy/types.js';
import { estimateChatUsage, estimateEmbeddingUsage } from '../tokenizer.js';
import type { ResponseFacts, Usage } from '../translators/types.js';
import { OPERATION, providerNames, requestAttributes, responseAttributes } from './attributes.js';
import { Content } from './content.js';
import type { GatewayMetrics } from './metrics.js';
import { parentContext } from './tracing.js';

export interface CallTelemetryEnv {
  tracer: Tracer;
  metrics: GatewayMetrics;
  capture: { mode: 'off' | 'on' | 'truncate'; maxBytes: number };
  headers: GatewaySpecHeaders;
}

function headerOf(h: CallInput['clientHeaders'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v || undefined;
}

/** session.id and user.id: the configured headers first, then OpenAI's `user` / Anthropic's `metadata.user_id`. */
function identity(input: CallInput, names: GatewaySpecHeaders): Attributes {
  const a: Attributes = {};
  const session = headerOf(input.clientHeaders, names.session);
  const meta = input.clientBody.metadata as Record<string, unknown> | undefined;
  const user = headerOf(input.clientHeaders, names.user) ?? (typeof input.clientBody.user === 'string' ? input.clientBody.user : undefined) ?? (typeof meta?.user_id === 'string' ? meta.user_id : undefined);
  if (session) {
    a[OI.SESSION_ID] = session;
    a[GENAI.CONVERSATION_ID] = session;
  }
  if (user) a[OI.USER_ID] = user;
  return a;
}

/** `server.address` per backend config object, parsed once (a reload brings new objects). */
const hosts = new WeakMap<BackendConfig, string>();

function hostOf(b: BackendConfig): string {
  let host = hosts.get(b);
  if (host === undefined) {
    try {
      host = new URL(b.url).host;
    } catch {
      host = ''; // a simulated backend's placeholder
    }
    hosts.set(b, host);
  }
  return host;
}

function attemptAttributes(b: BackendConfig, model: string, retry: number, fallback: boolean): Attributes {
  const host = hostOf(b);
  return {
    // Marks it as the gateway's: with no openinference.span.kind it is never counted as a call.
    [TG.ORIGIN]: TG_ORIGIN_GATEWAY,
    [TG.BACKEND]: b.name,
    [GENAI.PROVIDER_NAME]: providerNames(b.provider).genai,
    [GENAI.REQUEST_MODEL]: model,
    [GENAI.SERVER_ADDRESS]: host,
    [TG.RETRIES]: retry,
    [TG.FALLBACK_USED]: fallback,
  };
}

/** Provider usage, or an estimate from the tokenizer when the provider sent none. */
function usageOf(input: CallInput, facts: ResponseFacts): Usage | undefined {
  if (facts.usage) return facts.usage;
  if (input.endpoint === 'embeddings') return estimateEmbeddingUsage(input.clientBody);
  if (input.endpoint === 'chat') return estimateChatUsage(input.clientBody, facts.outputText ?? '', facts.toolCalls);
  return undefined;
}

export class CallTelemetry {
  readonly span: Span;
  private readonly ctx: Context;
  private readonly content: Content;

  constructor(
    private readonly env: CallTelemetryEnv,
    private readonly input: CallInput,
    rawBody: string,
    private readonly backends: ReadonlyMap<string, BackendConfig>,
  ) {
    this.content = new Content(env.capture.mode, env.capture.maxBytes);
    const attrs = requestAttributes(input.endpoint, input.clientBody, rawBody, this.content);
    attrs[OI.SPAN_KIND] = input.endpoint === 'embeddings' ? 'EMBEDDING' : 'LLM';
    attrs[TG.ORIGIN] = TG_ORIGIN_GATEWAY;
    attrs[TG.ROUTE] = input.rule.id;
    attrs[TG.STREAMING] = input.stream;
    Object.assign(attrs, identity(input, env.headers));
    const parent = parentContext(input.clientHeaders);
    // Attributes set after start, not passed to startSpan: the SDK would first copy and check
    // them all for the sampler (the gateway's samplers do not read attributes), then again here.
    this.span = env.tracer.startSpan(`${OPERATION[input.endpoint]} ${input.model}`, { kind: SpanKind.SERVER }, parent).setAttributes(attrs);
    this.ctx = trace.setSpan(parent, this.span);
  }

  /** Starts the child span of an attempt; the returned function ends it. */
  readonly observe: AttemptObserver = (backend, model, retry, fallback) => {
    const span = this.env.tracer.startSpan(`upstream ${backend.name}`, { kind: SpanKind.CLIENT }, this.ctx).setAttributes(attemptAttributes(backend, model, retry, fallback));
    return (r: AttemptResult) => {
      this.env.metrics.recordAttempt(backend.name, r.ok ? 'ok' : r.cause);
      if (r.ok) span.setAttribute(TG.HTTP_STATUS, r.kind === 'json' ? r.status : 200);
      else {
        if (r.status) span.setAttribute(TG.HTTP_STATUS, r.status);
        span.setAttribute(GENAI.ERROR_TYPE, r.status ? String(r.status) : r.cause);
        span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.message });
      }
      span.end();
    };
  };

  /** Ends the call span and records its metrics. `output` is what the client received (non-stream body). */
  finish(outcome: CallOutcome, status: number, output?: string): void {
    const { span, input } = this;
    const { result: r, path } = outcome;
    const seconds = (performance.now() - input.startedAt) / 1000;
    const a: Attributes = { [TG.ATTEMPTS]: path.attempts, [TG.FALLBACK_USED]: path.fallbackUsed, [TG.HTTP_STATUS]: status };
    const genai = this.pathAttributes(a, path);
    const requestModel = path.model ?? input.model;
    let usage: Usage | undefined;
    let ttftMs: number | undefined;
    let errorType: string | undefined;
    let message: string | undefined;
    if (r.ok) {
      usage = usageOf(input, r.facts);
      responseAttributes(a, input.endpoint, r.facts, usage, requestModel, r.kind === 'stream' ? r.facts.outputText : output, this.content);
      if (usage?.estimated) a[TG.TOKENS_ESTIMATED] = true;
      if (r.kind === 'stream') {
        ttftMs = r.ttftMs;
        if (ttftMs !== undefined) {
          a[TG.TIME_TO_FIRST_TOKEN_MS] = Math.round(ttftMs * 1000) / 1000;
          a[GENAI.RESPONSE_TIME_TO_FIRST_CHUNK] = ttftMs / 1000;
        }
        if (r.cutShort) {
          errorType = r.cutShort.status === 499 ? 'client_closed' : String(r.cutShort.status);
          message = r.cutShort.message;
        }
      }
    } else {
      a[OI.LLM_MODEL_NAME] = requestModel;
      errorType = r.cause === 'status' ? String(r.error.status) : r.cause;
      message = r.error.message;
    }
    if (errorType) {
      a[GENAI.ERROR_TYPE] = errorType;
      span.setStatus({ code: SpanStatusCode.ERROR, message: message || errorType });
    }
    if (this.content.truncated.length) a[TG.TRUNCATED] = this.content.truncated.join(',');
    span.setAttributes(a);
    span.end();
    const dims = { operation: OPERATION[input.endpoint], provider: genai ?? '_OTHER', requestModel, responseModel: r.ok ? r.facts.responseModel : undefined, route: input.rule.id, errorType };
    this.env.metrics.recordCall(dims, seconds, status, usage, ttftMs !== undefined ? ttftMs / 1000 : undefined);
  }

  /** Retries, fallback, skipped circuits and the backend that answered; returns gen_ai.provider.name. */
  private pathAttributes(a: Attributes, path: CallOutcome['path']): string | undefined {
    if (path.attempts > 1) a[TG.RETRIES] = path.attempts - 1;
    if (path.skipped.length) a[TG.CIRCUIT_SKIPPED] = path.skipped.join(',');
    const backend = path.backend ? this.backends.get(path.backend) : undefined;
    if (!backend) return undefined;
    const names = providerNames(backend.provider);
    a[TG.BACKEND] = backend.name;
    a[GENAI.PROVIDER_NAME] = names.genai;
    a[OI.LLM_PROVIDER] = names.provider;
    if (this.input.endpoint !== 'embeddings') a[OI.LLM_SYSTEM] = names.system;
    return names.genai;
  }
}

/**
 * The telemetry of one call: its span (OpenInference LLM / EMBEDDING, mirrored in GenAI keys,
 * plus tracegate's own), a child span per upstream attempt when the call made more than one (no
 * openinference.span.kind: never counted as a call; `telemetry.attemptSpans: always` writes one
 * for every call), and the call's metrics. Attributes are not collected during the call: the
 * call keeps what it learned and writes them when the span is read (spans/span.ts).
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import type { BackendConfig, GatewaySpecHeaders } from '../config/model.js';
import type { AttemptResult } from '../proxy/attempt.js';
import type { AttemptObserver } from '../proxy/run.js';
import type { Identity } from '../policy/identity.js';
import type { CallInput, CallOutcome } from '../proxy/types.js';
import type { Usage } from '../providers/types.js';
import { llmSystem, providerFor } from '../providers/registry.js';
import { OPERATION, writeRequest, writeResponse } from './attributes.js';
import type { AgentSessions, RunStep } from './agent-sessions.js';
import { contain } from './contain.js';
import type { GatewayMetrics } from './metrics.js';
import { KEYS } from './spans/keys.js';
import type { AttrSink, Capture } from './spans/sink.js';
import type { AttributeSource, GatewaySpan } from './spans/span.js';
import { parseTraceparent } from '../../common/trace-context.js';
import type { GatewayTracer } from './spans/tracer.js';

export interface CallTelemetryEnv {
  /** Undefined when spans go nowhere (metrics are still recorded). */
  tracer: GatewayTracer | undefined;
  capture: Capture;
  metrics: GatewayMetrics;
  headers: GatewaySpecHeaders;
  /** Agent runs of uninstrumented agents: a call with a session header and no traceparent goes under its AGENT span. */
  agents?: AgentSessions;
  /** `retried` (the default): attempt spans only for a call that made more than one attempt; `always`: for every call. */
  attemptSpans?: 'retried' | 'always';
}

function headerOf(h: CallInput['clientHeaders'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v || undefined;
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

/** Ends a span (an error status first when `error` is given). */
function endSpan(span: GatewaySpan, error: string | undefined, at = performance.now()): void {
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.endPerf(at);
}

/** What refused a call, as its span's tracegate.policy.* attributes say it. */
export interface PolicyRefusalSpan {
  readonly limit: string;
  readonly scope: string;
  readonly reason: string;
  readonly limitValue?: number;
}

/** The caller's ApiKey name and its team, on every span of the call: never the key or its hash. */
function writeCaller(s: AttrSink, identity: Identity | undefined): void {
  if (!identity) return;
  s.tok(KEYS.key, identity.key);
  if (identity.team !== undefined) s.tok(KEYS.team, identity.team);
  // From the key's document, never from the request: a client cannot move its usage out of the application's.
  if (identity.metadata.purpose === 'evaluator') s.tok(KEYS.purpose, 'evaluator');
}

/** One upstream attempt, as its span says it. */
class AttemptTelemetry implements AttributeSource {
  result: AttemptResult | undefined;

  constructor(
    private readonly backend: BackendConfig,
    private readonly model: string,
    private readonly retry: number,
    private readonly fallback: boolean,
    private readonly identity: Identity | undefined,
  ) {}

  get backendName(): string {
    return this.backend.name;
  }

  writeAttributes(s: AttrSink): void {
    // Marks it as the gateway's: with no openinference.span.kind it is never counted as a call.
    s.tok(KEYS.origin, 'gateway');
    s.tok(KEYS.backend, this.backend.name);
    s.tok(KEYS.genaiProvider, providerFor(this.backend.provider).telemetry.genai);
    s.tok(KEYS.genaiRequestModel, this.model);
    s.tok(KEYS.serverAddress, hostOf(this.backend));
    s.num(KEYS.retries, this.retry);
    s.bool(KEYS.fallbackUsed, this.fallback);
    writeCaller(s, this.identity);
    const r = this.result;
    if (!r) return;
    if (r.ok) s.num(KEYS.httpStatus, r.kind === 'json' ? r.status : 200);
    else {
      if (r.status) s.num(KEYS.httpStatus, r.status);
      s.tok(KEYS.errorType, r.status ? String(r.status) : r.cause);
    }
  }
}

export class CallTelemetry implements AttributeSource {
  private readonly span: GatewaySpan | undefined;
  private outcome: CallOutcome | undefined;
  private status = 0;
  private output: string | undefined;
  /** The provider's usage, or the tokenizer's estimate (which says whether it sampled). */
  private usage: (Usage & { sampled?: boolean }) | undefined;
  private errorType: string | undefined;
  /** What refused the call (gateway/policy/refusal.ts, authorize.ts). */
  private refusal: PolicyRefusalSpan | undefined;
  /** The session's agent run this call is a step of, when the gateway opened one. */
  private step: RunStep | undefined;
  /** Attempts started so far. */
  private attempts = 0;
  /**
   * The first attempt, ended, while no other has started: it gets its span only when a second
   * attempt starts (with `retried`), so a call answered at once is one span.
   */
  private first: { attempt: AttemptTelemetry; start: number; end: number; error: string | undefined } | undefined;

  constructor(
    private readonly env: CallTelemetryEnv,
    private readonly input: CallInput,
    private readonly backends: ReadonlyMap<string, BackendConfig>,
  ) {
    const tracer = env.tracer;
    if (tracer)
      this.span = contain(
        env.metrics,
        'telemetry',
        () => tracer.start(`${OPERATION[input.endpoint]} ${input.model}`, SpanKind.SERVER, this.parentOf(input), input.startedAt, this, env.capture),
        undefined,
      );
  }

  /** The caller's traceparent, else the AGENT span of its session (agent-sessions.ts), else none. */
  private parentOf(input: CallInput) {
    const caller = parseTraceparent(input.clientHeaders);
    if (caller || !this.env.agents) return caller;
    const session = headerOf(input.clientHeaders, this.env.headers.session);
    this.step = session ? this.env.agents.step(session, headerOf(input.clientHeaders, this.env.headers.agent)) : undefined;
    return this.step?.parent;
  }

  /**
   * Observes an attempt; the returned function is called when it ends. Its child span is written
   * then (from its start), except a first attempt's with `retried`: that one waits for a second
   * attempt, and a call without one is one span.
   */
  readonly observe: AttemptObserver = (backend, model, retry, fallback) => {
    const start = performance.now();
    const attempt = new AttemptTelemetry(backend, model, retry, fallback, this.input.identity);
    const n = ++this.attempts;
    const first = this.first;
    if (first) {
      this.first = undefined;
      this.attemptSpan(first.attempt, first.start, first.end, first.error);
    }
    return (r: AttemptResult) => {
      const { metrics } = this.env;
      contain(metrics, 'metrics', () => metrics.recordAttempt(backend.name, r.ok ? 'ok' : r.cause), undefined);
      attempt.result = r;
      const end = performance.now();
      const error = r.ok ? undefined : r.error.message;
      if (n === 1 && this.attempts === 1 && this.env.attemptSpans !== 'always') this.first = { attempt, start, end, error };
      else this.attemptSpan(attempt, start, end, error);
    };
  };

  /** Writes an attempt's child span, from `start` to `end`. */
  private attemptSpan(attempt: AttemptTelemetry, start: number, end: number, error: string | undefined): void {
    const { metrics, tracer, capture } = this.env;
    const parent = this.span;
    if (!parent || !tracer) return;
    contain(
      metrics,
      'telemetry',
      () => {
        const span = tracer.start(`upstream ${attempt.backendName}`, SpanKind.CLIENT, parent, start, attempt, capture);
        if (span) endSpan(span, error, end);
      },
      undefined,
    );
  }

  /**
   * Ends the call span and records its metrics. `output` is what the client received (non-stream
   * body); `now` is when the answer was complete (default: now); `usage` is what the call settled
   * with (policy/gate.ts settledUsage: the provider's, or the tokenizer's estimate).
   */
  finish(outcome: CallOutcome, status: number, output?: string, now = performance.now(), usage?: Usage): void {
    const { input } = this;
    const r = outcome.result;
    this.outcome = outcome;
    this.status = status;
    this.output = output;
    let message: string | undefined;
    let ttftMs: number | undefined;
    if (r.ok) {
      this.usage = usage;
      if (r.kind === 'stream') {
        ttftMs = r.ttftMs;
        if (r.cutShort) {
          this.errorType = r.cutShort.status === 499 ? 'client_closed' : String(r.cutShort.status);
          message = r.cutShort.message;
        }
      }
    } else {
      this.errorType = r.cause === 'status' ? String(r.error.status) : r.cause;
      message = r.error.message;
    }
    const backend = outcome.path.backend ? this.backends.get(outcome.path.backend) : undefined;
    const dims = {
      operation: OPERATION[input.endpoint],
      provider: backend ? providerFor(backend.provider).telemetry.genai : '_OTHER',
      requestModel: outcome.path.model ?? input.model,
      responseModel: r.ok ? r.facts.responseModel : undefined,
      route: input.rule.id,
      errorType: this.errorType,
    };
    const { metrics } = this.env;
    contain(metrics, 'metrics', () => metrics.recordCall(dims, (now - input.startedAt) / 1000, status, this.usage, ttftMs !== undefined ? ttftMs / 1000 : undefined), undefined);
    const span = this.span;
    if (span) contain(metrics, 'telemetry', () => endSpan(span, this.errorType && (message || this.errorType), now), undefined);
    this.step?.done();
  }

  /** The call was refused by a limit, a budget, or its key's allowed routes or models: its span says which (tracegate.policy.*). */
  refusedBy(refusal: PolicyRefusalSpan): void {
    this.refusal = refusal;
  }

  /**
   * Runs when the span is read (the export timer, or a processor's own): a value that cannot be
   * written is counted and the span keeps what was written before it.
   */
  writeAttributes(s: AttrSink): void {
    contain(this.env.metrics, 'telemetry', () => this.write(s), undefined);
  }

  private write(s: AttrSink): void {
    const { input } = this;
    writeRequest(s, input.endpoint, input.clientBody, input.rawBody ?? '');
    s.tok(KEYS.spanKind, input.endpoint === 'embeddings' ? 'EMBEDDING' : 'LLM');
    s.tok(KEYS.origin, 'gateway');
    s.tok(KEYS.route, input.rule.id);
    s.bool(KEYS.streaming, input.stream);
    this.writeIdentity(s);
    writeCaller(s, input.identity);
    const outcome = this.outcome;
    if (!outcome) return;
    const { result: r, path } = outcome;
    s.num(KEYS.attempts, path.attempts);
    s.bool(KEYS.fallbackUsed, path.fallbackUsed);
    s.num(KEYS.httpStatus, this.status);
    if (path.attempts > 1) s.num(KEYS.retries, path.attempts - 1);
    if (path.skipped.length) s.str(KEYS.circuitSkipped, path.skipped.join(','));
    const backend = path.backend ? this.backends.get(path.backend) : undefined;
    if (backend) {
      const names = providerFor(backend.provider).telemetry;
      s.tok(KEYS.backend, backend.name);
      s.tok(KEYS.serverAddress, hostOf(backend));
      s.tok(KEYS.genaiProvider, names.genai);
      s.tok(KEYS.llmProvider, names.provider);
      if (input.endpoint !== 'embeddings') s.tok(KEYS.llmSystem, llmSystem(names, path.model ?? input.model));
    }
    const requestModel = path.model ?? input.model;
    if (r.ok) {
      writeResponse(s, input.endpoint, r.facts, this.usage, requestModel, r.kind === 'stream' ? r.facts.outputText : this.output);
      if (this.usage?.estimated) s.bool(KEYS.tokensEstimated, true);
      if (this.usage?.sampled) s.bool(KEYS.tokensSampled, true);
      if (r.kind === 'stream' && r.ttftMs !== undefined) {
        s.num(KEYS.ttftMs, Math.round(r.ttftMs * 1000) / 1000);
        s.num(KEYS.genaiTimeToFirstChunk, r.ttftMs / 1000);
      }
    } else {
      s.tok(KEYS.llmModel, requestModel);
      if (input.endpoint === 'embeddings') s.tok(KEYS.embeddingModel, requestModel);
    }
    if (this.errorType) s.tok(KEYS.errorType, this.errorType);
    const p = this.refusal;
    if (p) {
      s.tok(KEYS.policyLimit, p.limit);
      s.tok(KEYS.policyScope, p.scope);
      s.tok(KEYS.policyReason, p.reason);
      s.tok(KEYS.refusal, p.reason);
      if (p.limitValue !== undefined) s.num(KEYS.policyLimitValue, p.limitValue);
    }
    if (s.truncated) s.str(KEYS.truncated, s.truncated.join(','));
  }

  /** session.id and user.id: the configured headers first, then OpenAI's `user` / Anthropic's `metadata.user_id`. */
  private writeIdentity(s: AttrSink): void {
    const { input } = this;
    const names = this.env.headers;
    const session = headerOf(input.clientHeaders, names.session);
    if (session) {
      s.str(KEYS.sessionId, session);
      s.str(KEYS.genaiConversationId, session);
    }
    const body = input.clientBody;
    const meta = body.metadata as Record<string, unknown> | undefined;
    const user = headerOf(input.clientHeaders, names.user) ?? (typeof body.user === 'string' ? body.user : undefined) ?? (typeof meta?.user_id === 'string' ? meta.user_id : undefined);
    if (user) s.str(KEYS.userId, user);
  }
}

/**
 * The attempt loop of one call, written once for every endpoint: candidates from the route
 * (weighted target, then fallbacks), circuit breakers, retries with backoff and Retry-After,
 * per-attempt and total timeouts.
 */
import { performance } from 'node:perf_hooks';
import type { BackendConfig, GatewayConfig } from '../config/model.js';
import { GatewayError, gatewayClientError } from '../errors.js';
import { backoffDelay, EQUAL_JITTER, sleep } from '../../common/backoff.js';
import type { JsonThreads } from '../json-threads.js';
import type { Breakers } from '../reliability/breaker.js';
import { planCandidates, type Candidate } from '../routing/plan.js';
import { providerFor } from '../providers/registry.js';
import type { BackendDescriptor, BackendSecret, ClientError, UpstreamRequest } from '../providers/types.js';
import type { Upstreams } from '../upstream.js';
import { clientGoneError, runAttempt, timeoutError, type AttemptResult } from './attempt.js';
import type { AnswerLimits } from './limits.js';
import type { CallInput, CallOutcome, CallPath, FailureCause, StreamSink } from './types.js';

/** Telemetry's view of one attempt: called when it starts, the returned function when it ends. */
export type AttemptObserver = (backend: BackendConfig, model: string, retry: number, fallback: boolean) => (r: AttemptResult) => void;

export interface ProxyEnv {
  config: GatewayConfig;
  breakers: Breakers;
  upstreams: Upstreams;
  random: () => number;
  /** Wall clock, for translators (OpenAI's `created`). */
  nowMs: () => number;
  observe?: AttemptObserver;
  /** Upstream answer limits; ANSWER_LIMITS when absent. */
  limits?: AnswerLimits;
  /** Where large answers are parsed; on the event loop when absent. */
  json?: JsonThreads;
  /** The call's budget reservation (gateway/policy/ticket.ts), moved to each candidate's prices. */
  reservation?: Reservation;
}

/**
 * Before each candidate: the reservation moved to that model's prices. A refusal skips the
 * candidate, and is the answer if none is left; undefined (no promise) when it stays as it is.
 */
export interface Reservation {
  reprice(model: string): Promise<{ error: ClientError } | undefined> | undefined;
}

/** What a translator and `authorize` are told about a backend. */
export function descriptor(b: BackendConfig): BackendDescriptor {
  return { kind: b.provider, baseUrl: b.url, options: b.options, headers: b.headers };
}

const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({});

/** A backend's credentials, as the config resolved them (kept apart from the config itself). */
export function secretOf(config: GatewayConfig, backend: string): BackendSecret {
  return { key: config.keys.get(backend), fields: config.providerSecrets?.get(backend) ?? NO_FIELDS };
}

type Prepared =
  | { ok: true; request: UpstreamRequest; run: (timeoutMs: number, deadline: number, sink?: StreamSink) => Promise<AttemptResult>; refused: () => void }
  | { ok: false; error: ClientError; cause: FailureCause };

/** Everything about a candidate that does not change between its retries. */
function prepare(env: ProxyEnv, input: CallInput, backend: BackendConfig, c: Candidate): Prepared {
  const transport = env.upstreams.get(backend);
  if (!transport)
    return {
      ok: false,
      cause: 'unsupported',
      error: gatewayClientError(new GatewayError('no_transport', `backend "${backend.name}" has no transport (the simulated provider is not available here)`)),
    };
  const provider = providerFor(backend.provider);
  const translator = provider.translators[input.endpoint];
  if (!translator) {
    const e = new GatewayError('endpoint_not_supported', `backend "${backend.name}" (${backend.provider}) does not serve ${input.endpoint}`);
    return { ok: false, cause: 'unsupported', error: gatewayClientError(e) };
  }
  const target = descriptor(backend);
  const r = translator.request(
    input.clientBody,
    { model: c.model, backend: target },
    { forceUsageOnStream: true, clientHeaders: input.clientHeaders, rawBody: input.rawBody, rawBytes: input.rawBytes },
  );
  if (!r.ok) return { ok: false, cause: 'rejected', error: r.error };
  const request = r.request;
  const auth = { provider, backend: target, secret: secretOf(env.config, backend.name) };
  const { streamIdle } = input.rule.timeouts;
  return {
    ok: true,
    request,
    run: (timeoutMs, deadline, sink) =>
      runAttempt(input, { transport, translator, request, auth, timeoutMs, deadline, streamIdleMs: streamIdle, limits: env.limits, json: env.json, sink, nowMs: env.nowMs }),
    refused: () => provider.auth.refused?.(target, auth.secret),
  };
}

/** Whether a failed attempt says something about the backend's health. */
function breakerVerdict(r: AttemptResult): 'success' | 'failure' | 'neutral' {
  if (r.ok) return 'success';
  if (r.cause === 'client_gone' || r.cause === 'rejected' || r.cause === 'unsupported') return 'neutral';
  if (r.cause === 'status') return (r.status ?? 500) >= 500 ? 'failure' : 'success';
  return 'failure';
}

export async function runCall(env: ProxyEnv, input: CallInput, sink?: StreamSink): Promise<CallOutcome> {
  const { rule } = input;
  const deadline = input.startedAt + rule.timeouts.request;
  const path: CallPath = { attempts: 0, fallbackUsed: false, skipped: [] };
  const available = (name: string) => {
    const b = env.config.backends.get(name);
    return !!b && !b.disabled && (env.breakers.get(name)?.available() ?? true);
  };
  const { candidates, skipped } = planCandidates(rule, input.model, available, env.random);
  path.skipped.push(...skipped);
  let last: Failure | undefined;

  for (const c of candidates) {
    const backend = env.config.backends.get(c.backend) as BackendConfig;
    const breaker = env.breakers.get(c.backend);
    if (backend.disabled || (breaker && !breaker.available())) {
      if (!path.skipped.includes(c.backend)) path.skipped.push(c.backend);
      continue;
    }
    const prep = prepare(env, input, backend, c);
    if (!prep.ok) {
      last = { error: prep.error, cause: prep.cause };
      // The client's request cannot be sent anywhere: say so rather than trying other backends.
      if (prep.cause === 'rejected') return { result: { ok: false, error: prep.error, cause: prep.cause }, path };
      continue;
    }
    const repricing = env.reservation?.reprice(c.model);
    const unaffordable = repricing && (await repricing);
    if (unaffordable) {
      last = { error: unaffordable.error, cause: 'rejected' };
      continue;
    }
    for (let retry = 0; ; retry++) {
      const left = deadline - performance.now();
      if (left <= 0) return { result: { ok: false, error: timeoutError('the request'), cause: 'timeout' }, path };
      if (breaker && !breaker.acquire()) {
        if (!path.skipped.includes(c.backend)) path.skipped.push(c.backend);
        break;
      }
      path.attempts++;
      path.backend = c.backend;
      path.model = c.model;
      path.fallbackUsed = c.fallback;
      const done = env.observe?.(backend, c.model, retry, c.fallback);
      const r = await prep.run(Math.min(rule.timeouts.attempt, left), deadline, sink);
      done?.(r);
      const verdict = breakerVerdict(r);
      if (verdict === 'success') breaker?.success();
      else if (verdict === 'failure') breaker?.failure();
      else breaker?.release();
      if (r.ok) return { result: r, path };
      last = r;
      if (r.refused) break; // this backend's answer is unusable: the next candidate, not a retry
      if (r.cause === 'status' && (r.status === 401 || r.status === 403)) {
        // The provider refused the gateway's own credential: the client's key is not at fault, and
        // the provider's words (which may quote the provider key) stay in the attempt's span.
        if (r.status === 401) prep.refused();
        last = { error: credentialRefused(backend.name, r.status), cause: 'status', refused: true };
        break;
      }
      if (r.cause === 'client_gone' || !r.error.retryable) return { result: r, path };
      if (retry >= rule.retry.retries) break;
      const wanted = r.error.retryAfterMs;
      if (wanted !== undefined && wanted > rule.retry.maxRetryAfter) break;
      const delay = backoffDelay({ initialMs: rule.retry.backoff.base, maxMs: rule.retry.backoff.max, multiplier: 2, spread: EQUAL_JITTER }, retry, env.random, wanted);
      if (performance.now() + delay >= deadline) break;
      await sleep(delay, input.clientGone);
      if (input.clientGone.aborted) return { result: { ok: false, error: clientGoneError(), cause: 'client_gone' }, path };
    }
  }
  const final = finalError(env, path, last);
  return { result: { ok: false, error: final.error, cause: final.cause }, path };
}

type Failure = { error: ClientError; cause: FailureCause; refused?: true };

function credentialRefused(backend: string, status: number): ClientError {
  return gatewayClientError(
    new GatewayError(
      'upstream_auth_failed',
      `backend "${backend}" refused the gateway's credential for it (${status}); the gateway's operator has to fix its key (the provider's message is in the gateway's trace)`,
    ),
  );
}

/** What the client hears when no attempt succeeded. */
function finalError(env: ProxyEnv, path: CallPath, last?: Failure): Failure {
  if (!last) {
    const waits = path.skipped.map((n) => env.breakers.get(n)?.retryInMs() ?? 0).filter((ms) => ms > 0);
    const err = new GatewayError('no_healthy_backend', `no backend can serve this request now: ${path.skipped.join(', ') || 'none configured'} unavailable (circuit open or no key)`, {
      retryAfterMs: waits.length ? Math.min(...waits) : undefined,
    });
    return { cause: 'unsupported', error: gatewayClientError(err) };
  }
  if (last.error.status === 429 || last.cause === 'timeout' || last.cause === 'unsupported' || last.refused) return last;
  const err = new GatewayError('upstream_failed', `every attempt failed (${path.attempts} attempt${path.attempts === 1 ? '' : 's'}); last: ${last.error.message}`);
  return { cause: last.cause, error: gatewayClientError(err) };
}

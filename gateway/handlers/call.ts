/**
 * The handler of every model endpoint (chat, embeddings, responses, messages): validate, route,
 * open the span, run the attempt loop, answer (JSON or SSE), close the span.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { GatewayConfig } from '../config/model.js';
import { bodyFor, GatewayError, gatewayClientError, retryAfterSeconds } from '../errors.js';
import type { JsonThreads } from '../json-threads.js';
import { Abort } from '../proxy/abort.js';
import { OWN_TURN_CHARS } from '../proxy/limits.js';
import { runCall, type ProxyEnv } from '../proxy/run.js';
import type { CallInput, CallOutcome, StreamSink } from '../proxy/types.js';
import { denial, type Denial } from '../policy/authorize.js';
import { outputTokensSoFar, overrunError, settledUsage } from '../policy/gate.js';
import type { Policy } from '../policy/limits.js';
import { Ticket } from '../policy/ticket.js';
import type { Breakers } from '../reliability/breaker.js';
import type { Router } from '../routing/match.js';
import { SSE_HEADERS, writeFrames } from '../sse.js';
import { CallTelemetry, type CallTelemetryEnv, type PolicyRefusalSpan } from '../telemetry/call.js';
import { contain, counted } from '../telemetry/contain.js';
import { CLIENT_API, type ClientError, type Endpoint, type Usage } from '../providers/types.js';
import type { Upstreams } from '../upstream.js';
import { validateBody } from './validate.js';

/** What one request reads: swapped whole on reload, so a request sees one config throughout. */
export interface LiveState {
  readonly config: GatewayConfig;
  readonly router: Router;
  readonly telemetry: CallTelemetryEnv;
}

export interface CallDeps {
  live: () => LiveState;
  breakers: Breakers;
  upstreams: Upstreams;
  random: () => number;
  nowMs: () => number;
  /** Limits and budgets (gateway/policy/limits.ts). */
  policy: Policy;
  /** Counts a call refused for a route or model its key may not use. */
  onDenied?: (reason: Denial) => void;
  /** Where large upstream answers are parsed. */
  json?: JsonThreads;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body as received, for input.value. */
    rawBody?: string;
    /** A large body's bytes as received: sent upstream as they are when the text passes through unchanged. */
    rawBytes?: Buffer;
  }
}

/** An SSE sink over the raw response; the reply is hijacked only when the first frame is ready. */
function sseSink(reply: FastifyReply, ticket: Ticket): StreamSink {
  let started = false;
  const raw = reply.raw;
  return {
    get started() {
      return started;
    },
    start() {
      started = true;
      reply.hijack();
      raw.writeHead(200, ticket.headers.length ? { ...SSE_HEADERS, ...Object.fromEntries(ticket.headers) } : SSE_HEADERS);
    },
    write: (frames) => writeFrames(raw, frames),
    end() {
      if (!raw.writableEnded) raw.end();
    },
    // A stream past what its budget reservation covers is cut at the next chunk.
    cut: (facts) => (ticket.overran(outputTokensSoFar(facts)) ? overrunError() : undefined),
  };
}

function sendError(reply: FastifyReply, endpoint: Endpoint, e: ClientError): void {
  if (e.retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(e.retryAfterMs));
  // 499 is nginx's "client closed request": nobody is there to read it.
  reply.code(e.status === 499 ? 400 : e.status).send(bodyFor(CLIENT_API[endpoint], e));
}

function statusOf(r: CallOutcome['result']): number {
  if (!r.ok) return r.error.status;
  return r.kind === 'json' ? r.status : 200;
}

/**
 * A call the policy refuses (a limit or budget: 429/503; a route or model its key may not use:
 * 403): its answer, and its span with the policy's attributes.
 */
function refuse(reply: FastifyReply, endpoint: Endpoint, refusal: { error: ClientError; span: PolicyRefusalSpan; headers?: readonly (readonly [string, string])[] }, tel: CallTelemetry): void {
  for (const [k, v] of refusal.headers ?? []) reply.header(k, v);
  const outcome: CallOutcome = { result: { ok: false, cause: 'rejected', error: refusal.error }, path: { attempts: 0, fallbackUsed: false, skipped: [] } };
  sendError(reply, endpoint, refusal.error);
  tel.refusedBy(refusal.span);
  tel.finish(outcome, refusal.error.status);
}

export function callHandler(endpoint: Endpoint, deps: CallDeps) {
  return async function handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const startedAt = performance.now();
    const state = deps.live();
    const body = req.body;
    validateBody(endpoint, body);
    const model = body.model as string;
    const hit = state.router.find(model, req.url.split('?', 1)[0], req.headers);
    if (!hit) throw new GatewayError('model_not_found', `The model \`${model}\` does not exist or no route serves it`, { param: 'model' });

    const denied = denial(req.identity, hit.rule, model, hit.model);
    if (denied) deps.onDenied?.(denied.reason);
    // with counters in this process (or no limit) the answer is there at once: no await, no turn
    let admitted = denied ?? deps.policy.admit({ identity: req.identity, open: state.config.apiKeys.size === 0, endpoint, body, model: hit.model });
    if (admitted instanceof Promise) admitted = await admitted;
    const gone = new Abort();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    const stream = body.stream === true && endpoint !== 'embeddings';
    const input: CallInput = {
      endpoint,
      clientBody: body,
      rawBody: req.rawBody,
      rawBytes: req.rawBytes,
      clientHeaders: req.headers,
      rule: hit.rule,
      model: hit.model,
      stream,
      startedAt,
      clientGone: gone,
      identity: req.identity,
    };
    const tel = new CallTelemetry(state.telemetry, input, state.config.backends);
    if (!(admitted instanceof Ticket)) return refuse(reply, endpoint, admitted, tel);
    const ticket = admitted;
    for (const [k, v] of ticket.headers) reply.header(k, v);
    const env: ProxyEnv = { config: state.config, breakers: deps.breakers, upstreams: deps.upstreams, json: deps.json, random: deps.random, nowMs: deps.nowMs, observe: tel.observe };
    // The ticket itself, not a closure over this handler's scope: one made here on every call kept
    // each call's objects alive past a scavenge (~4.7 KB promoted a call; bench/README.md, Policy).
    if (ticket.budgeted) env.reservation = ticket;
    const sink = stream ? sseSink(reply, ticket) : undefined;
    let outcome: CallOutcome;
    try {
      // The body was parsed on this turn: translating and sending it walk all of it again.
      if ((req.rawBody?.length ?? 0) >= OWN_TURN_CHARS) await nextTurn();
      outcome = await runCall(env, input, sink);
    } catch (err) {
      // A bug, not a provider failure: the span still ends, the client gets a 500 envelope.
      const error = gatewayClientError(new GatewayError('internal_error', 'the gateway failed to handle this request'));
      outcome = { result: { ok: false, cause: 'network', error }, path: { attempts: 0, fallbackUsed: false, skipped: [] } };
      contain(state.telemetry.metrics, 'logging', () => req.log.error({ err, reqId: req.id, route: hit.rule.id }, 'call failed inside the gateway'), undefined);
    }
    const r = outcome.result;
    const status = statusOf(r);
    // Settles to the usage the span records (one estimate for both: it is the costly part of
    // finishing a large call), or releases; never delays or fails the answer.
    const estimate = () => contain(state.telemetry.metrics, 'tokenizer', () => settledUsage(input, r), undefined);
    const settle = (usage: Usage | undefined) =>
      contain(
        state.telemetry.metrics,
        'policy',
        () => ticket.end(usage, [r.ok ? r.facts.responseModel : undefined, outcome.path.model, input.model])?.catch((err) => counted(state.telemetry.metrics, 'policy', err)),
        undefined,
      );
    if (!r.ok) {
      settle(undefined);
      if (!reply.sent) sendError(reply, endpoint, r.error);
      tel.finish(outcome, status);
      return;
    }
    if (r.kind === 'json') {
      reply
        .code(r.status)
        .header('content-type', 'application/json')
        .send(r.bytes ?? r.body);
      const sentAt = performance.now();
      // Sending a long answer was one step over all of it; its estimate and span are the next.
      if (r.body.length >= OWN_TURN_CHARS) await nextTurn();
      const usage = estimate();
      settle(usage);
      tel.finish(outcome, status, r.body, sentAt, usage);
      return;
    }
    if (sink && !sink.started) {
      // An upstream stream that produced no frame at all: still a well-formed (empty) SSE answer.
      sink.start();
      sink.end();
    }
    const usage = estimate();
    settle(usage);
    tel.finish(outcome, r.cutShort?.status ?? status, undefined, undefined, usage);
  };
}

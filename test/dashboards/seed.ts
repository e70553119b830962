import type { SpanEvent, SpanRecord } from '../../collector/model.js';
import { TG } from '../../common/semconv.js';
import { recordAttributes, resultEvent, type EvaluationRecord } from '../../collector/evaluators/emit.js';
import { computeCost, indexPrices, loadPriceTable } from '../../schemas/prices.js';
import type { TempStore } from '../helpers/store.js';
import { agentSpan, evaluationEvent, gatewaySpan, insertSpans, llmSpan, makeSpan, ns, retrieverSpan, toolSpan, type Usage } from '../helpers/spans.js';

/**
 * A realistic few hours of traffic for the dashboard and query tests, written into
 * `otel_traces` as the collector writes it (normalized attributes, cost, heuristic evaluation
 * events), so every view downstream fills the way it does in production:
 * - gateway calls over four models, four providers, three routes, three teams and keys, with
 *   streams, errors, rate-limit refusals, fallbacks, retries and circuit-breaker skips;
 * - agent runs (AGENT → RETRIEVER, LLM with the gateway's child span, TOOL as the gateway's MCP
 *   tools/call spans, one failing tool);
 * - evaluation events from an LLM judge, human feedback and heuristics;
 * - online evaluators' EVALUATOR spans (collector/evaluators): an LLM judge with its judge
 *   spend, some evaluation errors, and a code check;
 * - the collector's own counters in `collector_stats`.
 * Deterministic for a given anchor time.
 */

export interface SeedFacts {
  /** End of the seeded window (ms); the data lies in [anchor - 3 h, anchor]. */
  anchorMs: number;
  startMs: number;
  gatewayCalls: number;
  agentTraceIds: string[];
  models: string[];
  teams: string[];
  /** Gateway key names; each starts with its team's name. */
  keys: string[];
}

const MODELS = [
  { model: 'gpt-4o-mini', provider: 'openai', system: 'openai', backend: 'openai-primary' },
  { model: 'gpt-4o', provider: 'azure', system: 'openai', backend: 'azure-eastus' },
  { model: 'claude-3-5-sonnet-20241022', provider: 'anthropic', system: 'anthropic', backend: 'anthropic' },
  { model: 'llama-3.1-8b-instruct', provider: 'ollama', system: 'meta', backend: 'local-ollama' },
];
const ROUTES = ['chat', 'summarize', 'extract'];
const TEAMS = [
  { team: 'search', key: 'search-prod' },
  { team: 'support', key: 'support-prod' },
  { team: 'research', key: 'research-dev' },
];

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width);

/** A tiny deterministic generator, so the seed is the same on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (lo: number, hi: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + Math.floor((s / 2 ** 32) * (hi - lo + 1));
  };
}
type Rng = ReturnType<typeof rng>;

const prices = indexPrices(loadPriceTable());

function priced(model: string, u: Usage) {
  const price = prices.find(model);
  return price ? computeCost(price, { prompt: u.prompt, completion: u.completion, cacheRead: u.cacheRead }) : undefined;
}

const heuristic = (at: bigint, name: string, explanation = `seeded ${name}`) => evaluationEvent(at, { name, score: 1, label: 'true', explanation, source: 'heuristic' });

interface CallOpts {
  i: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  session: string;
  user: string;
  route?: string;
  agentName?: string;
}

/** The quality events the collector and judges add to a successful call. */
function qualityEvents(i: number, at: bigint, finish: string, r: Rng): SpanEvent[] {
  const events: SpanEvent[] = [];
  if (finish === 'length') events.push(heuristic(at, 'truncated'));
  if (finish === 'content_filter') events.push(heuristic(at, 'content_filtered'));
  if (i % 19 === 6) events.push(heuristic(at, 'empty_output'));
  if (i % 31 === 9) events.push(heuristic(at, 'invalid_json'));
  if (i % 5 === 0) events.push(evaluationEvent(at, { name: 'relevance', score: r(50, 100) / 100, explanation: 'judge', source: 'llm' }));
  if (i % 8 === 0) {
    const down = i % 16 === 0;
    events.push(evaluationEvent(at, { name: 'user_feedback', score: down ? 0 : 1, label: down ? 'thumbs_down' : 'thumbs_up', source: 'human' }));
  }
  return events;
}

/** Policy refusals as the gateway's spans carry them (gateway/policy/refusal.ts). */
const REFUSALS = [
  { reason: 'requests', scope: 'key', limit: 'requestsPerMinute' },
  { reason: 'daily_budget', scope: 'team', limit: 'budget.dailyUsd' },
  { reason: 'tokens', scope: 'key', limit: 'tokensPerMinute' },
].map((r) => ({ [TG.REFUSAL]: r.reason, [TG.POLICY_REASON]: r.reason, [TG.POLICY_SCOPE]: r.scope, [TG.POLICY_LIMIT]: r.limit }));

/** One call as the gateway records it. */
function gatewayCall(o: CallOpts, r: Rng): SpanRecord {
  const { i } = o;
  const m = MODELS[i % MODELS.length];
  const t = TEAMS[i % TEAMS.length];
  const refused = i % 29 === 7;
  const failed = !refused && i % 13 === 5;
  const streaming = i % 3 === 1;
  const fallback = i % 11 === 3;
  const usage: Usage = { prompt: r(200, 2400), completion: r(40, 700) };
  if (i % 3 === 0) usage.cacheRead = Math.floor(usage.prompt / 2);
  const finish = i % 10 === 1 ? 'length' : i % 23 === 4 ? 'content_filter' : i % 6 === 2 ? 'tool_calls' : 'stop';
  const durationMs = refused ? 2 : r(300, 9000) * (i % 37 === 0 ? 4 : 1);
  const end = ns(o.startMs + durationMs);
  const error = refused ? 'rate limit of key exceeded' : failed ? `provider ${m.provider} failed` : undefined;
  const attributes: Record<string, string> = { [TG.RETRIES]: i % 7 === 2 ? '1' : '0' };
  if (i % 17 === 8) attributes[TG.CIRCUIT_SKIPPED] = 'openai-primary';
  // As gateway/policy writes a refusal: its reason (the same in tracegate.refusal) and scope.
  if (refused) Object.assign(attributes, REFUSALS[i % REFUSALS.length]);
  const ok = !error;
  const cost = ok ? priced(m.model, usage) : undefined;
  return gatewaySpan({
    traceId: o.traceId,
    spanId: o.spanId,
    parentSpanId: o.parentSpanId,
    start: ns(o.startMs),
    durationMs,
    model: m.model,
    provider: m.provider,
    system: m.system,
    sessionId: o.session,
    userId: o.user,
    agentName: o.agentName,
    route: o.route ?? ROUTES[i % ROUTES.length],
    backend: fallback ? MODELS[(i + 1) % MODELS.length].backend : m.backend,
    team: t.team,
    keyName: t.key,
    attempts: fallback ? 2 : 1,
    fallbackUsed: fallback,
    httpStatus: refused ? 429 : failed ? (i % 2 ? 502 : 504) : 200,
    streaming,
    ...(ok ? { usage, cost, finishReason: finish } : {}),
    ...(ok && streaming ? { ttftMs: r(80, 900) } : {}),
    errorType: refused ? 'rate_limited' : failed ? (i % 2 ? 'upstream_5xx' : 'timeout') : undefined,
    status: error ? 'Error' : 'Unset',
    statusMessage: error,
    events: ok ? qualityEvents(i, end, finish, r) : [heuristic(end, 'error', error)],
    attributes,
  });
}

function agentRun(n: number, startMs: number, r: Rng): SpanRecord[] {
  const traceId = hex(0xa9e000 + n, 32);
  const id = (k: number) => hex(0xa9e0000 + n * 100 + k, 16);
  const ctx = { traceId, sessionId: `sess-agent-${n % 3}`, userId: `user-${n % 5}`, agentName: n % 2 ? 'research-bot' : 'support-bot', serviceName: 'support-agent' };
  const spans: SpanRecord[] = [];
  let t = startMs + 5;
  spans.push(retrieverSpan({ ...ctx, spanId: id(1), parentSpanId: id(0), start: ns(t), durationMs: r(40, 300) }));
  const calls = 2 + (n % 3);
  for (let c = 0; c < calls; c++) {
    t += r(300, 1500);
    const call = { i: 1000 + n * 10 + c, traceId, spanId: id(30 + c), parentSpanId: id(10 + c), startMs: t + 3, session: ctx.sessionId, user: ctx.userId, route: 'agent', agentName: ctx.agentName };
    const gw = gatewayCall(call, r);
    const gwMs = Number(gw.endTimeUnixNano - gw.startTimeUnixNano) / 1e6;
    const app = llmSpan({
      ...ctx,
      spanId: id(10 + c),
      parentSpanId: id(0),
      name: 'ChatCompletion',
      start: ns(t),
      durationMs: gwMs + 6,
      model: gw.attributes['llm.model_name'],
      provider: gw.attributes['llm.provider'],
      system: gw.attributes['llm.system'],
      status: gw.statusCode,
      statusMessage: gw.statusMessage,
    });
    spans.push(app, gw);
    t += gwMs + 10;
    const fails = n === 3 && c === 1;
    const toolName = c % 2 ? 'search_kb' : 'lookup_order';
    spans.push(
      toolSpan({
        ...ctx,
        toolName,
        spanId: id(50 + c),
        parentSpanId: id(0),
        start: ns(t),
        durationMs: r(20, 800),
        // As the gateway records a tools/call through /mcp (gateway/telemetry/mcp.ts): tool_calls_minutely reads these.
        attributes: {
          'tracegate.origin': 'gateway',
          'mcp.method.name': 'tools/call',
          'tracegate.mcp.server': c % 2 ? 'kb' : 'orders',
          'tracegate.backend': c % 2 ? 'kb' : 'orders',
          'gen_ai.tool.name': toolName,
        },
        ...(fails ? { status: 'Error', statusMessage: `tool ${toolName}: upstream 500` } : {}),
      }),
    );
    t += 900;
  }
  spans.unshift(agentSpan({ ...ctx, spanId: id(0), name: `${ctx.agentName} run`, start: ns(startMs), durationMs: t - startMs + 20, attributes: { 'input.value': 'Where is my order?' } }));
  return spans;
}

const strings = (a: Record<string, unknown>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v)]));

/**
 * The EVALUATOR spans online evaluators write on a successful call, as collector/evaluators/emit.ts
 * builds them: every 4th call judged (every 12th judgement an evaluation error), every 6th checked.
 * Derived from the call alone (no draw from the generator, so the rest of the seed is unchanged).
 */
function evaluatorSpans(call: SpanRecord, i: number): SpanRecord[] {
  if (call.statusCode === 'Error') return [];
  const endMs = Number(call.endTimeUnixNano / 1_000_000n) + 2000;
  const target = { traceId: call.traceId, spanId: call.spanId, kind: 'LLM' };
  const records: EvaluationRecord[] = [];
  if (i % 4 === 0) {
    const error = i % 12 === 0;
    const relevant = i % 3 !== 1;
    const judge = { model: 'gpt-4o-mini', traceId: hex(0xe1a000 + i, 32), promptTokens: 300 + i, completionTokens: 20, costUsd: (300 + i) * 0.15e-6 + 20 * 0.6e-6 };
    records.push(
      error
        ? {
            evaluator: 'relevance-judge',
            version: 'v1',
            source: 'llm',
            target,
            status: 'error',
            errorType: 'timeout',
            message: 'the judge did not answer in time',
            attempts: 3,
            judge,
            startMs: endMs - 1500,
            endMs,
          }
        : {
            evaluator: 'relevance-judge',
            version: 'v1',
            source: 'llm',
            target,
            status: 'ok',
            score: relevant ? 1 : 0,
            label: relevant ? 'relevant' : 'unrelated',
            explanation: 'seeded judge',
            passed: relevant,
            attempts: 1,
            judge,
            startMs: endMs - 900,
            endMs,
          },
    );
  }
  if (i % 6 === 0) {
    const ok = i % 5 !== 0;
    records.push({
      evaluator: 'valid-json',
      version: 'v1',
      source: 'code',
      target,
      status: 'ok',
      score: ok ? 1 : 0,
      label: ok ? 'pass' : 'fail',
      explanation: 'seeded check',
      passed: ok,
      attempts: 1,
      startMs: endMs,
      endMs: endMs + 1,
    });
  }
  return records.map((rec, k) => {
    const event = resultEvent(rec);
    return makeSpan({
      traceId: call.traceId,
      spanId: hex(0xe7a0000 + i * 4 + k, 16),
      parentSpanId: call.spanId,
      name: `evaluate ${rec.evaluator}`,
      serviceName: 'tracegate-evaluator',
      start: ns(rec.startMs),
      durationMs: rec.endMs - rec.startMs,
      status: rec.status === 'error' ? 'Error' : 'Unset',
      attributes: strings(recordAttributes(rec)),
      events: event ? [{ timeUnixNano: ns(rec.endMs), name: 'gen_ai.evaluation.result', attributes: strings(event) }] : [],
      links: [{ traceId: call.traceId, spanId: call.spanId, traceState: '', attributes: {} }],
    });
  });
}

/** Builds every seeded span; `anchorMs` is the end of the window. */
export function seedSpans(anchorMs: number): { spans: SpanRecord[]; facts: SeedFacts } {
  const r = rng(42);
  const startMs = anchorMs - 3 * 3600_000;
  const spans: SpanRecord[] = [];
  const calls = 150;
  for (let i = 0; i < calls; i++) {
    const call = gatewayCall({ i, traceId: hex(0x7e000 + i, 32), spanId: hex(0x5000 + i, 16), startMs: startMs + i * 70_000, session: `sess-${i % 12}`, user: `user-${i % 7}` }, r);
    spans.push(call, ...evaluatorSpans(call, i));
  }
  const agentTraceIds: string[] = [];
  for (let n = 0; n < 8; n++) {
    const run = agentRun(n, startMs + 600_000 + n * 1_200_000, r);
    agentTraceIds.push(run[0].traceId);
    spans.push(...run);
  }
  return {
    spans,
    facts: { anchorMs, startMs, gatewayCalls: calls, agentTraceIds, models: MODELS.map((m) => m.model), teams: TEAMS.map((t) => t.team), keys: TEAMS.map((t) => t.key) },
  };
}

/**
 * `collector_stats` as two collector instances write it every 10 s: running totals per process,
 * collector-b restarting half way, a 15-minute ClickHouse outage that fills the spool, a few
 * retried requests acknowledged as duplicates, and three dropped spans.
 */
export function collectorStats(anchorMs: number) {
  const startMs = anchorMs - 3 * 3600_000;
  const rows: Record<string, string | number>[] = [];
  for (const instance of ['collector-a', 'collector-b']) {
    let started = startMs - 600_000;
    const c = { received: 0, duplicate: 0, exported: 0, spooled: 0, dropped: 0, refused: 0, failures: 0, latency: 0, latencyN: 0 };
    for (let t = startMs; t <= anchorMs; t += 10_000) {
      const minute = (t - startMs) / 60_000;
      if (instance === 'collector-b' && t === startMs + 90 * 60_000) {
        started = t;
        for (const k of Object.keys(c)) c[k as keyof typeof c] = 0;
      }
      const outage = minute >= 60 && minute < 75;
      const inflow = 40 + (Math.floor(minute) % 7) * 5;
      c.received += inflow;
      c.refused += minute % 30 === 0 ? 2 : 0;
      const retried = minute % 45 === 0 ? 25 : 0;
      c.received += retried;
      c.duplicate += retried;
      if (outage) {
        c.spooled += inflow;
        c.failures += 1;
      } else {
        c.exported += inflow;
        c.latency += 0.02 + (minute % 10) / 1000;
        c.latencyN += 1;
      }
      if (instance === 'collector-a' && t === startMs + 80 * 60_000) c.dropped += 3;
      // the count-once decider (0083): a run every 2 s, but stuck for minutes 100-105 on collector-a's node
      const stuck = instance === 'collector-a' && minute >= 100 && minute < 105;
      const deciderMs = stuck ? startMs + 100 * 60_000 - 2000 : t - 1500;
      rows.push({
        timestamp: (t / 1000).toFixed(3),
        instance,
        started_at: (started / 1000).toFixed(3),
        received_spans: c.received,
        accepted_spans: c.received - c.refused - c.duplicate,
        duplicate_spans: c.duplicate,
        refused_spans: c.refused,
        exported_spans: c.exported,
        spooled_spans: c.spooled,
        dropped_spans: c.dropped,
        export_failures: c.failures,
        queue_spans: outage ? Math.round((minute - 60) * 6 * inflow) : inflow,
        queue_batches: outage ? Math.ceil(minute - 59) : 1,
        spool_bytes: outage ? Math.round((minute - 59) * 180_000) : 4096,
        export_latency_sum_seconds: c.latency,
        export_latency_count: c.latencyN,
        decider_last_success: (deciderMs / 1000).toFixed(3),
        decider_exception: stuck ? 'Code: 241. DB::Exception: Memory limit exceeded' : '',
      });
    }
  }
  return rows;
}

/** Inserts the seed in a few separate inserts, out of order, as several collectors would. */
export async function seedStore(store: TempStore, anchorMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000): Promise<SeedFacts> {
  const { spans, facts } = seedSpans(anchorMs);
  for (const part of [2, 0, 1])
    await insertSpans(
      store,
      spans.filter((_, k) => k % 3 === part),
    );
  await store.client.insert({ table: `${store.database}.collector_stats`, values: collectorStats(anchorMs), format: 'JSONEachRow' });
  return facts;
}

import { GENAI, OI, TG, TG_ORIGIN_GATEWAY } from '../../common/semconv.js';
import { computeCost, indexPrices, loadPriceTable } from '../../schemas/prices.js';
import type { TempStore } from '../helpers/store.js';

/**
 * A realistic few hours of traffic for the dashboard and query tests, written into
 * `otel_traces` as the collector writes it (normalized OpenInference attributes, cost, heuristic
 * evaluation events), so every view downstream fills the way it does in production:
 * - gateway calls over four models, four providers, three routes, three teams and keys, with
 *   streams, errors, rate-limit refusals, fallbacks, retries and circuit-breaker skips;
 * - agent runs (AGENT → RETRIEVER, LLM with the gateway's child span, TOOL, one failing tool);
 * - evaluation events from an LLM judge, human feedback and heuristics.
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
}

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: string;
  service: string;
  startMs: number;
  durationMs: number;
  error?: string;
  attrs: Record<string, string | number | boolean>;
  events?: { name: string; attrs: Record<string, string> }[];
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
const GATEWAY = 'tracegate-gateway';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width);
const secs = (ms: number) => `${Math.floor(ms / 1000)}.${String(Math.round((ms % 1000) * 1e6)).padStart(9, '0')}`;

/** A tiny deterministic generator, so the seed is the same on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (lo: number, hi: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + Math.floor((s / 2 ** 32) * (hi - lo + 1));
  };
}

const prices = indexPrices(loadPriceTable());

function tokenAttrs(model: string, prompt: number, completion: number, cacheRead: number): Span['attrs'] {
  const price = prices.find(model);
  const cost = price ? computeCost(price, { prompt, completion, cacheRead }) : undefined;
  return {
    [OI.TOKEN_PROMPT]: prompt,
    [OI.TOKEN_COMPLETION]: completion,
    [OI.TOKEN_TOTAL]: prompt + completion,
    ...(cacheRead > 0 ? { [OI.TOKEN_PROMPT_CACHE_READ]: cacheRead } : {}),
    ...(cost
      ? {
          [OI.COST_PROMPT]: cost.prompt,
          [OI.COST_COMPLETION]: cost.completion,
          [OI.COST_TOTAL]: cost.total,
          [OI.COST_PROMPT_INPUT]: cost.input,
          [OI.COST_PROMPT_CACHE_READ]: cost.cacheRead,
          [OI.COST_COMPLETION_OUTPUT]: cost.output,
        }
      : {}),
  };
}

const evaluation = (name: string, score: number, label: string, source: string, explanation = '') => ({
  name: GENAI.EVALUATION_RESULT_EVENT,
  attrs: {
    [GENAI.EVALUATION_NAME]: name,
    [GENAI.EVALUATION_SCORE_VALUE]: String(score),
    [GENAI.EVALUATION_SCORE_LABEL]: label,
    [GENAI.EVALUATION_EXPLANATION]: explanation,
    [TG.EVALUATION_SOURCE]: source,
  },
});

const heuristic = (name: string) => evaluation(name, 1, 'true', 'heuristic', `seeded ${name}`);

interface CallOpts {
  i: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  session: string;
  user: string;
  route?: string;
}

/** One call as the gateway records it. */
function gatewayCall(o: CallOpts, r: ReturnType<typeof rng>): Span {
  const { i } = o;
  const m = MODELS[i % MODELS.length];
  const t = TEAMS[i % TEAMS.length];
  const route = o.route ?? ROUTES[i % ROUTES.length];
  const refused = i % 29 === 7;
  const failed = !refused && i % 13 === 5;
  const streaming = i % 4 === 0;
  const fallback = i % 11 === 3;
  const prompt = r(200, 2400);
  const completion = r(40, 700);
  const cacheRead = i % 3 === 0 ? Math.floor(prompt / 2) : 0;
  const finish = i % 10 === 1 ? 'length' : i % 23 === 4 ? 'content_filter' : i % 6 === 2 ? 'tool_calls' : 'stop';
  const attrs: Span['attrs'] = {
    [OI.SPAN_KIND]: 'LLM',
    [TG.ORIGIN]: TG_ORIGIN_GATEWAY,
    [OI.LLM_SYSTEM]: m.system,
    [OI.LLM_PROVIDER]: m.provider,
    [OI.LLM_MODEL_NAME]: m.model,
    [OI.LLM_REQUEST_MODEL_NAME]: m.model,
    [OI.SESSION_ID]: o.session,
    [OI.USER_ID]: o.user,
    [TG.ROUTE]: route,
    [TG.BACKEND]: fallback ? MODELS[(i + 1) % MODELS.length].backend : m.backend,
    [TG.TEAM]: t.team,
    [TG.KEY_NAME]: t.key,
    [TG.ATTEMPTS]: fallback ? 2 : 1,
    [TG.FALLBACK_USED]: fallback,
    [TG.RETRIES]: i % 7 === 2 ? 1 : 0,
    [TG.STREAMING]: streaming,
    [TG.HTTP_STATUS]: refused ? 429 : failed ? (i % 2 ? 502 : 504) : 200,
  };
  if (i % 17 === 8) attrs[TG.CIRCUIT_SKIPPED] = 'openai-primary';
  const events: Span['events'] = [];
  let error: string | undefined;
  if (refused) {
    attrs[TG.REFUSAL] = 'rate_limit';
    attrs[GENAI.ERROR_TYPE] = 'rate_limited';
    error = 'rate limit of key exceeded';
  } else if (failed) {
    attrs[GENAI.ERROR_TYPE] = i % 2 ? 'upstream_5xx' : 'timeout';
    error = `provider ${m.provider} failed`;
  } else {
    Object.assign(attrs, tokenAttrs(m.model, prompt, completion, cacheRead));
    attrs[OI.LLM_FINISH_REASON] = finish;
    if (streaming) attrs[TG.TIME_TO_FIRST_TOKEN_MS] = r(80, 900);
    if (finish === 'length') events.push(heuristic('truncated'));
    if (finish === 'content_filter') events.push(heuristic('content_filtered'));
    if (i % 19 === 6) events.push(heuristic('empty_output'));
    if (i % 31 === 9) events.push(heuristic('invalid_json'));
    if (i % 5 === 0) events.push(evaluation('relevance', r(50, 100) / 100, '', 'llm', 'judge'));
    if (i % 8 === 0) events.push(evaluation('user_feedback', i % 16 === 0 ? 0 : 1, i % 16 === 0 ? 'thumbs_down' : 'thumbs_up', 'human'));
  }
  if (error) events.push(evaluation('error', 1, 'true', 'heuristic', error));
  return {
    traceId: o.traceId,
    spanId: o.spanId,
    parentSpanId: o.parentSpanId,
    name: `chat ${m.model}`,
    kind: 'Server',
    service: GATEWAY,
    startMs: o.startMs,
    durationMs: refused ? 2 : r(300, 9000) * (i % 37 === 0 ? 4 : 1),
    error,
    attrs,
    events,
  };
}

function agentRun(n: number, startMs: number, r: ReturnType<typeof rng>): Span[] {
  const traceId = hex(0xa9e000 + n, 32);
  const id = (k: number) => hex(0xa9e0000 + n * 100 + k, 16);
  const session = `sess-agent-${n % 3}`;
  const user = `user-${n % 5}`;
  const agent = n % 2 ? 'research-bot' : 'support-bot';
  const service = 'support-agent';
  const ctx = { [OI.SESSION_ID]: session, [OI.USER_ID]: user, [OI.AGENT_NAME]: agent };
  const spans: Span[] = [];
  let t = startMs + 5;
  spans.push({ traceId, spanId: id(1), parentSpanId: id(0), name: 'retrieve docs', service, startMs: t, durationMs: r(40, 300), attrs: { ...ctx, [OI.SPAN_KIND]: 'RETRIEVER' } });
  const calls = 2 + (n % 3);
  for (let c = 0; c < calls; c++) {
    t += r(300, 1500);
    const gw = gatewayCall({ i: 1000 + n * 10 + c, traceId, spanId: id(30 + c), parentSpanId: id(10 + c), startMs: t + 3, session, user, route: 'agent' }, r);
    gw.attrs[OI.AGENT_NAME] = agent;
    const app: Span = {
      traceId,
      spanId: id(10 + c),
      parentSpanId: id(0),
      name: 'ChatCompletion',
      service,
      startMs: t,
      durationMs: gw.durationMs + 6,
      error: gw.error,
      attrs: {
        ...ctx,
        [OI.SPAN_KIND]: 'LLM',
        [OI.LLM_SYSTEM]: String(gw.attrs[OI.LLM_SYSTEM]),
        [OI.LLM_PROVIDER]: String(gw.attrs[OI.LLM_PROVIDER]),
        [OI.LLM_MODEL_NAME]: String(gw.attrs[OI.LLM_MODEL_NAME]),
      },
    };
    spans.push(app, gw);
    t += gw.durationMs + 10;
    const toolFails = n === 3 && c === 1;
    spans.push({
      traceId,
      spanId: id(50 + c),
      parentSpanId: id(0),
      name: c % 2 ? 'search_kb' : 'lookup_order',
      service,
      startMs: t,
      durationMs: r(20, 800),
      error: toolFails ? 'tool lookup_order: upstream 500' : undefined,
      attrs: { ...ctx, [OI.SPAN_KIND]: 'TOOL', [OI.TOOL_NAME]: c % 2 ? 'search_kb' : 'lookup_order' },
    });
    t += 900;
  }
  spans.unshift({
    traceId,
    spanId: id(0),
    name: `${agent} run`,
    service,
    startMs,
    durationMs: t - startMs + 20,
    attrs: { ...ctx, [OI.SPAN_KIND]: 'AGENT', [OI.INPUT_VALUE]: 'Where is my order?' },
  });
  return spans;
}

function row(s: Span) {
  const attrs = Object.fromEntries(Object.entries(s.attrs).map(([k, v]) => [k, String(v)]));
  const end = secs(s.startMs + s.durationMs);
  return {
    Timestamp: secs(s.startMs),
    TraceId: s.traceId,
    SpanId: s.spanId,
    ParentSpanId: s.parentSpanId ?? '',
    TraceState: '',
    SpanName: s.name,
    SpanKind: s.kind ?? 'Internal',
    ServiceName: s.service,
    ResourceAttributes: { 'service.name': s.service, 'deployment.environment': 'test' },
    ScopeName: s.service === GATEWAY ? 'tracegate' : '@arizeai/openinference-instrumentation-openai',
    ScopeVersion: '1.0.0',
    SpanAttributes: attrs,
    Duration: Math.round(s.durationMs * 1e6),
    StatusCode: s.error ? 'Error' : 'Unset',
    StatusMessage: s.error ?? '',
    'Events.Timestamp': (s.events ?? []).map(() => end),
    'Events.Name': (s.events ?? []).map((e) => e.name),
    'Events.Attributes': (s.events ?? []).map((e) => e.attrs),
    'Links.TraceId': [],
    'Links.SpanId': [],
    'Links.TraceState': [],
    'Links.Attributes': [],
  };
}

/** Builds every seeded span; `anchorMs` is the end of the window. */
export function seedSpans(anchorMs: number): { spans: Span[]; facts: SeedFacts } {
  const r = rng(42);
  const startMs = anchorMs - 3 * 3600_000;
  const spans: Span[] = [];
  const calls = 150;
  for (let i = 0; i < calls; i++) {
    const session = `sess-${i % 12}`;
    spans.push(gatewayCall({ i, traceId: hex(0x7e000 + i, 32), spanId: hex(0x5000 + i, 16), startMs: startMs + i * 70_000, session, user: `user-${i % 7}` }, r));
  }
  const agentTraceIds: string[] = [];
  for (let n = 0; n < 8; n++) {
    const run = agentRun(n, startMs + 600_000 + n * 1_200_000, r);
    agentTraceIds.push(run[0].traceId);
    spans.push(...run);
  }
  return {
    spans,
    facts: { anchorMs, startMs, gatewayCalls: calls, agentTraceIds, models: MODELS.map((m) => m.model), teams: TEAMS.map((t) => t.team) },
  };
}

/**
 * `collector_stats` as two collector instances write it every 10 s: running totals per process,
 * collector-b restarting half way, a 15-minute ClickHouse outage that fills the spool, and three
 * dropped spans.
 */
export function collectorStats(anchorMs: number) {
  const startMs = anchorMs - 3 * 3600_000;
  const rows: Record<string, string | number>[] = [];
  for (const instance of ['collector-a', 'collector-b']) {
    let started = startMs - 600_000;
    const c = { received: 0, exported: 0, spooled: 0, dropped: 0, refused: 0, failures: 0, latency: 0, latencyN: 0 };
    for (let t = startMs; t <= anchorMs; t += 10_000) {
      const minute = (t - startMs) / 60_000;
      if (instance === 'collector-b' && t === startMs + 90 * 60_000) {
        started = t;
        Object.keys(c).forEach((k) => (c[k as keyof typeof c] = 0));
      }
      const outage = minute >= 60 && minute < 75;
      const inflow = 40 + (Math.floor(minute) % 7) * 5;
      c.received += inflow;
      c.refused += minute % 30 === 0 ? 2 : 0;
      if (outage) {
        c.spooled += inflow;
        c.failures += 1;
      } else {
        c.exported += inflow;
        c.latency += 0.02 + (minute % 10) / 1000;
        c.latencyN += 1;
      }
      if (instance === 'collector-a' && t === startMs + 80 * 60_000) c.dropped += 3;
      rows.push({
        timestamp: (t / 1000).toFixed(3),
        instance,
        started_at: (started / 1000).toFixed(3),
        received_spans: c.received,
        accepted_spans: c.received - c.refused,
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
      });
    }
  }
  return rows;
}

/** Inserts the seed in a few separate inserts, out of order, as several collectors would. */
export async function seedStore(store: TempStore, anchorMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000): Promise<SeedFacts> {
  const { spans, facts } = seedSpans(anchorMs);
  const rows = spans.map(row);
  const parts = [rows.filter((_, k) => k % 3 === 2), rows.filter((_, k) => k % 3 === 0), rows.filter((_, k) => k % 3 === 1)];
  for (const values of parts) await store.client.insert({ table: `${store.database}.otel_traces`, values, format: 'JSONEachRow' });
  await store.client.insert({ table: `${store.database}.collector_stats`, values: collectorStats(anchorMs), format: 'JSONEachRow' });
  return facts;
}

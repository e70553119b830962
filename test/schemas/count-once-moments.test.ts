import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../../collector/model.js';
import { parseUsageParams, queryUsage } from '../../common/usage.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { agentSpan, gatewaySpan, insertSpans, llmSpan, makeSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * Count once at every moment (README, Schema: "Count once, at every moment"). Calls recorded by
 * the application and by the gateway arrive in every order and delay, in separate inserts, while
 * the engine's own scheduled decider and rollups run; a reader polling every 100 ms from the first
 * insert never counts a call twice in llm_spans, agent_runs or usage_minutely, counts a call once
 * from the moment either of its spans is read (a model call is read once decided, 0082), never
 * misses the gateway's figure once its span is read, and the final figures are exact.
 */
const MODEL = 'gpt-moments-1';
const APP = { prompt: 90, completion: 10 };
const GW = { prompt: 100, completion: 20 };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Call {
  name: string;
  app?: SpanRecord;
  gateway: SpanRecord;
  /** the run the call belongs to: the application's trace */
  run: string;
  first: SpanRecord[];
  second: SpanRecord[];
  /** ms between the first and the second insert */
  delayMs: number;
}

function withTraceparent(name: string, at: number, order: 'app' | 'gateway' | 'together', delayMs: number, viaHop = false): Call {
  const t = ns(at);
  const root = agentSpan({ agentName: name, start: t, durationMs: 2000, serviceName: 'moments-app' });
  const app = llmSpan({ traceId: root.traceId, parentSpanId: root.spanId, model: MODEL, usage: APP, start: t + 1_000_000n, durationMs: 800, serviceName: 'moments-app' });
  const hop = makeSpan({ traceId: root.traceId, parentSpanId: app.spanId, name: 'POST', otelKind: 'Client', start: t + 2_000_000n, durationMs: 790, serviceName: 'moments-app' });
  const gateway = gatewaySpan({ traceId: root.traceId, parentSpanId: viaHop ? hop.spanId : app.spanId, model: MODEL, usage: GW, route: 'chat', start: t + 3_000_000n, durationMs: 700 });
  const appSide = viaHop ? [root, app, hop] : [root, app];
  const [first, second] = order === 'gateway' ? [[gateway], appSide] : order === 'app' ? [appSide, [gateway]] : [[...appSide, gateway], []];
  return { name, app, gateway, run: root.traceId, first, second, delayMs };
}

/** No traceparent: the application's span and the gateway's are in traces of their own. */
function withoutTraceparent(name: string, at: number, streaming: boolean): Call {
  const t = ns(at);
  const text = `the answer of ${name}, streamed word by word`;
  const id = `chatcmpl-${name}`;
  const app = llmSpan({
    model: MODEL,
    usage: streaming ? undefined : APP,
    start: t,
    durationMs: 900,
    serviceName: 'moments-app',
    streaming,
    attributes: streaming
      ? { 'output.value': text, 'output.mime_type': 'text/plain' }
      : { 'output.value': JSON.stringify({ id, object: 'chat.completion', model: MODEL, choices: [{ message: { role: 'assistant', content: text } }] }), 'output.mime_type': 'application/json' },
  });
  const gateway = gatewaySpan({
    model: MODEL,
    usage: GW,
    route: 'chat',
    start: t + 5_000_000n,
    durationMs: 800,
    streaming,
    attributes: { 'gen_ai.response.id': streaming ? `chatcmpl-gw-${name}` : id, 'tracegate.output.digest': sha256(text) },
  });
  return { name, app, gateway, run: app.traceId, first: [app], second: [gateway], delayMs: 1200 };
}

describe('count once at every moment', () => {
  let store: TempStore;
  const db = 'tracegate';
  const t0 = Date.now() - 60_000;
  const calls: Call[] = [
    withTraceparent('app-first', t0, 'app', 1500),
    withTraceparent('gateway-first', t0 + 100, 'gateway', 1500),
    withTraceparent('together', t0 + 200, 'together', 0),
    withTraceparent('app-long-after', t0 + 300, 'gateway', 9000),
    withTraceparent('gateway-long-after', t0 + 400, 'app', 9000),
    withTraceparent('via-hop', t0 + 500, 'app', 700, true),
    withoutTraceparent('no-traceparent', t0 + 600, false),
    withoutTraceparent('no-traceparent-stream', t0 + 700, true),
  ];
  // an upstream 429: the instrumentation never exported its span, the gateway's parent is missing
  const orphanRoot = agentSpan({ agentName: 'orphan', start: ns(t0 + 800), durationMs: 2000, serviceName: 'billing-app' });
  const orphan = gatewaySpan({
    traceId: orphanRoot.traceId,
    parentSpanId: 'ab'.repeat(8),
    model: MODEL,
    route: 'chat',
    start: ns(t0 + 801),
    durationMs: 50,
    status: 'Error',
    httpStatus: 429,
    errorType: 'rate_limit_exceeded',
  });
  calls.push({ name: 'orphan', gateway: orphan, run: orphanRoot.traceId, first: [orphan], second: [orphanRoot], delayMs: 1000 });
  const runs = calls.map((c) => c.run);
  const gatewayTraces = calls.map((c) => c.gateway.traceId);
  const violations: string[] = [];
  let polls = 0;

  /** One poll: the three readers, each checked against what llm_spans shows stored. */
  async function poll(): Promise<void> {
    polls++;
    const [runTotals] = await store.rows<{ calls: string; prompt: string }>(
      `SELECT sum(llm_calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.agent_runs WHERE trace_id IN {runs:Array(String)} OR trace_id IN {gw:Array(String)}`,
      { runs, gw: gatewayTraces },
    );
    const [usage] = await store.rows<{ calls: string; prompt: string }>(`SELECT sum(calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.usage_minutely WHERE model = {m:String}`, { m: MODEL });
    const spans = await store.rows<{ span_id: string; origin: string; counted: number; prompt_tokens: string }>(
      `SELECT span_id, origin, counted, prompt_tokens FROM ${db}.llm_spans WHERE model = {m:String} AND span_kind = 'LLM'`,
      { m: MODEL },
    );
    const seen = new Map(spans.map((s) => [s.span_id, s]));
    let visibleCalls = 0;
    let maxPrompt = 0;
    let counted = 0;
    for (const c of calls) {
      const a = c.app ? seen.get(c.app.spanId) : undefined;
      const g = seen.get(c.gateway.spanId);
      if (!a && !g) continue;
      visibleCalls++;
      maxPrompt += g ? Number(g.prompt_tokens) : Number(a!.prompt_tokens);
      const n = (a?.counted ?? 0) + (g?.counted ?? 0);
      counted += n;
      if (n !== 1) violations.push(`poll ${polls}: ${c.name} counted ${n} times in llm_spans`);
      if (g && !g.counted) violations.push(`poll ${polls}: ${c.name}: the gateway's span is stored but not counted`);
    }
    // the rollups were read before llm_spans: what they count was stored by then
    if (Number(runTotals.calls) > visibleCalls) violations.push(`poll ${polls}: agent_runs counts ${runTotals.calls} calls of ${visibleCalls}`);
    if (Number(usage.calls) > visibleCalls) violations.push(`poll ${polls}: usage_minutely counts ${usage.calls} calls of ${visibleCalls}`);
    if (Number(usage.prompt) > maxPrompt) violations.push(`poll ${polls}: usage_minutely counts ${usage.prompt} prompt tokens, at most ${maxPrompt}`);
    if (Number(runTotals.prompt) > maxPrompt) violations.push(`poll ${polls}: agent_runs counts ${runTotals.prompt} prompt tokens, at most ${maxPrompt}`);
    if (counted > calls.length) violations.push(`poll ${polls}: llm_spans counts ${counted} calls`);
  }

  beforeAll(async () => {
    store = await tempStore();
    let stop = false;
    const poller = (async () => {
      while (!stop) {
        await poll();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // every call's first insert, then each second insert after its delay, all separate inserts
    for (const c of calls) await insertSpans(store, c.first);
    const started = Date.now();
    for (const c of [...calls].sort((x, y) => x.delayMs - y.delayMs)) {
      const wait = c.delayMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (c.second.length) await insertSpans(store, c.second);
    }
    // let the scheduled decider (2 s) and rollups (5 s) run on their own, then stop polling
    await new Promise((r) => setTimeout(r, 7000));
    stop = true;
    await poller;
    await refreshRollups(store.client, db);
  }, 120_000);
  afterAll(async () => store?.destroy());

  it('never counts a call twice, nor misses the gateway figure, at any poll', () => {
    expect(polls).toBeGreaterThan(3);
    expect(violations).toEqual([]);
  });

  it('ends with exact figures in llm_spans, agent_runs and usage_minutely', async () => {
    const [spans] = await store.rows(`SELECT countIf(counted) AS calls, sumIf(prompt_tokens, counted) AS prompt FROM ${db}.llm_spans WHERE model = {m:String}`, { m: MODEL });
    expect([Number(spans.calls), Number(spans.prompt)]).toEqual([9, 800]);
    const [rollup] = await store.rows(`SELECT sum(calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.usage_minutely WHERE model = {m:String}`, { m: MODEL });
    expect([Number(rollup.calls), Number(rollup.prompt)]).toEqual([9, 800]);
    const [totals] = await store.rows(
      `SELECT count() AS runs, sum(llm_calls) AS calls, sum(gateway_calls) AS gateway, sum(prompt_tokens) AS prompt FROM ${db}.agent_runs WHERE trace_id IN {runs:Array(String)} OR trace_id IN {gw:Array(String)}`,
      { runs, gw: gatewayTraces },
    );
    // one run per call: the gateway's traces of the calls without traceparent are not runs
    expect(Object.values(totals).map(Number)).toEqual([9, 9, 9, 800]);
  });

  it('pairs a call without traceparent by response id and by answer digest, linked both ways, in the application run', async () => {
    for (const c of calls.filter((x) => x.name.startsWith('no-traceparent'))) {
      const rows = await store.rows<Record<string, string | number>>(
        `SELECT origin, counted, run_id, link_trace_id, link_span_id FROM ${db}.llm_spans WHERE span_id IN {s:Array(String)} ORDER BY origin`,
        { s: [c.app!.spanId, c.gateway.spanId] },
      );
      expect(rows, c.name).toEqual([
        { origin: 'app', counted: 0, run_id: c.app!.traceId, link_trace_id: c.gateway.traceId, link_span_id: c.gateway.spanId },
        { origin: 'gateway', counted: 1, run_id: c.app!.traceId, link_trace_id: c.app!.traceId, link_span_id: c.app!.spanId },
      ]);
      const [run] = await store.rows(`SELECT llm_calls, gateway_calls, prompt_tokens, span_count FROM ${db}.agent_runs WHERE trace_id = {t:String}`, { t: c.run });
      expect(Object.values(run).map(Number), c.name).toEqual([1, 1, 100, 2]);
    }
  });

  it("bills a failed call whose application span never came to the trace's service", async () => {
    const [row] = await store.rows(`SELECT app_service_name, counted FROM ${db}.llm_spans WHERE span_id = {s:String}`, { s: orphan.spanId });
    expect(row).toEqual({ app_service_name: 'billing-app', counted: 1 });
    const usage = await store.rows(`SELECT service_name, sum(calls) AS n, sum(errors) AS failed FROM ${db}.usage_minutely WHERE model = {m:String} AND errors > 0 GROUP BY service_name`, { m: MODEL });
    expect(usage.map((u) => [u.service_name, Number(u.n), Number(u.failed)])).toEqual([['billing-app', 1, 1]]);
  });

  it('gives the same totals from llm_spans, agent_runs, usage_minutely and the usage query at every poll after a decision', async () => {
    const params = parseUsageParams({ since: '1d', by: [], model: MODEL });
    for (let i = 0; i < 10; i++) {
      const [s] = await store.rows<{ calls: string; prompt: string }>(
        `SELECT countIf(counted) AS calls, sumIf(prompt_tokens, counted) AS prompt FROM ${db}.llm_spans WHERE run_id IN {runs:Array(String)}`,
        { runs },
      );
      const [r] = await store.rows<{ calls: string; prompt: string }>(`SELECT sum(llm_calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.agent_runs WHERE trace_id IN {runs:Array(String)}`, {
        runs,
      });
      const [u] = await store.rows<{ calls: string; prompt: string }>(`SELECT sum(calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.usage_minutely WHERE model = {m:String}`, { m: MODEL });
      const [q] = await queryUsage(store.client, db, params);
      const n = (x: { calls: unknown; prompt: unknown }) => [Number(x.calls), Number(x.prompt)];
      expect([n(r), n(u), n({ calls: q.calls, prompt: q.prompt_tokens })]).toEqual([n(s), n(s), n(s)]);
      await new Promise((res) => setTimeout(res, 100));
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../../collector/model.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { agentSpan, attemptSpan, gatewaySpan, insertSpans, llmSpan, makeSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * One LLM call recorded by the application (OpenInference span) and by the gateway (its span a
 * child of the application's through traceparent, plus a span per upstream attempt) counts
 * once, with the gateway's figures, whatever order and inserts the spans arrive in.
 */
interface Call {
  traceId: string;
  app: SpanRecord;
  gateway: SpanRecord;
  spans: { app: SpanRecord[]; gateway: SpanRecord[] };
}

function recordedTwice(opts: { viaHttpSpan: boolean; start: number }): Call {
  const t = ns(opts.start);
  const root = agentSpan({ agentName: 'writer', sessionId: 'sess-9', userId: 'user-9', start: t, durationMs: 3000, serviceName: 'billing-app' });
  const app = llmSpan({
    traceId: root.traceId,
    parentSpanId: root.spanId,
    model: 'gpt-4o-mini',
    provider: 'openai',
    system: 'openai',
    usage: { prompt: 90, completion: 10 },
    start: t + 1_000_000n,
    durationMs: 800,
    serviceName: 'billing-app',
  });
  const http = makeSpan({ traceId: root.traceId, parentSpanId: app.spanId, name: 'POST', otelKind: 'Client', start: t + 2_000_000n, durationMs: 790, serviceName: 'billing-app' });
  const gateway = gatewaySpan({
    traceId: root.traceId,
    parentSpanId: opts.viaHttpSpan ? http.spanId : app.spanId,
    model: 'gpt-4o-mini-2024-07-18',
    requestModel: 'gpt-4o-mini',
    provider: 'openai',
    usage: { prompt: 100, completion: 20 },
    cost: { prompt: 0.001, completion: 0.002 },
    route: 'chat',
    backend: 'openai-eu',
    team: 'billing',
    keyName: 'billing-key',
    attempts: 2,
    fallbackUsed: true,
    streaming: true,
    ttftMs: 120,
    start: t + 3_000_000n,
    durationMs: 700,
  });
  const attempts = [
    attemptSpan({ traceId: root.traceId, parentSpanId: gateway.spanId, backend: 'openai-us', status: 'Error', start: t + 4_000_000n, durationMs: 100 }),
    attemptSpan({ traceId: root.traceId, parentSpanId: gateway.spanId, backend: 'openai-eu', start: t + 5_000_000n, durationMs: 500 }),
  ];
  const appSpans = opts.viaHttpSpan ? [root, app, http] : [root, app];
  return { traceId: root.traceId, app, gateway, spans: { app: appSpans, gateway: [gateway, ...attempts] } };
}

describe('a call recorded by the application and by the gateway', () => {
  let store: TempStore;
  const db = 'tracegate';
  const gatewayFirst = recordedTwice({ viaHttpSpan: false, start: Date.now() - 120_000 });
  const appFirst = recordedTwice({ viaHttpSpan: true, start: Date.now() - 90_000 });
  const gatewayOnly = gatewaySpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 5, completion: 5 }, start: ns(Date.now() - 60_000), route: 'chat' });
  // an application's own span naming a team and key: only the gateway's spans may
  const appClaiming = llmSpan({
    model: 'gpt-4o-mini',
    provider: 'openai',
    usage: { prompt: 7, completion: 3 },
    start: ns(Date.now() - 60_000),
    serviceName: 'other-app',
    attributes: { 'tracegate.team': 'billing', 'tracegate.key': 'billing-key' },
  });

  beforeAll(async () => {
    store = await tempStore();
    // gateway spans first, rollups computed, then the application's spans arrive late
    await insertSpans(store, gatewayFirst.spans.gateway);
    await refreshRollups(store.client, db);
    await insertSpans(store, gatewayFirst.spans.app);
    // the other order, through an HTTP client span between the two, and a gateway-only call
    await insertSpans(store, [...appFirst.spans.app, gatewayOnly, appClaiming]);
    await refreshRollups(store.client, db);
    await insertSpans(store, appFirst.spans.gateway);
    await refreshRollups(store.client, db);
  });
  afterAll(async () => store?.destroy());

  it.each([
    ['gateway first', gatewayFirst],
    ['application first, through an HTTP span', appFirst],
  ])('counts it once in llm_spans, with the gateway row counted (%s)', async (_name, call) => {
    const rows = await store.rows<Record<string, unknown>>(
      `SELECT span_id, origin, counted, superseded_by, app_service_name, session_id, user_id, team, key_name FROM ${db}.llm_spans
         WHERE trace_id = {t:String} AND span_kind = 'LLM' ORDER BY origin`,
      { t: call.traceId },
    );
    // the gateway's team and key on both rows of the call: the counted one and the application's
    const who = { team: 'billing', key_name: 'billing-key' };
    expect(rows).toEqual([
      { span_id: call.app.spanId, origin: 'app', counted: 0, superseded_by: call.gateway.spanId, app_service_name: 'billing-app', session_id: '', user_id: '', ...who },
      { span_id: call.gateway.spanId, origin: 'gateway', counted: 1, superseded_by: '', app_service_name: 'billing-app', session_id: '', user_id: '', ...who },
    ]);
  });

  it('never lands the per-attempt spans', async () => {
    const rows = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.llm_spans WHERE span_name = 'upstream'`);
    expect(Number(rows[0].n)).toBe(0);
  });

  it.each([
    ['gateway first', gatewayFirst],
    ['application first', appFirst],
  ])('takes the gateway figures in agent_runs (%s)', async (_n, call) => {
    const [r] = await store.rows<Record<string, unknown>>(`SELECT * FROM ${db}.agent_runs WHERE trace_id = {t:String}`, { t: call.traceId });
    expect([r.llm_calls, r.gateway_calls, r.prompt_tokens, r.completion_tokens, r.models, r.error_count, r.status, r.agent_name]).toEqual([
      1,
      1,
      100,
      20,
      ['gpt-4o-mini-2024-07-18'],
      0,
      'Ok',
      'writer',
    ]);
    expect(Number(r.cost_total)).toBeCloseTo(0.003, 12);
  });

  it('takes the gateway figures in usage_minutely, billed to the calling service', async () => {
    const rows = await store.rows<Record<string, unknown>>(
      `SELECT service_name, model, route, team, key_name, sum(calls) AS calls, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
              round(sum(cost_total), 9) AS cost, sum(streaming_calls) AS streaming, round(quantileTDigestMerge(0.5)(ttft_ms_state)) AS ttft
       FROM ${db}.usage_minutely GROUP BY service_name, model, route, team, key_name ORDER BY service_name`,
    );
    expect(rows).toEqual([
      {
        service_name: 'billing-app',
        model: 'gpt-4o-mini-2024-07-18',
        route: 'chat',
        team: 'billing',
        key_name: 'billing-key',
        calls: 2,
        prompt: 200,
        completion: 40,
        cost: 0.006,
        streaming: 2,
        ttft: 120,
      },
      { service_name: 'other-app', model: 'gpt-4o-mini', route: '', team: '', key_name: '', calls: 1, prompt: 7, completion: 3, cost: 0.00000285, streaming: 0, ttft: null },
      { service_name: 'tracegate-gateway', model: 'gpt-4o-mini', route: 'chat', team: '', key_name: '', calls: 1, prompt: 5, completion: 5, cost: 0.00000375, streaming: 0, ttft: null },
    ]);
  });

  it('keeps the gateway attributes on the counted row', async () => {
    const [g] = await store.rows<Record<string, unknown>>(
      `SELECT route, backend, team, key_name, attempts, fallback_used, streaming, ttft_ms, cost_source FROM ${db}.llm_spans WHERE span_id = {s:String}`,
      { s: gatewayFirst.gateway.spanId },
    );
    expect(g).toEqual({ route: 'chat', backend: 'openai-eu', team: 'billing', key_name: 'billing-key', attempts: 2, fallback_used: 1, streaming: 1, ttft_ms: 120, cost_source: 'span' });
  });
});

describe('a call whose two records arrive an hour of inserts apart', () => {
  let store: TempStore;
  const db = 'tracegate';
  const gatewayEarly = recordedTwice({ viaHttpSpan: false, start: Date.now() - 3_700_000 });
  const appEarly = recordedTwice({ viaHttpSpan: true, start: Date.now() - 3_650_000 });

  beforeAll(async () => {
    store = await tempStore();
    await insertSpans(store, [...gatewayEarly.spans.gateway, ...appEarly.spans.app]);
    await refreshRollups(store.client, db);
    // what an hour of other inserts would leave: these rows are far outside the refresh's window
    await store.client.command({ query: `ALTER TABLE ${db}.llm_spans_data UPDATE inserted_at = inserted_at - INTERVAL 1 HOUR WHERE 1 SETTINGS mutations_sync = 2` });
    await insertSpans(store, [...gatewayEarly.spans.app, ...appEarly.spans.gateway]);
    await refreshRollups(store.client, db);
  });
  afterAll(async () => store?.destroy());

  it.each([
    ['gateway first', gatewayEarly],
    ['application first', appEarly],
  ])('is still counted once, with the gateway row (%s)', async (_n, call) => {
    const rows = await store.rows<Record<string, unknown>>(`SELECT origin, counted, superseded_by FROM ${db}.llm_spans WHERE trace_id = {t:String} AND span_kind = 'LLM' ORDER BY origin`, {
      t: call.traceId,
    });
    expect(rows).toEqual([
      { origin: 'app', counted: 0, superseded_by: call.gateway.spanId },
      { origin: 'gateway', counted: 1, superseded_by: '' },
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUsageParams, queryUsage } from '../../common/usage.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { refreshStopped } from '../helpers/rollup-calls.js';
import { agentSpan, gatewaySpan, insertSpans, llmSpan, newTraceId, ns, nsToDateTime64 } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * A model call is read once the count-once decider has decided it (0082): between its insert and
 * the decider's run no reader counts it, whichever of its two spans came first; other spans
 * (agents, tools) are read at once; every reader agrees at every step. The scheduled refreshes
 * are stopped: each step runs the ones it names.
 */
const db = 'tracegate';

describe('readers read decided calls', () => {
  let store: TempStore;
  beforeAll(async () => {
    store = await tempStore();
    for (const v of REFRESHABLE_VIEWS) await store.client.command({ query: `SYSTEM STOP VIEW ${db}.${v}` });
  });
  afterAll(async () => store?.destroy());

  /** What each reader counts for a model: calls (rows counted) and prompt tokens. */
  async function figures(model: string): Promise<Record<string, number>> {
    const [r] = await store.rows<Record<string, string>>(
      `SELECT (SELECT count() FROM ${db}.llm_spans WHERE model = {m:String}) AS rows,
              (SELECT countIf(counted) FROM ${db}.llm_spans WHERE model = {m:String}) AS calls,
              (SELECT sumIf(prompt_tokens, counted) FROM ${db}.llm_spans WHERE model = {m:String}) AS prompt,
              (SELECT sum(calls) FROM ${db}.usage_minutely WHERE model = {m:String}) AS minutely,
              (SELECT sum(prompt_tokens) FROM ${db}.usage_minutely WHERE model = {m:String}) AS minutely_prompt,
              (SELECT sum(llm_calls) FROM ${db}.agent_runs WHERE has(models, {m:String})) AS runs`,
      { m: model },
    );
    const [usage] = await queryUsage(store.client, db, parseUsageParams({ since: '1d', by: 'model', model }));
    return { ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])), usage: Number(usage?.calls ?? 0) };
  }
  const none = { rows: 0, calls: 0, prompt: 0, minutely: 0, minutely_prompt: 0, runs: 0, usage: 0 };

  it('reads a pair once decided, the agent span at once', async () => {
    const at = Date.now() - 60_000;
    const agent = agentSpan({ traceId: newTraceId(), agentName: 'decided-agent', start: ns(at - 10), durationMs: 2000 });
    const app = llmSpan({ traceId: agent.traceId, parentSpanId: agent.spanId, model: 'gpt-decided', usage: { prompt: 100, completion: 10 }, start: ns(at), durationMs: 300 });
    const gateway = gatewaySpan({ traceId: agent.traceId, parentSpanId: app.spanId, model: 'gpt-decided', usage: { prompt: 120, completion: 12 }, route: 'chat', start: ns(at + 5), durationMs: 200 });
    await insertSpans(store, [agent, app, gateway]);
    const [agents] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.llm_spans WHERE span_id = {s:String}`, { s: agent.spanId });
    expect(Number(agents.n)).toBe(1);
    expect(await figures('gpt-decided')).toEqual(none);
    await refreshStopped(store, db, 'llm_spans_count_once');
    const decided = { rows: 2, calls: 1, prompt: 120, minutely: 1, minutely_prompt: 120, runs: 1, usage: 1 };
    expect(await figures('gpt-decided')).toEqual(decided);
    await refreshStopped(store, db, ...REFRESHABLE_VIEWS);
    expect(await figures('gpt-decided')).toEqual(decided);
  });

  it("leaves an application's call counted while its gateway span's key is stored before its row", async () => {
    // the key and the row of a span are written by two views of one insert, not at once: a
    // decider run between them pairs the call by the key but cannot write the gateway's row
    const at = Date.now() - 40_000;
    const app = llmSpan({ model: 'gpt-key-first', usage: { prompt: 300, completion: 30 }, start: ns(at), durationMs: 300 });
    const gateway = gatewaySpan({ traceId: app.traceId, parentSpanId: app.spanId, model: 'gpt-key-first', usage: { prompt: 330, completion: 33 }, route: 'chat', start: ns(at + 5), durationMs: 200 });
    await insertSpans(store, [app]);
    await refreshStopped(store, db, 'llm_spans_count_once');
    await store.client.insert({
      table: `${db}.call_keys_by_hour`,
      values: [
        {
          trace_id: gateway.traceId,
          span_id: gateway.spanId,
          parent_span_id: app.spanId,
          role: 'gateway',
          service_name: 'tracegate',
          model: 'gpt-key-first',
          timestamp: nsToDateTime64(gateway.startTimeUnixNano),
        },
      ],
      format: 'JSONEachRow',
    });
    const [pending] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.count_once_pending WHERE app_span_id = {s:String}`, { s: app.spanId });
    expect(Number(pending.n)).toBe(1);
    await refreshStopped(store, db, 'llm_spans_count_once');
    const alone = { rows: 1, calls: 1, prompt: 300, minutely: 1, minutely_prompt: 300, runs: 1, usage: 1 };
    expect(await figures('gpt-key-first')).toEqual(alone);
    // its row stored (with its key again), the next run writes both decisions
    await insertSpans(store, [gateway]);
    await refreshStopped(store, db, 'llm_spans_count_once');
    expect(await figures('gpt-key-first')).toEqual({ rows: 2, calls: 1, prompt: 330, minutely: 1, minutely_prompt: 330, runs: 1, usage: 1 });
  });

  it("leaves an application's call counted in a run whose read of the spans does not hold its gateway span's row", async () => {
    // (0085) a run's checks and its read of the spans are separate reads: a gateway row a check
    // saw can be missing from the read (seen under load, a row committed in between). Here the
    // row is one the read leaves out (a kind that is not a model call's, uncounted, under another
    // model, so that no reader below counts it) and the check does not.
    const at = Date.now() - 45_000;
    const app = llmSpan({ model: 'gpt-read-holds', usage: { prompt: 400, completion: 40 }, start: ns(at), durationMs: 300 });
    const gateway = gatewaySpan({ traceId: app.traceId, parentSpanId: app.spanId, model: 'gpt-read-holds', usage: { prompt: 440, completion: 44 }, route: 'chat', start: ns(at + 5), durationMs: 200 });
    await insertSpans(store, [app]);
    await refreshStopped(store, db, 'llm_spans_count_once');
    const alone = { rows: 1, calls: 1, prompt: 400, minutely: 1, minutely_prompt: 400, runs: 1, usage: 1 };
    expect(await figures('gpt-read-holds')).toEqual(alone);
    await store.client.insert({
      table: `${db}.call_keys_by_hour`,
      values: [
        {
          trace_id: gateway.traceId,
          span_id: gateway.spanId,
          parent_span_id: app.spanId,
          role: 'gateway',
          service_name: 'tracegate',
          model: 'gpt-read-holds',
          timestamp: nsToDateTime64(gateway.startTimeUnixNano),
        },
      ],
      format: 'JSONEachRow',
    });
    await store.client.command({
      query: `INSERT INTO ${db}.llm_spans_data SELECT * REPLACE ({s:String} AS span_id, {p:String} AS parent_span_id, 'gateway' AS origin, 'CHAIN' AS span_kind, 'gpt-read-holds-chain' AS model, toUInt8(0) AS counted, toUInt8(0) AS version, now64(3) AS inserted_at)
              FROM (SELECT * FROM ${db}.llm_spans_data FINAL WHERE span_id = {p:String})`,
      query_params: { s: gateway.spanId, p: app.spanId },
    });
    const [pending] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.count_once_pending WHERE app_span_id = {s:String}`, { s: app.spanId });
    expect(Number(pending.n)).toBe(1);
    await refreshStopped(store, db, 'llm_spans_count_once');
    expect(await figures('gpt-read-holds')).toEqual(alone);
    // the gateway's span stored as it comes (the same ids): the next run's read holds it
    await insertSpans(store, [gateway]);
    await refreshStopped(store, db, 'llm_spans_count_once');
    expect(await figures('gpt-read-holds')).toEqual({ rows: 2, calls: 1, prompt: 440, minutely: 1, minutely_prompt: 440, runs: 1, usage: 1 });
  });

  it("counts an application's call alone until its gateway span is decided, then the gateway's figure, never both", async () => {
    const at = Date.now() - 50_000;
    const app = llmSpan({ model: 'gpt-late-gateway', usage: { prompt: 200, completion: 20 }, start: ns(at), durationMs: 300 });
    const gateway = gatewaySpan({
      traceId: app.traceId,
      parentSpanId: app.spanId,
      model: 'gpt-late-gateway',
      usage: { prompt: 230, completion: 23 },
      route: 'chat',
      start: ns(at + 5),
      durationMs: 200,
    });
    await insertSpans(store, [app]);
    await refreshStopped(store, db, ...REFRESHABLE_VIEWS);
    const alone = { rows: 1, calls: 1, prompt: 200, minutely: 1, minutely_prompt: 200, runs: 1, usage: 1 };
    expect(await figures('gpt-late-gateway')).toEqual(alone);
    // the gateway's span arrives after the application's was decided alone: not read until decided
    await insertSpans(store, [gateway]);
    expect(await figures('gpt-late-gateway')).toEqual(alone);
    await refreshStopped(store, db, 'llm_spans_count_once');
    const paired = { rows: 2, calls: 1, prompt: 230, minutely: 1, minutely_prompt: 230, runs: 1, usage: 1 };
    expect(await figures('gpt-late-gateway')).toEqual(paired);
    await refreshStopped(store, db, ...REFRESHABLE_VIEWS);
    expect(await figures('gpt-late-gateway')).toEqual(paired);
  });
});

describe("the rollups' windows and the decider's late writes", () => {
  let store: TempStore;
  beforeAll(async () => {
    store = await tempStore();
    for (const v of REFRESHABLE_VIEWS) await store.client.command({ query: `SYSTEM STOP VIEW ${db}.${v}` });
  });
  afterAll(async () => store?.destroy());

  it('keep a late write of the decider open until every rollup has read it', async () => {
    const app = llmSpan({ model: 'gpt-late-write', usage: { prompt: 50, completion: 5 }, start: ns(Date.now() - 20_000), durationMs: 300 });
    await insertSpans(store, [app]);
    // stored two minutes ago; then the decider's row for it, as a run that started a minute ago
    // writes it now (after a backlog): its insert time is its run's start
    await store.client.command({
      query: `ALTER TABLE ${db}.llm_spans_data UPDATE inserted_at = inserted_at - INTERVAL 120 SECOND WHERE span_id = {s:String} SETTINGS mutations_sync = 2`,
      query_params: { s: app.spanId },
    });
    await store.client.command({
      query: `INSERT INTO ${db}.llm_spans_data SELECT * REPLACE (toUInt8(1) AS version, now64(3) - INTERVAL 60 SECOND AS inserted_at)
              FROM (SELECT * FROM ${db}.llm_spans_data FINAL WHERE span_id = {s:String})`,
      query_params: { s: app.spanId },
    });
    const [late] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.count_once_late_writes`);
    expect(Number(late.n)).toBe(1);
    // every rollup ran while that run did (without its row): their windows start 10 s ago
    await store.client.command({
      query: `INSERT INTO ${db}.refresh_progress SELECT name, now64(3) + INTERVAL 20 SECOND FROM (SELECT arrayJoin(['usage_minutely', 'usage_hourly', 'usage_daily', 'agent_runs']) AS name)`,
    });
    const read = async () => {
      const [r] = await store.rows<Record<string, string>>(
        `SELECT (SELECT countIf(counted) FROM ${db}.llm_spans WHERE model = 'gpt-late-write') AS spans,
                (SELECT sum(calls) FROM ${db}.usage_minutely WHERE model = 'gpt-late-write') AS minutely,
                (SELECT sum(calls) FROM ${db}.usage_hourly WHERE model = 'gpt-late-write') AS hourly,
                (SELECT sum(calls) FROM ${db}.usage_daily WHERE model = 'gpt-late-write') AS daily,
                (SELECT sum(llm_calls) FROM ${db}.agent_runs WHERE has(models, 'gpt-late-write')) AS runs`,
      );
      return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
    };
    const once = { spans: 1, minutely: 1, hourly: 1, daily: 1, runs: 1 };
    // its minute, hour, day and run are open (read live), though every row is older than the windows
    expect(await read()).toEqual(once);
    await refreshStopped(store, db, 'usage_minutely_refresh', 'usage_hourly_refresh', 'usage_daily_refresh', 'agent_runs_refresh');
    expect(await read()).toEqual(once);
    const [stored] = await store.rows<{ n: string }>(`SELECT sum(calls) AS n FROM ${db}.usage_minutely_data FINAL WHERE model = 'gpt-late-write'`);
    expect(Number(stored.n)).toBe(1);
  });
});

describe('upgrade to 0082', () => {
  let store: TempStore;
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: db };
  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version < 82),
    );
  });
  afterAll(async () => store?.destroy());

  it('reads the model calls stored before it that no decider run decided, as they were stored', async () => {
    await store.client.command({ query: `SYSTEM STOP VIEW ${db}.llm_spans_count_once` });
    const old = llmSpan({ model: 'gpt-before-0082', usage: { prompt: 7, completion: 1 }, start: ns(Date.now() - 3_600_000) });
    const recent = llmSpan({ model: 'gpt-before-0082', usage: { prompt: 9, completion: 1 }, start: ns(Date.now() - 1000) });
    await insertSpans(store, [old, recent]);
    // the old one stored before the decider's first run (as in a store older than 0055)
    await store.client.command({
      query: `ALTER TABLE ${db}.llm_spans_data UPDATE inserted_at = inserted_at - INTERVAL 2 HOUR WHERE span_id = {s:String} SETTINGS mutations_sync = 2`,
      query_params: { s: old.spanId },
    });
    const result = await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version <= 82),
    );
    expect(result.applied.map((m) => m.version)).toEqual([82]);
    const read = await store.rows<{ span_id: string; counted: number; prompt_tokens: string }>(
      `SELECT span_id, toUInt8(counted) AS counted, prompt_tokens FROM ${db}.llm_spans WHERE model = 'gpt-before-0082' ORDER BY prompt_tokens`,
    );
    // the recent one is the decider's (left to its next run)
    expect(read.map((r) => [r.span_id, r.counted, Number(r.prompt_tokens)])).toEqual([[old.spanId, 1, 7]]);
    await refreshStopped(store, db, 'llm_spans_count_once');
    const after = await store.rows<{ span_id: string }>(`SELECT span_id FROM ${db}.llm_spans WHERE model = 'gpt-before-0082' ORDER BY prompt_tokens`);
    expect(after.map((r) => r.span_id)).toEqual([old.spanId, recent.spanId]);
  });
});

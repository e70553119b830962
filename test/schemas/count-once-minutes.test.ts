import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import { evaluationEvent, gatewaySpan, insertSpans, llmSpan, newTraceId, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * 0079 makes call_keys_by_hour and llm_spans_data anew, ordered by (hour, minute, trace id, span
 * id), and bounds count-once's lookups by the minutes of the new spans, ten either side. A store
 * with rows upgrades in place: every row stays (decisions and evaluations included), no copy is
 * left behind, the views keep running and decide spans that arrive after it, pairing them with
 * spans stored before it.
 */
describe('upgrading a store to 0079 (count-once by minute)', () => {
  let store: TempStore;
  const db = 'tracegate';
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: db };
  const t0 = Date.now() - 120_000;
  // a call stored and decided before the upgrade (traceparent), with an evaluation on the app span
  const app1 = llmSpan({
    model: 'gpt-min-1',
    usage: { prompt: 90, completion: 10 },
    start: ns(t0),
    durationMs: 900,
    serviceName: 'min-app',
    events: [evaluationEvent(ns(t0 + 950), { name: 'helpfulness', score: 0.9 })],
  });
  const gw1 = gatewaySpan({ traceId: app1.traceId, parentSpanId: app1.spanId, model: 'gpt-min-1', usage: { prompt: 100, completion: 20 }, start: ns(t0 + 50), durationMs: 700, route: 'chat' });
  // the application's half of a call stored before it; the gateway's half arrives after it
  const app2 = llmSpan({ model: 'gpt-min-1', usage: { prompt: 40, completion: 4 }, start: ns(t0 + 5_000), durationMs: 900, serviceName: 'min-app' });
  const gw2 = gatewaySpan({ traceId: app2.traceId, parentSpanId: app2.spanId, model: 'gpt-min-1', usage: { prompt: 50, completion: 5 }, start: ns(t0 + 5_050), durationMs: 700, route: 'chat' });
  let before: Record<string, number> = {};
  let applied: number[] = [];

  const figures = async () => {
    const [r] = await store.rows<Record<string, string | number>>(
      `SELECT
         (SELECT countIf(version > 0) FROM ${db}.llm_spans_data FINAL) AS decided,
         (SELECT count() FROM ${db}.llm_spans_data FINAL) AS spans,
         (SELECT count() FROM ${db}.call_keys_by_hour FINAL) AS keys,
         (SELECT count() FROM ${db}.evaluations) AS evaluations`,
    );
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
  };
  const decided = async (spanId: string) => {
    const [r] = await store.rows<{ v: string | null }>(`SELECT max(version) AS v FROM ${db}.llm_spans_data FINAL WHERE span_id = {s:String}`, { s: spanId });
    return Number(r.v ?? 0) >= 1;
  };
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 150; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting until ${what}`);
  };

  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version < 79),
    );
    await insertSpans(store, [app1, gw1]);
    await insertSpans(store, [app2]);
    await until('the stored spans are decided', async () => (await decided(gw1.spanId)) && (await decided(app2.spanId)));
    before = await figures();
    applied = (await migrate(store.client, settings)).applied.map((m) => m.version);
    await insertSpans(store, [gw2]);
    await until('the span stored after the upgrade is decided', async () => decided(gw2.spanId));
  }, 120_000);
  afterAll(async () => store?.destroy());

  it('applies it once, leaving both tables ordered by minute and no copy behind', async () => {
    expect(applied.filter((v) => v >= 79)).toEqual(
      loadMigrations()
        .filter((m) => m.version >= 79)
        .map((m) => m.version),
    );
    const tables = await store.rows<{ name: string; sorting_key: string }>(
      `SELECT name, sorting_key FROM system.tables WHERE database = '${db}' AND (name IN ('llm_spans_data', 'call_keys_by_hour') OR name LIKE '%0079%') ORDER BY name`,
    );
    expect(tables).toEqual([
      { name: 'call_keys_by_hour', sorting_key: 'toStartOfHour(timestamp), toStartOfMinute(timestamp), trace_id, span_id' },
      { name: 'llm_spans_data', sorting_key: 'toStartOfHour(timestamp), toStartOfMinute(timestamp), trace_id, span_id' },
    ]);
  });

  it('keeps every row stored before it, evaluations not repeated', async () => {
    expect(before).toEqual({ decided: 3, spans: 3, keys: 3, evaluations: 1 });
    const after = await figures();
    // one more span (and its key) since, decided
    expect(after).toEqual({ decided: 4, spans: 4, keys: 4, evaluations: 1 });
  });

  it('pairs a span stored after it with its partner stored before it, and counts each call once', async () => {
    const rows = await store.rows<{ span_id: string; counted: number; superseded_by: string; app_service_name: string }>(
      `SELECT span_id, toUInt8(counted) AS counted, superseded_by, app_service_name FROM ${db}.llm_spans WHERE model = 'gpt-min-1' ORDER BY span_id`,
    );
    const by = new Map(rows.map((r) => [r.span_id, r]));
    expect(by.get(app1.spanId)).toMatchObject({ counted: 0, superseded_by: gw1.spanId });
    expect(by.get(gw1.spanId)).toMatchObject({ counted: 1, app_service_name: 'min-app' });
    expect(by.get(app2.spanId)).toMatchObject({ counted: 0, superseded_by: gw2.spanId });
    expect(by.get(gw2.spanId)).toMatchObject({ counted: 1, app_service_name: 'min-app' });
    const [u] = await store.rows<{ p: string }>(`SELECT sum(prompt_tokens) AS p FROM ${db}.llm_spans WHERE model = 'gpt-min-1' AND counted`);
    expect(Number(u.p)).toBe(150);
  });

  it('pairs the two spans of a call that start nine minutes apart, stored far apart in time', async () => {
    // an application span whose call reached the gateway nine minutes after it started (client
    // retries): stored and decided alone, then the gateway's span arrives
    const start = Date.now() - 12 * 60_000;
    const trace = newTraceId();
    const app = llmSpan({ traceId: trace, model: 'gpt-min-2', usage: { prompt: 7, completion: 1 }, start: ns(start), durationMs: 10 * 60_000, serviceName: 'slow-app' });
    await insertSpans(store, [app]);
    await until('the application span is decided alone', async () => decided(app.spanId));
    const gw = gatewaySpan({ traceId: trace, parentSpanId: app.spanId, model: 'gpt-min-2', usage: { prompt: 8, completion: 2 }, start: ns(start + 9 * 60_000), durationMs: 500, route: 'chat' });
    await insertSpans(store, [gw]);
    await until('the gateway span is decided', async () => decided(gw.spanId));
    const [r] = await store.rows<{ n: string; p: string; svc: string }>(
      `SELECT count() AS n, sum(prompt_tokens) AS p, any(app_service_name) AS svc FROM ${db}.llm_spans WHERE trace_id = {t:String} AND counted`,
      { t: trace },
    );
    expect({ n: Number(r.n), p: Number(r.p), svc: r.svc }).toEqual({ n: 1, p: 8, svc: 'slow-app' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySpan, insertSpans, llmSpan, newSpanId, newTraceId, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * The keys count-once starts from (count_once_fresh, 0078, 0081): those stored in the decider's
 * window whose span has no decision stored before the start of a completed run. A decided span
 * leaves the set once a later run has completed, whether it wrote or not; a span whose row the decider
 * sees before its key (two views of one insert, not atomic) is kept back until its key is stored,
 * so it is never decided without its pairs looked up.
 */
describe('count-once fresh keys', () => {
  let store: TempStore;
  const db = 'tracegate';
  const DECIDER = `${db}.llm_spans_count_once`;

  const version = async (spanId: string) => {
    const [r] = await store.rows<{ v: string | null }>(`SELECT max(version) AS v FROM ${db}.llm_spans_data FINAL WHERE span_id = {s:String}`, { s: spanId });
    return Number(r.v ?? -1);
  };
  const until = async (what: string, check: () => Promise<boolean>, tries = 150) => {
    for (let i = 0; i < tries; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting until ${what}`);
  };
  const fresh = async (spanId: string) => {
    const [r] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.count_once_fresh WHERE span_id = {s:String}`, { s: spanId });
    return Number(r.n);
  };
  const counted = async (traceId: string) =>
    store.rows<{ span_id: string; counted: number; superseded_by: string }>(
      `SELECT span_id, toUInt8(counted) AS counted, superseded_by FROM ${db}.llm_spans WHERE trace_id = {t:String} ORDER BY span_id`,
      { t: traceId },
    );

  beforeAll(async () => {
    store = await tempStore();
  }, 60_000);

  afterAll(async () => {
    await store?.close();
  });

  /**
   * One run of the decider, now, and waits for it, with its schedule moved an hour out (schedule):
   * stopping it and setting it going again for the run did two runs at times, since a stopped
   * view set going runs at once when a run is due, and REFRESH then runs a second one.
   */
  const runOnce = async () => {
    for (const verb of ['REFRESH', 'WAIT']) await store.client.command({ query: `SYSTEM ${verb} VIEW ${DECIDER}` });
  };
  const schedule = (every: string) => store.client.command({ query: `ALTER TABLE ${DECIDER} MODIFY REFRESH EVERY ${every} APPEND` });
  const through = async () => (await store.rows<{ t: string }>(`SELECT toString(max(through)) AS t FROM ${db}.refresh_progress WHERE name = 'count_once'`))[0].t;

  it('starts from a span until a run after the one that decided it has completed, then no more, with nothing arriving', async () => {
    await schedule('1 HOUR');
    const app = llmSpan({ model: 'gpt-fresh-1', usage: { prompt: 3, completion: 2 } });
    await insertSpans(store, [app]);
    expect(await fresh(app.spanId)).toBe(1);
    await runOnce();
    expect(await version(app.spanId)).toBeGreaterThanOrEqual(1);
    // still a start after the run that decided it: that run may have read its key only in part (a
    // key stored while a run runs)
    expect(await fresh(app.spanId)).toBe(1);
    const decidedAt = await through();
    // a run that starts after the decision was stored (in a later second: the engine records
    // whole seconds) sees the key from its start; it writes nothing, and the key leaves the set
    await new Promise((r) => setTimeout(r, 1100));
    await runOnce();
    expect(await through()).toBe(decidedAt);
    expect(await fresh(app.spanId)).toBe(0);
    // still in the window: only the decision took it out
    const [k] = await store.rows<{ n: string }>(
      `SELECT count() AS n FROM ${db}.call_keys_by_hour WHERE span_id = {s:String}
         AND inserted_at >= (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND`,
      { s: app.spanId },
    );
    expect(Number(k.n)).toBe(1);
    await schedule('2 SECOND');
  });

  it('keeps back a span whose row is stored before its key, and pairs it once the key is stored', async () => {
    const trace = newTraceId();
    const t = Date.now() - 5_000;
    // the application's call, decided alone (no gateway span yet): it counts
    const app = llmSpan({ traceId: trace, model: 'gpt-fresh-2', start: ns(t), durationMs: 900, usage: { prompt: 10, completion: 5 } });
    await insertSpans(store, [app]);
    await until('the application span is decided', async () => (await version(app.spanId)) >= 1);

    // the gateway's span of that call and another call of the trace arrive together; the
    // gateway span's key is not stored yet (its row is: the other view of the same insert)
    await store.client.command({ query: `SYSTEM STOP VIEW ${DECIDER}` });
    const gw = gatewaySpan({ traceId: trace, parentSpanId: app.spanId, model: 'gpt-fresh-2', start: ns(t + 10), durationMs: 800, usage: { prompt: 11, completion: 6 } });
    const other = llmSpan({ traceId: trace, spanId: newSpanId(), model: 'gpt-fresh-3', start: ns(t + 2000), durationMs: 100, usage: { prompt: 1, completion: 1 } });
    await insertSpans(store, [gw, other]);
    const key = await store.rows<Record<string, unknown>>(`SELECT * FROM ${db}.call_keys_by_hour WHERE span_id = {s:String}`, { s: gw.spanId });
    expect(key).toHaveLength(1);
    await store.client.command({ query: `ALTER TABLE ${db}.call_keys_by_hour DELETE WHERE span_id = {s:String}`, query_params: { s: gw.spanId }, clickhouse_settings: { mutations_sync: '1' } });

    // a decider run that decides the trace's other span leaves the gateway span undecided
    await store.client.command({ query: `SYSTEM START VIEW ${DECIDER}` });
    await until('the other span is decided', async () => (await version(other.spanId)) >= 1);
    expect(await version(gw.spanId)).toBe(0);

    // the key stored: the pair is found and decided, the call counted once with the gateway's figures
    await store.client.insert({ table: `${db}.call_keys_by_hour`, format: 'JSONEachRow', values: [{ ...key[0], inserted_at: undefined }] });
    await until('the gateway span is decided', async () => (await version(gw.spanId)) >= 1);
    await until('the application span is uncounted', async () => (await counted(trace)).find((r) => r.span_id === app.spanId)?.counted === 0);
    const rows = await counted(trace);
    expect(rows.find((r) => r.span_id === app.spanId)).toMatchObject({ counted: 0, superseded_by: gw.spanId });
    expect(rows.find((r) => r.span_id === gw.spanId)?.counted).toBe(1);
    expect(rows.find((r) => r.span_id === other.spanId)?.counted).toBe(1);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshRollups } from '../../schemas/rollups.js';
import { insertDecided, insertSpans, llmSpan, makeSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * agent_runs_live (0088): the hours of an open run's stored row that it reads are bounded to the
 * 31 days before the current hour and the day after it, whatever times the run's spans claim. A
 * span that says it lasts a hundred years made each read of agent_runs build a set of 876,000
 * hours; with the engine's range() held to 100,000 elements a block, such a read now succeeds
 * (and fails on 0087's view), and the run's figures are exact.
 */
describe('agent_runs_live with a span that claims to last a hundred years', () => {
  let store: TempStore;
  const db = 'tracegate';
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  const root = makeSpan({ name: 'forever', start: ns(hour + 300_000), durationMs: 100 * 365 * 86_400_000, serviceName: 'endless-app', attributes: { 'openinference.span.kind': 'AGENT' } });
  const first = llmSpan({ traceId: root.traceId, parentSpanId: root.spanId, model: 'gpt-4o-mini', usage: { prompt: 10, completion: 5 }, start: ns(hour + 360_000), serviceName: 'endless-app' });
  // an hour later: the run is open again, with its row stored
  const second = llmSpan({ traceId: root.traceId, parentSpanId: root.spanId, model: 'gpt-4o-mini', usage: { prompt: 7, completion: 3 }, start: ns(hour + 4_200_000), serviceName: 'endless-app' });
  const BOUNDED = 'SETTINGS function_range_max_elements_in_block = 100000';

  beforeAll(async () => {
    store = await tempStore();
    await insertSpans(store, [root, first]);
    await refreshRollups(store.client, db);
    // the window of open runs moved past those spans (its start is 30 s before what the last
    // refresh saw): the run's first spans are found through its stored row's hours alone
    await sleep(1500);
    await store.client.command({ query: `INSERT INTO ${db}.refresh_progress VALUES ('agent_runs', now64(3) + INTERVAL 29 SECOND)` });
    await sleep(1500);
    // decided (readers read a model call once the decider has run), not yet in a stored row
    await insertDecided(store, [second]);
  }, 120_000);
  afterAll(async () => store?.destroy());

  type Run = { span_count: number; llm_calls: number; prompt_tokens: number };
  const figures = (rows: Run[]) => rows.map((r) => [Number(r.span_count), Number(r.llm_calls), Number(r.prompt_tokens)]);

  it('reads the open run without building its hundred years of hours, with every span counted', async () => {
    const [open] = await store.rows<{ n: string }>(`SELECT countIf(run_id = {t:String}) AS n FROM ${db}.agent_runs_open`, { t: root.traceId });
    expect(Number(open.n)).toBe(1);
    const [since] = await store.rows<{ n: string }>(
      `SELECT count() AS n FROM ${db}.llm_spans_data WHERE trace_id = {t:String} AND inserted_at >= (SELECT agent_runs_since FROM ${db}.rollup_windows)`,
      { t: root.traceId },
    );
    // only the last call's rows (its insert and the decider's) are in the window
    expect(Number(since.n)).toBe(2);
    const [stored] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.agent_runs_data FINAL WHERE trace_id = {t:String} AND span_count > 0`, { t: root.traceId });
    expect(Number(stored.n)).toBe(1);
    const rows = await store.rows<Run>(`SELECT span_count, llm_calls, prompt_tokens FROM ${db}.agent_runs WHERE trace_id = {t:String} ${BOUNDED}`, { t: root.traceId });
    expect(figures(rows)).toEqual([[3, 2, 17]]);
  });

  it("stores the run's row from all its spans at the next refresh", async () => {
    await refreshRollups(store.client, db);
    const rows = await store.rows<Run>(`SELECT span_count, llm_calls, prompt_tokens FROM ${db}.agent_runs WHERE trace_id = {t:String} ${BOUNDED}`, { t: root.traceId });
    expect(figures(rows)).toEqual([[3, 2, 17]]);
    const stored = await store.rows<Run>(`SELECT span_count, llm_calls, prompt_tokens FROM ${db}.agent_runs_by_hour FINAL WHERE trace_id = {t:String} AND span_count > 0`, { t: root.traceId });
    expect(figures(stored)).toEqual([[3, 2, 17]]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { insertSpans, llmSpan, makeSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * agent_runs_by_hour (0087): the stored runs keyed by the hour they start in, which the
 * agent_runs view reads for runs no longer open. Runs stored before the migration are copied
 * once; a run whose start moves to an earlier hour keeps one row (the refresh's deleted twins
 * remove the old hour's), and in agent_runs_data the row the refresh writes stays newer than its twins.
 */
describe('agent_runs_by_hour', () => {
  let store: TempStore;
  const db = 'tracegate';
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: db };
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  // a run stored before 0087: an agent span and a call, ten minutes into the hour
  const agent = makeSpan({ name: 'plan', start: ns(hour + 600_000), durationMs: 5_000, serviceName: 'moving-app', attributes: { 'openinference.span.kind': 'AGENT' } });
  const step = llmSpan({ traceId: agent.traceId, parentSpanId: agent.spanId, model: 'gpt-4o-mini', usage: { prompt: 10, completion: 5 }, start: ns(hour + 601_000), serviceName: 'moving-app' });
  const single = llmSpan({ model: 'gpt-4o-mini', usage: { prompt: 3, completion: 2 }, start: ns(hour + 900_000), serviceName: 'single-app' });
  // later, the run's root: it started ten minutes before that hour, so the run's start moves back an hour
  const root = makeSpan({ traceId: agent.traceId, name: 'session', start: ns(hour - 600_000), durationMs: 1_300_000, serviceName: 'moving-app', attributes: { 'openinference.span.kind': 'CHAIN' } });
  // then one more call of the run, within the new start's hour range
  const more = llmSpan({ traceId: agent.traceId, parentSpanId: agent.spanId, model: 'gpt-4o-mini', usage: { prompt: 4, completion: 1 }, start: ns(hour + 602_000), serviceName: 'moving-app' });
  // a run whose span claims to last ten years: its twins stop at 745 hours, not 87,600
  const endless = llmSpan({ model: 'gpt-4o-mini', usage: { prompt: 1, completion: 1 }, start: ns(hour + 1_200_000), durationMs: 10 * 365 * 86_400_000, serviceName: 'endless-app' });
  let applied: number[] = [];

  type Row = { trace_id: string; hour: string; span_count: number; prompt_tokens: number };
  const stored = (final: boolean) =>
    store.rows<Row>(
      `SELECT trace_id, toString(toStartOfHour(start_time)) AS hour, span_count, prompt_tokens
       FROM ${db}.agent_runs_by_hour ${final ? 'FINAL' : ''} WHERE trace_id IN {t:Array(String)} AND NOT is_deleted ORDER BY trace_id, hour`,
      { t: [agent.traceId, single.traceId] },
    );
  const hourText = async (ms: number) => (await store.rows<{ h: string }>(`SELECT toString(toStartOfHour(fromUnixTimestamp64Milli({t:Int64}))) AS h`, { t: ms }))[0].h;
  const num = (rows: Row[]) => rows.map((r) => [r.trace_id, r.hour, Number(r.span_count), Number(r.prompt_tokens)]);

  let beforeMove: Row[] = [];
  let afterMove: Row[] = [];
  let afterMoveAll: Row[] = [];

  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version < 87),
    );
    await insertSpans(store, [agent, step, single]);
    await refreshRollups(store.client, db);
    applied = (await migrate(store.client, settings)).applied.map((m) => m.version);
    // every stored version kept, as before a background merge reaches them
    await store.client.command({ query: `SYSTEM STOP MERGES ${db}.agent_runs_by_hour` });
    await store.client.command({ query: `SYSTEM STOP MERGES ${db}.agent_runs_data` });
    beforeMove = await stored(true);
    await insertSpans(store, [root, endless]);
    await refreshRollups(store.client, db);
    afterMove = await stored(true);
    afterMoveAll = await stored(false);
    await insertSpans(store, [more]);
    await refreshRollups(store.client, db);
  }, 120_000);
  afterAll(async () => store?.destroy());

  it('copies the runs stored before 0087', async () => {
    expect(applied[0]).toBe(87);
    const h = await hourText(hour);
    expect(num(beforeMove)).toEqual(
      [
        [agent.traceId, h, 2, 10],
        [single.traceId, h, 1, 3],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });

  it("keeps one row of a run whose start moved to an earlier hour: the old hour's is deleted", async () => {
    const earlier = await hourText(hour - 3_600_000);
    expect(num(afterMove.filter((r) => r.trace_id === agent.traceId))).toEqual([[agent.traceId, earlier, 3, 10]]);
    // both hours' rows are still stored unmerged: FINAL is what hides the old one
    expect(afterMoveAll.filter((r) => r.trace_id === agent.traceId).length).toBeGreaterThanOrEqual(2);
  });

  it("bounds a run's twins to 745 hours of its span, and keeps its one row", async () => {
    const [r] = await store.rows<{ hours: string }>(`SELECT uniqExact(toStartOfHour(start_time)) AS hours FROM ${db}.agent_runs_by_hour WHERE trace_id = {t:String}`, { t: endless.traceId });
    expect(Number(r.hours)).toBe(745);
    const [f] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.agent_runs_by_hour FINAL WHERE trace_id = {t:String}`, { t: endless.traceId });
    expect(Number(f.n)).toBe(1);
  });

  it('keeps a run recomputed within its hour, and its twins older than its row in agent_runs_data', async () => {
    const earlier = await hourText(hour - 3_600_000);
    const now = await stored(true);
    expect(num(now)).toEqual(
      [
        [agent.traceId, earlier, 4, 14],
        [single.traceId, await hourText(hour), 1, 3],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // agent_runs_data is keyed by trace id alone: the refresh's newest row of the run is its own, not a twin
    const data = await store.rows<{ hour: string; span_count: number; is_deleted: number }>(
      `SELECT toString(toStartOfHour(start_time)) AS hour, span_count, is_deleted FROM ${db}.agent_runs_data FINAL WHERE trace_id = {t:String}`,
      { t: agent.traceId },
    );
    expect(data.map((r) => [r.hour, Number(r.span_count), Number(r.is_deleted)])).toEqual([[earlier, 4, 0]]);
    // the view's figures for these runs, read as a dashboard would once they are closed
    const [view] = await store.rows(`SELECT count() AS runs, sum(span_count) AS spans FROM ${db}.agent_runs_by_hour FINAL WHERE trace_id IN {t:Array(String)} AND span_count > 0`, {
      t: [agent.traceId, single.traceId],
    });
    expect(Object.values(view).map(Number)).toEqual([2, 5]);
    const [live] = await store.rows(`SELECT count() AS runs, sum(span_count) AS spans FROM ${db}.agent_runs WHERE trace_id IN {t:Array(String)}`, { t: [agent.traceId, single.traceId] });
    expect(Object.values(live).map(Number)).toEqual([2, 5]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { gatewaySpan, insertSpans, llmSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * A store created by the schema before 0053 (team and key from gateway spans only, read from
 * `tracegate.key`) upgrades in place: its rows stay, and spans arriving after the upgrade land
 * with their team and key, including a call whose application span was stored before it.
 */
describe('upgrading a store to 0053 (team and key)', () => {
  let store: TempStore;
  const db = 'tracegate';
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: db };
  const t0 = Date.now() - 120_000;
  const who = { team: 'search', keyName: 'search-prod' };
  const before = gatewaySpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 10, completion: 5 }, start: ns(t0), route: 'chat', ...who });
  const app = llmSpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 90, completion: 10 }, start: ns(t0 + 1000), durationMs: 900, serviceName: 'search-app' });
  const after = gatewaySpan({
    traceId: app.traceId,
    parentSpanId: app.spanId,
    model: 'gpt-4o-mini',
    provider: 'openai',
    usage: { prompt: 100, completion: 20 },
    start: ns(t0 + 1100),
    durationMs: 700,
    route: 'chat',
    ...who,
  });
  let applied: number[] = [];

  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version < 53),
    );
    await insertSpans(store, [before, app]);
    await refreshRollups(store.client, db);
    applied = (
      await migrate(
        store.client,
        settings,
        loadMigrations().filter((m) => m.version <= 53),
      )
    ).applied.map((m) => m.version);
    await insertSpans(store, [after]);
    await refreshRollups(store.client, db);
  });
  afterAll(async () => store?.destroy());

  it('applies only the new migration', () => {
    expect(applied).toEqual([53]);
  });

  it('keeps the views running', async () => {
    const rows = await store.rows<{ name: string }>("SELECT name FROM system.tables WHERE database = 'tracegate' AND name IN ('llm_spans_mv', 'llm_spans_count_once') ORDER BY name");
    expect(rows.map((r) => r.name)).toEqual(['llm_spans_count_once', 'llm_spans_mv']);
  });

  it('leaves the rows stored before it as they were (the old schema read no tracegate.key)', async () => {
    const rows = await store.rows(`SELECT team, key_name, counted FROM ${db}.llm_spans WHERE span_id = {s:String}`, { s: before.spanId });
    expect(rows).toEqual([{ team: 'search', key_name: '', counted: 1 }]);
  });

  it('lands team and key of spans arriving after it, on both rows of a call stored across it', async () => {
    const rows = await store.rows(`SELECT origin, counted, team, key_name FROM ${db}.llm_spans WHERE trace_id = {t:String} ORDER BY origin`, { t: app.traceId });
    expect(rows).toEqual([
      { origin: 'app', counted: 0, team: 'search', key_name: 'search-prod' },
      { origin: 'gateway', counted: 1, team: 'search', key_name: 'search-prod' },
    ]);
  });

  it('rolls usage up by team and key', async () => {
    const rows = await store.rows(`SELECT team, key_name, sum(calls) AS calls, sum(prompt_tokens) AS prompt FROM ${db}.usage_minutely GROUP BY team, key_name ORDER BY key_name`);
    expect(rows).toEqual([
      { team: 'search', key_name: '', calls: 1, prompt: 10 },
      { team: 'search', key_name: 'search-prod', calls: 1, prompt: 100 },
    ]);
  });
});

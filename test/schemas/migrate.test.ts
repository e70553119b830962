import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, MigrationChecksumError, DEFAULT_SCHEMA_SETTINGS } from '../../schemas/migrate.js';
import { loadPriceTable } from '../../schemas/prices.js';
import { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { tempStore, type TempStore } from '../helpers/store.js';

describe('migrations', () => {
  let store: TempStore;
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: 'tracegate' };
  beforeAll(async () => {
    store = await tempStore({ migrate: false });
  });
  afterAll(async () => store.destroy());

  it('apply on an empty store, in order', async () => {
    const all = loadMigrations();
    const result = await migrate(store.client, settings);
    expect(result.applied.map((m) => m.version)).toEqual(all.map((m) => m.version));
    const tables = await store.rows<{ name: string }>("SELECT name FROM system.tables WHERE database = 'tracegate'");
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['otel_traces', 'otel_traces_trace_id_ts', 'schema_migrations']));
    const engine = await store.rows<{ engine: string }>("SELECT engine FROM system.databases WHERE name = 'tracegate'");
    expect(engine[0].engine).toBe('Atomic');
    expect(result.pricesLoaded).toBe(true);
  });

  it('creates the typed tables, views and refreshable views', async () => {
    const rows = await store.rows<{ name: string; engine: string }>("SELECT name, engine FROM system.tables WHERE database = 'tracegate'");
    const engines = Object.fromEntries(rows.map((r) => [r.name, r.engine]));
    expect(engines).toMatchObject({
      llm_spans_data: 'ReplacingMergeTree',
      llm_spans: 'View',
      agent_runs_data: 'ReplacingMergeTree',
      agent_runs: 'View',
      usage_minutely_data: 'ReplacingMergeTree',
      usage_minutely: 'View',
      evaluations: 'MergeTree',
      model_prices: 'MergeTree',
      llm_spans_mv: 'MaterializedView',
      evaluations_mv: 'MaterializedView',
    });
    const refreshes = await store.rows<{ view: string }>("SELECT view FROM system.view_refreshes WHERE database = 'tracegate' ORDER BY view");
    expect(refreshes.map((r) => r.view)).toEqual([...REFRESHABLE_VIEWS].sort());
  });

  it('puts the retention TTLs on raw and rollup tables', async () => {
    const rows = await store.rows<{ name: string; ttl: string }>(
      "SELECT name, extract(engine_full, 'TTL [^S]*') AS ttl FROM system.tables WHERE database = 'tracegate' AND name IN ('llm_spans_data', 'usage_minutely_data')",
    );
    expect(Object.fromEntries(rows.map((r) => [r.name, r.ttl.trim()]))).toEqual({
      llm_spans_data: 'TTL toDateTime(timestamp) + toIntervalDay(30)',
      usage_minutely_data: 'TTL toDateTime(minute) + toIntervalDay(400)',
    });
  });

  it('loads the price table, newest load only', async () => {
    const rows = await store.rows<{ n: string }>('SELECT count() AS n FROM tracegate.model_prices WHERE load_id = (SELECT max(load_id) FROM tracegate.model_prices)');
    expect(Number(rows[0].n)).toBe(loadPriceTable().models.length);
  });

  it('apply again as a no-op', async () => {
    const result = await migrate(store.client, settings);
    expect(result.applied).toEqual([]);
    expect(result.pricesLoaded).toBe(true);
    expect(result.skipped.length).toBe(loadMigrations().length);
    const rows = await store.rows<{ n: string }>('SELECT count() AS n FROM tracegate.schema_migrations');
    expect(Number(rows[0].n)).toBe(loadMigrations().length);
  });

  it('refuse an applied file that was changed, naming it', async () => {
    const changed = loadMigrations().map((m, i) => (i === 0 ? { ...m, template: `${m.template}\n-- edited`, checksum: 'x' } : m));
    const err = await migrate(store.client, settings, changed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationChecksumError);
    expect((err as Error).message).toContain(changed[0].file);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, MigrationChecksumError, DEFAULT_SCHEMA_SETTINGS } from '../../schemas/migrate.js';
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
  });

  it('apply again as a no-op', async () => {
    const result = await migrate(store.client, settings);
    expect(result.applied).toEqual([]);
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempStore, type TempStore } from '../helpers/store.js';

// chdb 3.4.0 keeps settings passed as clickhouse_settings on the embedded session for every
// later statement. tracegate puts per-statement settings in the statement's SETTINGS clause;
// these tests hold that line.
describe('per-statement settings on the embedded engine', () => {
  let store: TempStore;
  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await store.client.command({ query: 'CREATE DATABASE IF NOT EXISTS trap ENGINE = Atomic' });
    await store.client.command({
      query: 'CREATE TABLE trap.t (id UInt32) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100',
    });
  });
  afterAll(async () => store.destroy());

  it('a readonly query does not block later writes', async () => {
    const r = await store.rows('SELECT count() AS n FROM trap.t SETTINGS readonly = 1');
    expect(Number(r[0].n)).toBe(0);
    await store.client.insert({ table: 'trap.t', values: [{ id: 1 }], format: 'JSONEachRow' });
    const after = await store.rows<{ n: string }>('SELECT count() AS n FROM trap.t');
    expect(Number(after[0].n)).toBe(1);
  });

  it('a deduplication token deduplicates its own batch only', async () => {
    const insert = (token: string, ids: number[]) =>
      store.client.insert({
        table: `trap.t SETTINGS insert_deduplication_token = '${token}'`,
        values: ids.map((id) => ({ id })),
        format: 'JSONEachRow',
      });
    await insert('batch-a', [10, 11]);
    await insert('batch-a', [10, 11]); // a replay of the same batch: dropped
    await insert('batch-b', [12]); // a different batch: kept
    await store.client.insert({ table: 'trap.t', values: [{ id: 13 }], format: 'JSONEachRow' }); // no token: kept
    const ids = await store.rows<{ id: number }>('SELECT id FROM trap.t WHERE id >= 10 ORDER BY id');
    expect(ids.map((r) => Number(r.id))).toEqual([10, 11, 12, 13]);
  });
});

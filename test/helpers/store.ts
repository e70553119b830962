import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../../schemas/migrate.js';

export interface TempStore extends Store {
  dataDir: string;
  /** Runs a query and returns its rows as objects. */
  rows<T = Record<string, unknown>>(query: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Closes the engine and deletes the folder. */
  destroy(): Promise<void>;
}

/** An embedded store in a fresh temporary folder (one per test file: chDB binds one per process). */
export async function tempStore(opts: { migrate?: boolean; database?: string } = {}): Promise<TempStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracegate-test-'));
  const database = opts.database ?? 'tracegate';
  const store = await openStore({ kind: 'embedded', dataDir, database });
  if (opts.migrate !== false) await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database });
  return Object.assign(store, {
    dataDir,
    async rows<T>(query: string, params?: Record<string, unknown>) {
      const rs = await store.client.query({ query, query_params: params, format: 'JSONEachRow' });
      return rs.json<T>();
    },
    async destroy() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  }) as TempStore;
}

import type { TempStore } from '../helpers/store.js';
import { seedStore, type SeedFacts } from './seed.js';

/**
 * A store as Grafana's data source sees it: the tracegate database is the session's default
 * (the data source's `defaultDatabase`, so panel SQL names tables bare), seeded, with every
 * refreshable view refreshed.
 */
export async function prepareStore(store: TempStore): Promise<SeedFacts> {
  await store.client.command({ query: `USE ${store.database}` });
  const facts = await seedStore(store);
  await refreshViews(store);
  return facts;
}

/** Runs every refreshable materialized view of the database once and waits for it. */
export async function refreshViews(store: TempStore): Promise<void> {
  const views = await store.rows<{ name: string }>(
    "SELECT name FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView' AND create_table_query LIKE '%REFRESH%' ORDER BY name",
    { db: store.database },
  );
  for (const { name } of views) {
    await store.client.command({ query: `SYSTEM REFRESH VIEW ${store.database}.${name}` });
    await store.client.command({ query: `SYSTEM WAIT VIEW ${store.database}.${name}` });
  }
}

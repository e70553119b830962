import { refreshRollups } from '../../schemas/rollups.js';
import type { TempStore } from '../helpers/store.js';
import { seedStore, type SeedFacts } from './seed.js';

/**
 * A store as Grafana's data source sees it: the tracegate database is the session's default
 * (the data source's `defaultDatabase`, so panel SQL names tables bare), seeded, with every
 * refreshable view (count-once, agent runs, usage rollup, linked evaluations) run once.
 */
export async function prepareStore(store: TempStore): Promise<SeedFacts> {
  await store.client.command({ query: `USE ${store.database}` });
  const facts = await seedStore(store);
  await refreshRollups(store.client, store.database);
  return facts;
}

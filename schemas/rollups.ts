import type { ClickHouseClient } from '@clickhouse/client';

/**
 * The refreshable materialized views, in the order a manual refresh must run them: the
 * count-once decision first (it rewrites llm_spans rows), then the rollups that read it.
 * Each runs on its own every few seconds; tests and the demo call refreshRollups to see
 * their data at once.
 */
export const REFRESHABLE_VIEWS = ['llm_spans_count_once', 'agent_runs_refresh', 'usage_minutely_refresh', 'usage_hourly_refresh', 'usage_daily_refresh', 'evaluations_linked_refresh'] as const;

/**
 * Runs every refreshable view now and waits for it. A refresh already running when this is
 * called is followed by a fresh one, so the result includes everything inserted before the call.
 */
export async function refreshRollups(client: ClickHouseClient, database: string): Promise<void> {
  const present = await client.query({
    query: 'SELECT name FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}',
    query_params: { db: database, names: [...REFRESHABLE_VIEWS] },
    format: 'JSONEachRow',
  });
  const names = new Set((await present.json<{ name: string }>()).map((r) => r.name));
  for (const view of REFRESHABLE_VIEWS) {
    if (!names.has(view)) continue;
    await client.command({ query: `SYSTEM REFRESH VIEW ${database}.${view}` });
    await client.command({ query: `SYSTEM WAIT VIEW ${database}.${view}` });
  }
}

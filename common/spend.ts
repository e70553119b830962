/**
 * Spend per team and key since an instant, as the store has it now: what budgets are rebuilt
 * from at start and after their counter store comes back empty (the store is the ledger).
 *
 * It reads the `usage_minutely` rollup, except for the minutes that received spans since the
 * rollup last ran (with the rollup's own two-minute margin), which it reads from the gateway's own
 * rows of `llm_spans_data`, decided or not: so a span stored a moment ago counts, without waiting
 * for the next refresh nor for the count-once decider (`llm_spans` reads a model call once decided,
 * 0082), and no call counts twice. A team and key are the gateway's: only its rows carry them, and
 * no decision changes a gateway row's figures, team, key or `counted` (an application's row that
 * takes them when paired is uncounted), so the gateway's rows as stored are what every count-once
 * reader counts for a team and key. `FINAL`: one row per span whatever versions the decider wrote.
 * `start` should fall on a minute (the start of a day or month in any time zone does).
 * The row without a team and key (the policy's default scope: calls the gateway served without
 * a key) holds only the gateway's own calls, read from its rows (origin = 'gateway') over the
 * range: the rollup's empty team/key row also sums applications' calls that never went through
 * the gateway, which no gateway budget ever counted.
 * What it cannot see: spans still on their way (a sender's batch, a collector's spool). On a
 * cluster the high-water mark is the newest shard's, so a shard whose rollup runs more than the
 * two-minute margin behind the others may miss its newest spans until its refresh catches up.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { checkDatabaseName } from './store.js';

export interface SpendRow {
  /** The Team document's name; empty for calls without a team. */
  team: string;
  /** The ApiKey document's name; empty for calls the gateway did not authenticate by key. */
  key: string;
  usd: number;
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface SpendRange {
  start: Date;
  /** Exclusive; everything stored when absent. */
  end?: Date;
}

/** `2025-08-01 00:00:00.000`, as a DateTime64(3, 'UTC') parameter is written. */
const utc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** The statement and its bound parameters; `database` must be an identifier. */
export function buildSpendQuery(database: string, range: SpendRange): { query: string; query_params: Record<string, unknown> } {
  checkDatabaseName(database);
  const within = (col: string) => [`${col} >= {start:DateTime64(3, 'UTC')}`, ...(range.end ? [`${col} < {end:DateTime64(3, 'UTC')}`] : [])].join(' AND ');
  const query = `
    WITH
      (SELECT max(source_inserted_at) FROM ${database}.usage_minutely_data) - INTERVAL 2 MINUTE AS rolled_up,
      recent AS (
        SELECT DISTINCT toStartOfMinute(timestamp) FROM ${database}.llm_spans_data
        WHERE inserted_at >= rolled_up AND ${within('timestamp')}
      )
    SELECT team, key_name AS key, sum(cost) AS usd, sum(n) AS calls, sum(p) AS prompt_tokens, sum(c) AS completion_tokens
    FROM (
      SELECT team, key_name, cost_total AS cost, calls AS n, prompt_tokens AS p, completion_tokens AS c
      FROM ${database}.usage_minutely
      WHERE ${within('minute')} AND minute NOT IN recent AND (team != '' OR key_name != '')
      UNION ALL
      SELECT team, key_name, cost_total, 1, prompt_tokens, completion_tokens
      FROM ${database}.llm_spans_data FINAL
      WHERE counted = 1 AND origin = 'gateway' AND ${within('timestamp')} AND toStartOfMinute(timestamp) IN recent AND (team != '' OR key_name != '')
      UNION ALL
      SELECT team, key_name, cost_total, 1, prompt_tokens, completion_tokens
      FROM ${database}.llm_spans_data FINAL
      WHERE counted = 1 AND origin = 'gateway' AND team = '' AND key_name = '' AND ${within('timestamp')}
    )
    GROUP BY team, key
    ORDER BY team, key`;
  const query_params: Record<string, unknown> = { start: utc(range.start) };
  if (range.end) query_params.end = utc(range.end);
  return { query, query_params };
}

export async function querySpend(client: ClickHouseClient, database: string, range: SpendRange): Promise<SpendRow[]> {
  const rs = await client.query({ ...buildSpendQuery(database, range), format: 'JSONEachRow' });
  const rows = await rs.json<Record<string, string | number>>();
  return rows.map((r) => ({
    team: String(r.team),
    key: String(r.key),
    usd: Number(r.usd),
    calls: Number(r.calls),
    prompt_tokens: Number(r.prompt_tokens),
    completion_tokens: Number(r.completion_tokens),
  }));
}

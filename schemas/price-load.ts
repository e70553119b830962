import type { ClickHouseClient } from '@clickhouse/client';
import { globToRegExp, loadPriceTable, patternWeight, type PriceTable } from './prices.js';

/** One row of the `model_prices` table (see migration 0002). */
export interface ModelPriceRow {
  load_id: number;
  ordinal: number;
  pattern: string;
  regex: string;
  weight: number;
  provider: string;
  input: number;
  output: number;
  cached_input: number;
  cache_write: number;
  reasoning: number;
  taken: string;
}

/** The price table as rows, with the fallbacks of computeCost resolved and globs compiled. */
export function priceRows(table: PriceTable, loadId: number): ModelPriceRow[] {
  return table.models.map((m, ordinal) => ({
    load_id: loadId,
    ordinal,
    pattern: m.pattern,
    regex: globToRegExp(m.pattern).source,
    weight: patternWeight(m.pattern),
    provider: m.provider,
    input: m.input,
    output: m.output,
    cached_input: m.cached_input ?? m.input,
    cache_write: m.cache_write ?? m.input,
    reasoning: m.reasoning ?? m.output,
    taken: m.taken ?? table.taken,
  }));
}

/**
 * Loads the price table into `model_prices` as a new load, then deletes older loads. Readers
 * take the newest load_id, so spans priced during a reload always see a whole table. Returns
 * false when the store has no model_prices table (migrations before 0002).
 */
export async function loadModelPrices(client: ClickHouseClient, database: string, table: PriceTable = loadPriceTable(), now: () => number = Date.now): Promise<boolean> {
  const exists = await client.query({
    query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    query_params: { db: database, t: 'model_prices' },
    format: 'JSONEachRow',
  });
  if (Number((await exists.json<{ n: string }>())[0]?.n ?? 0) === 0) return false;
  const rs = await client.query({ query: `SELECT max(load_id) AS last FROM ${database}.model_prices`, format: 'JSONEachRow' });
  const last = Number((await rs.json<{ last: string }>())[0]?.last ?? 0);
  const loadId = Math.max(now(), last + 1);
  // insert_deduplicate=0: a replicated table would otherwise drop a reload identical to an earlier one.
  await client.insert({
    table: `${database}.model_prices SETTINGS insert_deduplicate = 0`,
    values: priceRows(table, loadId),
    format: 'JSONEachRow',
  });
  await client.command({
    query: `ALTER TABLE ${database}.model_prices DELETE WHERE load_id < {id:UInt64}`,
    query_params: { id: loadId },
  });
  return true;
}

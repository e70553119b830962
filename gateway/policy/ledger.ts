/**
 * The spend ledger's rebuild. The store (ClickHouse: usage_minutely and llm_spans, read by
 * common/spend.ts) is the record of what was spent; the counter store only holds it for quick
 * checks. When the counter store has no ledger (first start, or Redis came back empty), today's
 * and this month's spend per key, per team, and of calls the gateway served without a key (the
 * default scope; applications' own calls stored beside them are not the gateway's and are left
 * out) is read from the store and seeded, so a Redis restart does not reset budgets.
 *
 * What the store has not received yet (spans still in the gateway's export queue) is not in the
 * rebuild: the gap is the export delay, a few seconds.
 */
import type { SpendRange, SpendRow } from '../../common/spend.js';
import { toNano, type CounterStore, type LedgerEntry } from './counters.js';
import type { PolicyMetrics } from './metrics.js';
import type { Period } from './periods.js';

export type SpendSource = (range: SpendRange) => Promise<SpendRow[]>;

export interface LedgerEnv {
  spend?: SpendSource;
  metrics: PolicyMetrics;
  clock: () => number;
  warn: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Ledger entries of one period from spend rows (key, team and default scopes as limits.ts names them). */
export function ledgerEntries(rows: readonly SpendRow[], period: Period, keepMs: number): LedgerEntry[] {
  const sums = new Map<string, number>();
  const add = (key: string, usd: number) => sums.set(key, (sums.get(key) ?? 0) + toNano(usd));
  for (const r of rows) {
    if (r.key) add(`k:${r.key}:${period.id}`, r.usd);
    if (r.team) add(`t:${r.team}:${period.id}`, r.usd);
    if (!r.key && !r.team) add(`default:${period.id}`, r.usd);
  }
  return [...sums].map(([key, spent]) => ({ key, spent, keepMs }));
}

let warnedNoSource = false;

export async function rebuildLedger(store: CounterStore, env: LedgerEnv, periods: { day: Period; month: Period }, dayMs: number): Promise<boolean> {
  if (!env.spend) {
    if (!warnedNoSource) env.warn('budgets start from zero: this gateway has no store to rebuild spend from (run it with the store, or give it CLICKHOUSE_URL)');
    warnedNoSource = true;
    await store.seed([]);
    return true;
  }
  try {
    const { day, month } = periods;
    const now = env.clock();
    const [days, months] = await Promise.all([env.spend({ start: new Date(day.start) }), env.spend({ start: new Date(month.start) })]);
    await store.seed([...ledgerEntries(days, day, day.end - now + dayMs), ...ledgerEntries(months, month, month.end - now + dayMs)]);
    env.metrics.rebuilt('ok');
    return true;
  } catch (err) {
    env.metrics.rebuilt('failed');
    env.warn('could not rebuild the spend ledger from the store; budgets wait for it', { err: (err as Error)?.message ?? String(err) });
    return false;
  }
}

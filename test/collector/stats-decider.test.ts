/**
 * Each collector writes the count-once decider's state on its node into collector_stats (0083),
 * read from the engine's system.view_refreshes: when its last successful run started, and its
 * last error. The pipeline board draws the lag from it.
 */
import { describe, expect, it } from 'vitest';
import { useCollector } from './helpers.js';

const fx = useCollector({ stats: { intervalMs: 100 } });

describe("collector_stats: the count-once decider's state", () => {
  it('writes when the decider last succeeded, and no error', async () => {
    let row: { last: string; exception: string; lag_ms: string } | undefined;
    for (let t = 0; t < 150 && Number(row?.last ?? 0) === 0; t++) {
      await new Promise((r) => setTimeout(r, 100));
      [row] = await fx.store.rows(
        `SELECT toUnixTimestamp64Milli(decider_last_success) AS last, decider_exception AS exception,
                toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(decider_last_success) AS lag_ms
         FROM tracegate.collector_stats ORDER BY timestamp DESC LIMIT 1`,
      );
    }
    const [engine] = await fx.store.rows<{ last: string }>(
      `SELECT toUnixTimestamp(max(last_success_time)) * 1000 AS last FROM system.view_refreshes WHERE database = 'tracegate' AND view = 'llm_spans_count_once'`,
    );
    expect(Number(row?.last)).toBeGreaterThan(0);
    // the engine's own record (it may have run again since the row was written)
    expect(Number(row?.last)).toBeLessThanOrEqual(Number(engine.last));
    expect(row?.exception).toBe('');
    // a run every 2 s, the time in whole seconds
    expect(Number(row?.lag_ms)).toBeLessThan(10_000);
  });
});

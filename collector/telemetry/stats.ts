/**
 * Writes the collector's counters into `collector_stats` every few seconds, for dashboards that
 * read ClickHouse alone, with the count-once decider's state on its node (0083). A failed write is
 * skipped (the next row carries the running totals).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Store } from '../../common/store.js';
import type { CollectorMetrics, Gauges } from './metrics.js';

export interface StatsWriter {
  /** Writes one last row and stops. */
  stop(): Promise<void>;
}

/** The count-once decider as this node's engine reports it (0083). */
interface DeciderState {
  /** When its last successful run started, ms since the epoch; 0 while it has none. */
  lastSuccessMs: number;
  /** Its last error, '' when it succeeds. */
  exception: string;
}

const DECIDER_EXCEPTION_CHARS = 1000;

/**
 * The decider's state from `system.view_refreshes`: a model call is read once decided (0082), so
 * a decider that stops or fails holds every new call back. Never throws: what it could not read
 * is said in `exception`.
 */
async function readDecider(store: Store): Promise<DeciderState> {
  try {
    const rs = await store.client.query({
      query: `SELECT ifNull(toUnixTimestamp(max(last_success_time)), 0) AS last, any(exception) AS exception
        FROM system.view_refreshes WHERE database = {db:String} AND view = 'llm_spans_count_once'`,
      query_params: { db: store.database },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ last: string | number; exception: string }>();
    return { lastSuccessMs: Number(r?.last ?? 0) * 1000, exception: String(r?.exception ?? '').slice(0, DECIDER_EXCEPTION_CHARS) };
  } catch (err) {
    return { lastSuccessMs: 0, exception: `could not read system.view_refreshes: ${(err as Error).message}`.slice(0, DECIDER_EXCEPTION_CHARS) };
  }
}

export function statsRow(instance: string, startedAt: number, now: number, m: CollectorMetrics, g: Gauges, decider: DeciderState) {
  const s = m.spans;
  return {
    timestamp: (now / 1000).toFixed(3),
    instance,
    started_at: (startedAt / 1000).toFixed(3),
    received_spans: s.received,
    accepted_spans: s.accepted,
    duplicate_spans: s.duplicate,
    refused_spans: s.refused,
    exported_spans: s.exported,
    spooled_spans: s.spooled,
    dropped_spans: s.dropped,
    export_failures: m.exportFailures,
    queue_spans: g.queueSpans,
    queue_batches: g.queueBatches,
    spool_bytes: g.spoolBytes,
    export_latency_sum_seconds: m.exportLatency.sum,
    export_latency_count: m.exportLatency.count,
    decider_last_success: (decider.lastSuccessMs / 1000).toFixed(3),
    decider_exception: decider.exception,
  };
}

export function startStatsWriter(
  opts: { intervalMs: number; instance: string },
  deps: { store: Store; metrics: CollectorMetrics; gauges: () => Gauges; logger: FastifyBaseLogger; now?: () => number },
): StatsWriter {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  let running: Promise<void> = Promise.resolve();
  let warned = false;
  const write = () => {
    running = running.then(async () => {
      try {
        const decider = await readDecider(deps.store);
        const row = statsRow(opts.instance, startedAt, now(), deps.metrics, deps.gauges(), decider);
        await deps.store.client.insert({ table: `${deps.store.database}.collector_stats`, values: [row], format: 'JSONEachRow' });
        warned = false;
      } catch (err) {
        if (!warned) deps.logger.warn({ err: (err as Error).message }, 'could not write collector_stats; will retry at the next interval');
        warned = true;
      }
    });
  };
  const timer = opts.intervalMs > 0 ? setInterval(write, opts.intervalMs) : undefined;
  timer?.unref();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      if (opts.intervalMs > 0) write();
      await running;
    },
  };
}

/**
 * Writes the collector's counters into `collector_stats` every few seconds, for dashboards that
 * read ClickHouse alone. A failed write is skipped (the next row carries the running totals).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Store } from '../../common/store.js';
import type { CollectorMetrics, Gauges } from './metrics.js';

export interface StatsWriter {
  /** Writes one last row and stops. */
  stop(): Promise<void>;
}

export function statsRow(instance: string, startedAt: number, now: number, m: CollectorMetrics, g: Gauges) {
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
        const row = statsRow(opts.instance, startedAt, now(), deps.metrics, deps.gauges());
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

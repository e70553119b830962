import { EventLoopDelay } from '../../common/metrics/event-loop.js';
import { Counter, exposition, Histogram, single } from '../../common/metrics/registry.js';

/**
 * The collector's own counters, in Prometheus text (`/metrics`) and as a row for the
 * `collector_stats` table. Span counters only ever increase:
 *   received  spans in requests that decoded (accepted + duplicate + refused)
 *   accepted  spans written to the spool and acknowledged
 *   duplicate spans acknowledged but not written again: their request was spooled lately (a
 *             sender's retry after a lost answer)
 *   refused   spans answered with an error or rejected in a partial success (bad ids, spool full,
 *             shutting down): the sender knows and may retry
 *   exported  spans ClickHouse confirmed
 *   spooled   spans of batches that waited on disk past their first export attempt (a failed
 *             insert, or left by a previous process)
 *   dropped   spans lost after being accepted (a batch ClickHouse refused as malformed)
 */
export const SPAN_COUNTERS = ['received', 'accepted', 'duplicate', 'refused', 'exported', 'spooled', 'dropped'] as const;
export type SpanCounter = (typeof SPAN_COUNTERS)[number];

/** Export latency buckets, seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The export latency: one unlabelled histogram series, with its sum and count for `collector_stats`. */
export class ExportLatency {
  readonly metric = new Histogram('tracegate_collector_export_latency_seconds', 'Time to insert one batch into ClickHouse.', [], BUCKETS);
  private readonly series = this.metric.handle([]);

  observe(seconds: number): void {
    this.metric.record(this.series, seconds);
  }

  get sum(): number {
    return this.series.sum;
  }

  get count(): number {
    return this.series.count;
  }
}

export interface CollectorMetrics {
  spans: Record<SpanCounter, number>;
  /** Requests answered, by transport and outcome (`ok`, `partial`, `invalid`, `too_large`, `unsupported`, `unauthenticated`, `refused`). */
  requests: Counter;
  exportFailures: number;
  exportLatency: ExportLatency;
  /** nodejs_eventloop_lag_*: started at the first scrape, stopped at shutdown */
  eventLoop: EventLoopDelay;
}

export function newMetrics(): CollectorMetrics {
  const spans = Object.fromEntries(SPAN_COUNTERS.map((c) => [c, 0])) as Record<SpanCounter, number>;
  const requests = new Counter('tracegate_collector_requests_total', 'OTLP export requests answered.', ['transport', 'outcome']);
  return { spans, requests, exportFailures: 0, exportLatency: new ExportLatency(), eventLoop: new EventLoopDelay() };
}

export function countRequest(m: CollectorMetrics, transport: 'grpc' | 'http', outcome: string): void {
  m.requests.inc([transport, outcome]);
}

/** Values read at scrape time. */
export interface Gauges {
  queueSpans: number;
  queueBatches: number;
  spoolBytes: number;
  spoolLimitBytes: number;
  /** Extra counters, e.g. the processor's, flattened to `name → value`. */
  extra?: Record<string, number>;
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(m: CollectorMetrics, g: Gauges): string {
  const processor = Object.entries(g.extra ?? {}).map(([name, v]) => {
    const full = `tracegate_collector_processor_${name.replace(/[^a-zA-Z0-9_]/g, '_')}_total`;
    return single(full, `Processor counter ${name}.`, () => v, 'counter');
  });
  return exposition([
    ...SPAN_COUNTERS.map((c) => single(`tracegate_collector_${c}_spans_total`, `Spans ${c} by the collector.`, () => m.spans[c], 'counter')),
    m.requests,
    single('tracegate_collector_export_failures_total', 'Batch inserts that failed and will be retried.', () => m.exportFailures, 'counter'),
    single('tracegate_collector_queue_spans', 'Spans accepted and not yet in ClickHouse.', () => g.queueSpans),
    single('tracegate_collector_queue_batches', 'Spool segments waiting for export (including the open one).', () => g.queueBatches),
    single('tracegate_collector_spool_bytes', 'Bytes in the spool.', () => g.spoolBytes),
    single('tracegate_collector_spool_limit_bytes', 'The spool disk limit.', () => g.spoolLimitBytes),
    m.exportLatency.metric,
    ...processor,
    m.eventLoop,
  ]);
}

/** Flattens nested numeric counters: `{a: {b: 1}} → {a_b: 1}`. */
export function flattenCounters(obj: object, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}_${k}` : k;
    if (typeof v === 'number') out[key] = v;
    else if (v && typeof v === 'object') Object.assign(out, flattenCounters(v, key));
  }
  return out;
}

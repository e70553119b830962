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

export class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) this.counts[i]++;
  }
}

export interface CollectorMetrics {
  spans: Record<SpanCounter, number>;
  /** Requests answered, by transport and outcome (`ok`, `partial`, `invalid`, `too_large`, `unsupported`, `unauthenticated`, `refused`). */
  requests: Map<string, number>;
  exportFailures: number;
  exportLatency: Histogram;
}

export function newMetrics(): CollectorMetrics {
  const spans = Object.fromEntries(SPAN_COUNTERS.map((c) => [c, 0])) as Record<SpanCounter, number>;
  return { spans, requests: new Map(), exportFailures: 0, exportLatency: new Histogram() };
}

export function countRequest(m: CollectorMetrics, transport: 'grpc' | 'http', outcome: string): void {
  const key = `${transport}\u0000${outcome}`;
  m.requests.set(key, (m.requests.get(key) ?? 0) + 1);
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

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(m: CollectorMetrics, g: Gauges): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  for (const c of SPAN_COUNTERS) {
    metric(`tracegate_collector_${c}_spans_total`, 'counter', `Spans ${c} by the collector.`, [`tracegate_collector_${c}_spans_total ${m.spans[c]}`]);
  }
  metric('tracegate_collector_requests_total', 'counter', 'OTLP export requests answered.', [...m.requests].map(([k, v]) => {
    const [transport, outcome] = k.split('\u0000');
    return `tracegate_collector_requests_total{transport="${esc(transport)}",outcome="${esc(outcome)}"} ${v}`;
  }));
  metric('tracegate_collector_export_failures_total', 'counter', 'Batch inserts that failed and will be retried.', [`tracegate_collector_export_failures_total ${m.exportFailures}`]);
  metric('tracegate_collector_queue_spans', 'gauge', 'Spans accepted and not yet in ClickHouse.', [`tracegate_collector_queue_spans ${g.queueSpans}`]);
  metric('tracegate_collector_queue_batches', 'gauge', 'Spool segments waiting for export (including the open one).', [`tracegate_collector_queue_batches ${g.queueBatches}`]);
  metric('tracegate_collector_spool_bytes', 'gauge', 'Bytes in the spool.', [`tracegate_collector_spool_bytes ${g.spoolBytes}`]);
  metric('tracegate_collector_spool_limit_bytes', 'gauge', 'The spool disk limit.', [`tracegate_collector_spool_limit_bytes ${g.spoolLimitBytes}`]);
  const h = m.exportLatency;
  metric('tracegate_collector_export_latency_seconds', 'histogram', 'Time to insert one batch into ClickHouse.', [
    ...BUCKETS.map((b, i) => `tracegate_collector_export_latency_seconds_bucket{le="${b}"} ${h.counts[i]}`),
    `tracegate_collector_export_latency_seconds_bucket{le="+Inf"} ${h.count}`,
    `tracegate_collector_export_latency_seconds_sum ${h.sum}`,
    `tracegate_collector_export_latency_seconds_count ${h.count}`,
  ]);
  for (const [name, v] of Object.entries(g.extra ?? {})) {
    const full = `tracegate_collector_processor_${name.replace(/[^a-zA-Z0-9_]/g, '_')}_total`;
    metric(full, 'counter', `Processor counter ${name}.`, [`${full} ${v}`]);
  }
  return `${out.join('\n')}\n`;
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

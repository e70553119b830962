/**
 * The export loop: takes sealed batches from the spool oldest first and inserts them, one at a
 * time (the order they were accepted in). A failed insert is retried with backoff and jitter
 * for as long as it takes (the batch is safe on disk); a batch the engine calls malformed is
 * set aside and counted as dropped, so it cannot block the queue.
 */
import type { FastifyBaseLogger } from 'fastify';
import { backoffDelay, randomization, sleep, type Backoff } from '../../common/backoff.js';
import { isPermanentInsertError, type TraceSink } from './clickhouse.js';
import type { Segment, Spool } from './spool.js';
import type { CollectorMetrics } from '../telemetry/metrics.js';

export interface ExporterDeps {
  spool: Spool;
  sink: TraceSink;
  metrics: CollectorMetrics;
  logger: FastifyBaseLogger;
  now?: () => number;
  random?: () => number;
}

export interface Exporter {
  /** False after a failed insert, until the next one succeeds. */
  readonly healthy: boolean;
  /**
   * Seals the spool and exports what it holds until it is empty, an insert fails, or the
   * deadline passes; then stops after the insert in flight. What is left stays in the spool.
   */
  stop(deadlineMs: number): Promise<void>;
}

/** The collector's `retry` settings (collector/config.ts), with exporterhelper's names. */
export interface ExportRetry {
  initialIntervalMs: number;
  maxIntervalMs: number;
  multiplier: number;
  /** Each delay is drawn uniformly from [d·(1−r), d·(1+r)]. */
  randomizationFactor: number;
}

export const exportBackoff = (r: ExportRetry): Backoff => ({
  initialMs: r.initialIntervalMs,
  maxMs: r.maxIntervalMs,
  multiplier: r.multiplier,
  spread: randomization(r.randomizationFactor),
});

export function startExporter(retry: ExportRetry, deps: ExporterDeps): Exporter {
  const { spool, sink, metrics, logger } = deps;
  const now = deps.now ?? (() => performance.now());
  const backoff = exportBackoff(retry);
  let healthy = true;
  let stopping = false;
  let stopDeadline = Infinity;
  /** Ends a backoff early when the exporter stops. */
  const stopped = new AbortController();
  const retried = new WeakSet<Segment>();

  async function exportOne(seg: Segment, attempt: number): Promise<number> {
    const t0 = now();
    try {
      await sink.write(seg);
      metrics.exportLatency.observe((now() - t0) / 1000);
      metrics.spans.exported += seg.rows;
      if (retried.has(seg)) metrics.spans.spooled += seg.rows;
      spool.remove(seg);
      healthy = true;
      return 0;
    } catch (err) {
      if (isPermanentInsertError(err)) {
        logger.error({ batch: seg.token, rows: seg.rows, err: (err as Error).message }, 'ClickHouse refused a batch as malformed; set aside in the spool rejected/ folder');
        metrics.spans.dropped += seg.rows;
        spool.reject(seg);
        return 0;
      }
      metrics.exportFailures++;
      if (!retried.has(seg)) retried.add(seg);
      if (healthy) logger.warn({ batch: seg.token, rows: seg.rows, err: (err as Error).message }, 'insert failed; the batch stays in the spool and is retried');
      healthy = false;
      return attempt + 1;
    }
  }

  async function loop(): Promise<void> {
    let attempt = 0;
    for (;;) {
      if (stopping && (now() >= stopDeadline || !healthy)) return;
      const seg = spool.peek();
      if (!seg) {
        if (stopping) return;
        await spool.waitReady();
        continue;
      }
      attempt = await exportOne(seg, attempt);
      if (attempt > 0 && !stopping) await sleep(backoffDelay(backoff, attempt - 1, deps.random), stopped.signal);
    }
  }

  // Batches left by a previous process count as spooled once exported.
  for (const seg of spool.sealed()) retried.add(seg);
  const running = loop();

  return {
    get healthy() {
      return healthy;
    },
    async stop(deadlineMs) {
      stopping = true;
      stopDeadline = now() + deadlineMs;
      spool.close();
      stopped.abort();
      await running;
    },
  };
}

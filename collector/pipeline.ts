/**
 * receivers → [decode → processor stages → RowBinary] → spool (→ exporter). The bracketed part is
 * `Ingest` (ingest.ts, where the stages are listed), a function of one request body that runs on
 * worker threads (`pipeline.workers`, see ingest-pool.ts) or inline on the receiving thread.
 * Either way the rows are appended to the spool on the receiving thread before the receiver
 * answers: an acknowledged span is on disk.
 */
import { collectorErrors } from './errors.js';
import { SpoolFullError, type Spool } from './exporters/spool.js';
import { buildIngest, type Ingested, type IngestResult, type OtlpEncoding } from './ingest.js';
import { startIngestPool } from './ingest-pool.js';
import type { ProcessorConfig, ProcessorDeps } from './processors/index.js';

/** What became of a request that decoded. */
export type AcceptOutcome =
  /** `duplicate`: the same request was spooled lately (a retry), so nothing was written again. */
  | { spooled: true; duplicate: boolean; spans: number; rejected: number; message: string }
  /** The spool is at its disk limit: nothing of the request was kept. */
  | { spooled: false; spans: number; rejected: number };

export interface Pipeline {
  /** Resolves once the workers run (a worker that cannot start rejects it). */
  ready(): Promise<void>;
  /**
   * Decodes, processes and spools one request body; resolves once its rows are on disk. Throws
   * a CollectorError for a body that does not decode, or (retryable) when too much is queued.
   * The body is taken over (its memory may move to a worker thread): do not read it afterwards.
   */
  accept(body: Buffer, encoding: OtlpEncoding): Promise<AcceptOutcome>;
  /** Counters of the stages (the processor's, summed over the workers). */
  counters(): object;
  /** Stops the workers once the requests they hold are answered. Idempotent. */
  close(): Promise<void>;
}

export interface PipelineOptions {
  /** Worker threads for decode, stages and encode; 0 runs them on the receiving thread. */
  workers: number;
  /** Request bytes waiting for a worker past which new requests are refused (retryable). */
  maxQueueBytes: number;
  retryAfterSeconds: number;
}

export function buildPipeline(config: ProcessorConfig, opts: PipelineOptions, deps: { spool: Spool; processor?: ProcessorDeps }): Pipeline {
  const { spool } = deps;
  const store = (r: Ingested): AcceptOutcome => {
    let duplicate = false;
    if (r.spans > 0) {
      try {
        duplicate = !spool.append(r.rows, r.spans, r.digest);
      } catch (err) {
        if (err instanceof SpoolFullError) return { spooled: false, spans: r.spans, rejected: r.rejected };
        throw err;
      }
    }
    return { spooled: true, duplicate, spans: r.spans, rejected: r.rejected, message: r.message };
  };
  const settle = (r: IngestResult): AcceptOutcome => {
    if ('invalid' in r) throw collectorErrors.invalid(r.invalid);
    return store(r.ok);
  };

  if (opts.workers === 0) {
    const ingest = buildIngest(config, deps.processor);
    return {
      ready: async () => {},
      accept: async (body, encoding) => settle(ingest.run(body, encoding)),
      counters: () => ingest.counters(),
      close: async () => {},
    };
  }
  const pool = startIngestPool({ workers: opts.workers, processor: config, processorDeps: deps.processor });
  return {
    ready: () => pool.ready,
    async accept(body, encoding) {
      // Bounded memory when requests arrive faster than the workers decode them.
      if (pool.queuedBytes + body.length > opts.maxQueueBytes) throw collectorErrors.busy(opts.retryAfterSeconds);
      return settle(await pool.run(body, encoding));
    },
    counters: () => pool.counters(),
    close: () => pool.close(),
  };
}

/**
 * receivers → [decode → processor stages → RowBinary] → spool (→ exporter). The one place the
 * stages are listed. The bracketed part is `Ingest`, a function of one request body that runs on
 * worker threads (`pipeline.workers`, see ingest-pool.ts) or inline on the receiving thread.
 * Either way the rows are appended to the spool on the receiving thread before the receiver
 * answers: an acknowledged span is on disk.
 */
import { createHash } from 'node:crypto';
import type { SpanBatch } from './model.js';
import { buildProcessor, type Processor, type ProcessorConfig, type ProcessorCounters, type ProcessorDeps } from './processors/index.js';
import { encodeRows, RowWriter } from './exporters/rowbinary.js';
import { SpoolFullError, type Spool } from './exporters/spool.js';
import { decodeTraceJson, JsonShapeError } from './otlp/json.js';
import { decodeTraceRequest, KeyCache, WireError } from './otlp/protobuf.js';
import { collectorErrors } from './errors.js';
import { startIngestPool } from './ingest-pool.js';

export type OtlpEncoding = 'protobuf' | 'json';

/** A stage: a pure function from a batch to a batch. */
export type PipelineStage = (batch: SpanBatch) => SpanBatch;

export function buildStages(processor: Processor): PipelineStage[] {
  return [(batch) => processor.process(batch)];
}

/** One request after decode, the stages and encoding. */
export interface Ingested {
  /** RowBinary rows of the spans kept. */
  rows: Buffer;
  spans: number;
  /** Spans refused one by one (bad ids) and why: the partial-success answer. */
  rejected: number;
  message: string;
  /** Which request this is (see requestDigest): a retry of it has the same one. */
  digest: string;
}

/**
 * A request's identity: a digest of the trace and span ids it carries, in order. A sender's
 * retry carries the same spans; two different requests with the same ids would be copies of the
 * same spans anyway. Hashing the ids rather than the body: about 80 µs for 512 spans, well under
 * 1% of decoding them.
 */
export function requestDigest(spans: SpanBatch): string {
  let ids = '';
  for (const s of spans) ids += s.traceId + s.spanId;
  return createHash('sha256').update(ids, 'latin1').digest().subarray(0, 16).toString('base64');
}

/** `invalid`: the body does not decode (the 400 message). */
export type IngestResult = { ok: Ingested } | { invalid: string };

export interface Ingest {
  run(body: Buffer, encoding: OtlpEncoding): IngestResult;
  counters(): ProcessorCounters;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function invalidMessage(err: unknown): string | undefined {
  if (err instanceof WireError) return `the body is not a valid OTLP protobuf ExportTraceServiceRequest: ${err.message}`;
  if (err instanceof SyntaxError) return `the body is not valid JSON: ${err.message}`;
  if (err instanceof JsonShapeError) return `the body is not an OTLP/JSON ExportTraceServiceRequest: ${err.message}`;
  return undefined;
}

/**
 * Decode → stages → encode for one request. `ownRows`: the rows get a buffer of their own (they
 * leave the thread); otherwise they are a view of a reused buffer, valid until the next run.
 */
export function buildIngest(config: ProcessorConfig, deps: ProcessorDeps = {}, ownRows = false): Ingest {
  const processor = buildProcessor(config, deps);
  const stages = buildStages(processor);
  const keys = new KeyCache();
  const writer = new RowWriter();
  return {
    run(body, encoding) {
      let decoded;
      try {
        decoded = encoding === 'protobuf' ? decodeTraceRequest(body, keys) : decodeTraceJson(JSON.parse(utf8.decode(body)));
      } catch (err) {
        const invalid = invalidMessage(err);
        if (invalid === undefined) throw err;
        return { invalid };
      }
      let out = decoded.spans;
      const digest = requestDigest(out);
      if (out.length > 0) for (const stage of stages) out = stage(out);
      const view = encodeRows(out, writer);
      const rows = ownRows ? Buffer.from(new Uint8Array(view).buffer) : view;
      return { ok: { rows, spans: out.length, rejected: decoded.rejected.count, message: decoded.rejected.message(), digest } };
    },
    counters: () => processor.counters(),
  };
}

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

/**
 * `Ingest`: one request body decoded, run through the processor stages and encoded as RowBinary
 * rows, the part of the pipeline (pipeline.ts) that runs on worker threads (ingest-pool.ts,
 * ingest-worker.ts) or inline on the receiving thread. The one place the stages are listed.
 */
import { createHash } from 'node:crypto';
import { encodeRows, RowWriter } from './exporters/rowbinary.js';
import type { SpanBatch, SpanRecord } from './model.js';
import { decodeTraceJson, JsonShapeError } from './otlp/json.js';
import { KeyCache, WireError } from '../common/protobuf/reader.js';
import { decodeTraceRequest } from './otlp/protobuf.js';
import type { DecodeResult } from './otlp/spans.js';
import { buildProcessor, type Processor, type ProcessorConfig, type ProcessorCounters, type ProcessorDeps } from './processors/index.js';

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
      let decoded: DecodeResult<SpanRecord>;
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

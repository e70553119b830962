/**
 * What both receivers do with a request body once it is read: decode, count, hand the spans to
 * the pipeline, and say how many were rejected. Refusals are CollectorErrors.
 */
import { decodeTraceJson, JsonShapeError } from '../otlp/json.js';
import { decodeTraceRequest, WireError } from '../otlp/protobuf.js';
import { collectorErrors, CollectorError } from '../errors.js';
import { SpoolFullError } from '../exporters/spool.js';
import type { Pipeline } from '../pipeline.js';
import type { CollectorMetrics } from '../telemetry/metrics.js';
import type { FastifyBaseLogger } from 'fastify';

export type OtlpEncoding = 'protobuf' | 'json';

export interface ExportOutcome {
  rejected: number;
  message: string;
}

export interface ExportHandlerDeps {
  pipeline: Pipeline;
  metrics: CollectorMetrics;
  retryAfterSeconds: number;
  /** Set while shutting down: new data is refused with a retryable answer. */
  accepting: () => boolean;
  logger: FastifyBaseLogger;
}

export type ExportHandler = (body: Buffer, encoding: OtlpEncoding) => ExportOutcome;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function decode(body: Buffer, encoding: OtlpEncoding) {
  try {
    if (encoding === 'protobuf') return decodeTraceRequest(body);
    return decodeTraceJson(JSON.parse(utf8.decode(body)));
  } catch (err) {
    if (err instanceof WireError) throw collectorErrors.invalid(`the body is not a valid OTLP protobuf ExportTraceServiceRequest: ${err.message}`);
    if (err instanceof SyntaxError) throw collectorErrors.invalid(`the body is not valid JSON: ${err.message}`);
    if (err instanceof JsonShapeError) throw collectorErrors.invalid(`the body is not an OTLP/JSON ExportTraceServiceRequest: ${err.message}`);
    throw err;
  }
}

export function exportHandler(deps: ExportHandlerDeps): ExportHandler {
  const { metrics } = deps;
  return (body, encoding) => {
    if (!deps.accepting()) throw collectorErrors.unavailable('the collector is shutting down; retry against another instance or later', deps.retryAfterSeconds);
    const decoded = decode(body, encoding);
    const { spans, rejected } = decoded;
    metrics.spans.received += spans.length + rejected.count;
    metrics.spans.refused += rejected.count;
    try {
      if (spans.length > 0) deps.pipeline.accept(spans);
    } catch (err) {
      metrics.spans.refused += spans.length;
      if (err instanceof SpoolFullError) throw collectorErrors.spoolFull(deps.retryAfterSeconds);
      deps.logger.error({ err }, 'could not process or spool an accepted request');
      throw err instanceof CollectorError ? err : collectorErrors.unavailable('the collector could not store the spans; retry later', deps.retryAfterSeconds);
    }
    metrics.spans.accepted += spans.length;
    return { rejected: rejected.count, message: rejected.message() };
  };
}

/**
 * What both receivers do with a request body once it is read: hand it to the pipeline (decode,
 * stages, spool), count, and say how many spans were rejected. Refusals are CollectorErrors.
 */
import { collectorErrors, CollectorError } from '../errors.js';
import type { OtlpEncoding } from '../ingest.js';
import type { AcceptOutcome, Pipeline } from '../pipeline.js';
import type { CollectorMetrics } from '../telemetry/metrics.js';
import type { FastifyBaseLogger } from 'fastify';

export type { OtlpEncoding };

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

/** Resolves once the request's spans are on disk (or rejects with the answer to give). */
export type ExportHandler = (body: Buffer, encoding: OtlpEncoding) => Promise<ExportOutcome>;

export function exportHandler(deps: ExportHandlerDeps): ExportHandler {
  const { metrics } = deps;
  return async (body, encoding) => {
    if (!deps.accepting()) throw collectorErrors.unavailable('the collector is shutting down; retry against another instance or later', deps.retryAfterSeconds);
    let outcome: AcceptOutcome;
    try {
      outcome = await deps.pipeline.accept(body, encoding);
    } catch (err) {
      if (err instanceof CollectorError) throw err;
      deps.logger.error({ err }, 'could not process or spool a request');
      throw collectorErrors.unavailable('the collector could not store the spans; retry later', deps.retryAfterSeconds);
    }
    metrics.spans.received += outcome.spans + outcome.rejected;
    metrics.spans.refused += outcome.rejected;
    if (!outcome.spooled) {
      metrics.spans.refused += outcome.spans;
      throw collectorErrors.spoolFull(deps.retryAfterSeconds);
    }
    // Every span refused one by one (ids, nesting): nothing was kept, so the request as a whole is
    // a permanent 400 / INVALID_ARGUMENT; with some kept it is a 200 with partial success.
    if (outcome.spans === 0 && outcome.rejected > 0) throw collectorErrors.invalid(outcome.message);
    if (outcome.duplicate) metrics.spans.duplicate += outcome.spans;
    else metrics.spans.accepted += outcome.spans;
    return { rejected: outcome.rejected, message: outcome.message };
  };
}

/**
 * Results go back through the collector as OTLP, like any other telemetry: one OpenInference
 * EVALUATOR span per evaluation, in the scored span's trace (its child) with exactly one link to
 * it, carrying a `gen_ai.evaluation.result` event (name, score.value, score.label, explanation,
 * tracegate.evaluation.source). The store's views turn it into an `evaluations` row (0007) and
 * an `evaluator_runs` row (0060). Exported with the real OTLP/gRPC exporter, batched.
 */
import { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanStatusCode, TraceFlags, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { TG } from '../../common/semconv.js';

export const EVALUATOR_SERVICE = 'tracegate-evaluator';

export interface EvaluationRecord {
  evaluator: string;
  version: string;
  source: 'llm' | 'code';
  target: { traceId: string; spanId: string; kind: string };
  status: 'ok' | 'error' | 'skipped';
  score?: number;
  label?: string;
  explanation?: string;
  passed?: boolean;
  /** ok: undefined; error: the failure type (timeout, unparseable, refused_budget, …); skipped: why. */
  errorType?: string;
  message?: string;
  attempts: number;
  judge?: { model: string; traceId: string; promptTokens: number; completionTokens: number; costUsd: number };
  startMs: number;
  endMs: number;
}

export interface ResultSink {
  write(r: EvaluationRecord): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Span attributes of a record (the evaluator_runs view reads these keys). */
export function recordAttributes(r: EvaluationRecord): Attributes {
  const a: Attributes = {
    'openinference.span.kind': 'EVALUATOR',
    [TG.ORIGIN]: 'evaluator',
    [TG.PURPOSE]: 'evaluator',
    'tracegate.evaluator.name': r.evaluator,
    'tracegate.evaluator.version': r.version,
    'tracegate.evaluator.target_kind': r.target.kind,
    'tracegate.evaluator.attempts': r.attempts,
    [TG.EVALUATION_SOURCE]: r.source,
    'tracegate.evaluation.status': r.status,
  };
  if (r.score !== undefined) a['tracegate.evaluation.score'] = r.score;
  if (r.label !== undefined) a['tracegate.evaluation.label'] = r.label;
  if (r.passed !== undefined) a['tracegate.evaluation.passed'] = r.passed;
  if (r.errorType) a['error.type'] = r.errorType;
  if (r.status === 'skipped' && r.message) a['tracegate.evaluation.skipped_reason'] = r.message;
  if (r.judge) {
    a['tracegate.evaluator.judge.model'] = r.judge.model;
    a['tracegate.evaluator.judge.trace_id'] = r.judge.traceId;
    a['tracegate.evaluator.judge.prompt_tokens'] = r.judge.promptTokens;
    a['tracegate.evaluator.judge.completion_tokens'] = r.judge.completionTokens;
    a['tracegate.evaluator.judge.cost'] = r.judge.costUsd;
  }
  return a;
}

/** The gen_ai.evaluation.result event; none for a skipped evaluation (it has no result). */
export function resultEvent(r: EvaluationRecord): Attributes | undefined {
  if (r.status === 'skipped') return undefined;
  const e: Attributes = { 'gen_ai.evaluation.name': r.evaluator, [TG.EVALUATION_SOURCE]: r.source };
  if (r.status === 'ok') {
    if (r.score !== undefined) e['gen_ai.evaluation.score.value'] = r.score;
    if (r.label) e['gen_ai.evaluation.score.label'] = r.label;
    if (r.explanation) e['gen_ai.evaluation.explanation'] = r.explanation;
  } else {
    // An evaluation error: no score; the label says so, so it is never read as a pass or a fail.
    e['gen_ai.evaluation.score.label'] = 'error';
    e['gen_ai.evaluation.explanation'] = r.message ?? r.errorType ?? 'evaluation error';
    e['error.type'] = r.errorType ?? 'error';
  }
  return e;
}

function emitOn(tracer: Tracer, r: EvaluationRecord): void {
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: r.target.traceId, spanId: r.target.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const span = tracer.startSpan(
    `evaluate ${r.evaluator}`,
    {
      startTime: r.startMs,
      attributes: recordAttributes(r),
      links: [{ context: { traceId: r.target.traceId, spanId: r.target.spanId, traceFlags: TraceFlags.SAMPLED } }],
    },
    parent,
  );
  const event = resultEvent(r);
  if (event) span.addEvent('gen_ai.evaluation.result', event, r.endMs);
  if (r.status === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: r.message ?? r.errorType });
  span.end(r.endMs);
}

/** A sink over a span exporter (tests may pass an in-memory one; production uses otlpResultSink). */
export function exporterResultSink(exporter: SpanExporter): ResultSink {
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 8192, maxExportBatchSize: 256, scheduledDelayMillis: 500 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': EVALUATOR_SERVICE, 'service.namespace': 'tracegate' }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('tracegate-evaluator');
  return {
    write: (r) => emitOn(tracer, r),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** EVALUATOR spans to a collector's OTLP/gRPC endpoint, with its bearer token when it has one. */
export function otlpResultSink(url: string, bearerToken?: string): ResultSink {
  const metadata = new Metadata();
  if (bearerToken) metadata.set('authorization', `Bearer ${bearerToken}`);
  return exporterResultSink(new OTLPTraceExporter({ url, metadata }));
}

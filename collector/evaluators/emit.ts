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
import { GENAI, OI, TG } from '../../common/semconv.js';

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
    [OI.SPAN_KIND]: 'EVALUATOR',
    [TG.ORIGIN]: 'evaluator',
    [TG.PURPOSE]: 'evaluator',
    [TG.EVALUATOR_NAME]: r.evaluator,
    [TG.EVALUATOR_VERSION]: r.version,
    [TG.EVALUATOR_TARGET_KIND]: r.target.kind,
    [TG.EVALUATOR_ATTEMPTS]: r.attempts,
    [TG.EVALUATION_SOURCE]: r.source,
    [TG.EVALUATION_STATUS]: r.status,
  };
  if (r.score !== undefined) a[TG.EVALUATION_SCORE] = r.score;
  if (r.label !== undefined) a[TG.EVALUATION_LABEL] = r.label;
  if (r.passed !== undefined) a[TG.EVALUATION_PASSED] = r.passed;
  if (r.errorType) a[GENAI.ERROR_TYPE] = r.errorType;
  if (r.status === 'skipped' && r.message) a[TG.EVALUATION_SKIPPED_REASON] = r.message;
  if (r.judge) {
    a[TG.JUDGE_MODEL] = r.judge.model;
    a[TG.JUDGE_TRACE_ID] = r.judge.traceId;
    a[TG.JUDGE_PROMPT_TOKENS] = r.judge.promptTokens;
    a[TG.JUDGE_COMPLETION_TOKENS] = r.judge.completionTokens;
    a[TG.JUDGE_COST] = r.judge.costUsd;
  }
  return a;
}

/** The gen_ai.evaluation.result event; none for a skipped evaluation (it has no result). */
export function resultEvent(r: EvaluationRecord): Attributes | undefined {
  if (r.status === 'skipped') return undefined;
  const e: Attributes = { [GENAI.EVALUATION_NAME]: r.evaluator, [TG.EVALUATION_SOURCE]: r.source };
  if (r.status === 'ok') {
    if (r.score !== undefined) e[GENAI.EVALUATION_SCORE_VALUE] = r.score;
    if (r.label) e[GENAI.EVALUATION_SCORE_LABEL] = r.label;
    if (r.explanation) e[GENAI.EVALUATION_EXPLANATION] = r.explanation;
  } else {
    // An evaluation error: no score; the label says so, so it is never read as a pass or a fail.
    e[GENAI.EVALUATION_SCORE_LABEL] = 'error';
    e[GENAI.EVALUATION_EXPLANATION] = r.message ?? r.errorType ?? 'evaluation error';
    e[GENAI.ERROR_TYPE] = r.errorType ?? 'error';
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
  if (event) span.addEvent(GENAI.EVALUATION_RESULT_EVENT, event, r.endMs);
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

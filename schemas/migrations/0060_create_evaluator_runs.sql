-- evaluator_runs: one row per EVALUATOR span an online evaluator (collector/evaluators/) wrote:
-- status ok (scored), error (an evaluation error: the judge timed out, answered garbage or was
-- refused, after its retries) or skipped (the span lacks what the evaluator needs, e.g. no
-- reference; such a span carries no result). It is what the evaluators read
-- back to skip spans a version already scored (a re-run writes no second row for the same span
-- and evaluator version), and what attributes judge tokens and cost to the evaluator.
--
-- The score itself lands in `evaluations` through 0007 (the EVALUATOR span's
-- gen_ai.evaluation.result event, via 'evaluator_span', source llm or code); join on
-- evaluations.carrier_span_id = evaluator_runs.carrier_span_id for the evaluator's version.
--
-- Judge spend is the evaluator's: the judge call's tokens and cost are on the EVALUATOR span
-- (tracegate.evaluator.judge.*), never on the application's spans. The gateway's own span of a
-- judge call carries tracegate.purpose = 'evaluator' (from its ApiKey's metadata); application
-- usage rollups must leave such spans out (or group them apart).
CREATE TABLE IF NOT EXISTS ${db}.evaluator_runs (
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    evaluator LowCardinality(String),
    evaluator_version LowCardinality(String),
    source LowCardinality(String),
    target_kind LowCardinality(String),
    status LowCardinality(String),
    error_type LowCardinality(String),
    score Nullable(Float64),
    label LowCardinality(String),
    passed Nullable(UInt8),
    carrier_span_id String CODEC(ZSTD(1)),
    judge_model LowCardinality(String),
    judge_trace_id String CODEC(ZSTD(1)),
    attempts UInt16,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    cost_total Float64,
    duration_ms Float64,
    inserted_at DateTime64(3) DEFAULT now64(3),
    INDEX idx_span_id span_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (evaluator, evaluator_version, toStartOfHour(timestamp), span_id)
${rollup_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.evaluator_runs_mv TO ${db}.evaluator_runs AS
WITH SpanAttributes AS a
SELECT
    if(length(Links.TraceId) > 0, Links.TraceId[1], TraceId) AS trace_id,
    if(length(Links.SpanId) > 0, Links.SpanId[1], '') AS span_id,
    Timestamp AS timestamp,
    a['tracegate.evaluator.name'] AS evaluator,
    a['tracegate.evaluator.version'] AS evaluator_version,
    a['tracegate.evaluation.source'] AS source,
    a['tracegate.evaluator.target_kind'] AS target_kind,
    multiIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 'error', a['tracegate.evaluation.status'] = 'skipped', 'skipped', 'ok') AS status,
    a['error.type'] AS error_type,
    toFloat64OrNull(a['tracegate.evaluation.score']) AS score,
    a['tracegate.evaluation.label'] AS label,
    CAST(multiIf(a['tracegate.evaluation.passed'] = 'true', 1, a['tracegate.evaluation.passed'] = 'false', 0, NULL) AS Nullable(UInt8)) AS passed,
    SpanId AS carrier_span_id,
    a['tracegate.evaluator.judge.model'] AS judge_model,
    a['tracegate.evaluator.judge.trace_id'] AS judge_trace_id,
    toUInt16OrZero(a['tracegate.evaluator.attempts']) AS attempts,
    toUInt64OrZero(a['tracegate.evaluator.judge.prompt_tokens']) AS prompt_tokens,
    toUInt64OrZero(a['tracegate.evaluator.judge.completion_tokens']) AS completion_tokens,
    toFloat64OrZero(a['tracegate.evaluator.judge.cost']) AS cost_total,
    Duration / 1e6 AS duration_ms,
    now64(3) AS inserted_at
FROM ${db}.otel_traces
WHERE a['openinference.span.kind'] = 'EVALUATOR' AND a['tracegate.evaluator.name'] != '';

-- gateway_call_outcomes: the gateway's calls that did more than one attempt at their first
-- backend, or none: retries, a fallback, backends passed over by an open circuit breaker, a
-- policy refusal (README.md, Schema; bench/README.md, the dashboards' panels).
--
-- The gateway dashboard's panels of fallbacks, retries, circuit-breaker skips and refusals by
-- reason and scope read these from the gateway spans' attributes in otel_traces, which llm_spans
-- does not keep: over 30 days of 10 million spans (2026-12-07, this machine, idle) they took 12 to
-- 15 s each, nearly all of it reading the SpanAttributes map of every span in the range, though
-- such calls are a small share of all calls. Here, at insert time, each gateway call span (LLM or
-- EMBEDDING kind, tracegate.origin = gateway; not its upstream attempts' spans, which have no kind)
-- with any of them becomes one row of the few attributes the panels read, with what their
-- variables filter on and whether llm_spans counts the call, each as llm_spans_mv (0071) derives
-- it for a gateway span: route, model, team, key and counted (a model call not made for an
-- evaluator; the decider never changes a gateway span's). The calling service is the decider's
-- (llm_spans.app_service_name), so a panel filtered by service looks its calls up there. Keyed by
-- the span, so that a span an exporter sent twice is one row once merged or read with FINAL.
--
-- The spans stored before this migration are read into it once, here, from otel_traces (one read
-- of the attributes of every stored span: minutes on a large store; the view below is made first,
-- so a span inserted meanwhile is in it once read with FINAL either way).
CREATE TABLE IF NOT EXISTS ${db}.gateway_call_outcomes (
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    route LowCardinality(String),
    model LowCardinality(String),
    team LowCardinality(String),
    key_name LowCardinality(String),
    counted UInt8,
    retries UInt16,
    fallback_used Bool,
    circuit_skipped Array(LowCardinality(String)),
    policy_reason LowCardinality(String),
    policy_scope LowCardinality(String)
) ENGINE = ReplacingMergeTree
PARTITION BY toDate(timestamp)
ORDER BY (toStartOfHour(timestamp), trace_id, span_id)
${raw_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.gateway_call_outcomes_mv TO ${db}.gateway_call_outcomes AS
SELECT
    Timestamp AS timestamp,
    TraceId AS trace_id,
    SpanId AS span_id,
    a['tracegate.route'] AS route,
    if(response_model != '', response_model, request_model) AS model,
    a['tracegate.team'] AS team,
    if(a['tracegate.key'] != '', a['tracegate.key'], a['tracegate.key.name']) AS key_name,
    a['tracegate.purpose'] != 'evaluator' AS counted,
    toUInt16OrZero(a['tracegate.retries']) AS retries,
    a['tracegate.fallback.used'] = 'true' AS fallback_used,
    arrayFilter(b -> b != '', splitByChar(',', a['tracegate.circuit.skipped'])) AS circuit_skipped,
    a['tracegate.policy.reason'] AS policy_reason,
    a['tracegate.policy.scope'] AS policy_scope
FROM (
    WITH ((x, y) -> if(x != '', x, y)) AS or_else
    SELECT
        Timestamp, TraceId, SpanId, SpanAttributes AS a,
        or_else(a['llm.request.model_name'], or_else(a['gen_ai.request.model'], or_else(a['llm.model_name'], or_else(a['embedding.model_name'], a['reranker.model_name'])))) AS request_model,
        or_else(a['llm.response.model_name'], or_else(a['gen_ai.response.model'], a['llm.model_name'])) AS response_model
    FROM ${db}.otel_traces
    WHERE SpanAttributes['tracegate.origin'] = 'gateway' AND upper(SpanAttributes['openinference.span.kind']) IN ('LLM', 'EMBEDDING')
)
WHERE retries > 0 OR fallback_used OR notEmpty(circuit_skipped) OR policy_reason != '';

INSERT INTO ${db}.gateway_call_outcomes
SELECT
    Timestamp AS timestamp,
    TraceId AS trace_id,
    SpanId AS span_id,
    a['tracegate.route'] AS route,
    if(response_model != '', response_model, request_model) AS model,
    a['tracegate.team'] AS team,
    if(a['tracegate.key'] != '', a['tracegate.key'], a['tracegate.key.name']) AS key_name,
    a['tracegate.purpose'] != 'evaluator' AS counted,
    toUInt16OrZero(a['tracegate.retries']) AS retries,
    a['tracegate.fallback.used'] = 'true' AS fallback_used,
    arrayFilter(b -> b != '', splitByChar(',', a['tracegate.circuit.skipped'])) AS circuit_skipped,
    a['tracegate.policy.reason'] AS policy_reason,
    a['tracegate.policy.scope'] AS policy_scope
FROM (
    WITH ((x, y) -> if(x != '', x, y)) AS or_else
    SELECT
        Timestamp, TraceId, SpanId, SpanAttributes AS a,
        or_else(a['llm.request.model_name'], or_else(a['gen_ai.request.model'], or_else(a['llm.model_name'], or_else(a['embedding.model_name'], a['reranker.model_name'])))) AS request_model,
        or_else(a['llm.response.model_name'], or_else(a['gen_ai.response.model'], a['llm.model_name'])) AS response_model
    FROM ${db}.otel_traces
    WHERE SpanAttributes['tracegate.origin'] = 'gateway' AND upper(SpanAttributes['openinference.span.kind']) IN ('LLM', 'EMBEDDING')
)
WHERE retries > 0 OR fallback_used OR notEmpty(circuit_skipped) OR policy_reason != ''
SETTINGS distributed_foreground_insert = 1;

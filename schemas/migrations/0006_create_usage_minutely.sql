-- usage_minutely: per minute (span start) by service, span kind, model, provider, route, team
-- and key: counted model calls (LLM, EMBEDDING, RERANKER; each call once, 0004), errors,
-- tokens by kind, cost, and latency and time-to-first-token as t-digest states that merge:
--   SELECT toStartOfHour(minute) AS hour, model, sum(calls), sum(cost_total),
--          quantilesTDigestMerge(0.5, 0.95)(latency_ms_state), quantileTDigestMerge(0.95)(ttft_ms_state)
--   FROM tracegate.usage_minutely WHERE minute >= now() - INTERVAL 1 DAY GROUP BY hour, model
-- service_name is the calling application's (app_service_name): a gateway span whose
-- application span is known is billed to the application.
--
-- Why recomputed rather than summed at insert: whether an application's span counts is known
-- only once the gateway's span of the same call is seen (0004), and t-digest states cannot be
-- subtracted. So a refreshable view recomputes, every few seconds, each minute that holds a
-- span inserted (or rewritten by 0004) since the newest source_inserted_at it has written,
-- minus two minutes for inserts still in flight; it appends a full row per key of those
-- minutes, plus a zero row for each key that no longer has calls, with a new computed_at.
-- ReplacingMergeTree keeps the newest row per key; the `usage_minutely` view reads FINAL and
-- hides zero rows. A refresh reads the spans of the touched minutes only; late spans touch
-- their own minute.
CREATE TABLE IF NOT EXISTS ${db}.usage_minutely_data (
    minute DateTime,
    service_name LowCardinality(String),
    span_kind LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    route LowCardinality(String),
    team LowCardinality(String),
    key_name LowCardinality(String),
    calls UInt64,
    errors UInt64,
    streaming_calls UInt64,
    estimated_calls UInt64,
    gateway_calls UInt64,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    total_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost_prompt Float64,
    cost_completion Float64,
    cost_total Float64,
    duration_ms_sum Float64,
    latency_ms_state AggregateFunction(quantileTDigest, Float64),
    ttft_ms_state AggregateFunction(quantileTDigest, Float64),
    source_inserted_at DateTime64(3),
    computed_at DateTime64(3)
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, service_name, span_kind, model, provider, route, team, key_name)
${rollup_ttl(toDateTime(minute))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_minutely_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.usage_minutely_data AS
WITH
    (SELECT max(source_inserted_at) FROM ${db}.usage_minutely_data) - INTERVAL 2 MINUTE AS since,
    touched AS (
        SELECT DISTINCT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since
    ),
    fresh AS (
        SELECT
            toStartOfMinute(timestamp) AS minute,
            app_service_name AS service_name,
            span_kind, model, provider, route, team, key_name,
            count() AS calls,
            countIf(status_code = 'Error') AS errors,
            countIf(streaming) AS streaming_calls,
            countIf(tokens_estimated) AS estimated_calls,
            countIf(origin = 'gateway') AS gateway_calls,
            sum(prompt_tokens) AS prompt_tokens,
            sum(completion_tokens) AS completion_tokens,
            sum(total_tokens) AS total_tokens,
            sum(cache_read_tokens) AS cache_read_tokens,
            sum(cache_write_tokens) AS cache_write_tokens,
            sum(reasoning_tokens) AS reasoning_tokens,
            sum(cost_prompt) AS cost_prompt,
            sum(cost_completion) AS cost_completion,
            sum(cost_total) AS cost_total,
            sum(duration_ms) AS duration_ms_sum,
            quantileTDigestState(duration_ms) AS latency_ms_state,
            quantileTDigestStateIf(ifNull(ttft_ms, 0), ttft_ms IS NOT NULL) AS ttft_ms_state,
            max(inserted_at) AS source_inserted_at
        FROM ${db}.llm_spans_data FINAL
        WHERE counted = 1
          AND timestamp >= (SELECT min(minute) FROM touched)
          AND timestamp < (SELECT max(minute) FROM touched) + INTERVAL 1 MINUTE
          AND toStartOfMinute(timestamp) IN (SELECT minute FROM touched)
        GROUP BY minute, service_name, span_kind, model, provider, route, team, key_name
    ),
    gone AS (
        SELECT minute, service_name, span_kind, model, provider, route, team, key_name, source_inserted_at
        FROM ${db}.usage_minutely_data FINAL
        WHERE minute IN (SELECT minute FROM touched) AND calls > 0
          AND (minute, service_name, span_kind, model, provider, route, team, key_name) NOT IN
              (SELECT minute, service_name, span_kind, model, provider, route, team, key_name FROM fresh)
    )
SELECT *, now64(3) AS computed_at FROM fresh
UNION ALL
SELECT
    minute, service_name, span_kind, model, provider, route, team, key_name,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0,
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    source_inserted_at,
    now64(3)
FROM gone;

CREATE VIEW IF NOT EXISTS ${db}.usage_minutely AS
SELECT * FROM ${db}.usage_minutely_data FINAL WHERE calls > 0;

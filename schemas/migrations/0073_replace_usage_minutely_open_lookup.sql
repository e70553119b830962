-- The minutes a usage read or refresh recomputes (0056) are looked up in a set, not an array.
--
-- `has(open, minute)` walks the array of open minutes for every row: linear in the minutes open,
-- which a steady state keeps small but a backfill, late spans or the first refresh after 0056 on
-- a store with history make a month of (bench/views.ts on 1M calls: 40,000 rows against 20,000
-- open minutes took 6.0 s; the same filter as `IN (SELECT arrayJoin(open))` 0.19 s). `IN` builds
-- a hash set of the scalar once per query. The three statements are 0056's with only that changed
-- (a view's query cannot be changed in place; the refresh is dropped and created again).
CREATE OR REPLACE VIEW ${db}.usage_minutely_live AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(minute) FROM ${db}.usage_minutely_open) AS open
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
    greatest(ifNull(seen, toDateTime64(0, 3)), max(inserted_at)) AS source_inserted_at,
    now64(3) AS computed_at
FROM ${db}.llm_spans
WHERE counted = 1
  AND timestamp >= arrayMin(open)
  AND timestamp < arrayMax(open) + INTERVAL 1 MINUTE
  AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(open))
GROUP BY minute, service_name, span_kind, model, provider, route, team, key_name;

DROP TABLE IF EXISTS ${db}.usage_minutely_refresh;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_minutely_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.usage_minutely_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(minute) FROM ${db}.usage_minutely_open) AS open
SELECT * FROM ${db}.usage_minutely_live
UNION ALL
SELECT
    minute, service_name, span_kind, model, provider, route, team, key_name,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0,
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at),
    now64(3)
FROM ${db}.usage_minutely_data FINAL
WHERE minute IN (SELECT arrayJoin(open)) AND calls > 0
  AND (minute, service_name, span_kind, model, provider, route, team, key_name) NOT IN
      (SELECT minute, service_name, span_kind, model, provider, route, team, key_name FROM ${db}.usage_minutely_live);

CREATE OR REPLACE VIEW ${db}.usage_minutely AS
WITH (SELECT groupArray(minute) FROM ${db}.usage_minutely_open) AS open
SELECT * FROM ${db}.usage_minutely_data FINAL
WHERE calls > 0 AND minute NOT IN (SELECT arrayJoin(open))
UNION ALL
SELECT * FROM ${db}.usage_minutely_live;

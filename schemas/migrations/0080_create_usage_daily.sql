-- usage_daily: usage_hourly (0077) by day, for windows of days (README.md, Schema: "Count once,
-- at every moment"). A month is 30 days against 720 hours of every key: the latency states a
-- 30-day usage query merges fall from about 14,000 to about 600 (bench/README.md: merging the
-- hourly t-digest states was 80-90 ms of the query's 206 ms over 11 million spans).
--
-- Exact at every moment by the means usage_hourly uses one level down: a refresh stores each day
-- computed from the exact `usage_hourly` view and records how far it has read (refresh_progress
-- 'usage_daily'); readers take the stored rows of the days nothing has touched since and compute
-- the touched ones from the levels below at read.
--
-- Touched days are defined as usage_hourly's touched hours are, with this rollup's own progress:
-- the days of llm_spans_data inserts since its last run (minus 30 s for inserts in flight) and of
-- pairs not yet decided. Not "the days of the hours usage_hourly rewrote since", for 0077's
-- reason, and not through the hourly progress: the two refreshes run apart, so an hour can be
-- open for usage_hourly while its day is stored here (the daily refresh ran after the insert and
-- read the hour live), and the reverse. Readers that combine the levels (common/usage.ts,
-- dashboards/boards/common.ts) read an hour from usage_hourly only when its day is not read from
-- here, and its minutes only when, in addition, the hour is open for usage_hourly.
--
-- Days are the engine's (its time zone), as hours are.
CREATE TABLE IF NOT EXISTS ${db}.usage_daily_data (
    day DateTime,
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
PARTITION BY toYYYYMM(day)
ORDER BY (day, service_name, span_kind, model, provider, route, team, key_name)
${rollup_ttl(toDateTime(day))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_daily_progress_mv TO ${db}.refresh_progress AS
SELECT 'usage_daily' AS name, max(source_inserted_at) AS through
FROM ${db}.usage_daily_data
HAVING count() > 0;

-- Days touched since the daily refresh's last run: by an insert into llm_spans_data, or by a
-- pair not yet decided (its application span's day).
CREATE VIEW IF NOT EXISTS ${db}.usage_daily_open AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT day FROM (
    SELECT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfDay(toDateTime(arrayJoin(pending).5))
);

-- Those days computed from usage_hourly (t-digest states merged, not recomputed from spans).
CREATE VIEW IF NOT EXISTS ${db}.usage_daily_live AS
WITH (SELECT groupArray(day) FROM ${db}.usage_daily_open) AS open
SELECT
    toStartOfDay(hour) AS day,
    service_name, span_kind, model, provider, route, team, key_name,
    sum(calls) AS calls,
    sum(errors) AS errors,
    sum(streaming_calls) AS streaming_calls,
    sum(estimated_calls) AS estimated_calls,
    sum(gateway_calls) AS gateway_calls,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_prompt) AS cost_prompt,
    sum(cost_completion) AS cost_completion,
    sum(cost_total) AS cost_total,
    sum(duration_ms_sum) AS duration_ms_sum,
    quantileTDigestMergeState(latency_ms_state) AS latency_ms_state,
    quantileTDigestMergeState(ttft_ms_state) AS ttft_ms_state,
    max(source_inserted_at) AS source_inserted_at,
    now64(3) AS computed_at
FROM ${db}.usage_hourly
WHERE hour >= arrayMin(open)
  AND hour < arrayMax(open) + INTERVAL 1 DAY
  AND toStartOfDay(hour) IN (SELECT arrayJoin(open))
GROUP BY day, service_name, span_kind, model, provider, route, team, key_name;

-- Every minute: a day's rows merge up to 24 hours of states, and the only day open under steady
-- traffic is today.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_daily_refresh
REFRESH EVERY 60 SECOND APPEND TO ${db}.usage_daily_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(day) FROM ${db}.usage_daily_open) AS open
SELECT * REPLACE (greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at)
FROM ${db}.usage_daily_live
UNION ALL
SELECT
    day, service_name, span_kind, model, provider, route, team, key_name,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0,
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    greatest(ifNull(seen, toDateTime64(0, 3)), stored_inserted_at),
    now64(3)
FROM (
    -- a key stored for an open day that no longer has calls in it: a zero row, which readers hide
    SELECT day, service_name, span_kind, model, provider, route, team, key_name, source_inserted_at AS stored_inserted_at
    FROM ${db}.usage_daily_data FINAL
    WHERE day IN (SELECT arrayJoin(open)) AND calls > 0
      AND (day, service_name, span_kind, model, provider, route, team, key_name) NOT IN
          (SELECT day, service_name, span_kind, model, provider, route, team, key_name FROM ${db}.usage_daily_live)
);

-- The stored days nothing has touched since. (`open` is one scalar, the same text here, in
-- usage_daily_live and in the readers of common/usage.ts and dashboards/: computed once a query.)
CREATE VIEW IF NOT EXISTS ${db}.usage_daily_stored AS
WITH (SELECT groupArray(day) FROM ${db}.usage_daily_open) AS open
SELECT * FROM ${db}.usage_daily_data FINAL
WHERE calls > 0 AND day NOT IN (SELECT arrayJoin(open));

-- What SQL users read. The usage query and the dashboards' range panels read the window's whole
-- days from usage_daily_stored, and the rest from usage_hourly_stored and usage_minutely.
CREATE VIEW IF NOT EXISTS ${db}.usage_daily AS
SELECT * FROM ${db}.usage_daily_stored
UNION ALL
SELECT * FROM ${db}.usage_daily_live;

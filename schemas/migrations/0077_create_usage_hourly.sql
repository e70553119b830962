-- usage_hourly: usage_minutely (0006, 0056, 0073) by hour, for long windows (README.md, Schema:
-- "Count once, at every moment"). A month is 720 hours against 43,200 minutes of every key.
--
-- Exact at every moment as usage_minutely is, by the same means one level up: a refresh stores
-- each hour computed from the exact `usage_minutely` view and records how far it has read
-- (refresh_progress 'usage_hourly': the newest llm_spans_data insert it saw); the view reads the
-- stored rows of the hours nothing has touched since and computes the touched ones from
-- `usage_minutely` at read.
--
-- Touched hours are those of llm_spans_data inserts since the hourly refresh's own last run (minus
-- 30 s for inserts in flight) and of pairs not yet decided, the definition usage_minutely_open
-- uses with this rollup's progress. Not "the minutes usage_minutely rewrote since": a minute whose
-- calls all went away before the minutely refresh ran again (an application's span uncounted by
-- its gateway span, which started in the next minute) is closed without a row rewritten, and an
-- hour stored while that minute was open would keep the call.
--
-- The refresh writes those hours' rows, plus a zero row for a key that no longer has calls in its
-- hour, which the view hides. Its work follows the last minute or so of inserts: the hours they
-- fall in, read from usage_minutely (stored minutes, and the open ones from llm_spans).
CREATE TABLE IF NOT EXISTS ${db}.usage_hourly_data (
    hour DateTime,
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
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, service_name, span_kind, model, provider, route, team, key_name)
${rollup_ttl(toDateTime(hour))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_hourly_progress_mv TO ${db}.refresh_progress AS
SELECT 'usage_hourly' AS name, max(source_inserted_at) AS through
FROM ${db}.usage_hourly_data
HAVING count() > 0;

-- Hours touched since the hourly refresh's last run: by an insert into llm_spans_data, or by a
-- pair not yet decided (its application span's hour).
CREATE VIEW IF NOT EXISTS ${db}.usage_hourly_open AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT hour FROM (
    SELECT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfHour(toDateTime(arrayJoin(pending).5))
);

-- Those hours computed from usage_minutely (t-digest states merged, not recomputed from spans).
-- (source_inserted_at: the newest of the minutes read; the refresh writes the newest insert it saw)
CREATE VIEW IF NOT EXISTS ${db}.usage_hourly_live AS
WITH (SELECT groupArray(hour) FROM ${db}.usage_hourly_open) AS open
SELECT
    toStartOfHour(minute) AS hour,
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
FROM ${db}.usage_minutely
WHERE minute >= arrayMin(open)
  AND minute < arrayMax(open) + INTERVAL 1 HOUR
  AND toStartOfHour(minute) IN (SELECT arrayJoin(open))
GROUP BY hour, service_name, span_kind, model, provider, route, team, key_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_hourly_refresh
REFRESH EVERY 30 SECOND APPEND TO ${db}.usage_hourly_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(hour) FROM ${db}.usage_hourly_open) AS open
SELECT * REPLACE (greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at)
FROM ${db}.usage_hourly_live
UNION ALL
SELECT
    hour, service_name, span_kind, model, provider, route, team, key_name,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0,
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    greatest(ifNull(seen, toDateTime64(0, 3)), stored_inserted_at),
    now64(3)
FROM (
    -- (a subquery: the outer SELECT's positions carry no names a WHERE could read instead)
    SELECT hour, service_name, span_kind, model, provider, route, team, key_name, source_inserted_at AS stored_inserted_at
    FROM ${db}.usage_hourly_data FINAL
    WHERE hour IN (SELECT arrayJoin(open)) AND calls > 0
      AND (hour, service_name, span_kind, model, provider, route, team, key_name) NOT IN
          (SELECT hour, service_name, span_kind, model, provider, route, team, key_name FROM ${db}.usage_hourly_live)
);

-- The stored hours nothing has touched since. (`open` is one scalar, the same text here, in
-- usage_hourly_live and in the readers of common/usage.ts and dashboards/: the engine computes it
-- once per query.)
CREATE VIEW IF NOT EXISTS ${db}.usage_hourly_stored AS
WITH (SELECT groupArray(hour) FROM ${db}.usage_hourly_open) AS open
SELECT * FROM ${db}.usage_hourly_data FINAL
WHERE calls > 0 AND hour NOT IN (SELECT arrayJoin(open));

-- What SQL users read. The usage query (common/usage.ts) and the dashboards' range panels
-- (USAGE_RANGE, dashboards/boards/common.ts) read its two parts themselves: usage_hourly_stored
-- for a window's whole hours, and usage_minutely for the open ones and the partial hours at the
-- edges, in one read of usage_minutely rather than two.
CREATE VIEW IF NOT EXISTS ${db}.usage_hourly AS
SELECT * FROM ${db}.usage_hourly_stored
UNION ALL
SELECT * FROM ${db}.usage_hourly_live;

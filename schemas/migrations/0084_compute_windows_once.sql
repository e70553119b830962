-- The rollups' windows and open sets computed once a query (README.md, Schema: "Count once, at
-- every moment"; bench/README.md, views).
--
-- A read of the rollups is mostly the engine preparing it, not reading rows: on 10 million spans
-- (2026-12-07, this machine, idle) the 30-day usage query's plan alone took 105-135 ms of its
-- 130-190, and each scalar subquery it computes is a query of its own to prepare. It computed 19:
-- each open view wrote its window's start as WITH aliases (own, late, since), which the engine
-- writes out wherever they are used (own four times in since, each with its two scalar
-- subqueries), and usage_minutely_live computed two scalars (since, seen) that only its refresh
-- uses. Here:
-- - rollup_windows: the four windows of 0082 in one row, from one-row subqueries joined, not
--   scalars; the values are 0082's. A window's own start is 30 s before the later of what its
--   refresh's last writing run saw (refresh_progress) and when its last completed run started
--   (refresh_starts); its start is the oldest of that and the oldest insert time of every late
--   write of the decider's (count_once_late_writes) written since that own start. Every open view
--   reads them as one scalar of the same text, computed once a query;
-- - usage_open_sets: the open minutes, hours and days in one row, from one read of the spans
--   stored since the oldest of the three windows: what the usage readers (common/usage.ts,
--   dashboards/) and usage_minutely read, as one scalar of the same text, so that the minutes a
--   reader takes stored and those usage_minutely_live computes are one set;
-- - usage_minutely_live no longer computes since and seen: its refresh does, as usage_hourly's and
--   usage_daily's do (0077, 0080), so the refresh is made again with them.
-- The per-level open views stay for the hourly and daily refreshes and for SQL users, each still
-- reading only its own window. agent_runs_live keeps its own start (0082), never later than the
-- one here: the hours it reads from are a superset.
CREATE VIEW IF NOT EXISTS ${db}.rollup_windows AS
SELECT since[1] AS minutely_since, since[2] AS hourly_since, since[3] AS daily_since, since[4] AS agent_runs_since
FROM (
    SELECT arrayMap(own -> arrayMin(arrayConcat([own], arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)))), owns) AS since
    FROM (
        SELECT arrayMap(name -> greatest(arrayFirst(p -> p.1 = name, progress).2, arrayFirst(r -> r.1 = concat(name, '_refresh'), runs).2) - INTERVAL 30 SECOND,
                        ['usage_minutely', 'usage_hourly', 'usage_daily', 'agent_runs']) AS owns,
               late_writes
        -- (a name without progress yet reads the epoch, as max() over no rows did)
        FROM (SELECT groupArray((name, through)) AS progress FROM (SELECT name, max(through) AS through FROM ${db}.refresh_progress GROUP BY name)) AS p
        CROSS JOIN (SELECT groupArray((view, started)) AS runs FROM ${db}.refresh_starts) AS r
        CROSS JOIN (SELECT groupArray((written_at, oldest)) AS late_writes FROM ${db}.count_once_late_writes) AS l
    )
);

CREATE OR REPLACE VIEW ${db}.usage_minutely_open AS
WITH (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows) AS windows
SELECT DISTINCT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= windows.1;

CREATE OR REPLACE VIEW ${db}.usage_hourly_open AS
WITH (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows) AS windows
SELECT DISTINCT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= windows.2;

CREATE OR REPLACE VIEW ${db}.usage_daily_open AS
WITH (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows) AS windows
SELECT DISTINCT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= windows.3;

CREATE OR REPLACE VIEW ${db}.agent_runs_open AS
WITH (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows) AS windows
SELECT DISTINCT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= windows.4;

CREATE VIEW IF NOT EXISTS ${db}.usage_open_sets AS
WITH (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows) AS windows
SELECT
    groupUniqArrayIf(toStartOfMinute(timestamp), inserted_at >= windows.1) AS minutes,
    groupUniqArrayIf(toStartOfHour(toDateTime(timestamp)), inserted_at >= windows.2) AS hours,
    groupUniqArrayIf(toStartOfDay(toDateTime(timestamp)), inserted_at >= windows.3) AS days
FROM ${db}.llm_spans_data
WHERE inserted_at >= least(windows.1, windows.2, windows.3);

CREATE OR REPLACE VIEW ${db}.usage_minutely_live AS
WITH (SELECT (minutes, hours, days) FROM ${db}.usage_open_sets).1 AS open
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
    -- (the newest of the minute's spans; the refresh writes the newest insert it saw)
    max(inserted_at) AS source_inserted_at,
    now64(3) AS computed_at
FROM ${db}.llm_spans
WHERE counted = 1
  AND timestamp >= arrayMin(open)
  AND timestamp < arrayMax(open) + INTERVAL 1 MINUTE
  AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(open))
GROUP BY minute, service_name, span_kind, model, provider, route, team, key_name;

CREATE OR REPLACE VIEW ${db}.usage_minutely AS
WITH (SELECT (minutes, hours, days) FROM ${db}.usage_open_sets).1 AS open
SELECT * FROM ${db}.usage_minutely_data FINAL
WHERE calls > 0 AND minute NOT IN (SELECT arrayJoin(open))
UNION ALL
SELECT * FROM ${db}.usage_minutely_live;

DROP TABLE IF EXISTS ${db}.usage_minutely_refresh;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_minutely_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.usage_minutely_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT (minutes, hours, days) FROM ${db}.usage_open_sets).1 AS open
SELECT * REPLACE (greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at)
FROM ${db}.usage_minutely_live
UNION ALL
SELECT
    minute, service_name, span_kind, model, provider, route, team, key_name,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0,
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    arrayReduce('quantileTDigestState', emptyArrayFloat64()),
    greatest(ifNull(seen, toDateTime64(0, 3)), stored_inserted_at),
    now64(3)
FROM (
    -- (a subquery: the outer SELECT's positions carry no names a WHERE could read instead)
    SELECT minute, service_name, span_kind, model, provider, route, team, key_name, source_inserted_at AS stored_inserted_at
    FROM ${db}.usage_minutely_data FINAL
    WHERE minute IN (SELECT arrayJoin(open)) AND calls > 0
      AND (minute, service_name, span_kind, model, provider, route, team, key_name) NOT IN
          (SELECT minute, service_name, span_kind, model, provider, route, team, key_name FROM ${db}.usage_minutely_live)
);

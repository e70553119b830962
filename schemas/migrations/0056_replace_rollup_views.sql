-- usage_minutely and agent_runs agree with llm_spans at every moment (README.md, Schema:
-- "Count once, at every moment").
--
-- A rollup row is what a refresh computed; what changed since (spans inserted, decisions
-- written, pairs not yet decided) is computed at read. Each rollup records how far it has read
-- (refresh_progress: the newest llm_spans_data insert its last refresh saw); its view reads the
-- stored rows of the minutes (runs) nothing has touched since, and computes the touched ones
-- from `llm_spans` (0055) as the refresh would, so readers of llm_spans, usage_minutely and
-- agent_runs see the same decision. The refresh writes exactly those computed rows, plus a zero
-- row for a key or run that no longer has calls, which the views hide. The work of a read and of
-- a refresh follows the last seconds of inserts, not the size of the tables.
--
-- Runs: an agent run is a trace, plus the gateway's spans of its calls that were paired across
-- traces (run_id, 0055): a gateway call made without traceparent joins the application's run
-- and is not a run of its own. span_count counts the OpenInference spans of the run as
-- llm_spans holds them (the gateway's span of a call included, its per-attempt spans not), as
-- `tracegate trace` counts them.
--
-- The views and refreshes are dropped and created again; spans inserted meanwhile are not lost
-- (the rollups read llm_spans_data, which keeps them).
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.usage_minutely_progress_mv TO ${db}.refresh_progress AS
SELECT 'usage_minutely' AS name, max(source_inserted_at) AS through
FROM ${db}.usage_minutely_data
HAVING count() > 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.agent_runs_progress_mv TO ${db}.refresh_progress AS
SELECT 'agent_runs' AS name, max(source_inserted_at) AS through
FROM ${db}.agent_runs_data
HAVING count() > 0;

-- Minutes touched since the usage rollup's last refresh: by an insert into llm_spans_data, or by
-- a pair not yet decided (its application span's minute).
CREATE VIEW IF NOT EXISTS ${db}.usage_minutely_open AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT minute FROM (
    SELECT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfMinute(arrayJoin(pending).5)
);

-- Those minutes computed from llm_spans.
CREATE VIEW IF NOT EXISTS ${db}.usage_minutely_live AS
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
  AND has(open, toStartOfMinute(timestamp))
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
WHERE has(open, minute) AND calls > 0
  AND (minute, service_name, span_kind, model, provider, route, team, key_name) NOT IN
      (SELECT minute, service_name, span_kind, model, provider, route, team, key_name FROM ${db}.usage_minutely_live);

-- (`open` is one scalar, the same text in both branches and in usage_minutely_live: the engine
-- computes it once per query)
CREATE OR REPLACE VIEW ${db}.usage_minutely AS
WITH (SELECT groupArray(minute) FROM ${db}.usage_minutely_open) AS open
SELECT * FROM ${db}.usage_minutely_data FINAL
WHERE calls > 0 AND NOT has(open, minute)
UNION ALL
SELECT * FROM ${db}.usage_minutely_live;

-- Runs touched since the agent_runs rollup's last refresh: the trace and run of an insert into
-- llm_spans_data, and both traces of a pair not yet decided.
CREATE VIEW IF NOT EXISTS ${db}.agent_runs_open AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT run_id FROM (
    SELECT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT arrayJoin(arrayFlatten(arrayMap(p -> [p.1, p.3], pending)))
);

CREATE VIEW IF NOT EXISTS ${db}.agent_runs_live AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open
SELECT
    run AS trace_id,
    root.1 AS root_span_id,
    root.2 AS root_span_name,
    root.3 AS root_span_kind,
    root.4 AS root_status_code,
    root.5 AS service_name,
    agent AS agent_name, session AS session_id, user AS user_id, start_time, end_time, duration_ms, span_count, llm_calls, embedding_calls, tool_calls,
    retriever_calls, agent_spans, gateway_calls, prompt_tokens, completion_tokens, total_tokens, cache_read_tokens,
    cache_write_tokens, reasoning_tokens, cost_prompt, cost_completion, cost_total, models, error_count,
    if(error_count > 0 OR root.4 = 'Error', 'Error', 'Ok') AS status,
    source_inserted_at,
    now64(3) AS computed_at
FROM (
    -- (no output name here is a column's name: a WHERE would read the alias)
    SELECT
        run_id AS run,
        -- the span without a parent in the run (a gateway span joined from another trace is not)
        argMin((span_id, span_name, span_kind, status_code, service_name), (parent_span_id != '' OR run_id != trace_id, timestamp)) AS root,
        if(argMinIf(agent_name, timestamp, span_kind = 'AGENT' AND agent_name != '') != '',
           argMinIf(agent_name, timestamp, span_kind = 'AGENT' AND agent_name != ''),
           argMinIf(agent_name, timestamp, agent_name != '')) AS agent,
        argMinIf(session_id, (parent_span_id != '', timestamp), session_id != '') AS session,
        argMinIf(user_id, (parent_span_id != '', timestamp), user_id != '') AS user,
        min(timestamp) AS start_time,
        max(end_time) AS end_time,
        (toUnixTimestamp64Nano(end_time) - toUnixTimestamp64Nano(start_time)) / 1e6 AS duration_ms,
        toUInt32(count()) AS span_count,
        toUInt32(countIf(counted AND span_kind = 'LLM')) AS llm_calls,
        toUInt32(countIf(counted AND span_kind = 'EMBEDDING')) AS embedding_calls,
        toUInt32(countIf(span_kind = 'TOOL')) AS tool_calls,
        toUInt32(countIf(span_kind = 'RETRIEVER')) AS retriever_calls,
        toUInt32(countIf(span_kind = 'AGENT')) AS agent_spans,
        toUInt32(countIf(counted AND origin = 'gateway')) AS gateway_calls,
        sumIf(prompt_tokens, counted) AS prompt_tokens,
        sumIf(completion_tokens, counted) AS completion_tokens,
        sumIf(total_tokens, counted) AS total_tokens,
        sumIf(cache_read_tokens, counted) AS cache_read_tokens,
        sumIf(cache_write_tokens, counted) AS cache_write_tokens,
        sumIf(reasoning_tokens, counted) AS reasoning_tokens,
        sumIf(cost_prompt, counted) AS cost_prompt,
        sumIf(cost_completion, counted) AS cost_completion,
        sumIf(cost_total, counted) AS cost_total,
        arraySort(groupUniqArrayIf(model, counted AND model != '')) AS models,
        toUInt32(countIf(status_code = 'Error' AND superseded_by = '')) AS error_count,
        greatest(ifNull(seen, toDateTime64(0, 3)), max(inserted_at)) AS source_inserted_at
    FROM ${db}.llm_spans
    WHERE trace_id IN (SELECT arrayJoin(open)) OR run_id IN (SELECT arrayJoin(open))
    GROUP BY run_id
    HAVING run IN (SELECT arrayJoin(open))
);

DROP TABLE IF EXISTS ${db}.agent_runs_refresh;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.agent_runs_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.agent_runs_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open
SELECT * FROM ${db}.agent_runs_live
UNION ALL
SELECT * REPLACE (
    toUInt32(0) AS span_count, toUInt32(0) AS llm_calls, toUInt32(0) AS embedding_calls, toUInt32(0) AS tool_calls,
    toUInt32(0) AS retriever_calls, toUInt32(0) AS agent_spans, toUInt32(0) AS gateway_calls,
    toUInt64(0) AS prompt_tokens, toUInt64(0) AS completion_tokens, toUInt64(0) AS total_tokens,
    toUInt64(0) AS cache_read_tokens, toUInt64(0) AS cache_write_tokens, toUInt64(0) AS reasoning_tokens,
    0.0 AS cost_prompt, 0.0 AS cost_completion, 0.0 AS cost_total, toUInt32(0) AS error_count,
    greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at,
    now64(3) AS computed_at)
FROM ${db}.agent_runs_data FINAL
WHERE trace_id IN (SELECT arrayJoin(open)) AND span_count > 0
  AND trace_id NOT IN (SELECT trace_id FROM ${db}.agent_runs_live);

CREATE OR REPLACE VIEW ${db}.agent_runs AS
WITH (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open
SELECT * FROM ${db}.agent_runs_data FINAL
WHERE span_count > 0 AND trace_id NOT IN (SELECT arrayJoin(open))
UNION ALL
SELECT * FROM ${db}.agent_runs_live;

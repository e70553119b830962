-- Readers read decided calls: a model call's row (span kind LLM, EMBEDDING or RERANKER) is read
-- once the count-once decider has written its decision, and no reader applies undecided pairs
-- itself any more (README.md, Schema: "Count once, at every moment"; bench/README.md, views).
--
-- Until now every reader of llm_spans, usage_*, agent_runs, /v1/usage, tracegate usage and the
-- dashboards applied the pairs not yet decided (count_once_pending) at read. That view is some
-- twenty query blocks, and the engine plans every one of them at every read whatever the data:
-- measured on a store with no row in any table (2026-12-07, this machine), counting llm_spans took
-- 85 ms p50 with it and 5 ms without, usage_minutely 99 against 26-30, the 30-day usage query 175
-- against 100. A call is now read through the decider's row instead, as the OpenTelemetry
-- Collector's tail-sampling processor writes a trace only once its decision_wait is over: a model
-- call's span is not read between its insert and the decider's next run (every 2 s), and from then
-- on it is read with its decision (counted or superseded, billed service, run, links). So no
-- reader ever sees both spans of a call counted, nor an application's figure where the gateway's
-- of the same call is stored and decided.
--
-- The decider (llm_spans_count_once, 0079) already writes a version (1 or more) of every model
-- call's row it looks at, whether the decision changes it or not (WHERE prior_version = 0 OR prior
-- != next), and it looks at every key stored since its window's start (count_once_fresh, 0081):
-- a row still at version 0 is one it has not decided yet. Spans of other kinds (agents, tools,
-- chains, retrievers) are never paired and are read at once, as before.
--
-- The rollups' windows (what their refreshes and their readers compute from llm_spans) no longer
-- add the minutes, hours, days and runs of undecided pairs: a decision is an insert into
-- llm_spans_data, so the decider's rows open their minutes, hours, days and runs as any insert does.
-- Each window also starts no later than the decider's last completed run (when it has one): its
-- rows carry the run's start as inserted_at (never before the recorded start, 0081) and commit
-- only when the run ends, which after a backlog (the decider stopped or failing for a minute at
-- 1,000 calls/s) can be more than the 30 s the windows allow inserts in flight; a rollup that ran
-- meanwhile did not read them, and every call they decide would be missing from it for good. So
-- they stay open until the decider's next run has completed (2 s on; it writes nothing when
-- nothing changed).

CREATE OR REPLACE VIEW ${db}.llm_spans AS
SELECT * EXCEPT (eval_items, version)
FROM ${db}.llm_spans_data FINAL
WHERE version > 0 OR span_kind NOT IN ('LLM', 'EMBEDDING', 'RERANKER');

CREATE OR REPLACE VIEW ${db}.usage_minutely_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely'), arrayFirst(r -> r.1 = 'usage_minutely_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    arrayFirst(r -> r.1 = 'llm_spans_count_once', runs).2 AS decided,
    if(decided = toDateTime64(0, 3), own, least(own, decided)) AS since
SELECT DISTINCT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_hourly_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly'), arrayFirst(r -> r.1 = 'usage_hourly_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    arrayFirst(r -> r.1 = 'llm_spans_count_once', runs).2 AS decided,
    if(decided = toDateTime64(0, 3), own, least(own, decided)) AS since
SELECT DISTINCT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_daily_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily'), arrayFirst(r -> r.1 = 'usage_daily_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    arrayFirst(r -> r.1 = 'llm_spans_count_once', runs).2 AS decided,
    if(decided = toDateTime64(0, 3), own, least(own, decided)) AS since
SELECT DISTINCT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.agent_runs_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs'), arrayFirst(r -> r.1 = 'agent_runs_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    arrayFirst(r -> r.1 = 'llm_spans_count_once', runs).2 AS decided,
    if(decided = toDateTime64(0, 3), own, least(own, decided)) AS since
SELECT DISTINCT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= since;

-- agent_runs_live (0076) finds the hours of an open run's spans from the spans stored since its
-- window's start: the same start as agent_runs_open's, so that the decider's late rows are found.
CREATE OR REPLACE VIEW ${db}.agent_runs_live AS
WITH
    -- as agent_runs_open: no later than the decider's last completed run (its rows, below)
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS own,
    arrayFirst(r -> r.1 = 'llm_spans_count_once', (SELECT groupArray((view, started)) FROM ${db}.refresh_starts)).2 AS decided,
    if(decided = toDateTime64(0, 3), own, least(own, decided)) AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open,
    -- every hour an open run's spans can start in: those its stored row spans, and those of the
    -- spans stored since (a run's spans start between its start_time and end_time)
    (
        SELECT groupUniqArray(h) FROM (
            SELECT arrayJoin(arrayMap(i -> toStartOfHour(start_time) + toIntervalHour(i),
                       range(toUInt32(dateDiff('hour', toStartOfHour(start_time), toStartOfHour(end_time)) + 1)))) AS h
            FROM ${db}.agent_runs_data FINAL
            WHERE trace_id IN (SELECT arrayJoin(open))
            UNION ALL
            SELECT toStartOfHour(timestamp) AS h FROM ${db}.llm_spans_data WHERE inserted_at >= since
        )
    ) AS open_hours
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
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(open_hours))
      AND (trace_id IN (SELECT arrayJoin(open)) OR run_id IN (SELECT arrayJoin(open)))
    GROUP BY run_id
    HAVING run IN (SELECT arrayJoin(open))
);

-- A model call's row the decider never looked at (stored before its first run, or in a pair that
-- straddled 0054) is read as it was stored, as before this migration: it gets version 1, its other
-- columns and its insert time unchanged. Rows of the last minute are left to the decider.
-- (in a subquery: the outer REPLACE's alias would shadow the column in a WHERE beside it)
INSERT INTO ${db}.llm_spans_data
SELECT * REPLACE (toUInt8(1) AS version)
FROM (
    SELECT * FROM ${db}.llm_spans_data FINAL
    WHERE version = 0 AND span_kind IN ('LLM', 'EMBEDDING', 'RERANKER') AND inserted_at < now64(3) - INTERVAL 1 MINUTE
)
SETTINGS distributed_foreground_insert = 1;

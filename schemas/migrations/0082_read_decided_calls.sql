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
-- The decider's rows carry its run's start as inserted_at (now64 is read once a statement) and
-- are written when its work is done, which after a backlog (the decider stopped or failing for a
-- minute at 1,000 calls/s) can be more than the 30 s the windows allow inserts in flight: a
-- rollup that ran meanwhile did not read them, its next window starts after their insert time,
-- and every call they decide would be missing from it for good. So such late writes are recorded
-- (count_once_late_writes: when the rows were written, by the time of the block, and the oldest
-- insert time among them, for writes more than 25 s after it), and each window starts no later
-- than the oldest insert time of a late write written since the window's own start: it stays
-- open until a run of its refresh that started after the write has completed. With no late write
-- (the decider's runs take 1-2 s at 1,000 calls/s) the table is empty and the windows are as in
-- 0081.

CREATE TABLE IF NOT EXISTS ${db}.count_once_late_writes (
    written_at DateTime64(3),
    oldest DateTime64(3)
) ENGINE = MergeTree
ORDER BY written_at
TTL toDateTime(written_at) + INTERVAL 7 DAY;

CREATE OR REPLACE VIEW ${db}.llm_spans AS
SELECT * EXCEPT (eval_items, version)
FROM ${db}.llm_spans_data FINAL
WHERE version > 0 OR span_kind NOT IN ('LLM', 'EMBEDDING', 'RERANKER');

CREATE OR REPLACE VIEW ${db}.usage_minutely_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely'), arrayFirst(r -> r.1 = 'usage_minutely_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    -- the same text in every window below: computed once a query
    (SELECT groupArray((written_at, oldest)) FROM ${db}.count_once_late_writes) AS late_writes,
    arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)) AS late,
    if(empty(late), own, least(own, arrayMin(late))) AS since
SELECT DISTINCT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_hourly_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly'), arrayFirst(r -> r.1 = 'usage_hourly_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    -- the same text in every window below: computed once a query
    (SELECT groupArray((written_at, oldest)) FROM ${db}.count_once_late_writes) AS late_writes,
    arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)) AS late,
    if(empty(late), own, least(own, arrayMin(late))) AS since
SELECT DISTINCT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_daily_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily'), arrayFirst(r -> r.1 = 'usage_daily_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    -- the same text in every window below: computed once a query
    (SELECT groupArray((written_at, oldest)) FROM ${db}.count_once_late_writes) AS late_writes,
    arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)) AS late,
    if(empty(late), own, least(own, arrayMin(late))) AS since
SELECT DISTINCT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.agent_runs_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs'), arrayFirst(r -> r.1 = 'agent_runs_refresh', runs).2) - INTERVAL 30 SECOND AS own,
    -- the same text in every window below: computed once a query
    (SELECT groupArray((written_at, oldest)) FROM ${db}.count_once_late_writes) AS late_writes,
    arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)) AS late,
    if(empty(late), own, least(own, arrayMin(late))) AS since
SELECT DISTINCT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= since;

-- agent_runs_live (0076) finds the hours of an open run's spans from the spans stored since its
-- window's start: the same start as agent_runs_open's, so that the decider's late rows are found.
CREATE OR REPLACE VIEW ${db}.agent_runs_live AS
WITH
    -- as agent_runs_open: back to the oldest row of a late write of the decider's since then
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS own,
    (SELECT groupArray((written_at, oldest)) FROM ${db}.count_once_late_writes) AS late_writes,
    arrayMap(w -> w.2, arrayFilter(w -> w.1 >= own, late_writes)) AS late,
    if(empty(late), own, least(own, arrayMin(late))) AS since,
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

-- The decider of 0079, writing a pair only once its gateway span's row is stored (below).
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS all_pending,
    -- the fresh keys as count_once_candidates reads them: the same scalar, read once for both
    (SELECT groupArray((trace_id, toStartOfMinute(timestamp), response_id, output_digest)) FROM ${db}.count_once_fresh) AS fresh,
    -- the minutes of the fresh spans and of the pairs' application spans, and ten either side
    arrayDistinct(arrayFlatten(arrayMap(m -> arrayMap(i -> m + toIntervalMinute(i), range(-10, 11)),
        arrayDistinct(arrayConcat(arrayMap(f -> f.2, fresh), arrayMap(p -> toStartOfMinute(p.5), all_pending)))))) AS minutes,
    -- their hours too: the key's first column (a granule that spans two hours bounds its minutes
    -- only through them)
    arrayDistinct(arrayMap(m -> toStartOfHour(m), minutes)) AS hours,
    -- (0082) the pairs whose gateway span's row is stored: its key and its row are written by two
    -- views of one insert, not at once, and a model call is read once decided, so an application
    -- span uncounted in a run that cannot write its gateway span's decision too would leave the
    -- call counted nowhere until the next run; such a pair waits for that run
    -- (a set lookup: has() on an array in a lambda copies the array for every element, 8-10 s a
    -- run at 1,000 calls/s)
    (
        SELECT groupArray(p) FROM (SELECT arrayJoin(all_pending) AS p)
        WHERE (p.3, p.4) IN (
            SELECT trace_id, span_id FROM ${db}.llm_spans_data
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes))
              AND trace_id IN (SELECT arrayJoin(all_pending).3) AND origin = 'gateway')
    ) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    arrayDistinct(arrayConcat(arrayMap(f -> f.1, fresh), arrayMap(p -> p.1, pairs), arrayMap(p -> p.3, pairs))) AS traces,
    -- per pair: the application's service, session and user, the gateway's team and key
    (
        SELECT groupArray((p.1, p.2, p.3, p.4, a.service_name, a.session_id, a.user_id, g.team, g.key_name))
        FROM (SELECT arrayJoin(pairs) AS p) AS pp
        INNER JOIN (SELECT trace_id, span_id, service_name, session_id, user_id FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(pairs).1)
                    LIMIT 1 BY trace_id, span_id) AS a
            ON a.trace_id = pp.p.1 AND a.span_id = pp.p.2
        INNER JOIN (SELECT trace_id, span_id, team, key_name FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(pairs).3)
                    LIMIT 1 BY trace_id, span_id) AS g
            ON g.trace_id = pp.p.3 AND g.span_id = pp.p.4
    ) AS info,
    -- per trace: the service of its root span when another service's, else of the latest span of
    -- another service than the gateway's; and its spans whose key is stored (one read of the keys)
    (
        SELECT (groupArray((trace_id, if(root_service != '', root_service, other_service))),
                arrayFlatten(groupArray(arrayMap(s -> (trace_id, s), spans))))
        FROM (
            SELECT trace_id,
                   argMinIf(service_name, timestamp, parent_span_id = '' AND role != 'gateway') AS root_service,
                   argMaxIf(service_name, timestamp, role != 'gateway') AS other_service,
                   groupUniqArray(span_id) AS spans
            FROM ${db}.call_keys_by_hour
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(traces))
            GROUP BY trace_id
        )
    ) AS traces_read,
    traces_read.1 AS callers,
    range(1, length(info) + 1) AS positions,
    transform(concat(trace_id, '/', span_id), arrayMap(x -> concat(x.1, '/', x.2), info), positions, 0) AS ai,
    transform(concat(trace_id, '/', span_id), arrayMap(x -> concat(x.3, '/', x.4), info), positions, 0) AS gi,
    transform(trace_id, arrayMap(x -> x.1, callers), arrayMap(x -> x.2, callers), '') AS caller,
    origin = 'gateway' AND gi = 0 AND parent_span_id != '' AND run_id = trace_id AS orphan,
    if(ai > 0, toUInt8(0), counted) AS new_counted,
    if(ai > 0, info[ai].4, superseded_by) AS new_superseded_by,
    multiIf(gi > 0, info[gi].5, orphan AND caller != '', caller, app_service_name) AS new_app_service_name,
    if(gi > 0 AND session_id = '', info[gi].6, session_id) AS new_session_id,
    if(gi > 0 AND user_id = '', info[gi].7, user_id) AS new_user_id,
    if(ai > 0, info[ai].8, team) AS new_team,
    if(ai > 0, info[ai].9, key_name) AS new_key_name,
    if(gi > 0, info[gi].1, run_id) AS new_run_id,
    multiIf(ai > 0 AND info[ai].3 != trace_id, info[ai].3, gi > 0 AND info[gi].1 != trace_id, info[gi].1, link_trace_id) AS new_link_trace_id,
    multiIf(ai > 0 AND info[ai].3 != trace_id, info[ai].4, gi > 0 AND info[gi].1 != trace_id, info[gi].2, link_span_id) AS new_link_span_id
SELECT * EXCEPT (new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
                 new_run_id, new_link_trace_id, new_link_span_id, prior_version, prior, next) REPLACE (
    new_counted AS counted,
    new_superseded_by AS superseded_by,
    new_app_service_name AS app_service_name,
    new_session_id AS session_id,
    new_user_id AS user_id,
    new_team AS team,
    new_key_name AS key_name,
    new_run_id AS run_id,
    new_link_trace_id AS link_trace_id,
    new_link_span_id AS link_span_id,
    toUInt8(least(255, prior_version + 1)) AS version,
    now64(3) AS inserted_at)
FROM (
    -- (the outer query's aliases shadow these columns' names: its WHERE reads prior_*)
    SELECT *, new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
           new_run_id, new_link_trace_id, new_link_span_id,
           version AS prior_version,
           (counted, superseded_by, app_service_name, session_id, user_id, team, key_name, run_id, link_trace_id, link_span_id) AS prior,
           (new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
            new_run_id, new_link_trace_id, new_link_span_id) AS next
    FROM ${db}.llm_spans_data FINAL
    WHERE span_kind IN ('LLM', 'EMBEDDING', 'RERANKER')
      AND toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(traces))
      -- only spans whose call key is stored: a span the decider writes counts as decided
      -- (count_once_fresh), and its pairs are found through its key
      AND (trace_id, span_id) IN (SELECT arrayJoin(traces_read.2))
)
WHERE prior_version = 0 OR prior != next
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;

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

-- every block of decided rows (version 1 or more) the decider writes
-- more than 25 s after the oldest insert time it carries (made after the backfill above, whose
-- rows every rollup has already counted as they were); nowInBlock: when the block is written,
-- not when its statement started (in whole seconds, never later than the write)
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.count_once_late_writes_mv TO ${db}.count_once_late_writes AS
SELECT written_at, oldest FROM (
    SELECT toDateTime64(nowInBlock(), 3) AS written_at, min(inserted_at) AS oldest, count() AS n
    FROM ${db}.llm_spans_data
    WHERE version > 0
)
WHERE n > 0 AND dateDiff('millisecond', oldest, written_at) > 25000;

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

CREATE OR REPLACE VIEW ${db}.llm_spans AS
SELECT * EXCEPT (eval_items, version)
FROM ${db}.llm_spans_data FINAL
WHERE version > 0 OR span_kind NOT IN ('LLM', 'EMBEDDING', 'RERANKER');

CREATE OR REPLACE VIEW ${db}.usage_minutely_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely'), arrayFirst(r -> r.1 = 'usage_minutely_refresh', runs).2) - INTERVAL 30 SECOND AS since
SELECT DISTINCT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_hourly_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly'), arrayFirst(r -> r.1 = 'usage_hourly_refresh', runs).2) - INTERVAL 30 SECOND AS since
SELECT DISTINCT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.usage_daily_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily'), arrayFirst(r -> r.1 = 'usage_daily_refresh', runs).2) - INTERVAL 30 SECOND AS since
SELECT DISTINCT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= since;

CREATE OR REPLACE VIEW ${db}.agent_runs_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs'), arrayFirst(r -> r.1 = 'agent_runs_refresh', runs).2) - INTERVAL 30 SECOND AS since
SELECT DISTINCT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= since;

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

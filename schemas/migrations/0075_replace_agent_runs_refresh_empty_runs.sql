-- agent_runs_refresh (0056) never emptied a run: its second branch, which writes a zero row for
-- a stored run that has no spans any more (the gateway's trace of a call without traceparent,
-- once the application's span pairs with it and the gateway's span joins the application's run),
-- filtered on `span_count > 0` in the query whose SELECT renames `toUInt32(0) AS span_count`,
-- and ClickHouse's WHERE reads a SELECT alias before a column of the same name: the filter was
-- always false. The view hid the stale row while the run was open (30 s); after that, readers of
-- agent_runs saw the call twice, once in each run (bench/views.ts: 21,600 calls for 20,200 sent;
-- test/schemas/agent-runs-stored.test.ts). The stored runs are now chosen in a subquery, where
-- the names are the columns'. Rows stored wrongly before this migration are emptied by the
-- statement after the view: every stored run with calls whose trace holds no span of its own run.
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
FROM (
    SELECT * FROM ${db}.agent_runs_data FINAL
    WHERE trace_id IN (SELECT arrayJoin(open)) AND span_count > 0
      AND trace_id NOT IN (SELECT trace_id FROM ${db}.agent_runs_live)
);

-- The runs stored with calls before this migration whose trace's spans all belong to another run.
INSERT INTO ${db}.agent_runs_data
SELECT * REPLACE (
    toUInt32(0) AS span_count, toUInt32(0) AS llm_calls, toUInt32(0) AS embedding_calls, toUInt32(0) AS tool_calls,
    toUInt32(0) AS retriever_calls, toUInt32(0) AS agent_spans, toUInt32(0) AS gateway_calls,
    toUInt64(0) AS prompt_tokens, toUInt64(0) AS completion_tokens, toUInt64(0) AS total_tokens,
    toUInt64(0) AS cache_read_tokens, toUInt64(0) AS cache_write_tokens, toUInt64(0) AS reasoning_tokens,
    0.0 AS cost_prompt, 0.0 AS cost_completion, 0.0 AS cost_total, toUInt32(0) AS error_count,
    now64(3) AS computed_at)
FROM (
    SELECT * FROM ${db}.agent_runs_data FINAL
    WHERE span_count > 0
      AND trace_id IN (SELECT trace_id FROM ${db}.llm_spans_data FINAL WHERE run_id != trace_id)
      AND trace_id NOT IN (SELECT run_id FROM ${db}.llm_spans_data FINAL)
);

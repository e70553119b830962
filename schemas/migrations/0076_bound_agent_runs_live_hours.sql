-- agent_runs_live (0056) read every stored span: its runs were found by trace or run id alone,
-- in llm_spans_data ordered by (hour, trace id), so each read of agent_runs and each refresh read
-- the whole table (bench/views.ts: the agents dashboard's runs over the last hour took 5.5 s
-- over a million stored calls with nothing arriving). Now it reads only the hours an open run's
-- spans can start in: the hours between start_time and end_time of the run's stored row (every
-- span the last refresh saw starts in them) and the hours of the spans stored since (every span
-- the last refresh may not have seen: the window starts 30 s before what it saw). Exact, with no
-- bound on a run's length; the work follows the open runs and their hours, not history.
CREATE OR REPLACE VIEW ${db}.agent_runs_live AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS since,
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

-- agent_runs_live's hours of a stored open run, bounded (README.md, Schema; 0076, 0087).
--
-- To find an open run's spans by the key of llm_spans_data, agent_runs_live reads every hour
-- between the start and end hour of the run's stored row. Those times are the spans' own, as a
-- client sends them: a span that claims to last a hundred years made every read of agent_runs,
-- and every run of its refresh, build and look up a set of 876,000 hours for as long as its trace
-- stayed open (a span sent into it every 30 s keeps it open). An end after 2106 was worse:
-- toStartOfHour's DateTime wrapped, the hours between became 4,294,650,250, and every run of the
-- refresh failed, for every run, until that trace's window closed. Now only the run's hours from 744
-- hours before the current hour to 24 hours after it are read (at most 769 a run): spans are kept
-- 30 days (raw TTL), so no stored span of a run whose spans start before the next day lies
-- outside them. A run with spans a client dated more than a day ahead is computed from those of
-- its stored spans within the window and from every span stored since its refresh last ran.
-- With a raw TTL above 31 days, a run whose spans reach back further is computed the same way.
CREATE OR REPLACE VIEW ${db}.agent_runs_live AS
WITH
    -- agent_runs_open's start, as the same scalar: computed once a query
    (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows).4 AS since,
    (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open,
    -- every hour an open run's spans can start in: those its stored row spans within the 31
    -- days before this hour and the day after it, and those of the spans stored since (a run's
    -- spans start between its start_time and end_time)
    (
        SELECT groupUniqArray(h) FROM (
            SELECT arrayJoin(arrayMap(i -> lo + toIntervalHour(i), range(toUInt32(greatest(dateDiff('hour', lo, hi) + 1, 0))))) AS h
            FROM (
                -- (bounded before toStartOfHour, whose DateTime result wraps after 2106)
                SELECT toStartOfHour(greatest(start_time, now64(9) - toIntervalHour(744))) AS lo,
                       toStartOfHour(least(end_time, now64(9) + toIntervalHour(24))) AS hi
                FROM ${db}.agent_runs_data FINAL
                WHERE trace_id IN (SELECT arrayJoin(open))
            )
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
        max(inserted_at) AS source_inserted_at
    FROM ${db}.llm_spans
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(open_hours))
      AND (trace_id IN (SELECT arrayJoin(open)) OR run_id IN (SELECT arrayJoin(open)))
    GROUP BY run_id
    HAVING run IN (SELECT arrayJoin(open))
);

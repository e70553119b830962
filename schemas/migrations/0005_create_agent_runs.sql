-- agent_runs: one row per trace that has llm_spans rows (an agent run, or a single call).
--
-- A run's totals need every span of its trace, which arrive in different inserts, in any
-- order, late; and they must follow the count-once rule (0004). So the row is recomputed from
-- all of the trace's spans whenever the trace receives a span (or a count-once rewrite): a
-- refreshable view every few seconds takes the traces with spans inserted since the newest
-- source_inserted_at it has written (minus two minutes, for inserts still in flight when the
-- last refresh read), recomputes them whole, and appends the rows with a new computed_at;
-- ReplacingMergeTree keeps the newest row of a trace. The work of a refresh is proportional to
-- the spans of the traces touched since the last one, not to the table; any lateness is
-- handled, because a late span touches its trace again.
--
-- Read through the `agent_runs` view (FINAL). Totals count only counted spans (model calls,
-- each once); span_count counts every OpenInference span of the trace. root_* describe the
-- span without a parent, or the earliest span when the root is not an OpenInference span.
-- status is 'Error' when the root span or any span not superseded ended in error.
CREATE TABLE IF NOT EXISTS ${db}.agent_runs_data (
    trace_id String CODEC(ZSTD(1)),
    root_span_id String,
    root_span_name LowCardinality(String),
    root_span_kind LowCardinality(String),
    root_status_code LowCardinality(String),
    service_name LowCardinality(String),
    agent_name LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    start_time DateTime64(9),
    end_time DateTime64(9),
    duration_ms Float64,
    span_count UInt32,
    llm_calls UInt32,
    embedding_calls UInt32,
    tool_calls UInt32,
    retriever_calls UInt32,
    agent_spans UInt32,
    gateway_calls UInt32,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    total_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost_prompt Float64,
    cost_completion Float64,
    cost_total Float64,
    models Array(LowCardinality(String)),
    error_count UInt32,
    status LowCardinality(String),
    source_inserted_at DateTime64(3),
    computed_at DateTime64(3),
    INDEX idx_start start_time TYPE minmax GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree(computed_at)
ORDER BY trace_id
${rollup_ttl(toDateTime(start_time))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.agent_runs_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.agent_runs_data AS
SELECT
    * EXCEPT (root),
    root.1 AS root_span_id,
    root.2 AS root_span_name,
    root.3 AS root_span_kind,
    root.4 AS root_status_code,
    root.5 AS service_name,
    if(error_count > 0 OR root.4 = 'Error', 'Error', 'Ok') AS status,
    now64(3) AS computed_at
FROM (
    WITH (SELECT max(source_inserted_at) FROM ${db}.agent_runs_data) - INTERVAL 2 MINUTE AS since
    SELECT
        trace_id,
        argMin((span_id, span_name, span_kind, status_code, service_name), (parent_span_id != '', timestamp)) AS root,
        if(argMinIf(agent_name, timestamp, span_kind = 'AGENT' AND agent_name != '') != '',
           argMinIf(agent_name, timestamp, span_kind = 'AGENT' AND agent_name != ''),
           argMinIf(agent_name, timestamp, agent_name != '')) AS agent_name,
        argMinIf(session_id, (parent_span_id != '', timestamp), session_id != '') AS session_id,
        argMinIf(user_id, (parent_span_id != '', timestamp), user_id != '') AS user_id,
        min(timestamp) AS start_time,
        max(end_time) AS end_time,
        (toUnixTimestamp64Nano(end_time) - toUnixTimestamp64Nano(start_time)) / 1e6 AS duration_ms,
        count() AS span_count,
        countIf(counted AND span_kind = 'LLM') AS llm_calls,
        countIf(counted AND span_kind = 'EMBEDDING') AS embedding_calls,
        countIf(span_kind = 'TOOL') AS tool_calls,
        countIf(span_kind = 'RETRIEVER') AS retriever_calls,
        countIf(span_kind = 'AGENT') AS agent_spans,
        countIf(counted AND origin = 'gateway') AS gateway_calls,
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
        countIf(status_code = 'Error' AND superseded_by = '') AS error_count,
        max(inserted_at) AS source_inserted_at
    FROM ${db}.llm_spans_data FINAL
    WHERE trace_id IN (SELECT DISTINCT trace_id FROM ${db}.llm_spans_data WHERE inserted_at >= since)
    GROUP BY trace_id
);

CREATE VIEW IF NOT EXISTS ${db}.agent_runs AS
SELECT * FROM ${db}.agent_runs_data FINAL;

-- agent_runs_by_hour: the stored agent runs again, ordered by the hour each run starts in, for
-- readers; and agent_runs_live on the window agent_runs_open reads (README.md, Schema;
-- bench/README.md, the dashboards' panels).
--
-- agent_runs_data is ordered by trace id, which the refresh needs (it looks up the runs its new
-- spans touch by trace id), but a reader of a time range cannot use it: every refresh appends a
-- part whose trace ids spread over the whole key range, so FINAL merges every stored run to read
-- any range. Over 5.3 million runs (2026-12-07, this machine, idle) that took 470-490 ms of each
-- agent-runs panel, for 30 days or one day alike, against 24 ms for the same rows unmerged.
--
-- Here every row written to agent_runs_data is copied, at insert time, into a table keyed by
-- (toStartOfHour(start_time), trace_id): old hours' parts no longer overlap the new rows, so
-- FINAL has little to merge, and a range's start prunes the hours before it. A run's start can
-- move to an earlier hour (a span that started earlier arrives late), which would leave its row
-- at the old hour beside the new one. So each refresh also writes, beside each row, a deleted twin
-- (is_deleted = 1) at every other hour from the run's start to its end, one millisecond older
-- than the rows it writes now: the twin deletes the row a run left at an hour its start has moved
-- from (ReplacingMergeTree(computed_at, is_deleted)). In agent_runs_data (keyed by trace id, no
-- is_deleted) the twins are older versions beside the row written with them: its newest row of a
-- run is still the refresh's.
--
-- On a cluster (schemas/cluster.ts), the replicas of a shard each run the refresh; a run stored by
-- two replicas from different spans keeps a row at an hour outside the later row's span until a
-- refresh sees the spans both saw.
ALTER TABLE ${db}.agent_runs_data ADD COLUMN IF NOT EXISTS is_deleted UInt8 DEFAULT 0;

CREATE TABLE IF NOT EXISTS ${db}.agent_runs_by_hour (
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
    is_deleted UInt8,
    -- a run by its id (POST /v1/feedback on a trace, SQL users) no longer by the key: the index
    -- finds its granules (with FINAL too: the engine's exact mode reads what overlaps them)
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree(computed_at, is_deleted)
PARTITION BY toYYYYMM(start_time)
ORDER BY (toStartOfHour(start_time), trace_id)
${rollup_ttl(toDateTime(start_time))}
SETTINGS index_granularity = 8192;

-- The refresh stops before the copy starts, so no row is written between the two.
DROP TABLE IF EXISTS ${db}.agent_runs_refresh;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.agent_runs_by_hour_mv TO ${db}.agent_runs_by_hour AS
SELECT * FROM ${db}.agent_runs_data;

-- The runs stored before this migration: each one's newest row, in the new key's order (so the
-- copy's parts do not overlap one another; background merges then make them one a month). On
-- 5.3 million runs: 28 s.
INSERT INTO ${db}.agent_runs_by_hour
SELECT * FROM ${db}.agent_runs_data FINAL
ORDER BY toStartOfHour(start_time), trace_id
SETTINGS distributed_foreground_insert = 1;

-- agent_runs_live on the window agent_runs_open reads. A run is open when a span of it was
-- stored since the agent-runs window's start (rollup_windows.agent_runs_since, 0084); every span
-- stored before that start is in the run's stored row, whose start and end bound its hours.
-- agent_runs_live computed its own start instead (0082: its refresh's progress alone, never later
-- than the window's, so a superset of hours), from three scalar subqueries of its own, and the
-- newest insert seen, which only its refresh uses. Each scalar is a query of its own to prepare:
-- with no run open the view took 44-54 ms, most of every agent-runs panel's live part. Here it
-- reads the window's start as the same scalar agent_runs_open reads (computed once a query), and
-- the refresh below writes the newest insert seen itself, as the usage refreshes do (0084): 34-37 ms.
CREATE OR REPLACE VIEW ${db}.agent_runs_live AS
WITH
    -- agent_runs_open's start, as the same scalar: computed once a query
    (SELECT (minutely_since, hourly_since, daily_since, agent_runs_since) FROM ${db}.rollup_windows).4 AS since,
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
        max(inserted_at) AS source_inserted_at
    FROM ${db}.llm_spans
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(open_hours))
      AND (trace_id IN (SELECT arrayJoin(open)) OR run_id IN (SELECT arrayJoin(open)))
    GROUP BY run_id
    HAVING run IN (SELECT arrayJoin(open))
);

-- 0075's refresh, each row with is_deleted and the newest insert seen, and the twins. Every row
-- it writes takes its computed_at from one scalar, read once a query: now64() in each branch of a
-- UNION is read when that branch runs (tens of milliseconds apart), so a twin's "one millisecond
-- older" would not hold. The twins come from the rows written, not from a read of what is
-- stored: a run's start only moves earlier and its end later as its spans arrive, so every hour
-- it was stored at lies between the new row's start and end hours (up to 745 hours, a month: a
-- run's spans are kept 30 days). A run the refresh writes no row for (emptied before) gets no twin.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.agent_runs_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.agent_runs_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs') - INTERVAL 30 SECOND AS since,
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at >= since) AS seen,
    (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open,
    (SELECT now64(3)) AS at
-- each row written, then its twins: the row at each other hour of its run's span, deleted
SELECT * EXCEPT (twin_hours) REPLACE (
    if(twin_hour = toDateTime(0), start_time, toDateTime64(twin_hour, 9)) AS start_time,
    if(twin_hour = toDateTime(0), computed_at, at - INTERVAL 1 MILLISECOND) AS computed_at,
    toUInt8(twin_hour != toDateTime(0)) AS is_deleted)
FROM (
    SELECT *,
        arrayConcat([toDateTime(0)], arrayFilter(h -> h != toStartOfHour(start_time), arrayMap(i -> toStartOfHour(start_time) + toIntervalHour(i),
            range(least(toUInt32(dateDiff('hour', toStartOfHour(start_time), toStartOfHour(end_time)) + 1), 745))))) AS twin_hours
    FROM (
        SELECT * REPLACE (greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at, at AS computed_at), toUInt8(0) AS is_deleted
        FROM ${db}.agent_runs_live
        UNION ALL
        SELECT * REPLACE (
            toUInt32(0) AS span_count, toUInt32(0) AS llm_calls, toUInt32(0) AS embedding_calls, toUInt32(0) AS tool_calls,
            toUInt32(0) AS retriever_calls, toUInt32(0) AS agent_spans, toUInt32(0) AS gateway_calls,
            toUInt64(0) AS prompt_tokens, toUInt64(0) AS completion_tokens, toUInt64(0) AS total_tokens,
            toUInt64(0) AS cache_read_tokens, toUInt64(0) AS cache_write_tokens, toUInt64(0) AS reasoning_tokens,
            0.0 AS cost_prompt, 0.0 AS cost_completion, 0.0 AS cost_total, toUInt32(0) AS error_count,
            greatest(ifNull(seen, toDateTime64(0, 3)), source_inserted_at) AS source_inserted_at,
            at AS computed_at, toUInt8(0) AS is_deleted)
        FROM (
            SELECT * FROM ${db}.agent_runs_data FINAL
            WHERE trace_id IN (SELECT arrayJoin(open)) AND span_count > 0
              AND trace_id NOT IN (SELECT trace_id FROM ${db}.agent_runs_live)
        )
    )
)
ARRAY JOIN twin_hours AS twin_hour;

-- Readers: the stored runs not open, and the open ones computed. Excluding the open runs reads
-- every stored run's trace id (over 30 days of 5.3 million runs, 100-150 ms of a panel's ~250),
-- so when none is open (no span stored since the window's start) nothing is read for it.
CREATE OR REPLACE VIEW ${db}.agent_runs AS
WITH (SELECT groupArray(run_id) FROM ${db}.agent_runs_open) AS open
SELECT * EXCEPT (is_deleted) FROM ${db}.agent_runs_by_hour FINAL
WHERE span_count > 0 AND (empty(open) OR trace_id NOT IN (SELECT arrayJoin(open)))
UNION ALL
SELECT * FROM ${db}.agent_runs_live;

-- Count-once lookups bounded by the minutes of the new spans, not by their hours (issue: "Every
-- call counted once … at any history", Scale; README.md, Schema: "Count once, at every moment").
--
-- 0074 bounded every lookup by trace id to the hours of the spans just stored, one either side,
-- with call_keys_by_hour and llm_spans_data ordered by (hour, trace id). Within an hour, rows are
-- in trace-id order, so a few thousand random trace ids touch every granule of those hours: at a
-- steady 1,000 calls a second an hour holds 3.6 million calls, and each run of the decider read
-- three such hours of both tables, 3.8-5.5 s a run against its 2 s interval
-- (bench/results/views-dense.json).
--
-- Now both tables are ordered by (hour, minute, trace id, span id), and the lookups name the
-- minutes of the spans just stored, ten either side, and their hours (the key's first column: in
-- a sparse hour one granule holds rows of two hours, and only the hours bound its minutes). The
-- two spans of one call start within ten minutes of each other (as 0055's pairing by answer
-- digest already requires), clock skew and client queueing included. Readers that bound by
-- hours keep their bound (the hour stays first in the key). What the bound changes, as 0074's hours
-- did at the scale of an hour: a failed call's gateway span is billed to its trace's root when the
-- root started at most ten minutes before it (else to the latest span of another service within ten
-- minutes); a span stored more than ten minutes (by start time) from the other spans of its trace
-- decides that trace with the spans of its own minutes.
--
-- Each table is made anew (a sort key cannot be changed in place), keeping its name: a copy with
-- the new key is filled from it (no view fires on that table), the two are exchanged (the views
-- that write or read it find it by name, so from that moment they use the new one), the rows
-- written to the old one while the copy ran are copied after it, and the old one is dropped (in a
-- cluster, its local table too; the copies insert in the foreground, so no row is still queued for
-- a Distributed table's local one when they are exchanged). If a run stops between the exchange and
-- the drop, running it again copies the rows back and exchanges the tables again: the old key
-- returns with every row (lookups stay exact, only slower), and changing the key then takes a
-- migration with a new number. An evaluation carried by a span stored while the copy ran is
-- recorded twice (evaluations_mv fires again for it).

-- The call keys of 0074.
CREATE TABLE IF NOT EXISTS ${db}.call_keys_by_hour_0079 (
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    role LowCardinality(String),
    service_name LowCardinality(String),
    model LowCardinality(String),
    response_id String CODEC(ZSTD(1)),
    output_digest String CODEC(ZSTD(1)),
    session_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    team LowCardinality(String),
    key_name LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    inserted_at DateTime64(3) DEFAULT now64(3),
    INDEX idx_response_id response_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_output_digest output_digest TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_inserted_at inserted_at TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(timestamp)
ORDER BY (toStartOfHour(timestamp), toStartOfMinute(timestamp), trace_id, span_id)
${raw_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

INSERT INTO ${db}.call_keys_by_hour_0079 SELECT * FROM ${db}.call_keys_by_hour
SETTINGS distributed_foreground_insert = 1;

EXCHANGE TABLES ${db}.call_keys_by_hour AND ${db}.call_keys_by_hour_0079;

INSERT INTO ${db}.call_keys_by_hour SELECT * FROM ${db}.call_keys_by_hour_0079
WHERE inserted_at > (SELECT max(inserted_at) FROM ${db}.call_keys_by_hour WHERE inserted_at <= (SELECT max(inserted_at) FROM ${db}.call_keys_by_hour_0079))
SETTINGS distributed_foreground_insert = 1;

DROP TABLE IF EXISTS ${db}.call_keys_by_hour_0079;

DROP TABLE IF EXISTS ${db}.call_keys_by_hour_0079_local;

-- The spans of 0003.
CREATE TABLE IF NOT EXISTS ${db}.llm_spans_data_0079 (
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    end_time DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    service_name LowCardinality(String),
    span_name LowCardinality(String),
    span_kind LowCardinality(String),
    otel_span_kind LowCardinality(String),
    operation LowCardinality(String),
    origin LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    system LowCardinality(String),
    route LowCardinality(String),
    backend LowCardinality(String),
    team LowCardinality(String),
    key_name LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    agent_name LowCardinality(String),
    tool_name LowCardinality(String),
    prompt_tokens UInt64,
    completion_tokens UInt64,
    total_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost_prompt Float64,
    cost_completion Float64,
    cost_total Float64,
    cost_source LowCardinality(String),
    duration_ms Float64,
    ttft_ms Nullable(Float64),
    streaming UInt8,
    status_code LowCardinality(String),
    status_message String CODEC(ZSTD(1)),
    error_type LowCardinality(String),
    finish_reason LowCardinality(String),
    tokens_estimated UInt8,
    attempts UInt16,
    fallback_used UInt8,
    http_status UInt16,
    refusal LowCardinality(String),
    purpose LowCardinality(String) DEFAULT '',
    counted UInt8,
    superseded_by String,
    app_service_name LowCardinality(String),
    link_trace_id String CODEC(ZSTD(1)),
    link_span_id String CODEC(ZSTD(1)),
    eval_items Array(Tuple(
        via LowCardinality(String),
        trace_scope UInt8,
        name String,
        score Nullable(Float64),
        label String,
        explanation String,
        source LowCardinality(String),
        annotator_kind String,
        identifier String,
        metadata String,
        ts DateTime64(9))) CODEC(ZSTD(1)),
    inserted_at DateTime64(3) DEFAULT now64(3),
    version UInt8,
    run_id String DEFAULT trace_id CODEC(ZSTD(1)),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_inserted_at inserted_at TYPE minmax GRANULARITY 1,
    INDEX idx_run_id run_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toDate(timestamp)
ORDER BY (toStartOfHour(timestamp), toStartOfMinute(timestamp), trace_id, span_id)
${raw_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

INSERT INTO ${db}.llm_spans_data_0079 SELECT * FROM ${db}.llm_spans_data
SETTINGS distributed_foreground_insert = 1;

EXCHANGE TABLES ${db}.llm_spans_data AND ${db}.llm_spans_data_0079;

INSERT INTO ${db}.llm_spans_data SELECT * FROM ${db}.llm_spans_data_0079
WHERE inserted_at > (SELECT max(inserted_at) FROM ${db}.llm_spans_data WHERE inserted_at <= (SELECT max(inserted_at) FROM ${db}.llm_spans_data_0079))
SETTINGS distributed_foreground_insert = 1;

DROP TABLE IF EXISTS ${db}.llm_spans_data_0079;

DROP TABLE IF EXISTS ${db}.llm_spans_data_0079_local;

-- The candidates of 0078, bounded by those minutes.
CREATE OR REPLACE VIEW ${db}.count_once_candidates AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    since - INTERVAL 1 HOUR AS horizon,
    -- read once (a scalar), by the minutes and the three lookups below
    (SELECT groupArray((trace_id, toStartOfMinute(timestamp), response_id, output_digest)) FROM ${db}.count_once_fresh) AS fresh,
    -- the minutes of the fresh spans, and ten either side
    arrayDistinct(arrayFlatten(arrayMap(m -> arrayMap(i -> m + toIntervalMinute(i), range(-10, 11)),
        arrayDistinct(arrayMap(f -> f.2, fresh))))) AS minutes,
    -- their hours too: the key's first column (a granule that spans two hours bounds its minutes
    -- only through them)
    arrayDistinct(arrayMap(m -> toStartOfHour(m), minutes)) AS hours
SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
FROM (
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM ${db}.call_keys_by_hour
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes))
      AND trace_id IN (SELECT arrayJoin(fresh).1)
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND inserted_at >= horizon AND response_id != ''
          AND response_id IN (SELECT r FROM (SELECT arrayJoin(fresh).3 AS r) WHERE r != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY response_id
    )
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND inserted_at >= horizon AND output_digest != ''
          AND output_digest IN (SELECT d FROM (SELECT arrayJoin(fresh).4 AS d) WHERE d != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY model, output_digest
    )
)
LIMIT 1 BY trace_id, span_id;

-- The decider of 0078, its lookups bounded by those minutes.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    -- the fresh keys as count_once_candidates reads them: the same scalar, read once for both
    (SELECT groupArray((trace_id, toStartOfMinute(timestamp), response_id, output_digest)) FROM ${db}.count_once_fresh) AS fresh,
    arrayDistinct(arrayConcat(arrayMap(f -> f.1, fresh), arrayMap(p -> p.1, pairs), arrayMap(p -> p.3, pairs))) AS traces,
    -- the minutes of the fresh spans and of the pairs' application spans, and ten either side
    arrayDistinct(arrayFlatten(arrayMap(m -> arrayMap(i -> m + toIntervalMinute(i), range(-10, 11)),
        arrayDistinct(arrayConcat(arrayMap(f -> f.2, fresh), arrayMap(p -> toStartOfMinute(p.5), pending)))))) AS minutes,
    -- their hours too: the key's first column (a granule that spans two hours bounds its minutes
    -- only through them)
    arrayDistinct(arrayMap(m -> toStartOfHour(m), minutes)) AS hours,
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

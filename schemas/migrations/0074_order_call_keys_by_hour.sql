-- Count-once lookups bounded by the traffic of the hours concerned, not by history (issue:
-- "Every call counted once … at any history", Scale; README.md, Schema: "Count once, at every
-- moment").
--
-- call_keys (0054) was ordered by trace id alone, and llm_spans_data (0003) is ordered by hour
-- and trace id, but the decider looked traces up by id only. A few thousand random trace ids hit
-- a granule of nearly every part of every day, so each run of the decider (and every read of
-- llm_spans, which computes the pending pairs) read the whole of both tables: with a million
-- calls of history one run took 20-35 s against its 2 s interval (bench/results/views.json).
--
-- Now call_keys_by_hour is ordered by (hour, trace id), and every lookup by trace id names the
-- hours it may find the trace's spans in: the hours of the spans stored since the decider's last
-- run, and one hour either side. The two spans of one call start within the call's duration of
-- each other (a gateway request is bounded by its timeout, far below an hour), so no pair is
-- lost. What the bound changes: a gateway span whose caller's span never arrives is billed to
-- the root span of its trace only when that root started at most an hour before the gateway's
-- hour (else to the latest span of another service in those hours, else the gateway's own), and
-- a span that reaches a trace more than an hour (by start time) from the trace's other spans
-- decides that trace with the spans of its own hours. Pairing by response id or answer digest
-- looks in the same hours (the two spans of a call start within its duration), besides 0072's
-- bounds (an hour of inserts back from the window, at most 1,000 spans of one id or digest).
--
-- The table is made anew (a sort key cannot be changed in place): the new insert-time view first,
-- then the old one dropped, then the stored rows copied (a span written by both views is one row
-- after merges, and every reader takes one row per span), then the old table dropped.
CREATE TABLE IF NOT EXISTS ${db}.call_keys_by_hour (
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
ORDER BY (toStartOfHour(timestamp), trace_id, span_id)
${raw_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- 0054's insert-time view, into the new table (named to run before llm_spans_mv, as 0054's)
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.call_keys_by_hour_mv TO ${db}.call_keys_by_hour AS
WITH
    SpanAttributes AS a,
    ((x, y) -> if(x != '', x, y)) AS or_else,
    a['tracegate.origin'] = 'gateway' AS from_gateway,
    a['gen_ai.operation.name'] AS op,
    upper(a['openinference.span.kind']) AS oi_kind,
    if(oi_kind != '', oi_kind, if(from_gateway, '', multiIf(
        op IN ('chat', 'text_completion', 'generate_content'), 'LLM',
        op = 'embeddings', 'EMBEDDING',
        ''))) AS kind,
    kind IN ('LLM', 'EMBEDDING', 'RERANKER') AS model_call,
    multiIf(
        model_call AND from_gateway, 'gateway',
        model_call, 'app',
        NOT from_gateway AND oi_kind = '' AND op = '' AND SpanKind IN ('Client', 'SPAN_KIND_CLIENT'), 'hop',
        ParentSpanId = '', 'root',
        '') AS span_role,
    a['output.value'] AS output,
    ltrim(output) AS output_trimmed,
    or_else(a['gen_ai.response.id'],
        if(NOT from_gateway AND startsWith(output_trimmed, '{'),
           extract(output_trimmed, '^\\{\\s*"id"\\s*:\\s*"([^"\\\\]{1,256})"'), '')) AS rid
SELECT
    TraceId AS trace_id,
    SpanId AS span_id,
    ParentSpanId AS parent_span_id,
    span_role AS role,
    ServiceName AS service_name,
    or_else(a['llm.response.model_name'], or_else(a['gen_ai.response.model'], or_else(a['llm.model_name'],
        or_else(a['llm.request.model_name'], a['gen_ai.request.model'])))) AS model,
    rid AS response_id,
    multiIf(
        NOT model_call, '',
        from_gateway, a['tracegate.output.digest'],
        rid != '', '',
        a['tracegate.output.digest'] != '', a['tracegate.output.digest'],
        output = '' OR startsWith(output_trimmed, '{'), '',
        lower(hex(SHA256(output)))) AS output_digest,
    or_else(a['session.id'], a['gen_ai.conversation.id']) AS session_id,
    a['user.id'] AS user_id,
    if(from_gateway, a['tracegate.team'], '') AS team,
    if(from_gateway, or_else(a['tracegate.key'], a['tracegate.key.name']), '') AS key_name,
    Timestamp AS timestamp,
    now64(3) AS inserted_at
FROM ${db}.otel_traces
WHERE span_role != '';

DROP TABLE IF EXISTS ${db}.call_keys_mv;

INSERT INTO ${db}.call_keys_by_hour SELECT * FROM ${db}.call_keys;

-- The candidates of 0072, with the lookup by trace id in the hours of the new spans.
CREATE OR REPLACE VIEW ${db}.count_once_candidates AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    since - INTERVAL 1 HOUR AS horizon,
    (
        SELECT arrayDistinct(arrayFlatten(groupArray([h - INTERVAL 1 HOUR, h, h + INTERVAL 1 HOUR])))
        FROM (SELECT DISTINCT toStartOfHour(timestamp) AS h FROM ${db}.call_keys_by_hour WHERE inserted_at >= since)
    ) AS hours
SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
FROM (
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM ${db}.call_keys_by_hour
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours))
      AND trace_id IN (SELECT trace_id FROM ${db}.call_keys_by_hour WHERE inserted_at >= since)
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND inserted_at >= horizon AND response_id != ''
          AND response_id IN (SELECT response_id FROM ${db}.call_keys_by_hour WHERE inserted_at >= since AND response_id != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY response_id
    )
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND inserted_at >= horizon AND output_digest != ''
          AND output_digest IN (SELECT output_digest FROM ${db}.call_keys_by_hour WHERE inserted_at >= since AND output_digest != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY model, output_digest
    )
)
LIMIT 1 BY trace_id, span_id;

-- The decider of 0055, reading call_keys_by_hour and llm_spans_data in the hours of the new
-- spans and of the pending pairs, one either side.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    (
        SELECT (groupUniqArray(trace_id), groupUniqArray(toStartOfHour(timestamp)))
        FROM ${db}.call_keys_by_hour WHERE inserted_at >= since
    ) AS fresh,
    arrayDistinct(arrayConcat(fresh.1, arrayMap(p -> p.1, pairs), arrayMap(p -> p.3, pairs))) AS traces,
    arrayDistinct(arrayFlatten(arrayMap(h -> [h - INTERVAL 1 HOUR, h, h + INTERVAL 1 HOUR],
        arrayConcat(fresh.2, arrayMap(p -> toStartOfHour(p.5), pending))))) AS hours,
    -- per pair: the application's service, session and user, the gateway's team and key
    (
        SELECT groupArray((p.1, p.2, p.3, p.4, a.service_name, a.session_id, a.user_id, g.team, g.key_name))
        FROM (SELECT arrayJoin(pairs) AS p) AS pp
        INNER JOIN (SELECT trace_id, span_id, service_name, session_id, user_id FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(pairs).1)
                    LIMIT 1 BY trace_id, span_id) AS a
            ON a.trace_id = pp.p.1 AND a.span_id = pp.p.2
        INNER JOIN (SELECT trace_id, span_id, team, key_name FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(pairs).3)
                    LIMIT 1 BY trace_id, span_id) AS g
            ON g.trace_id = pp.p.3 AND g.span_id = pp.p.4
    ) AS info,
    -- per trace: the service of its root span when another service's, else of the latest span of
    -- another service than the gateway's
    (
        SELECT groupArray((trace_id, if(root_service != '', root_service, other_service)))
        FROM (
            SELECT trace_id,
                   argMinIf(service_name, timestamp, parent_span_id = '' AND role != 'gateway') AS root_service,
                   argMaxIf(service_name, timestamp, role != 'gateway') AS other_service
            FROM ${db}.call_keys_by_hour
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(traces))
            GROUP BY trace_id
        )
    ) AS callers,
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
      AND toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(traces))
)
WHERE prior_version = 0 OR prior != next
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;

DROP TABLE IF EXISTS ${db}.call_keys;

-- (a cluster's shards hold the old rows in call_keys_local, under the Distributed call_keys)
DROP TABLE IF EXISTS ${db}.call_keys_local;

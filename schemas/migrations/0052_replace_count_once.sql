-- The count-once rule of 0004, with the work of a refresh following what is new. Every 5
-- seconds, 0004 looked again at every trace touched in the last 15 minutes of inserts (gateway
-- calls without a caller, pairs decided long ago and its own rows included) and computed that
-- set four times over: with 100k gateway calls in the window one refresh took about 2 s on a
-- 2-core machine, and it grew with traffic. This one decides the traces where, in the last 5
-- minutes of inserts (measured from the newest insert, so a stopped engine resumes where it
-- was), a span arrived that can complete a pair and is not decided yet, computes that set once,
-- and finds the partner by trace id however long before it arrived. The decision, the rows
-- written and why re-running is harmless are as in 0004. A limit: the refresh must run at least
-- once in those 5 minutes of inserts (it runs every 5 seconds and takes well under one); spans
-- of a pair that arrived during a longer stall of the refresh are both left counted.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 5 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    -- The traces to decide, computed once (a scalar; a CTE would be computed again at each of
    -- its four uses): those where, in the last 5 minutes of inserts, a span arrived that can
    -- complete a pair and is not decided yet (an application's span, or a gateway span called
    -- with a traceparent, without a version 1 row: the view writes that after the version 0 row,
    -- so both are in the window), and that hold a gateway span with a parent, however long
    -- before it arrived. A gateway call without a traceparent (a trace of its own) never pairs,
    -- and a decided pair is not looked at again: the work of a refresh follows what is new.
    (
        SELECT groupUniqArray(trace_id) FROM ${db}.llm_spans_data
        WHERE origin = 'gateway' AND parent_span_id != '' AND trace_id IN (
            SELECT trace_id FROM ${db}.llm_spans_data
            WHERE inserted_at >= (SELECT max(inserted_at) FROM ${db}.llm_spans_data) - INTERVAL 5 MINUTE
              AND (origin = 'app' OR parent_span_id != '')
            GROUP BY trace_id, span_id
            HAVING max(version) = 0)
    ) AS paired_ids,
    paired AS (SELECT arrayJoin(paired_ids) AS trace_id),
    spans AS (
        SELECT * FROM ${db}.llm_spans_data FINAL
        WHERE trace_id IN (SELECT trace_id FROM paired) AND span_kind IN ('LLM', 'EMBEDDING', 'RERANKER')
    ),
    -- plain spans that may sit between the application's span and the gateway's
    hops AS (
        SELECT TraceId AS trace_id, SpanId AS span_id, ParentSpanId AS parent_span_id FROM ${db}.otel_traces
        WHERE TraceId IN (SELECT trace_id FROM paired)
          AND SpanAttributes['openinference.span.kind'] = ''
          AND SpanAttributes['gen_ai.operation.name'] = ''
          AND SpanAttributes['tracegate.origin'] != 'gateway'
    ),
    gateway AS (
        SELECT trace_id, span_id, parent_span_id, version FROM spans WHERE origin = 'gateway'
    ),
    -- (gateway span, the span its call was made from)
    callers AS (
        SELECT trace_id, span_id AS gateway_span_id, parent_span_id AS app_span_id, version AS gateway_version FROM gateway
        UNION ALL
        SELECT g.trace_id, g.span_id, h.parent_span_id, g.version
        FROM gateway AS g INNER JOIN hops AS h ON h.trace_id = g.trace_id AND h.span_id = g.parent_span_id
    ),
    pairs AS (
        SELECT c.trace_id AS trace_id, c.gateway_span_id AS gateway_span_id, c.app_span_id AS app_span_id,
               app.service_name AS app_service, app.session_id AS app_session, app.user_id AS app_user
        FROM callers AS c
        INNER JOIN (SELECT * FROM spans WHERE origin = 'app') AS app ON app.trace_id = c.trace_id AND app.span_id = c.app_span_id
        WHERE app.version = 0 OR c.gateway_version = 0
    )
SELECT * EXCEPT (gateway_span_id, app_service, app_session, app_user) REPLACE (
    toUInt8(origin = 'gateway') AS counted,
    if(origin = 'gateway', '', gateway_span_id) AS superseded_by,
    if(origin = 'gateway', app_service, app_service_name) AS app_service_name,
    if(origin = 'gateway' AND session_id = '', app_session, session_id) AS session_id,
    if(origin = 'gateway' AND user_id = '', app_user, user_id) AS user_id,
    now64(3) AS inserted_at,
    toUInt8(1) AS version)
FROM spans
INNER JOIN (
    SELECT trace_id, span_id, gateway_span_id, app_service, app_session, app_user
    FROM pairs ARRAY JOIN [app_span_id, gateway_span_id] AS span_id
) AS p USING (trace_id, span_id)
-- Matching a large set of trace ids against the primary key costs more than it saves: past
-- 10,000 ids an IN reads the rows instead.
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;

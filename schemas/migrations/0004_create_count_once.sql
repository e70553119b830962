-- The count-once rule. When an application's instrumentation records an LLM span and the
-- gateway records its own span for the same call, the gateway's span (tracegate.origin =
-- gateway) is a child of the application's span through traceparent, directly or through one
-- plain span between them (an HTTP client span of the application's HTTP instrumentation).
-- The call counts once, with the gateway's figures: the application's span is uncounted
-- (counted = 0, superseded_by = gateway span id) and the gateway's span takes the caller's
-- service, session and user (app_service_name, and session_id / user_id when it had none).
--
-- Spans of one trace arrive in different inserts, from different collectors, in any order, so
-- an insert-time view cannot decide this. This refreshable view does, every few seconds, over
-- every trace that received a span in the last 15 minutes of inserts (measured from the newest
-- insert, so a stopped engine resumes where it was): it writes version 1 of both rows of each
-- pair into llm_spans_data, where ReplacingMergeTree keeps the latest version. Re-running it
-- is harmless (same rows, same version), so it needs no exactly-once bookkeeping. A pair whose
-- spans arrive more than 15 minutes of inserts apart is not seen (a documented limit).
-- The rows it writes carry a new inserted_at, which makes the rollups (0005, 0006) recompute
-- the trace and the minutes concerned.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 5 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    touched AS (
        SELECT DISTINCT trace_id FROM ${db}.llm_spans_data
        WHERE inserted_at >= (SELECT max(inserted_at) FROM ${db}.llm_spans_data) - INTERVAL 15 MINUTE
    ),
    -- Only a trace with a gateway span can hold a pair: the rest (most traces, when applications
    -- export without the gateway) are not read in full, nor their otel_traces rows for hops.
    paired AS (
        SELECT DISTINCT trace_id FROM ${db}.llm_spans_data
        WHERE origin = 'gateway' AND trace_id IN (SELECT trace_id FROM touched)
    ),
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
) AS p USING (trace_id, span_id);

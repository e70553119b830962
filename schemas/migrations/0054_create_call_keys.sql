-- call_keys: what pairs the two spans of one model call, written at insert time, one narrow row
-- per span that can take part in a pair (README.md, Schema: "Count once, at every moment").
--
-- role    app      an application's model-call span (LLM, EMBEDDING, RERANKER; not the gateway's)
--         gateway  the gateway's span of a call (tracegate.origin = gateway, with its OpenInference kind)
--         hop      an application's plain client span (an HTTP client span between its model-call
--                  span and the gateway's, made by an HTTP instrumentation)
--         root     any other span without a parent: whose service a trace belongs to
--
-- Two spans pair when (see count_once_pending in 0055):
--   the gateway's parent is the application's span, directly or through one hop (traceparent);
--   both carry the same response id: the gateway's gen_ai.response.id, the application's
--     gen_ai.response.id or the `id` its instrumentation recorded first in the response JSON
--     of output.value (OpenInference does, for answers that are not streamed);
--   neither has that, the gateway was called without traceparent, and model and the digest of
--     the answer's text are equal (tracegate.output.digest, which the gateway writes; for the
--     application, the SHA-256 of output.value when it is text, as streaming instrumentations
--     record it), matched one to one in time order within 10 minutes.
--
-- Spans stored before this migration have no row: a call whose two spans arrive on both sides of
-- the upgrade is not paired (the decision that 0052 made for pairs stored before it stays).
--
-- ORDER BY trace_id: a pair in one trace is found by trace id; response id and digest have bloom
-- filters. Insert-time view named so that it runs before llm_spans_mv (views of one table run in
-- name order): a pair is seen no later than the spans it uncounts.
CREATE TABLE IF NOT EXISTS ${db}.call_keys (
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
ORDER BY (trace_id, span_id)
${raw_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.call_keys_mv TO ${db}.call_keys AS
WITH
    SpanAttributes AS a,
    ((x, y) -> if(x != '', x, y)) AS or_else,
    a['tracegate.origin'] = 'gateway' AS from_gateway,
    a['gen_ai.operation.name'] AS op,
    upper(a['openinference.span.kind']) AS oi_kind,
    -- as llm_spans_mv (0053) derives span_kind
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

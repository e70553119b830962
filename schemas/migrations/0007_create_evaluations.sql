-- evaluations: one row per score on a span or a trace (span_id = '' for a trace-level score),
-- with the target span's model, provider, agent name, service and session copied onto the row
-- so quality groups by model without a join. Append-only.
--
-- Where rows come from (`via`):
--   event          a `gen_ai.evaluation.result` span event (gen_ai.evaluation.name,
--                  .score.value, .score.label, .explanation; tracegate.evaluation.source gives
--                  the source; the collector's heuristic checks are written this way, 'heuristic')
--   attribute      OpenInference inline results on a span: annotations.N.annotation.* and
--                  evaluations.N.evaluation.* (trace.annotations.N.* for the span's trace);
--                  annotator_kind HUMAN / LLM / CODE gives the source
--   evaluator_span an EVALUATOR span carrying results (either form above) with an OTel link to
--                  the span it judges (or to a span of the trace it judges, for trace.* results)
--   api            rows the collector's POST /v1/feedback inserts directly
-- source is human | llm | code | heuristic (an unknown or missing kind counts as llm).
--
-- Inserting a row directly (POST /v1/feedback): insert into tracegate.evaluations, JSONEachRow,
-- these columns (all others take their defaults):
--   timestamp DateTime64(9), trace_id String, span_id String ('' for the trace), name String,
--   score Nullable(Float64), label String, explanation String, source 'human'|'llm'|'code'|'heuristic',
--   identifier String, annotator_kind String, metadata String (a JSON object),
--   model String, provider String, agent_name String, service_name String, session_id String,
--   span_kind String, via 'api' (the default)
-- Copy model, provider, agent_name, service_name, session_id and span_kind from the target's
-- llm_spans row (for a trace: from its agent_runs row) when it exists.
CREATE TABLE IF NOT EXISTS ${db}.evaluations (
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    name LowCardinality(String),
    score Nullable(Float64),
    label LowCardinality(String),
    explanation String CODEC(ZSTD(3)),
    source LowCardinality(String),
    identifier String,
    annotator_kind LowCardinality(String),
    metadata String CODEC(ZSTD(3)),
    model LowCardinality(String),
    provider LowCardinality(String),
    agent_name LowCardinality(String),
    service_name LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    span_kind LowCardinality(String),
    via LowCardinality(String) DEFAULT 'api',
    carrier_trace_id String DEFAULT '',
    carrier_span_id String DEFAULT '',
    inserted_at DateTime64(3) DEFAULT now64(3),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_carrier carrier_span_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (name, toStartOfHour(timestamp), trace_id, span_id)
${rollup_ttl(toDateTime(timestamp))}
SETTINGS index_granularity = 8192;

-- Results on the span they describe (events and inline attributes), at insert time.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.evaluations_mv TO ${db}.evaluations AS
SELECT
    e.ts AS timestamp,
    s.trace_id AS trace_id,
    if(e.trace_scope = 1, '', s.span_id) AS span_id,
    e.name AS name,
    e.score AS score,
    e.label AS label,
    e.explanation AS explanation,
    e.source AS source,
    e.identifier AS identifier,
    e.annotator_kind AS annotator_kind,
    e.metadata AS metadata,
    s.model AS model,
    s.provider AS provider,
    s.agent_name AS agent_name,
    s.app_service_name AS service_name,
    s.session_id AS session_id,
    s.span_kind AS span_kind,
    e.via AS via,
    s.trace_id AS carrier_trace_id,
    s.span_id AS carrier_span_id,
    now64(3) AS inserted_at
FROM ${db}.llm_spans_data AS s
ARRAY JOIN s.eval_items AS e
WHERE s.version = 0 AND e.name != '' AND NOT (s.span_kind = 'EVALUATOR' AND s.link_span_id != '');

-- Results carried by EVALUATOR spans linked to their target: the target may arrive in a later
-- insert, so a refresh joins them once the target is there (or, after 10 minutes, without it),
-- and writes each carrier once: carriers already in the table are skipped.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.evaluations_linked_refresh
REFRESH EVERY 5 SECOND APPEND TO ${db}.evaluations AS
WITH
    (SELECT max(inserted_at) FROM ${db}.llm_spans_data) - INTERVAL 1 HOUR AS since,
    carriers AS (
        SELECT trace_id, span_id, link_trace_id, link_span_id, eval_items, inserted_at
        FROM ${db}.llm_spans_data
        WHERE version = 0 AND span_kind = 'EVALUATOR' AND link_span_id != '' AND notEmpty(eval_items)
          AND inserted_at >= since
          AND (trace_id, span_id) NOT IN (
              SELECT carrier_trace_id, carrier_span_id FROM ${db}.evaluations
              WHERE via = 'evaluator_span' AND inserted_at >= since - INTERVAL 1 HOUR)
    ),
    targets AS (
        SELECT trace_id, span_id, model, provider, agent_name, app_service_name AS service_name, session_id, span_kind
        FROM ${db}.llm_spans_data FINAL
        WHERE (trace_id, span_id) IN (SELECT link_trace_id, link_span_id FROM carriers)
    )
SELECT
    e.ts AS timestamp,
    c.link_trace_id AS trace_id,
    if(e.trace_scope = 1, '', c.link_span_id) AS span_id,
    e.name AS name,
    e.score AS score,
    e.label AS label,
    e.explanation AS explanation,
    e.source AS source,
    e.identifier AS identifier,
    e.annotator_kind AS annotator_kind,
    e.metadata AS metadata,
    t.model AS model,
    t.provider AS provider,
    t.agent_name AS agent_name,
    t.service_name AS service_name,
    t.session_id AS session_id,
    t.span_kind AS span_kind,
    'evaluator_span' AS via,
    c.trace_id AS carrier_trace_id,
    c.span_id AS carrier_span_id,
    now64(3) AS inserted_at
FROM carriers AS c
ARRAY JOIN c.eval_items AS e
LEFT JOIN targets AS t ON t.trace_id = c.link_trace_id AND t.span_id = c.link_span_id
WHERE e.name != '' AND (t.span_id != '' OR c.inserted_at < now64(3) - INTERVAL 10 MINUTE);

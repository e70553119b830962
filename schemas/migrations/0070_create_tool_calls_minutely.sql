-- tool_calls_minutely: MCP tool calls through tracegate's gateway per minute, by service, MCP
-- server and tool: calls, errors (JSON-RPC errors and refusals), tool errors (the tool answered
-- isError), and latency (sum and t-digest quantiles of the gateway span's duration).
--
-- Fed at insert time from the gateway's own tools/call spans only (tracegate.origin = gateway,
-- mcp.method.name = tools/call): one span per call, so a call is counted once even when the
-- agent's or the MCP server's instrumentation records its own TOOL or MCP spans of it. Tool calls
-- that never went through the gateway are in llm_spans (span_kind TOOL), not here.
-- Read through the `tool_calls_minutely` view, which merges the partial rows.
CREATE TABLE IF NOT EXISTS ${db}.tool_calls_minutely_data (
    minute DateTime CODEC(Delta(4), ZSTD(1)),
    service_name LowCardinality(String),
    server LowCardinality(String),
    tool LowCardinality(String),
    calls SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    tool_errors SimpleAggregateFunction(sum, UInt64),
    duration_ms_sum SimpleAggregateFunction(sum, Float64),
    duration_ms_digest AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, service_name, server, tool)
${rollup_ttl(toDateTime(minute))}
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.tool_calls_minutely_mv TO ${db}.tool_calls_minutely_data AS
WITH SpanAttributes AS a
SELECT
    toStartOfMinute(Timestamp) AS minute,
    ServiceName AS service_name,
    a['tracegate.mcp.server'] AS server,
    if(a['gen_ai.tool.name'] != '', a['gen_ai.tool.name'], a['tool.name']) AS tool,
    toUInt64(count()) AS calls,
    toUInt64(countIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR') AND a['error.type'] != 'tool_error')) AS errors,
    toUInt64(countIf(a['error.type'] = 'tool_error')) AS tool_errors,
    sum(Duration / 1e6) AS duration_ms_sum,
    quantilesTDigestState(0.5, 0.95, 0.99)(Duration / 1e6) AS duration_ms_digest
FROM ${db}.otel_traces
WHERE a['tracegate.origin'] = 'gateway' AND a['mcp.method.name'] = 'tools/call'
GROUP BY minute, service_name, server, tool;

CREATE VIEW IF NOT EXISTS ${db}.tool_calls_minutely AS
SELECT
    minute, service_name, server, tool,
    sum(calls) AS calls,
    sum(errors) AS errors,
    sum(tool_errors) AS tool_errors,
    sum(duration_ms_sum) AS duration_ms_sum,
    quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_ms_digest) AS q,
    q[1] AS p50_ms,
    q[2] AS p95_ms,
    q[3] AS p99_ms
FROM ${db}.tool_calls_minutely_data
GROUP BY minute, service_name, server, tool;

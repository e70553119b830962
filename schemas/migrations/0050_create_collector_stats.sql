-- The collector's own counters, written by every collector instance every few seconds, so that
-- Grafana (which reads ClickHouse alone) can show pipeline health. Span counters are running
-- totals since the instance started (use the difference between rows, per instance and
-- started_at, for rates); queue and spool columns are the values at that moment.
CREATE TABLE IF NOT EXISTS ${db}.collector_stats (
    timestamp DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    instance LowCardinality(String),
    started_at DateTime64(3),
    received_spans UInt64,
    accepted_spans UInt64,
    refused_spans UInt64,
    exported_spans UInt64,
    spooled_spans UInt64,
    dropped_spans UInt64,
    export_failures UInt64,
    queue_spans UInt64,
    queue_batches UInt32,
    spool_bytes UInt64,
    export_latency_sum_seconds Float64,
    export_latency_count UInt64
) ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (instance, timestamp)
${raw_ttl(toDateTime(timestamp))};

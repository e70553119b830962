import { board, queryVariable, textVariable } from '../board.js';
import type { Dashboard } from '../model.js';
import { linkOverride, table, timeseries, traces, unitOverride } from '../panels.js';
import { bucket, eqText, inVar, where } from '../sql.js';

export const TRACES_UID = 'tracegate-traces';

/** A URL that opens one trace in this dashboard's trace view, keeping the time range. */
export const traceLink = (field = 'trace_id') => linkOverride(field, 'Open trace', `/d/${TRACES_UID}/traces?var-trace_id=\${__value.raw}&\${__url_time_range}`);

const SPAN_FILTERS = where(
  '$__timeFilter(Timestamp)',
  inVar('ServiceName', 'service'),
  inVar("SpanAttributes['llm.model_name']", 'model'),
  inVar('StatusCode', 'status'),
  eqText("SpanAttributes['session.id']", 'session'),
  eqText("SpanAttributes['user.id']", 'user'),
);

// Map columns as the trace view wants them: a list of {key, value}.
const kv = (col: string) => `arrayMap(key -> map('key', key, 'value', ${col}[key]), mapKeys(${col}))`;

/**
 * The data source's OpenTelemetry trace query (its query builder's trace-ID mode), with the
 * `_trace_id_ts` lookup narrowing the scan to the trace's own time span.
 */
const TRACE_SQL = `
  WITH
    \${trace_id:sqlstring} AS __gf_trace_id,
    (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = __gf_trace_id) AS __gf_trace_start,
    (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = __gf_trace_id) AS __gf_trace_end
  SELECT
    TraceId AS traceID,
    SpanId AS spanID,
    ParentSpanId AS parentSpanID,
    ServiceName AS serviceName,
    SpanName AS operationName,
    multiply(toUnixTimestamp64Nano(Timestamp), 0.000001) AS startTime,
    multiply(Duration, 0.000001) AS duration,
    ${kv('SpanAttributes')} AS tags,
    ${kv('ResourceAttributes')} AS serviceTags,
    if(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) AS statusCode,
    arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)), ${kv('attributes')})::Tuple(name String, timestamp String, fields Array(Map(String, String))), Events.Name, Events.Timestamp, Events.Attributes) AS logs,
    arrayMap((traceID, spanID, attributes) -> tuple(traceID, spanID, ${kv('attributes')})::Tuple(traceID String, spanID String, tags Array(Map(String, String))), Links.TraceId, Links.SpanId, Links.Attributes) AS references,
    SpanKind AS kind,
    StatusMessage AS statusMessage,
    ScopeName AS instrumentationLibraryName,
    ScopeVersion AS instrumentationLibraryVersion,
    TraceState AS traceState
  FROM otel_traces
  WHERE TraceId = __gf_trace_id
    AND Timestamp >= __gf_trace_start
    AND Timestamp <= __gf_trace_end
  ORDER BY startTime`;

/** The builder's view of the same query: the OTel column mapping, so the query editor shows it. */
const OTEL_COLUMNS: [string, string][] = [
  ['Timestamp', 'time'],
  ['TraceId', 'trace_id'],
  ['SpanId', 'trace_span_id'],
  ['ParentSpanId', 'trace_parent_span_id'],
  ['ServiceName', 'trace_service_name'],
  ['SpanName', 'trace_operation_name'],
  ['Duration', 'trace_duration_time'],
  ['SpanAttributes', 'trace_tags'],
  ['ResourceAttributes', 'trace_service_tags'],
  ['StatusCode', 'trace_status_code'],
  ['SpanKind', 'trace_kind'],
  ['StatusMessage', 'trace_status_message'],
  ['TraceState', 'trace_state'],
];

const TRACE_BUILDER = {
  database: 'tracegate',
  table: 'otel_traces',
  queryType: 'traces',
  mode: 'list',
  columns: OTEL_COLUMNS.map(([name, hint]) => ({ name, hint })),
  filters: [],
  meta: {
    otelEnabled: true,
    otelVersion: 'latest',
    traceDurationUnit: 'nanoseconds',
    isTraceIdMode: true,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template literal
    traceId: '${trace_id}',
    hasTraceTimestampTable: true,
    traceTimestampTableSuffix: '_trace_id_ts',
    traceEventsColumnPrefix: 'Events',
    traceLinksColumnPrefix: 'Links',
    flattenNested: false,
  },
};

export function tracesDashboard(): Dashboard {
  return board({
    uid: TRACES_UID,
    title: 'tracegate / Traces',
    description: 'Search spans by service, model, status, session and user; open a trace in the OpenTelemetry trace view.',
    from: 'now-1h',
    variables: [
      queryVariable('service', 'Service', 'SELECT DISTINCT ServiceName FROM otel_traces WHERE $__timeFilter(Timestamp) ORDER BY 1'),
      queryVariable('model', 'Model', "SELECT DISTINCT SpanAttributes['llm.model_name'] AS m FROM otel_traces WHERE $__timeFilter(Timestamp) AND m != '' ORDER BY 1"),
      queryVariable('status', 'Status', 'SELECT DISTINCT StatusCode FROM otel_traces WHERE $__timeFilter(Timestamp) ORDER BY 1'),
      textVariable('session', 'Session id'),
      textVariable('user', 'User id'),
      textVariable('trace_id', 'Trace id', '', 'The trace shown in the trace view; a click on a trace id in a table fills it in.'),
    ],
    panels: [
      timeseries(
        'Spans per second by status',
        `
        SELECT ${bucket('Timestamp')} AS time, StatusCode AS status, count() / $__interval_s AS spans
        FROM otel_traces
        WHERE ${SPAN_FILTERS}
        GROUP BY time, status
        ORDER BY time`,
        { unit: 'reqps', stack: true, w: 12, h: 7 },
      ),
      timeseries(
        'Span duration p95 by service',
        `
        SELECT ${bucket('Timestamp')} AS time, ServiceName AS service, quantile(0.95)(Duration) / 1e6 AS p95
        FROM otel_traces
        WHERE ${SPAN_FILTERS}
        GROUP BY time, service
        ORDER BY time`,
        { unit: 'ms', w: 12, h: 7 },
      ),
      table(
        'Span search',
        `
        SELECT
          Timestamp AS time,
          TraceId AS trace_id,
          ServiceName AS service,
          SpanName AS span,
          SpanAttributes['openinference.span.kind'] AS kind,
          SpanAttributes['llm.model_name'] AS model,
          StatusCode AS status,
          SpanAttributes['session.id'] AS session,
          SpanAttributes['user.id'] AS user,
          Duration / 1e6 AS duration_ms
        FROM otel_traces
        WHERE ${SPAN_FILTERS}
        ORDER BY Timestamp DESC
        LIMIT 500`,
        { h: 10, overrides: [traceLink(), unitOverride('duration_ms', 'ms')] },
      ),
      traces('Trace', TRACE_SQL, TRACE_BUILDER, {
        description: 'The trace named by the Trace id variable (click a trace id in a table).',
      }),
      table(
        'Slowest traces',
        `
        SELECT
          TraceId AS trace_id,
          min(Timestamp) AS start,
          argMin(SpanName, Timestamp) AS root,
          anyIf(ServiceName, ParentSpanId = '') AS service,
          count() AS spans,
          countIf(StatusCode = 'Error') AS errors,
          (max(toUnixTimestamp64Nano(Timestamp) + Duration) - min(toUnixTimestamp64Nano(Timestamp))) / 1e6 AS duration_ms
        FROM otel_traces
        WHERE ${SPAN_FILTERS}
        GROUP BY TraceId
        ORDER BY duration_ms DESC
        LIMIT 50`,
        { w: 24, h: 9, overrides: [traceLink(), unitOverride('duration_ms', 'ms')] },
      ),
    ],
  });
}

/**
 * One span as the pipeline carries it, from decode to insert. The shape follows the
 * `otel_traces` row of the OpenTelemetry Collector ClickHouse exporter: attribute values are
 * already strings (ints in decimal, doubles as JS prints them, bools as true/false, arrays and
 * maps as JSON), ids are lower-case hex, times are nanoseconds since the epoch as bigint.
 */
export type Attributes = Record<string, string>;

/** The exporter's SpanKind strings. */
export type SpanKindStr = 'Unspecified' | 'Internal' | 'Server' | 'Client' | 'Producer' | 'Consumer';
/** The exporter's StatusCode strings. */
export type StatusCodeStr = 'Unset' | 'Ok' | 'Error';

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
}

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: SpanKindStr;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  serviceName: string;
  resourceAttributes: Attributes;
  scopeName: string;
  scopeVersion: string;
  attributes: Attributes;
  statusCode: StatusCodeStr;
  statusMessage: string;
  events: SpanEvent[];
  links: SpanLink[];
}

/** A batch moving through the processor stages. */
export type SpanBatch = SpanRecord[];

/**
 * The gateway's OTLP/gRPC transport: the official export delegate of
 * `@opentelemetry/otlp-grpc-exporter-base` (the transport of `@opentelemetry/exporter-trace-otlp-grpc`:
 * channel, deadlines, retries, concurrency limit, partial-success logging), handed requests our
 * one-pass protobuf encoder already wrote, and decoding the receiver's answer with the official
 * `ProtobufTraceSerializer` of `@opentelemetry/otlp-transformer`.
 */
import type { Metadata } from '@grpc/grpc-js';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';

export const TRACE_SERVICE = 'TraceExportService';
export const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface GrpcExporterOptions {
  /** `http://host:port` of the OTLP/gRPC receiver. */
  url: string;
  /** Sent with every export call (the collector's `authorization: Bearer` token). */
  metadata?: Metadata;
  /** Per export call (default: the SDK's, 10 s, or OTEL_EXPORTER_OTLP_TRACES_TIMEOUT). */
  timeoutMillis?: number;
  /** Exports in flight at once before new ones fail fast (default: the SDK's, 30). */
  concurrencyLimit?: number;
}

/** What the delegate carries: the request already encoded, so the spans themselves are released at once. */
export interface EncodedRequest {
  bytes: Uint8Array;
  spans: number;
}

const encoded: ISerializer<EncodedRequest, IExportTraceServiceResponse> = {
  serializeRequest: (r) => r.bytes,
  // Throws on bytes that are not a response: the delegate logs it and keeps the export a success.
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/** An export delegate on the official gRPC transport for encoded requests. */
export function grpcTraceDelegate(opts: GrpcExporterOptions) {
  const config = convertLegacyOtlpGrpcOptions({ url: opts.url, metadata: opts.metadata, timeoutMillis: opts.timeoutMillis, concurrencyLimit: opts.concurrencyLimit }, 'TRACES');
  // The `otel.sdk.exporter.span.*` self-metrics count a request's spans.
  const counter = { name: 'span' as const, countItems: (r: EncodedRequest) => r.spans };
  return createOtlpGrpcExportDelegate(config, encoded, 'otlp_grpc_span_exporter', counter, undefined, TRACE_SERVICE, TRACE_EXPORT_PATH);
}

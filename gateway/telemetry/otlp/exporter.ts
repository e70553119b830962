/**
 * The gateway's OTLP/gRPC span exporter: the official transport of
 * `@opentelemetry/exporter-trace-otlp-grpc` (its export delegate from
 * `@opentelemetry/otlp-grpc-exporter-base`: channel, deadlines, retries, concurrency limit,
 * partial-success logging), with our one-pass protobuf encoder in place of the SDK's serializer.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { ExportResult } from '@opentelemetry/core';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { encodeTraceRequest } from './encode.js';
import { decodeExportResponse, type ExportTraceResponse } from './response.js';
import { ProtoWriter } from './writer.js';

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

/** The delegate's serializer contract (ISerializer of @opentelemetry/otlp-transformer). */
export interface Serializer<T> {
  serializeRequest(request: T): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): ExportTraceResponse;
}

/** The `otel.sdk.exporter.span.*` self-metrics helper the delegate asks for. */
export const spanCounter = <T>(count: (request: T) => number) => ({ name: 'span' as const, countItems: count });

/** An export delegate on the official gRPC transport for any request representation `T`. */
export function grpcTraceDelegate<T>(opts: GrpcExporterOptions, serializer: Serializer<T>, count: (request: T) => number) {
  const config = convertLegacyOtlpGrpcOptions({ url: opts.url, metadata: opts.metadata, timeoutMillis: opts.timeoutMillis, concurrencyLimit: opts.concurrencyLimit }, 'TRACES');
  return createOtlpGrpcExportDelegate(config, serializer, 'otlp_grpc_span_exporter', spanCounter(count), undefined, TRACE_SERVICE, TRACE_EXPORT_PATH);
}

/** What the delegate carries: the request already encoded, so the spans themselves are released at once. */
export interface EncodedRequest {
  bytes: Uint8Array;
  spans: number;
}

const encodedSerializer: Serializer<EncodedRequest> = {
  serializeRequest: (r) => r.bytes,
  deserializeResponse: decodeExportResponse,
};

/**
 * A SpanExporter for any span processor. `export` returns at once: encoding and sending run on
 * the next turn of the event loop, because the BatchSpanProcessor exports a full batch from inside
 * the `span.end()` that filled it, which is the tail of some client's request. The spans are
 * encoded before the gRPC call and not held while it is in flight: spans that live through a
 * young-generation GC are copied, and held for a whole export they would be on every one.
 */
export class OtlpGrpcSpanExporter implements SpanExporter {
  private readonly delegate;
  private readonly writer = new ProtoWriter(256 * 1024);
  private readonly queued = new Set<Promise<void>>();

  constructor(opts: GrpcExporterOptions) {
    this.delegate = grpcTraceDelegate(opts, encodedSerializer, (r) => r.spans);
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const p = new Promise<void>((resolve) =>
      setImmediate(() => {
        this.queued.delete(p);
        this.delegate.export({ bytes: encodeTraceRequest(spans, this.writer), spans: spans.length }, done);
        resolve();
      }),
    );
    this.queued.add(p);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.queued);
    await this.delegate.forceFlush();
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.queued);
    await this.delegate.shutdown();
  }
}

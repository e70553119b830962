/**
 * The gateway's tracer: spans are created with an explicit parent taken from the incoming
 * `traceparent` (no context manager, so no async-hooks cost on the hot path) and exported in
 * batches over OTLP gRPC, off the request path: each ended span is encoded on the next turn of
 * the event loop (otlp/processor.ts), never inside the request's `span.end()`.
 */
import { ROOT_CONTEXT, defaultTextMapGetter, type Context, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OtlpGrpcSpanProcessor } from './otlp/processor.js';

const propagator = new W3CTraceContextPropagator();

/** The caller's context from `traceparent` / `tracestate`; the root context (a new trace) when absent or invalid. */
export function parentContext(headers: Record<string, string | string[] | undefined>): Context {
  if (headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** Message-heavy calls flatten into many attributes; the SDK's default limit (128) would drop most. */
export const SPAN_LIMITS = { attributeCountLimit: 2048 };

export interface TracingOptions {
  serviceName: string;
  /** OTLP gRPC endpoint (`http://127.0.0.1:4317`); null: spans go nowhere unless `exporter` is given. */
  otlpEndpoint: string | null;
  /** Overrides the OTLP exporter (tests pass an in-memory one). */
  exporter?: SpanExporter;
  /** Export each span as it ends instead of batching (tests). */
  simple?: boolean;
}

export interface OwnedTracing {
  provider: TracerProvider;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Batching for exporters given in tests (in-memory): the SDK's processor. */
export const BATCH = { maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 1000 } as const;

/**
 * The span processor that exports to an OTLP/gRPC endpoint (`tracegate gateway` and `tracegate
 * start` both use it): 512 spans (256 calls) per export request keeps gRPC's per-call cost small.
 */
export function otlpSpanProcessor(otlpEndpoint: string): OtlpGrpcSpanProcessor {
  return new OtlpGrpcSpanProcessor({ url: otlpEndpoint, maxBatchSpans: 512, scheduledDelayMillis: 1000 });
}

export function gatewayResource(serviceName: string) {
  return resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'tracegate' });
}

/** A tracer provider for one gateway, not registered globally. */
export function buildTracing(opts: TracingOptions): OwnedTracing {
  const processors: SpanProcessor[] = [];
  if (opts.exporter) processors.push(opts.simple ? new SimpleSpanProcessor(opts.exporter) : new BatchSpanProcessor(opts.exporter, { ...BATCH }));
  else if (opts.otlpEndpoint) processors.push(otlpSpanProcessor(opts.otlpEndpoint));
  const provider = new BasicTracerProvider({ resource: gatewayResource(opts.serviceName), spanLimits: SPAN_LIMITS, spanProcessors: processors });
  return { provider, forceFlush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

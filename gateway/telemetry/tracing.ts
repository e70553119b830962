/**
 * Where the gateway's spans go. In production (`tracegate gateway`, `tracegate start`) one
 * OtlpGrpcSpanProcessor batches them over OTLP gRPC, off the request path: each ended span is
 * encoded on the next turn of the event loop, attributes written straight into the batch
 * (otlp/processor.ts). Tests hand in an exporter (in memory); an embedding application can hand in
 * its own SpanProcessor or TracerProvider.
 */
import { Metadata } from '@grpc/grpc-js';
import type { TracerProvider } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OtlpGrpcSpanProcessor, type ExportStats } from './otlp/processor.js';
import { TracerReplayProcessor } from './spans/replay.js';
import { GatewayTracer } from './spans/tracer.js';

/** Message-heavy calls flatten into many attributes; the SDK's default limit (128) would drop most. */
export const SPAN_LIMITS = { attributeCountLimit: 2048 };

/** Batching for exporters given in tests (in-memory): the SDK's processor. */
export const BATCH = { maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 1000 } as const;

/**
 * The span processor that exports to an OTLP/gRPC endpoint: 512 spans (256 calls) per export
 * request keeps gRPC's per-call cost small.
 */
export function otlpSpanProcessor(otlpEndpoint: string, bearerToken?: string): OtlpGrpcSpanProcessor {
  // A collector with a token refuses spans without it (`tracegate start` beyond loopback).
  const metadata = bearerToken ? new Metadata() : undefined;
  metadata?.set('authorization', `Bearer ${bearerToken}`);
  return new OtlpGrpcSpanProcessor({ url: otlpEndpoint, metadata, maxBatchSpans: 512, scheduledDelayMillis: 1000 });
}

export function gatewayResource(serviceName: string): Resource {
  return resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'tracegate' });
}

export interface TracingOptions {
  serviceName: string;
  /** OTLP gRPC endpoint (`http://127.0.0.1:4317`); null: no spans unless one of the others is given. */
  otlpEndpoint: string | null;
  /** Spans go to this processor (not shut down by the gateway: its owner does that). */
  spanProcessor?: SpanProcessor;
  /** Spans are re-created through this provider's tracer (not shut down by the gateway). */
  tracerProvider?: TracerProvider;
  /** Spans go to this exporter (tests: in memory), batched unless `simple`. */
  exporter?: SpanExporter;
  simple?: boolean;
}

export interface Tracing {
  /** Undefined when spans go nowhere. */
  tracer: GatewayTracer | undefined;
  /** The OTLP processor's counts, when spans go to one. */
  exportStats(): ExportStats | undefined;
  forceFlush(): Promise<void>;
  /** Shuts down what the gateway made itself. */
  shutdown(): Promise<void>;
}

/** The gateway's tracer over the processor the options name (the first given, in the order above). */
export function buildTracing(opts: TracingOptions): Tracing {
  const resource = gatewayResource(opts.serviceName);
  let processor: SpanProcessor | undefined = opts.spanProcessor;
  let owned = false;
  if (!processor && opts.tracerProvider) processor = new TracerReplayProcessor(opts.tracerProvider.getTracer('tracegate-gateway'));
  else if (!processor && opts.exporter) {
    processor = opts.simple ? new SimpleSpanProcessor(opts.exporter) : new BatchSpanProcessor(opts.exporter, { ...BATCH });
    owned = true;
  } else if (!processor && opts.otlpEndpoint) {
    processor = otlpSpanProcessor(opts.otlpEndpoint);
    owned = true;
  }
  if (!processor) return { tracer: undefined, exportStats: () => undefined, forceFlush: async () => {}, shutdown: async () => {} };
  const p = processor;
  const otlp = p instanceof OtlpGrpcSpanProcessor ? p : undefined;
  const tracer = new GatewayTracer({ processor: p, resource, callOnStart: !otlp });
  return { tracer, exportStats: () => otlp?.stats, forceFlush: () => p.forceFlush(), shutdown: () => (owned ? p.shutdown() : p.forceFlush()) };
}

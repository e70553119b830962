/**
 * The gateway's span processor for OTLP/gRPC: each ended span is encoded to protobuf on the next
 * turn of the event loop (never inside the request's `span.end()`) and dropped from the heap; a
 * batch is bytes until it is sent through the official gRPC export delegate.
 *
 * Why not BatchSpanProcessor + exporter: the SDK's processor keeps span objects queued until a
 * batch fills and, while one export is in flight, keeps queueing; every young-generation GC then
 * copies those spans again (measured: scavenge time per call tripled while exporting). Encoded at
 * once, a span lives for one event-loop turn, and the batch lives off the JS heap.
 */
import { TraceFlags, diag } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceSpans, spanEntry, type ResourceLike, type ScopeLike } from './encode.js';
import { grpcTraceDelegate, type EncodedRequest, type GrpcExporterOptions } from './exporter.js';
import { decodeExportResponse } from './response.js';
import { ProtoWriter } from './writer.js';

export interface SpanProcessorOptions extends GrpcExporterOptions {
  /** Spans per export request (default 512). */
  maxBatchSpans?: number;
  /** Encoded bytes per export request (default 4 MiB; the collector accepts 20 MiB). */
  maxBatchBytes?: number;
  /** A batch that is not full is sent this long after its first span (default 1000 ms). */
  scheduledDelayMillis?: number;
  /** Encoded bytes in flight to the collector before new batches are dropped (default 64 MiB). */
  maxInFlightBytes?: number;
}

export interface ExportStats {
  /** Spans the collector acknowledged (a partial success counts them all; the delegate logs the rejected ones). */
  exported: number;
  /** Spans dropped because too many bytes or calls were in flight. */
  dropped: number;
  /** Spans in batches whose export failed (collector down, timeout, refused). */
  failed: number;
}

type Group = { resource: ResourceLike; scope: ScopeLike; spans: ProtoWriter };

const encoded = { serializeRequest: (r: EncodedRequest) => r.bytes, deserializeResponse: decodeExportResponse };

export class OtlpGrpcSpanProcessor implements SpanProcessor {
  private readonly delegate;
  private readonly maxSpans: number;
  private readonly maxBytes: number;
  private readonly delayMs: number;
  private readonly maxInFlight: number;
  private pending: ReadableSpan[] = [];
  /** The open batch: span entries by resource and scope (nearly always one group). */
  private groups: Group[] = [];
  private batchSpans = 0;
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlightBytes = 0;
  private readonly request = new ProtoWriter(256 * 1024);
  private closed: Promise<void> | undefined;
  readonly stats: ExportStats = { exported: 0, dropped: 0, failed: 0 };

  constructor(opts: SpanProcessorOptions) {
    this.delegate = grpcTraceDelegate(opts, encoded, (r) => r.spans);
    this.maxSpans = opts.maxBatchSpans ?? 512;
    this.maxBytes = opts.maxBatchBytes ?? 4 * 1024 * 1024;
    this.delayMs = opts.scheduledDelayMillis ?? 1000;
    this.maxInFlight = opts.maxInFlightBytes ?? 64 * 1024 * 1024;
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.pending.push(span) === 1) setImmediate(() => this.drain());
  }

  /** Encodes the spans ended since the last turn into the open batch; sends the batch when full. */
  private drain(): void {
    const spans = this.pending;
    this.pending = [];
    for (const s of spans) {
      const g = this.groupOf(s);
      const before = g.spans.pos;
      spanEntry(g.spans, s);
      this.batchBytes += g.spans.pos - before;
      if (++this.batchSpans >= this.maxSpans || this.batchBytes >= this.maxBytes) this.seal();
    }
    if (this.batchSpans > 0 && !this.timer) {
      this.timer = setTimeout(() => this.seal(), this.delayMs);
      this.timer.unref();
    }
  }

  private groupOf(s: ReadableSpan): Group {
    const last = this.groups[this.groups.length - 1];
    if (last && last.resource === s.resource && last.scope === s.instrumentationScope) return last;
    let g = this.groups.find((x) => x.resource === s.resource && x.scope === s.instrumentationScope);
    if (!g) {
      g = { resource: s.resource, scope: s.instrumentationScope, spans: new ProtoWriter(64 * 1024) };
      this.groups.push(g);
    }
    return g;
  }

  /** Turns the open batch into one ExportTraceServiceRequest and hands it to the gRPC delegate. */
  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const count = this.batchSpans;
    if (count === 0) return;
    // Groups without spans in this batch are forgotten (a tracer that is no longer used).
    const used = this.groups.filter((g) => g.spans.pos > 0);
    const w = this.request;
    w.reset();
    for (const resource of new Set(used.map((g) => g.resource))) {
      const groups = used.filter((g) => g.resource === resource);
      resourceSpans(w, resource, groups.map((g) => g.scope), (scope) => {
        const spans = (groups.find((g) => g.scope === scope) as Group).spans;
        w.ensure(spans.pos);
        spans.buf.copy(w.buf, w.pos, 0, spans.pos);
        w.pos += spans.pos;
      });
    }
    for (const g of used) g.spans.reset();
    this.groups = used;
    this.batchSpans = 0;
    this.batchBytes = 0;
    // A view, not a copy: the official gRPC transport copies the request before send() returns
    // (Buffer.from in otlp-grpc-exporter-base 0.223.0, pinned); the processor tests send batches
    // back to back through a real gRPC server, which a later, lazier copy would corrupt.
    this.send(w.buf.subarray(0, w.pos), count);
  }

  private send(bytes: Buffer, spans: number): void {
    if (this.inFlightBytes + bytes.length > this.maxInFlight) {
      this.dropped(spans, 'the collector is not keeping up');
      return;
    }
    this.inFlightBytes += bytes.length;
    this.delegate.export({ bytes, spans }, (r) => {
      this.inFlightBytes -= bytes.length;
      if (r.code === ExportResultCode.SUCCESS) this.stats.exported += spans;
      else if (r.error?.message === 'Concurrent export limit reached') this.dropped(spans, 'too many exports in flight');
      else {
        this.stats.failed += spans;
        diag.warn(`tracegate: ${spans} spans not exported: ${r.error?.message ?? 'export failed'}`);
      }
    });
  }

  private dropped(spans: number, why: string): void {
    this.stats.dropped += spans;
    diag.warn(`tracegate: dropped ${spans} spans: ${why}`);
  }

  async forceFlush(): Promise<void> {
    if (this.pending.length) this.drain();
    this.seal();
    await this.delegate.forceFlush();
  }

  shutdown(): Promise<void> {
    this.closed ??= (async () => {
      await this.forceFlush();
      await this.delegate.shutdown();
    })();
    return this.closed;
  }
}

/**
 * The gateway's span processor for OTLP/gRPC: ended spans are encoded to protobuf in bursts (never
 * inside the request's `span.end()` unless it completes a burst) and dropped from the heap; a batch
 * is bytes until it is sent through the official gRPC export delegate.
 *
 * Why bursts: encoding is many small functions over a few kilobytes per call, and run between two
 * requests it found its code and the key tables cold every time. Encoded 128 spans (about 64
 * calls) at a time it cost a tenth less of the gateway's CPU per call than encoding each call as it
 * ended (measured: two builds side by side on one core, 5 rounds). A burst that does not fill is
 * encoded 20 ms after its first span, so a quiet gateway holds ended spans no longer than that.
 *
 * Why not BatchSpanProcessor + exporter: the SDK's processor keeps span objects queued until a
 * batch fills and, while one export is in flight, keeps queueing; every young-generation GC then
 * copies those spans again (measured: scavenge time per call tripled while exporting). Encoded in
 * bursts, a span lives for 128 spans' time or 20 ms at most.
 *
 * Sealed batches wait in a bounded queue and only a few are handed to the delegate at once: the
 * delegate and grpc-js each copy a request into a fresh buffer for as long as it is in flight,
 * and with a slow collector dozens of those (the delegate's own limit is 30) lived for seconds,
 * were promoted, and made V8 run a full GC every second (measured: 28 in 20 s, against 2 when
 * nothing was sent). A waiting batch is a pooled writer: nothing is allocated per batch.
 */
import { TraceFlags, diag } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { requestFraming, resourceSpans, spanEntry, type ResourceLike, type ScopeLike } from './encode.js';
import { grpcTraceDelegate, type GrpcExporterOptions } from './delegate.js';
import { ProtoWriter } from '../../../common/protobuf/writer.js';
import { ExactBuffers } from './buffers.js';

export interface SpanProcessorOptions extends GrpcExporterOptions {
  /** Ended spans are encoded in bursts of this many (default 128, about 64 calls). */
  encodeBurstSpans?: number;
  /** A burst that has not filled is encoded this long after its first span (default 20 ms). */
  encodeDelayMillis?: number;
  /** Spans per export request (default 512). */
  maxBatchSpans?: number;
  /** Encoded bytes per export request (default 4 MiB; the collector accepts 20 MiB). */
  maxBatchBytes?: number;
  /** A batch that is not full is sent this long after its first span (default 1000 ms). */
  scheduledDelayMillis?: number;
  /** Export requests in flight at once (default 2); sealed batches wait for a free one. */
  maxConcurrentExports?: number;
  /** Encoded bytes waiting or in flight before new batches are dropped (default 16 MiB, about 8k spans). */
  maxQueueBytes?: number;
  /** How long forceFlush and shutdown wait for queued batches to be answered (default 30 s). */
  flushTimeoutMillis?: number;
}

export interface ExportStats {
  /** Spans the collector acknowledged (a partial success counts them all; the delegate logs the rejected ones). */
  exported: number;
  /** Spans dropped because the queue was full (the collector is not keeping up). */
  dropped: number;
  /** Spans in batches whose export failed (collector down, timeout, refused). */
  failed: number;
  /** Encoded bytes waiting or in flight now. */
  queuedBytes: number;
  /** Spans that could not be encoded (an exception while writing them): left out of their batch. */
  encodeErrors: number;
}

type Group = { resource: ResourceLike; scope: ScopeLike; spans: ProtoWriter };
/** A sealed request: bytes `start`..`w.pos` of a pooled writer. */
type Batch = { w: ProtoWriter; start: number; spans: number };

/**
 * Span entries are written this far into their writer: a request's framing (resource, scope and
 * their lengths) goes in front of them when the batch is sealed, so they are never copied behind it.
 */
const HEAD_ROOM = 4096;
/** Pooled request writers that grew past this are let go rather than kept. */
const KEEP_WRITER_BYTES = 8 * 1024 * 1024;
/** The largest request handed to the delegate from a pooled exact-length buffer (larger: a copy). */
const REQUEST_BUFFER_BYTES = 32 * 1024 * 1024;

export class OtlpGrpcSpanProcessor implements SpanProcessor {
  private readonly delegate;
  private readonly maxSpans: number;
  private readonly maxBytes: number;
  private readonly delayMs: number;
  private readonly maxConcurrent: number;
  private readonly maxQueue: number;
  private readonly flushTimeoutMs: number;
  private pending: ReadableSpan[] = [];
  private readonly burst: number;
  private readonly burstDelayMs: number;
  private burstTimer: NodeJS.Timeout | undefined;
  /** The open batch: span entries by resource and scope (nearly always one group). */
  private groups: Group[] = [];
  private batchSpans = 0;
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly queue: Batch[] = [];
  private inFlight = 0;
  private readonly free: ProtoWriter[] = [];
  private readonly exact: ExactBuffers;
  private idle: (() => void)[] = [];
  private closed: Promise<void> | undefined;
  readonly stats: ExportStats = { exported: 0, dropped: 0, failed: 0, queuedBytes: 0, encodeErrors: 0 };

  constructor(opts: SpanProcessorOptions) {
    this.maxConcurrent = Math.max(1, opts.maxConcurrentExports ?? 2);
    this.exact = new ExactBuffers(REQUEST_BUFFER_BYTES, this.maxConcurrent);
    // The delegate frees a slot only after our callback has run, so its own limit is set above ours.
    this.delegate = grpcTraceDelegate({ ...opts, concurrencyLimit: Math.max(opts.concurrencyLimit ?? 0, 2 * this.maxConcurrent + 2) });
    this.burst = Math.max(1, opts.encodeBurstSpans ?? 128);
    this.burstDelayMs = opts.encodeDelayMillis ?? 20;
    this.maxSpans = opts.maxBatchSpans ?? 512;
    this.maxBytes = opts.maxBatchBytes ?? 4 * 1024 * 1024;
    this.delayMs = opts.scheduledDelayMillis ?? 1000;
    this.maxQueue = opts.maxQueueBytes ?? 16 * 1024 * 1024;
    this.flushTimeoutMs = opts.flushTimeoutMillis ?? 30_000;
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    const n = this.pending.push(span);
    if (n >= this.burst) this.drain();
    else if (n === 1) {
      this.burstTimer = setTimeout(this.drainSoon, this.burstDelayMs);
      this.burstTimer.unref();
    }
  }

  // Timer callbacks: whatever escapes them would end the process, so nothing does.
  private readonly drainSoon = () => this.guarded(() => this.drain());
  private readonly sealSoon = () => this.guarded(() => this.seal());

  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.encodeErrors++;
      diag.error(`tracegate: span export step failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /** Encodes the spans ended so far into the open batch; seals the batch when full. */
  private drain(): void {
    clearTimeout(this.burstTimer);
    this.burstTimer = undefined;
    const spans = this.pending;
    if (spans.length === 0) return;
    this.pending = [];
    for (const s of spans) {
      const g = this.groupOf(s);
      const before = g.spans.pos;
      // This runs from a timer: an exception here would end the process. A span that cannot be
      // written is cut out of the batch (the writer goes back) and counted; the others go on.
      try {
        spanEntry(g.spans, s);
      } catch (err) {
        g.spans.pos = before;
        this.stats.encodeErrors++;
        diag.error(`tracegate: a span could not be encoded and was left out: ${(err as Error)?.message ?? String(err)}`);
        continue;
      }
      this.batchBytes += g.spans.pos - before;
      if (++this.batchSpans >= this.maxSpans || this.batchBytes >= this.maxBytes) this.seal();
    }
    if (this.batchSpans > 0 && !this.timer) {
      this.timer = setTimeout(this.sealSoon, this.delayMs);
      this.timer.unref();
    }
  }

  private groupOf(s: ReadableSpan): Group {
    const last = this.groups[this.groups.length - 1];
    if (last && last.resource === s.resource && last.scope === s.instrumentationScope) return last;
    let g = this.groups.find((x) => x.resource === s.resource && x.scope === s.instrumentationScope);
    if (!g) {
      g = { resource: s.resource, scope: s.instrumentationScope, spans: this.writer() };
      this.groups.push(g);
    }
    return g;
  }

  /** A pooled writer at `pos` (span entries: behind the head room; a joined request: 0). */
  private writer(pos = HEAD_ROOM): ProtoWriter {
    const w = this.free.pop() ?? new ProtoWriter(256 * 1024);
    w.pos = pos;
    return w;
  }

  /** Turns the open batch into one ExportTraceServiceRequest, queued for the gRPC delegate. */
  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const count = this.batchSpans;
    if (count === 0) return;
    // Groups without spans in this batch are forgotten (a tracer that is no longer used).
    const used = this.groups.filter((g) => g.spans.pos > HEAD_ROOM);
    this.groups = used;
    this.batchSpans = 0;
    this.batchBytes = 0;
    const batch = used.length === 1 ? this.framed(used[0], count) : undefined;
    const b = batch ?? this.joined(used, count);
    const size = b.w.pos - b.start;
    if (this.stats.queuedBytes + size > this.maxQueue) {
      this.recycle(b.w);
      this.stats.dropped += count;
      diag.warn(`tracegate: dropped ${count} spans: the collector is not keeping up`);
      return;
    }
    this.stats.queuedBytes += size;
    this.queue.push(b);
    this.pump();
  }

  /** The one group's writer becomes the request, its framing written in front of the entries; the group gets a fresh writer. */
  private framed(g: Group, spans: number): Batch | undefined {
    const w = g.spans;
    const { head, tail } = requestFraming(g.resource, g.scope, w.pos - HEAD_ROOM);
    if (head.length > HEAD_ROOM) return undefined;
    w.raw(tail);
    const start = HEAD_ROOM - head.length;
    w.buf.set(head, start);
    g.spans = this.writer();
    return { w, start, spans };
  }

  /** Several groups: their entries copied into one request. */
  private joined(used: Group[], spans: number): Batch {
    const w = this.writer(0);
    for (const resource of new Set(used.map((g) => g.resource))) {
      const groups = used.filter((g) => g.resource === resource);
      resourceSpans(
        w,
        resource,
        groups.map((g) => g.scope),
        (scope) => {
          const entries = (groups.find((g) => g.scope === scope) as Group).spans;
          const n = entries.pos - HEAD_ROOM;
          w.ensure(n);
          entries.buf.copy(w.buf, w.pos, HEAD_ROOM, entries.pos);
          w.pos += n;
        },
      );
    }
    for (const g of used) g.spans.pos = HEAD_ROOM;
    return { w, start: 0, spans };
  }

  /** Hands waiting batches to the delegate while fewer than `maxConcurrent` are in flight. */
  private pump(): void {
    while (this.inFlight < this.maxConcurrent && this.queue.length > 0) {
      const b = this.queue.shift() as Batch;
      const size = b.w.pos - b.start;
      this.inFlight++;
      // The request goes to the delegate as a whole ArrayBuffer of its exact length, which its
      // transport wraps (Buffer.from) without copying: a fresh copy per request, held by grpc-js
      // for the whole call, made V8 run a full GC about every second (measured). The buffer stays
      // the batch's until the export has ended: grpc-js frames it later, and a retry reads it again.
      const bytes = this.exact.take(b.w.buf.subarray(b.start), size);
      this.recycle(b.w);
      this.delegate.export({ bytes: bytes as unknown as Uint8Array, spans: b.spans }, (r) => {
        this.inFlight--;
        this.stats.queuedBytes -= size;
        if (r.code === ExportResultCode.SUCCESS) this.stats.exported += b.spans;
        else {
          this.stats.failed += b.spans;
          diag.warn(`tracegate: ${b.spans} spans not exported: ${r.error?.message ?? 'export failed'}`);
        }
        this.exact.release(bytes);
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) for (const done of this.idle.splice(0)) done();
      });
    }
  }

  private recycle(w: ProtoWriter): void {
    w.reset();
    if (w.buf.length <= KEEP_WRITER_BYTES && this.free.length < this.maxConcurrent + 2) this.free.push(w);
  }

  /** Encodes and sends what has ended, then waits (up to `flushTimeoutMillis`) until every queued batch has been answered. */
  async forceFlush(): Promise<void> {
    if (this.pending.length) this.drain();
    this.seal();
    if (this.inFlight > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        timer = setTimeout(resolve, this.flushTimeoutMs);
        timer.unref();
      });
      clearTimeout(timer);
    }
    await this.delegate.forceFlush();
  }

  /** Flushes, then lets go of what is still queued (counted as dropped) and closes the channel. */
  shutdown(): Promise<void> {
    this.closed ??= (async () => {
      await this.forceFlush();
      for (const b of this.queue.splice(0)) {
        this.stats.dropped += b.spans;
        this.stats.queuedBytes -= b.w.pos - b.start;
        this.recycle(b.w);
      }
      await this.delegate.shutdown();
    })();
    return this.closed;
  }
}

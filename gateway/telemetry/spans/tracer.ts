/**
 * The gateway's tracer: W3C trace context in, `GatewaySpan`s out to one OpenTelemetry
 * SpanProcessor. Sampling is the SDK default's, ParentBased(AlwaysOn): a call whose caller's
 * `traceparent` is not sampled records no span (its metrics still count); any other call does.
 * No context manager: parents are passed explicitly, so nothing on the request path uses async hooks.
 */
import { ROOT_CONTEXT, TraceFlags, trace, type Context, type SpanContext, type SpanKind } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { performance } from 'node:perf_hooks';
import { GatewaySpan, type AttributeSource, type SpanHost } from './span.js';
import type { Capture } from './sink.js';

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

const ID = Buffer.allocUnsafe(16);

/** A random id of `bytes` bytes as lowercase hex, never all zeros (as the SDK's RandomIdGenerator). */
export function randomId(bytes: 8 | 16): string {
  for (;;) {
    for (let i = 0; i < bytes; i += 4) ID.writeUInt32BE((Math.random() * 0x1_0000_0000) >>> 0, i);
    const id = ID.toString('hex', 0, bytes);
    if (id !== ZERO_TRACE && id !== ZERO_SPAN) return id;
  }
}

export interface TracerOptions {
  processor: SpanProcessor;
  resource: Resource;
  scope?: InstrumentationScope;
  /**
   * Whether to call the processor's `onStart` (with the parent context). Off for the gateway's
   * OTLP processor, whose onStart does nothing; on for any other processor.
   */
  callOnStart?: boolean;
}

/** How often the offset between the monotonic clock and the wall clock is read again. */
const CLOCK_REFRESH_MS = 1000;

export class GatewayTracer implements SpanHost {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  private readonly processor: SpanProcessor;
  private readonly callOnStart: boolean;
  private offsetMs = 0;
  private offsetAt = -Infinity;

  constructor(opts: TracerOptions) {
    this.processor = opts.processor;
    this.resource = opts.resource;
    this.scope = opts.scope ?? { name: 'tracegate-gateway' };
    this.callOnStart = opts.callOnStart ?? true;
  }

  /**
   * Epoch milliseconds of a `performance.now()` reading. Spans are timed on the monotonic clock;
   * its offset to the wall clock is re-read every second, so wall-clock steps show up soon.
   */
  epochMs(perfNow: number): number {
    if (perfNow - this.offsetAt > CLOCK_REFRESH_MS || perfNow < this.offsetAt) {
      const now = performance.now();
      this.offsetMs = Date.now() - now;
      this.offsetAt = now;
    }
    return this.offsetMs + perfNow;
  }

  /**
   * A span under `parent` (a remote caller's context, or another gateway span), started at the
   * `performance.now()` reading `startPerf`. Undefined when the parent is not sampled.
   */
  start(name: string, kind: SpanKind, parent: SpanContext | GatewaySpan | undefined, startPerf: number, source: AttributeSource | undefined, capture: Capture): GatewaySpan | undefined {
    const pctx = parent instanceof GatewaySpan ? parent.spanContext() : parent;
    if (pctx && (pctx.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
    const ctx: SpanContext = { traceId: pctx?.traceId ?? randomId(16), spanId: randomId(8), traceFlags: TraceFlags.SAMPLED, isRemote: false };
    if (pctx?.traceState) ctx.traceState = pctx.traceState;
    const span = new GatewaySpan(this, name, kind, ctx, pctx, this.epochMs(startPerf), source, capture);
    if (this.callOnStart) this.processor.onStart(span, parent instanceof GatewaySpan ? trace.setSpan(ROOT_CONTEXT, parent) : contextOf(pctx));
    return span;
  }

  ended(span: GatewaySpan): void {
    this.processor.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }
}

const contextOf = (parent: SpanContext | undefined): Context => (parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT);

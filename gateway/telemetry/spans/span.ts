/**
 * The gateway's span: a finished-span record that any OpenTelemetry SpanProcessor or exporter
 * can take (it is a `ReadableSpan`) and that the gateway writes through the OpenTelemetry `Span`
 * API. Its own attributes are not a map filled during the call: an `AttributeSource` writes
 * them once, when the span is read. The OTLP processor has them written straight into its
 * export batch (otlp/processor.ts); any other reader gets them as an `Attributes` object, made
 * on first access and kept.
 */
import {
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { ObjectSink, type AttrSink, type Capture } from './sink.js';

/** Writes a span's own attributes into a sink (called once per reader). */
export interface AttributeSource {
  writeAttributes(sink: AttrSink): void;
}

/** What a span needs from the tracer that made it. */
export interface SpanHost {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** Epoch milliseconds of a `performance.now()` reading. */
  epochMs(perfNow: number): number;
  ended(span: GatewaySpan): void;
}

export function msToHrTime(ms: number): HrTime {
  let s = Math.floor(ms / 1000);
  let ns = Math.round((ms - s * 1000) * 1e6);
  if (ns >= 1e9) {
    s += 1;
    ns -= 1e9;
  }
  return [s, ns];
}

function timeToMs(t: TimeInput, host: SpanHost): number {
  if (typeof t === 'number') return t < 1e11 ? host.epochMs(t) : t; // performance.now() or epoch ms, as the SDK reads it
  if (t instanceof Date) return t.getTime();
  return t[0] * 1000 + t[1] / 1e6;
}

export class GatewaySpan implements ReadableSpan, Span {
  /** Epoch milliseconds (fractional). */
  endMs = 0;
  ended = false;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly events: TimedEvent[] = [];
  readonly links: Link[] = [];
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  /** Attributes other code set through the Span API, written after the source's. */
  extra: Attributes | undefined;
  private materialized: Attributes | undefined;

  constructor(
    private readonly host: SpanHost,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    /** Epoch milliseconds (fractional). */
    readonly startMs: number,
    readonly source: AttributeSource | undefined,
    /** Content capture for the source's attributes (the config's when the call started). */
    readonly capture: Capture,
  ) {}

  // ReadableSpan

  spanContext(): SpanContext {
    return this.context;
  }

  get resource(): Resource {
    return this.host.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.host.scope;
  }

  get startTime(): HrTime {
    return msToHrTime(this.startMs);
  }

  get endTime(): HrTime {
    return msToHrTime(this.endMs);
  }

  get duration(): HrTime {
    return msToHrTime(Math.max(0, this.endMs - this.startMs));
  }

  /** The source's attributes and the extra ones, as one object (made on first access). */
  get attributes(): Attributes {
    if (this.materialized) return this.materialized;
    const sink = new ObjectSink(this.capture);
    this.source?.writeAttributes(sink);
    const a = sink.attributes;
    if (this.extra) Object.assign(a, this.extra);
    if (this.ended) this.materialized = a;
    return a;
  }

  // Span

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended && key && value !== undefined && value !== null) (this.extra ??= {})[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key] as AttributeValue);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const isTime = typeof attributesOrTime === 'number' || attributesOrTime instanceof Date || Array.isArray(attributesOrTime);
    const at = isTime ? (attributesOrTime as TimeInput) : time;
    const ms = at === undefined ? Date.now() : timeToMs(at, this.host);
    this.events.push({ name, attributes: isTime ? {} : ((attributesOrTime as Attributes | undefined) ?? {}), time: msToHrTime(ms), droppedAttributesCount: 0 });
    return this;
  }

  addLink(link: Link): this {
    if (!this.ended) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const l of links) this.addLink(l);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) return this;
    // As the SDK does: OK is final, UNSET never overwrites.
    if (this.status.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this;
    this.status = status.code === SpanStatusCode.ERROR ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  /** Ends the span at `endTime` (default: now) and hands it to the span processor. */
  end(endTime?: TimeInput): void {
    this.endAt(endTime === undefined ? Date.now() : timeToMs(endTime, this.host));
  }

  /** Ends the span at a `performance.now()` reading. */
  endPerf(perfNow: number): void {
    this.endAt(this.host.epochMs(perfNow));
  }

  private endAt(ms: number): void {
    if (this.ended) return;
    this.endMs = Math.max(ms, this.startMs);
    this.ended = true;
    this.host.ended(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const a: Attributes = {};
    if (typeof exception === 'string') a['exception.message'] = exception;
    else {
      const name = exception.name ?? exception.code;
      if (name !== undefined) a['exception.type'] = String(name);
      if (exception.message) a['exception.message'] = exception.message;
      if (exception.stack) a['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', a, time);
  }
}

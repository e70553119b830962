/**
 * For a caller's own TracerProvider (`buildGateway(config, { tracerProvider })`): a span
 * processor that re-creates each finished gateway span through that provider's tracer, with its
 * times, kind, status, events, links and attributes, so the provider's own processors, sampler
 * and exporters see ordinary SDK spans. Children end before their parent; they wait for it and
 * are re-created under the parent's new span. The span ids are the provider's.
 */
import { ROOT_CONTEXT, trace, type Context, type Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { GatewaySpan } from './span.js';

export class TracerReplayProcessor implements SpanProcessor {
  /** Ended children by the id of their (still open) parent. */
  private readonly waiting = new Map<string, GatewaySpan[]>();

  constructor(private readonly tracer: Tracer) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (!(span instanceof GatewaySpan)) return;
    const parent = span.parentSpanContext;
    // A child of a gateway span waits for it; a call span (its parent is the caller's or none) replays at once.
    if (parent && !parent.isRemote) {
      const list = this.waiting.get(parent.spanId);
      if (list) list.push(span);
      else this.waiting.set(parent.spanId, [span]);
      return;
    }
    this.replay(span, parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT);
  }

  private replay(span: GatewaySpan, ctx: Context): void {
    const s = this.tracer.startSpan(span.name, { kind: span.kind, startTime: span.startTime, attributes: span.attributes, links: span.links }, ctx);
    for (const e of span.events) s.addEvent(e.name, e.attributes, e.time);
    if (span.status.code) s.setStatus(span.status);
    const children = this.waiting.get(span.spanContext().spanId);
    if (children) {
      this.waiting.delete(span.spanContext().spanId);
      const under = trace.setSpan(ROOT_CONTEXT, s);
      for (const c of children) this.replay(c, under);
    }
    s.end(span.endTime);
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.waiting.clear();
  }
}

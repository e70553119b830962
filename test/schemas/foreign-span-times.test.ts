import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationEvent, insertSpans, makeSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * Spans another OTLP pipeline writes into otel_traces (the OpenTelemetry Collector's ClickHouse
 * exporter, as insertSpans does) arrive with the sender's times. llm_spans_mv added a span's
 * Duration to its start: an end between 2262 and start + 2^63 ns made the engine throw ("Decimal
 * math overflow") and the whole INSERT failed, every other span of the batch with it; a Duration of
 * 2^63 ns or more wrapped to an end in 1759 and a duration of centuries. Since 0089 the view reads
 * them as the collector stores them: nothing after 2100-01-01.
 */
const LAST = BigInt(Date.UTC(2100, 0, 1)) * 1_000_000n;
const LLM = { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini', 'llm.token_count.prompt': '10' };

let store: TempStore;
beforeAll(async () => {
  store = await tempStore();
});
afterAll(async () => store?.destroy());

describe('spans written into otel_traces by another pipeline, with times past the store’s range', () => {
  it('are stored with the rest of their insert, read as the collector stores them', async () => {
    const start = ns(Date.now());
    const normal = makeSpan({ attributes: LLM, start, events: [evaluationEvent(BigInt(Date.UTC(2200, 0, 1)) * 1_000_000n, { name: 'late-event', score: 1 })] });
    const past2262 = makeSpan({ attributes: LLM, start });
    past2262.endTimeUnixNano = start + 8_000_000_000_000_000_000n;
    const wraps = makeSpan({ attributes: LLM, start });
    wraps.endTimeUnixNano = start + (1n << 64n) - 1n;
    const late = makeSpan({ attributes: LLM, start: BigInt(Date.UTC(2200, 0, 1)) * 1_000_000n });
    const after = makeSpan({ attributes: LLM, start });

    await insertSpans(store, [normal, past2262, wraps, late, after]);

    const rows = await store.rows<{ span_id: string; start: string; end: string; duration_ms: number }>(
      'SELECT span_id, toString(toUnixTimestamp64Nano(timestamp)) AS start, toString(toUnixTimestamp64Nano(end_time)) AS end, duration_ms FROM tracegate.llm_spans_data WHERE version = 0',
    );
    const got = new Map(rows.map((r) => [r.span_id, r]));
    expect(got.size).toBe(5);
    const times = (s: { spanId: string }) => {
      const r = got.get(s.spanId);
      return r && [BigInt(r.start), BigInt(r.end)];
    };
    // a span in range is as sent; the others end on 2100-01-01 (a start after it is that instant too)
    expect(times(normal)).toEqual([start, start + 10_000_000n]);
    expect(times(after)).toEqual([start, start + 10_000_000n]);
    expect(times(past2262)).toEqual([start, LAST]);
    expect(times(wraps)).toEqual([start, LAST]);
    expect(times(late)).toEqual([LAST, LAST]);
    expect(got.get(past2262.spanId)?.duration_ms).toBeCloseTo(Number(LAST - start) / 1e6, 0);
    expect(got.get(wraps.spanId)?.duration_ms).toBeCloseTo(Number(LAST - start) / 1e6, 0);
    expect(got.get(late.spanId)?.duration_ms).toBe(0);
    // an evaluation event dated after 2100 is that instant too (its row is kept, not expired by a wrapped TTL)
    const [ev] = await store.rows<{ at: string }>("SELECT toString(toUnixTimestamp64Nano(timestamp)) AS at FROM tracegate.evaluations WHERE name = 'late-event'");
    expect(BigInt(ev.at)).toBe(LAST);
  });
});

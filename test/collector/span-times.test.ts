import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { encodeRequest, ids, type TestSpan } from './otlp-encode.js';
import { startCollector, tempStore, type RunningCollector } from './helpers.js';
import type { TempStore } from '../helpers/store.js';

/**
 * Span times are the sender's: any 64-bit nanosecond count. The store's DateTime64(9) ends in
 * 2262, and the insert-time views add a span's duration to its start: an end after that
 * overflowed ("Decimal math overflow" in llm_spans_mv), the whole insert failed, and the exporter
 * retried that batch for ever, with every batch accepted after it waiting behind it. Its DateTime
 * (partitions, TTLs) wraps after 2106, which dropped a row dated then as already expired. The
 * collector now writes times after 2100-01-01 as that instant: every span of the batch is stored,
 * and so is the next batch.
 */
const LAST = 4_102_444_800n * 1_000_000_000n;
const YEAR_2300 = BigInt(Date.UTC(2300, 0, 1)) * 1_000_000n;
const U64_MAX = (1n << 64n) - 1n;

let store: TempStore;
let run: RunningCollector;

beforeAll(async () => {
  store = await tempStore();
  run = await startCollector(store);
});
afterAll(async () => {
  await run?.stop();
  await store?.destroy();
});

async function post(spans: TestSpan[]) {
  const res = await request(`${run.httpUrl}/v1/traces`, { method: 'POST', body: encodeRequest('span-times', spans), headers: { 'content-type': 'application/x-protobuf' } });
  await res.body.arrayBuffer();
  return res.statusCode;
}

const llm = (name: string, start: bigint, end: bigint): TestSpan => ({ ...ids(), name, start, end, attributes: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini' } });

describe('span times past the store’s range', () => {
  it('stores every span of a batch with times after 2100 (ends after 2262 included), and the batches after it', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const first = [
      llm('plain', now, now + 1_000_000n),
      llm('ends-2300', now, YEAR_2300),
      llm('ends-u64-max', now, U64_MAX),
      llm('starts-2300', YEAR_2300, YEAR_2300 + 5n),
      llm('starts-u64-max', U64_MAX, U64_MAX),
    ];
    expect(await post(first)).toBe(200);
    const second = [llm('after', now, now + 2_000_000n)];
    expect(await post(second)).toBe(200);
    expect(await run.collector.idle(20_000)).toBe(true);
    const names = [...first, ...second].map((s) => s.name);
    const rows = await store.rows<{ SpanName: string; start: string; end: string }>(
      `SELECT SpanName, toString(toUnixTimestamp64Nano(Timestamp)) AS start, toString(toUnixTimestamp64Nano(Timestamp) + Duration) AS end
       FROM ${store.database}.otel_traces WHERE SpanName IN {n:Array(String)} ORDER BY SpanName`,
      { n: names },
    );
    expect(rows.map((r) => r.SpanName)).toEqual([...names].sort());
    const by = new Map(rows.map((r) => [r.SpanName, [BigInt(r.start), BigInt(r.end)]]));
    expect(by.get('plain')).toEqual([now, now + 1_000_000n]);
    expect(by.get('ends-2300')).toEqual([now, LAST]);
    expect(by.get('ends-u64-max')).toEqual([now, LAST]);
    expect(by.get('starts-2300')).toEqual([LAST, LAST]);
    expect(by.get('starts-u64-max')).toEqual([LAST, LAST]);
    // the typed view has them all too (its view computes end_time from start and duration)
    const typed = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${store.database}.llm_spans_data WHERE span_name IN {n:Array(String)}`, { n: names });
    expect(Number(typed[0].n)).toBe(names.length);
    expect(run.collector.metrics.spans.dropped).toBe(0);
  });
});

/**
 * A sender that did not get its answer sends the same request again. The collector answers the
 * retry as it answered the first (OTLP/HTTP and OTLP/gRPC alike), stores its spans once, and
 * counts them as duplicates, in /metrics and in collector_stats.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { encodeRequest, ids } from './otlp-encode.js';
import { grpcExport, useCollector } from './helpers.js';

const fx = useCollector({ stats: { intervalMs: 100 } });

const body = (service: string) =>
  encodeRequest(service, [
    { ...ids(), name: 'a' },
    { ...ids(), name: 'b' },
    { traceId: Buffer.alloc(16), spanId: Buffer.alloc(8, 1), name: 'zero trace id' },
  ]);

async function postHttp(b: Buffer): Promise<{ status: number; body: Buffer }> {
  const res = await request(`${fx.run.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: b });
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
}

const postGrpc = async (b: Buffer) => ({ body: (await grpcExport(fx.run.grpcUrl, b)).response });

const stored = async (service: string) => Number((await fx.store.rows<{ n: string }>(`SELECT count() AS n FROM tracegate.otel_traces WHERE ServiceName = {s:String}`, { s: service }))[0].n);

describe('a retried export request', () => {
  it.each<[string, (b: Buffer) => Promise<{ body?: Buffer }>]>([
    ['OTLP/HTTP', postHttp],
    ['OTLP/gRPC', postGrpc],
  ])('over %s is answered alike and stored once', async (transport, send) => {
    const service = `retry-${transport.replace('/', '-')}`;
    const b = body(service);
    const first = await send(Buffer.from(b));
    const again = await send(Buffer.from(b));
    expect(again).toEqual(first);
    // the partial success names the span rejected for its ids, both times
    expect(first.body?.toString('latin1')).toMatch(/zero trace id|trace id/);
    await fx.run.collector.idle();
    expect(await stored(service)).toBe(2);
  });

  it('counts the spans of the retries as duplicate, not accepted', async () => {
    const metrics = await (await request(`${fx.run.httpUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^tracegate_collector_duplicate_spans_total 4$/m);
    expect(metrics).toMatch(/^tracegate_collector_accepted_spans_total 4$/m);
    expect(metrics).toMatch(/^tracegate_collector_refused_spans_total 4$/m);
    expect(metrics).toMatch(/^tracegate_collector_received_spans_total 12$/m);
  });

  it('writes the duplicate count to collector_stats beside the other counters', async () => {
    let row: Record<string, number> | undefined;
    for (let t = 0; t < 100 && Number(row?.duplicate_spans ?? 0) < 4; t++) {
      await new Promise((r) => setTimeout(r, 50));
      [row] = await fx.store.rows<Record<string, number>>(`SELECT received_spans, accepted_spans, duplicate_spans, refused_spans FROM tracegate.collector_stats ORDER BY timestamp DESC LIMIT 1`);
    }
    expect(row).toEqual({ received_spans: 12, accepted_spans: 4, duplicate_spans: 4, refused_spans: 4 });
  });
});

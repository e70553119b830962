import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { buildCollector } from '../../collector/collector.js';
import { encodeRequest, ids } from './otlp-encode.js';
import { grpcExport, switchableStore, tempStore, testConfig } from './helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TempStore } from '../helpers/store.js';

let store: TempStore;
beforeAll(async () => {
  store = await tempStore();
});
afterAll(async () => {
  await store?.destroy();
});

const count = async (service: string) =>
  Number((await store.rows<{ n: string }>(`SELECT count() AS n, uniqExact(SpanId) AS u FROM tracegate.otel_traces WHERE ServiceName = {s:String}`, { s: service }))[0].n);

async function postSpans(url: string, service: string, n: number) {
  const res = await request(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: encodeRequest(
      service,
      Array.from({ length: n }, (_, i) => ({ ...ids(), name: `s${i}`, attributes: { pad: 'x'.repeat(2000) } })),
    ),
  });
  await res.body.arrayBuffer();
  return res;
}

describe('ClickHouse outage', () => {
  it('accepts and spools while the store fails, then the table holds exactly the spans sent', async () => {
    const flaky = switchableStore(store);
    const spool = mkdtempSync(join(tmpdir(), 'tracegate-spool-'));
    const collector = buildCollector(testConfig(spool, { batch: { sendBatchSize: 50 } }), { store: flaky, logLevel: false });
    const at = await collector.start();
    const url = `http://127.0.0.1:${at.http!.port}`;
    try {
      flaky.down = true;
      for (let i = 0; i < 10; i++) expect((await postSpans(url, 'outage', 30)).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      const metrics = await (await request(`${url}/metrics`)).body.text();
      expect(metrics, metrics).toMatch(/tracegate_collector_accepted_spans_total 300/);
      expect(metrics).toMatch(/tracegate_collector_queue_spans 300/);
      expect(metrics).toMatch(/tracegate_collector_export_failures_total [1-9]/);
      flaky.down = false;
      expect(await collector.idle(20_000)).toBe(true);
      expect(await count('outage')).toBe(300);
      const after = await (await request(`${url}/metrics`)).body.text();
      expect(after).toMatch(/tracegate_collector_exported_spans_total 300/);
      expect(after).toMatch(/tracegate_collector_spooled_spans_total [1-9]/);
      expect(after).toMatch(/tracegate_collector_dropped_spans_total 0/);
    } finally {
      await collector.shutdown();
      rmSync(spool, { recursive: true, force: true });
    }
  });

  it('refuses with 429 + Retry-After and RESOURCE_EXHAUSTED once the spool is full, and replays it after a restart', async () => {
    const flaky = switchableStore(store);
    const spool = mkdtempSync(join(tmpdir(), 'tracegate-spool-'));
    const config = testConfig(spool, { spool: { maxBytes: 1024 * 1024 }, batch: { maxBatchBytes: 256 * 1024 }, retryAfterSeconds: 7 });
    const first = buildCollector(config, { store: flaky, logLevel: false });
    const at = await first.start();
    flaky.down = true;
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof postSpans>> | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const res = await postSpans(`http://127.0.0.1:${at.http!.port}`, 'full', 20);
      if (res.statusCode === 200) accepted += 20;
      else refused = res;
    }
    expect(refused?.statusCode).toBe(429);
    expect(refused?.headers['retry-after']).toBe('7');
    const { code: grpcCode } = await grpcExport(`127.0.0.1:${at.grpc!.port}`, encodeRequest('full', [{ ...ids(), name: 'x', attributes: { pad: 'y'.repeat(200_000) } }]));
    expect(grpcCode).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const ready = await request(`http://127.0.0.1:${at.http!.port}/readyz`);
    expect(ready.statusCode).toBe(503);
    await ready.body.text();
    await first.shutdown();

    // A new process over the same spool, with ClickHouse back: everything accepted lands once.
    const second = buildCollector(config, { store, logLevel: false });
    await second.start();
    try {
      expect(await second.idle(20_000)).toBe(true);
      expect(await count('full')).toBe(accepted);
    } finally {
      await second.shutdown();
      rmSync(spool, { recursive: true, force: true });
    }
  });
});

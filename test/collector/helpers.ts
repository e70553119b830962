import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { buildCollector, type Collector } from '../../collector/collector.js';
import { TRACE_EXPORT_PATH } from '../../collector/receivers/grpc.js';
import { parseCollectorConfig, type CollectorConfigInput } from '../../collector/config.js';
import type { Store } from '../../common/store.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/** Test settings: free ports, a temp spool, short timers, no stats rows, no logs. */
export function testConfig(spoolDir: string, overrides: CollectorConfigInput = {}) {
  return parseCollectorConfig({
    ...overrides,
    grpc: { port: 0, ...overrides.grpc },
    http: { port: 0, ...overrides.http },
    spool: { dir: spoolDir, ...overrides.spool },
    batch: { timeoutMs: 20, ...overrides.batch },
    retry: { initialIntervalMs: 50, maxIntervalMs: 200, ...overrides.retry },
    stats: { intervalMs: 0, ...overrides.stats },
  });
}

export interface RunningCollector {
  collector: Collector;
  grpcUrl: string;
  httpUrl: string;
  spoolDir: string;
  stop(): Promise<void>;
}

export async function startCollector(store: Store, overrides: CollectorConfigInput = {}, spoolDir = mkdtempSync(join(tmpdir(), 'tracegate-spool-'))): Promise<RunningCollector> {
  const collector = buildCollector(testConfig(spoolDir, overrides), { store, logLevel: false });
  const at = await collector.start();
  return {
    collector,
    grpcUrl: `http://127.0.0.1:${at.grpc?.port}`,
    httpUrl: `http://127.0.0.1:${at.http?.port}`,
    spoolDir,
    async stop() {
      await collector.shutdown();
      rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}

/**
 * A store whose client can be switched to fail every statement, as a ClickHouse that is down
 * would: the failure is injected at the store boundary, the collector's code is untouched.
 */
export function switchableStore(inner: TempStore): Store & { down: boolean } {
  const state = { down: false };
  const client = new Proxy(inner.client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || !['command', 'insert', 'exec', 'query'].includes(String(prop))) return v;
      return (...args: unknown[]) => {
        if (state.down) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as ClickHouseClient;
  return {
    client,
    target: inner.target,
    database: inner.database,
    close: () => inner.close(),
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
  };
}

export { tempStore };

/**
 * A temp store and a collector on it for the whole file: started before its tests (before the
 * file's own beforeAll hooks, which may use them) and stopped after them.
 */
export function useCollector(overrides: CollectorConfigInput = {}): { store: TempStore; run: RunningCollector } {
  const fx = {} as { store: TempStore; run: RunningCollector };
  beforeAll(async () => {
    fx.store = await tempStore();
    fx.run = await startCollector(fx.store, overrides);
  });
  afterAll(async () => {
    await fx.run?.stop();
    await fx.store?.destroy();
  });
  return fx;
}

/** POSTs a JSON body; the answer's status and parsed JSON. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

/**
 * One OTLP/gRPC Export call with raw protobuf bytes (`address`: host:port or http://host:port),
 * optionally with a bearer token; the status code and details, or the response bytes.
 */
export function grpcExport(address: string, body: Buffer, token?: string): Promise<{ code: number; details: string; response?: Buffer }> {
  return new Promise((resolve) => {
    const client = new grpc.Client(address.replace('http://', ''), grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    const id = (b: Buffer) => b;
    client.makeUnaryRequest(TRACE_EXPORT_PATH, id, id, body, md, (err, response) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', response });
    });
  });
}

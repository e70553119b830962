/**
 * Upstream HTTP: one keep-alive undici Pool per backend. A `Transport` is what an attempt sends
 * through; the built-in `simulated` provider (gateway/providers) plugs in as another Transport.
 */
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { BackendConfig } from './config/model.js';

export interface UpstreamCall {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Consume it or destroy it: a pooled connection is reused only once its body is read. */
  body: Readable;
}

export interface Transport {
  request(call: UpstreamCall): Promise<UpstreamAnswer>;
  close(): Promise<void>;
}

const KEEP_ALIVE_MS = 30_000;

/** Sends through an undici Dispatcher (a Pool for one origin, or an Agent/MockAgent for many). */
const parsed = new Map<string, { origin: string; path: string }>();

/** Origin and path of an upstream URL; the few distinct URLs of a config are parsed once. */
function split(url: string): { origin: string; path: string } {
  let p = parsed.get(url);
  if (!p) {
    const u = new URL(url);
    p = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (parsed.size > 1000) parsed.clear();
    parsed.set(url, p);
  }
  return p;
}

export function dispatcherTransport(dispatcher: Dispatcher, owned: boolean): Transport {
  return {
    async request(call) {
      const url = split(call.url);
      const res = await dispatcher.request({
        origin: url.origin,
        path: url.path,
        method: call.method,
        headers: call.headers,
        body: call.body,
        signal: call.signal,
        // The gateway's own timers decide (per attempt, stream idle); undici's are only a backstop.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    },
    close: () => (owned ? dispatcher.close() : Promise.resolve()),
  };
}

export interface UpstreamDeps {
  /** Replaces the per-backend pools (tests, proxies). Not closed by the gateway. */
  dispatcher?: Dispatcher;
  /** The built-in responder for `provider: simulated` backends. */
  simulated?: Transport;
}

/** Transports by backend, kept across reloads when a backend's origin and pool size stay the same. */
export class Upstreams {
  private readonly pools = new Map<string, { key: string; transport: Transport }>();

  constructor(private readonly deps: UpstreamDeps = {}) {}

  sync(backends: Iterable<BackendConfig>): void {
    const live = new Set<string>();
    for (const b of backends) {
      if (b.provider === 'simulated') continue;
      live.add(b.name);
      const key = `${new URL(b.url).origin}|${b.connections ?? ''}`;
      const cur = this.pools.get(b.name);
      if (cur?.key === key) continue;
      if (cur) void cur.transport.close().catch(() => {});
      this.pools.set(b.name, { key, transport: this.create(b) });
    }
    for (const [name, cur] of this.pools) {
      if (live.has(name)) continue;
      this.pools.delete(name);
      // Pool.close waits for requests in flight, so a reload never cuts a call short.
      void cur.transport.close().catch(() => {});
    }
  }

  get(backend: BackendConfig): Transport | undefined {
    if (backend.provider === 'simulated') return this.deps.simulated;
    return this.pools.get(backend.name)?.transport;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.transport.close()));
  }

  private create(b: BackendConfig): Transport {
    if (this.deps.dispatcher) return dispatcherTransport(this.deps.dispatcher, false);
    const pool = new Pool(new URL(b.url).origin, {
      connections: b.connections ?? null,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: 10 * KEEP_ALIVE_MS,
    });
    return dispatcherTransport(pool, true);
  }
}

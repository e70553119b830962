/**
 * Upstream HTTP: one keep-alive undici Pool per backend, driven through `dispatch` with a handler
 * of our own (undici's `request()` builds an AsyncResource, an abort listener, a Readable stream
 * and a parsed header object per call, which showed in gateway profiles). A `Transport` is what
 * an attempt sends through; the built-in `simulated` provider (gateway/providers) plugs in as
 * another Transport.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { BackendConfig } from './config/model.js';
import { providerFor } from './providers/registry.js';
import type { AbortLike } from './proxy/abort.js';

export interface UpstreamCall {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  /** Text, or bytes already encoded (a large client body passed through unchanged). */
  body?: string | Buffer;
  /** Aborting it stops the exchange; what is pending rejects with `signal.reason`. An AbortSignal, or the request path's cheaper stand-in. */
  signal: AbortLike;
}

/** What `text()` does with a body longer than its limit. */
export type OverLimit = 'fail' | 'truncate';

/** A response body: read it whole with `text()` or chunk by chunk, once. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  /**
   * The body as UTF-8, at most `limit` bytes. Past the limit, `'fail'` (the default) rejects with
   * `UpstreamBodyTooLarge` and `'truncate'` resolves with the first `limit` bytes; either way the
   * rest is not read: the exchange stops and its connection is closed, not drained.
   */
  text(limit?: number, over?: OverLimit): Promise<string>;
  /** The body's bytes, undecoded, under the same limit as `text()`; read it one way only. */
  bytes(limit?: number, over?: OverLimit): Promise<Buffer>;
}

/** A body past the limit `text()` was given. */
export class UpstreamBodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the upstream answer exceeded ${limit} bytes`);
    this.name = 'UpstreamBodyTooLarge';
  }
}

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Consume it: a pooled connection is reused only once its body is read. */
  body: UpstreamBody;
}

export interface Transport {
  request(call: UpstreamCall): Promise<UpstreamAnswer>;
  close(): Promise<void>;
}

const KEEP_ALIVE_MS = 30_000;
/** Buffered bytes at which a streamed body pauses the socket until the reader catches up. */
const HIGH_WATER = 64 * 1024;

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

const EMPTY = Buffer.alloc(0);

/** The chunks as one buffer, cut at `limit` bytes. */
function joinBytes(chunks: Buffer[], limit = Infinity): Buffer {
  if (chunks.length === 0) return EMPTY;
  const whole = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  return whole.length > limit ? whole.subarray(0, limit) : whole;
}

/** Bytes as UTF-8 (a sequence cut at a limit becomes U+FFFD). */
const utf8 = (b: Buffer) => b.toString('utf8');

type Settle<T> = { resolve: (v: T) => void; reject: (e: unknown) => void };

/**
 * One exchange: the undici dispatch handler and the answer's body in one object. Chunks are
 * buffered as they arrive; a reader takes them whole (`text`, up to its limit) or one by one
 * (the socket pauses while HIGH_WATER bytes wait, and before a reader has chosen either way).
 *
 * It implements undici's `DispatchHandler` (onRequestStart, onResponseStart, onResponseData,
 * onResponseEnd, onResponseError, onRequestUpgrade), the handler API undici keeps; the
 * `DispatchController` it is handed aborts, pauses and resumes the exchange.
 */
class Exchange implements UpstreamBody, Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private paused = false;
  private head: Settle<UpstreamAnswer> | undefined;
  private readonly chunks: Buffer[] = [];
  private taken = 0;
  /** Bytes in `chunks` not yet taken by the reader. */
  private buffered = 0;
  private mode: 'unread' | 'text' | 'chunks' = 'unread';
  private limit = Infinity;
  private over: OverLimit = 'fail';
  private ended = false;
  private failed = false;
  private error: unknown;
  private whole: Settle<Buffer> | undefined;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.fail(this.signal.reason, true);

  constructor(private readonly signal: AbortLike) {}

  start(dispatcher: Dispatcher, call: UpstreamCall): Promise<UpstreamAnswer> {
    return new Promise<UpstreamAnswer>((resolve, reject) => {
      this.head = { resolve, reject };
      if (this.signal.aborted) {
        this.fail(this.signal.reason, false);
        return;
      }
      this.signal.addEventListener('abort', this.onAbort);
      const url = split(call.url);
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.path,
          method: call.method,
          headers: call.headers,
          body: call.body,
          // The gateway's own timers decide (per attempt, stream idle); undici's are only a backstop.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        this,
      );
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failed) controller.abort(this.error as Error);
  }

  /** Nothing the gateway sends asks for an upgrade: an upstream that switches protocols has not answered. */
  onRequestUpgrade(_controller: Dispatcher.DispatchController, _status: number, _headers: IncomingHttpHeaders, socket: Duplex): void {
    socket.destroy();
    this.fail(new Error('the upstream switched protocols instead of answering'), true);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx informational answers are followed by the real one.
    if (statusCode < 200 || !this.head) return;
    const head = this.head;
    this.head = undefined;
    head.resolve({ status: statusCode, headers, body: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.mode === 'text') {
      if (this.buffered > this.limit) this.overLimit();
      return;
    }
    this.poke();
    if (this.buffered >= HIGH_WATER && !this.paused) {
      this.paused = true;
      controller.pause();
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.whole) this.whole.resolve(joinBytes(this.chunks));
    this.poke();
  }

  /** `text()`'s body went past its limit: settle it, and stop the exchange if bytes are still coming. */
  private overLimit(): void {
    const w = this.whole;
    this.whole = undefined;
    if (this.over === 'truncate') w?.resolve(joinBytes(this.chunks, this.limit));
    else w?.reject(new UpstreamBodyTooLarge(this.limit));
    this.chunks.length = 0;
    this.buffered = 0;
    this.fail(new Error('the rest of the upstream body was not wanted'), true);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // An abort we asked for already settled everything with its reason.
    this.fail(this.failed ? this.error : err, false);
  }

  /** Settles whatever waits with `reason`; `stop`: also abort the exchange in undici. */
  private fail(reason: unknown, stop: boolean): void {
    if (this.ended) return;
    const first = !this.failed;
    this.failed = true;
    if (first) this.error = reason;
    this.signal.removeEventListener('abort', this.onAbort);
    if (stop && first && this.controller) this.controller.abort(reason as Error);
    const err = this.error;
    if (this.head) {
      const h = this.head;
      this.head = undefined;
      h.reject(err);
    }
    if (this.whole) {
      const w = this.whole;
      this.whole = undefined;
      w.reject(err);
    }
    this.poke();
  }

  private resume(): void {
    this.paused = false;
    this.controller?.resume();
  }

  private poke(): void {
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }

  text(limit = Infinity, over: OverLimit = 'fail'): Promise<string> {
    return this.bytes(limit, over).then(utf8);
  }

  bytes(limit = Infinity, over: OverLimit = 'fail'): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.error);
    this.mode = 'text';
    this.limit = limit;
    this.over = over;
    const whole = new Promise<Buffer>((resolve, reject) => {
      this.whole = { resolve, reject };
    });
    if (this.buffered > limit) this.overLimit();
    else if (this.ended) this.whole?.resolve(joinBytes(this.chunks));
    else if (this.paused) this.resume();
    return whole;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    this.mode = 'chunks';
    try {
      for (;;) {
        if (this.failed) throw this.error;
        if (this.taken < this.chunks.length) {
          const c = this.chunks[this.taken];
          this.chunks[this.taken++] = EMPTY;
          this.buffered -= c.length;
          if (this.taken === this.chunks.length) {
            this.chunks.length = 0;
            this.taken = 0;
          }
          if (this.paused && this.buffered < HIGH_WATER) this.resume();
          yield c;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((r) => {
          this.wake = r;
        });
      }
    } finally {
      // A reader that stops early: the rest of the body is not wanted, nor the connection.
      if (!this.ended && !this.failed) this.fail(new Error('the upstream body was not read to its end'), true);
    }
  }
}

/** Sends through an undici Dispatcher (a Pool for one origin, or an Agent/MockAgent for many). */
export function dispatcherTransport(dispatcher: Dispatcher, owned: boolean): Transport {
  return {
    request: (call) => new Exchange(call.signal).start(dispatcher, call),
    close: () => (owned ? dispatcher.close() : Promise.resolve()),
  };
}

/** An UpstreamBody over bytes already in hand or produced by an iterator (the simulated provider). */
export function bodyOf(source: Buffer | AsyncIterable<Buffer>): UpstreamBody {
  let used = false;
  const once = () => {
    if (used) throw new Error('the body was already read');
    used = true;
  };
  const bytes = async (limit = Infinity, over: OverLimit = 'fail') => {
    once();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of Buffer.isBuffer(source) ? [source] : source) {
      chunks.push(c);
      size += c.length;
      if (size <= limit) continue;
      if (over === 'fail') throw new UpstreamBodyTooLarge(limit);
      break;
    }
    return joinBytes(chunks, limit);
  };
  return {
    bytes,
    text: (limit, over) => bytes(limit, over).then(utf8),
    async *[Symbol.asyncIterator]() {
      once();
      if (Buffer.isBuffer(source)) yield source;
      else yield* source;
    },
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
      if (providerFor(b.provider).simulated) continue;
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
    if (providerFor(backend.provider).simulated) return this.deps.simulated;
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

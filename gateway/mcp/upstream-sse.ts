/**
 * The MCP gateway's client of an MCP server that speaks only HTTP+SSE (MCP 2024-11-05): a GET
 * opens the server's stream, whose `endpoint` event names where messages are POSTed; answers
 * come back on the stream and are matched to their requests by id (upstream-pending.ts).
 *
 * One stream per gateway session and server, held by this replica (another replica answers
 * -32020: initialize again). A stream that is lost is reopened at the next message, and the
 * session's initialize is sent again on it. Bounds as for Streamable HTTP: an event or a line
 * without its newline over gateway.mcp.maxResponseBytes, nesting, the server's timeout; an
 * endpoint on another origin is refused (the server's credential must not go elsewhere).
 */
import { randomUUID } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { McpServerConfig } from '../config/model.js';
import { SseLimitError, SseParser } from '../sse.js';
import { errorResponse, isRequest, isResponse, RPC, RpcError, type JsonRpcMessage, type JsonRpcRequest } from './jsonrpc.js';
import { PendingRequests } from './upstream-pending.js';
import { headersFor, parseServerJson, readBounded, SERVER_REQUEST_REFUSED, upstreamError, type UpstreamAnswer, type UpstreamSend } from './upstream-common.js';

/** Streams held at once; past this the one used least recently is closed. */
const MAX_STREAMS = 1000;
/** An answer to a POSTed message is "Accepted": anything longer is not read. */
const MAX_POST_ANSWER_BYTES = 64 * 1024;

/** `p`, or a plain Error (mapped by the caller) when `signal` aborts first. */
function bounded<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** One open stream of one server. */
class SseStream {
  readonly pending = new PendingRequests('tg-');
  private endpoint?: string;
  private failure?: RpcError;
  private readonly abort = new AbortController();
  private readonly ready: Promise<void>;

  constructor(
    private readonly s: UpstreamSend,
    private readonly dispatcher: Dispatcher,
  ) {
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Resolves once the endpoint is known; `signal` bounds the wait. */
  whenReady(signal: AbortSignal): Promise<void> {
    return bounded(this.ready, signal);
  }

  private async open(): Promise<void> {
    const name = this.s.server.name;
    let res: Dispatcher.ResponseData;
    try {
      const headers: Record<string, string> = { ...headersFor(this.s), accept: 'text/event-stream' };
      delete headers['content-type'];
      res = await request(this.s.server.url, { method: 'GET', headers, signal: this.abort.signal, dispatcher: this.dispatcher });
    } catch (err) {
      throw this.fail(upstreamError(name, `could not be reached (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`));
    }
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      await res.body.dump().catch(() => undefined);
      throw this.fail(upstreamError(name, `answered its SSE stream's GET with HTTP ${res.statusCode} ${type || 'and no content type'}`));
    }
    let found: () => void = () => undefined;
    const endpoint = new Promise<void>((resolve) => (found = resolve));
    void this.read(res.body, found);
    await Promise.race([endpoint, this.abortedWith()]);
  }

  private abortedWith(): Promise<never> {
    return new Promise((_, reject) => this.abort.signal.addEventListener('abort', () => reject(this.failure), { once: true }));
  }

  private async read(body: AsyncIterable<Buffer>, found: () => void): Promise<void> {
    const name = this.s.server.name;
    const max = this.s.maxBytes;
    const parser = new SseParser({ maxLineBytes: max, maxEventBytes: max });
    try {
      for await (const chunk of body) {
        for (const ev of parser.push(chunk)) {
          if (ev.event === 'endpoint') {
            this.endpoint = this.endpointOf(ev.data);
            found();
          } else if ((ev.event === undefined || ev.event === 'message') && ev.data) for (const m of parseServerJson(name, ev.data)) this.dispatch(m);
        }
      }
      this.fail(upstreamError(name, 'closed its SSE stream'));
    } catch (err) {
      if (err instanceof SseLimitError) this.fail(upstreamError(name, `sent an SSE line or event larger than ${max} bytes (gateway.mcp.maxResponseBytes)`, RPC.UPSTREAM_TOO_LARGE));
      else if (err instanceof RpcError) this.fail(err);
      else this.fail(upstreamError(name, `lost its SSE stream (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`));
    }
  }

  private endpointOf(data: string): string {
    const base = new URL(this.s.server.url);
    let url: URL;
    try {
      url = new URL(data.trim(), base);
    } catch {
      throw upstreamError(this.s.server.name, 'sent an endpoint event that is not a URL');
    }
    if (url.origin !== base.origin) throw upstreamError(this.s.server.name, `sent an endpoint on another origin (${url.origin}); refused`);
    return url.href;
  }

  private dispatch(m: JsonRpcMessage): void {
    if (isResponse(m)) this.pending.answer(m);
    else if (isRequest(m)) void this.post(errorResponse(m.id, { code: RPC.METHOD_NOT_FOUND, message: SERVER_REQUEST_REFUSED })).catch(() => undefined);
    else this.pending.notify(m, (n) => this.pending.firstListener()?.(n));
  }

  /** Fails every request on the stream and closes it; returns the failure. */
  fail(err: RpcError): RpcError {
    if (this.failure) return this.failure;
    this.failure = err;
    this.abort.abort();
    this.pending.failAll(err);
    return err;
  }

  /** POSTs one message to the endpoint; its answer is only "Accepted". */
  async post(m: JsonRpcMessage, s: UpstreamSend = this.s, signal?: AbortSignal): Promise<void> {
    if (this.failure) throw this.failure;
    const name = s.server.name;
    const both = signal ? AbortSignal.any([this.abort.signal, signal]) : this.abort.signal;
    const res = await request(this.endpoint as string, {
      method: 'POST',
      headers: { ...headersFor(s), accept: 'application/json' },
      body: JSON.stringify(m),
      signal: both,
      dispatcher: this.dispatcher,
    });
    await readBounded(res.body, MAX_POST_ANSWER_BYTES, name);
    if (res.statusCode === 404) throw this.fail(upstreamError(name, 'no longer knows the session of its SSE stream (HTTP 404)'));
    if (res.statusCode >= 400) throw upstreamError(name, `answered a message with HTTP ${res.statusCode}`);
  }

  call(s: UpstreamSend, m: JsonRpcRequest, signal: AbortSignal) {
    return this.pending.call(m, s.session, signal, (out) => this.post(out, s, signal), s.onNotification);
  }
}

const sameServer = (a: McpServerConfig, b: McpServerConfig | undefined) => b !== undefined && a.url === b.url && a.transport === b.transport;

interface Held {
  server: McpServerConfig;
  /** The session's initialize, sent again on a new stream. */
  init: JsonRpcRequest;
  stream?: SseStream;
  /** The stream once its endpoint is known (and the session initialized on it again). */
  opening?: Promise<SseStream>;
}

export class SseUpstreams {
  private readonly held = new Map<string, Held>();

  constructor(private readonly dispatcher: Dispatcher) {}

  async send(s: UpstreamSend, signal: AbortSignal): Promise<UpstreamAnswer> {
    const m = s.message;
    if (!s.session) {
      if (!isRequest(m) || m.method !== 'initialize') throw upstreamError(s.server.name, `needs initialize before ${'method' in m ? m.method : 'a response'} (HTTP+SSE)`);
      const token = randomUUID();
      const held: Held = { server: s.server, init: m };
      const stream = await this.streamOf(held, s, signal, false);
      try {
        const response = await stream.call(s, m, signal);
        this.hold(token, held);
        return { status: 200, session: token, response };
      } catch (err) {
        stream.fail(upstreamError(s.server.name, 'did not initialize'));
        throw err;
      }
    }
    const held = this.held.get(s.session);
    if (!held || !sameServer(held.server, s.server))
      throw new RpcError(
        RPC.SESSION_NOT_FOUND,
        `MCP server "${s.server.name}" is reached over HTTP+SSE and this gateway replica does not hold the session's stream: initialize again`,
        { server: s.server.name },
        404,
      );
    this.hold(s.session, held);
    const stream = await this.streamOf(held, s, signal, true);
    if (isRequest(m)) return { status: 200, response: await stream.call(s, m, signal) };
    if (!isResponse(m) && m.method === 'notifications/cancelled') {
      const n = stream.pending.cancelled(m, s.session);
      if (n) await stream.post(n, s, signal);
    } else await stream.post(m, s, signal);
    return { status: 202 };
  }

  /** The session's stream, opened again (and initialized again) when it was lost. */
  private async streamOf(held: Held, s: UpstreamSend, signal: AbortSignal, replay: boolean): Promise<SseStream> {
    if (!held.opening || !held.stream?.alive) {
      const stream = new SseStream({ ...s, session: undefined, onNotification: undefined }, this.dispatcher);
      held.stream = stream;
      // Requests that arrive while it opens wait for the same stream; one that fails to open is closed.
      held.opening = this.opened(stream, held, s, replay);
      held.opening.catch(() => undefined);
    }
    return bounded(held.opening, signal);
  }

  /** Waits for the endpoint and, on a stream opened again, sends the session's initialize (bounded by the server's timeout). */
  private async opened(stream: SseStream, held: Held, s: UpstreamSend, replay: boolean): Promise<SseStream> {
    const signal = AbortSignal.timeout(s.server.timeoutMs);
    try {
      await stream.whenReady(signal);
      if (!replay) return stream;
      const again = await stream.call(s, { ...held.init, id: 'tracegate-reinit' }, signal);
      if ('error' in again) throw upstreamError(s.server.name, `refused initialize on its new SSE stream: ${again.error.message}`);
      await stream.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, s);
      return stream;
    } catch (err) {
      throw stream.fail(err instanceof RpcError ? err : upstreamError(s.server.name, `did not open its SSE stream within ${s.server.timeoutMs} ms`, RPC.REQUEST_TIMEOUT));
    }
  }

  /** Keeps the session's stream, most recently used last, within MAX_STREAMS. */
  private hold(token: string, held: Held): void {
    this.held.delete(token);
    this.held.set(token, held);
    if (this.held.size <= MAX_STREAMS) return;
    const [oldest] = this.held.keys();
    this.end(oldest);
  }

  /** Closes a session's stream (the session ended). */
  end(token: string): void {
    const held = this.held.get(token);
    this.held.delete(token);
    held?.stream?.fail(upstreamError(held.server.name, 'session ended'));
  }

  /** Closes the streams of servers that are gone or changed. */
  sync(servers: ReadonlyMap<string, McpServerConfig>): void {
    for (const [token, h] of this.held) if (!sameServer(h.server, servers.get(h.server.name))) this.end(token);
  }

  close(): void {
    for (const token of [...this.held.keys()]) this.end(token);
  }
}

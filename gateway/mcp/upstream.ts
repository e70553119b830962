/**
 * The MCP gateway's client of its MCP servers, one transport each (the McpServer's `transport`):
 * Streamable HTTP here (a message POSTed, its answer read as JSON or as an SSE stream), HTTP+SSE
 * in upstream-sse.ts, stdio in upstream-stdio.ts; the timeout and the errors are the same for all.
 * Notifications a server sends before its answer (progress, logs)
 * are handed on as they come; a request a server makes of the client (sampling, elicitation,
 * roots) is answered at once with method-not-found, since the gateway does not relay them.
 *
 * A server is not trusted: every answer is bounded in bytes (gateway.mcp.maxResponseBytes),
 * nesting and time (the McpServer's timeout), and whatever it sends that is not MCP becomes an
 * RpcError for that one request.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { GatewayConfig } from '../config/model.js';
import { SseLimitError, SseParser } from '../sse.js';
import { SseUpstreams } from './upstream-sse.js';
import { StdioUpstreams } from './upstream-stdio.js';
import { headersFor, parseServerJson, readBounded, SERVER_REQUEST_REFUSED, upstreamError, type UpstreamAnswer, type UpstreamSend, type UpstreamTarget } from './upstream-common.js';
import { errorResponse, isRequest, isResponse, RPC, RpcError, type JsonRpcId, type JsonRpcResponse } from './jsonrpc.js';

/** One undici Agent for all MCP servers (keep-alive per origin). */
export function mcpDispatcher(): Agent {
  return new Agent({ keepAliveTimeout: 10_000, connections: 64 });
}

export class McpUpstreams {
  private readonly sse: SseUpstreams;
  private readonly stdio = new StdioUpstreams();
  private closing?: Promise<void>;

  constructor(private readonly dispatcher: Dispatcher = mcpDispatcher()) {
    this.sse = new SseUpstreams(dispatcher);
  }

  /** Drops the streams and processes of servers a reload removed or changed. */
  sync(config: GatewayConfig): void {
    this.sse.sync(config.mcpServers);
    this.stdio.sync(config.mcpServers, config.mcpEnv);
  }

  private exchange(s: UpstreamSend, signal: AbortSignal): Promise<UpstreamAnswer> {
    const transport = s.server.transport;
    switch (transport) {
      case 'http':
        return this.post(s, signal);
      case 'sse':
        return this.sse.send(s, signal);
      case 'stdio':
        return this.stdio.send(s, signal);
      default: {
        const never: never = transport;
        throw new Error(`unknown MCP transport ${String(never)}`);
      }
    }
  }

  /** Sends one message; resolves with the answer, or rejects with an RpcError naming the server. */
  async send(s: UpstreamSend): Promise<UpstreamAnswer> {
    const name = s.server.name;
    const timeoutMs = s.timeoutMs ?? s.server.timeoutMs;
    const local = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      local.abort();
    }, timeoutMs);
    timer.unref();
    const onAbort = () => local.abort();
    s.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.exchange(s, local.signal);
    } catch (err) {
      if (err instanceof RpcError) throw err;
      if (timedOut) throw upstreamError(name, `did not answer within ${timeoutMs} ms`, RPC.REQUEST_TIMEOUT);
      if (s.signal?.aborted) throw upstreamError(name, 'call was cancelled by the client');
      throw upstreamError(name, `could not be reached (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
    } finally {
      clearTimeout(timer);
      s.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Streamable HTTP: the message POSTed, its answer as JSON or SSE. */
  private async post(s: UpstreamSend, signal: AbortSignal): Promise<UpstreamAnswer> {
    const name = s.server.name;
    const res = await request(s.server.url, { method: 'POST', headers: headersFor(s), body: JSON.stringify(s.message), signal, dispatcher: this.dispatcher });
    const session = typeof res.headers['mcp-session-id'] === 'string' ? res.headers['mcp-session-id'] : undefined;
    if (res.statusCode === 202) {
      await res.body.dump();
      if (isRequest(s.message)) throw upstreamError(name, 'accepted a request without answering it (HTTP 202)');
      return { status: 202, session };
    }
    if (res.statusCode === 404 && s.session) {
      await res.body.dump();
      throw new RpcError(RPC.SESSION_NOT_FOUND, `MCP server "${name}" no longer knows this session: initialize again`, { server: name }, 404);
    }
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    const id = isRequest(s.message) ? s.message.id : undefined;
    if (type.startsWith('text/event-stream')) return { status: res.statusCode, session, response: await this.readStream(s, res.body, id) };
    const text = await readBounded(res.body, s.maxBytes, name);
    if (res.statusCode >= 400 && !type.startsWith('application/json')) throw upstreamError(name, `answered HTTP ${res.statusCode}`);
    if (id === undefined) return { status: res.statusCode, session };
    if (!text) throw upstreamError(name, `answered HTTP ${res.statusCode} with no message`);
    const answer = parseServerJson(name, text).find((m): m is JsonRpcResponse => isResponse(m) && m.id === id);
    if (!answer) throw upstreamError(name, res.statusCode >= 400 ? `answered HTTP ${res.statusCode}` : 'answered without a response to the request');
    return { status: res.statusCode, session, response: answer };
  }

  /** Reads SSE events until the answer to `id` (a notification's stream: until it ends). */
  private async readStream(s: UpstreamSend, body: AsyncIterable<Buffer>, id: JsonRpcId | undefined): Promise<JsonRpcResponse | undefined> {
    const name = s.server.name;
    const parser = new SseParser({ maxLineBytes: s.maxBytes, maxEventBytes: s.maxBytes });
    try {
      for await (const chunk of body) {
        for (const ev of parser.push(chunk)) {
          if (ev.event !== undefined && ev.event !== 'message') continue;
          if (!ev.data) continue; // priming events (an id and no data) carry nothing
          for (const m of parseServerJson(name, ev.data)) {
            if (isResponse(m)) {
              if (id !== undefined && m.id === id) {
                (body as unknown as { destroy?: () => void }).destroy?.();
                return m;
              }
            } else if (isRequest(m)) void this.refuseServerRequest(s, m.id);
            else s.onNotification?.(m);
          }
        }
      }
    } catch (err) {
      if (err instanceof SseLimitError) throw upstreamError(name, `sent an event larger than ${s.maxBytes} bytes (gateway.mcp.maxResponseBytes)`, RPC.UPSTREAM_TOO_LARGE);
      throw err;
    }
    if (id !== undefined) throw upstreamError(name, 'ended its stream without answering the request');
    return undefined;
  }

  private async refuseServerRequest(s: UpstreamSend, id: JsonRpcId): Promise<void> {
    const answer = errorResponse(id, { code: RPC.METHOD_NOT_FOUND, message: SERVER_REQUEST_REFUSED });
    await this.send({ ...s, message: answer, onNotification: undefined, signal: undefined, timeoutMs: 5000 }).catch(() => undefined);
  }

  /** Ends the server's session (DELETE with its Mcp-Session-Id); failures are ignored, as the server may be gone. */
  async terminate(t: UpstreamTarget, session: string, protocol: string): Promise<void> {
    if (t.server.transport === 'sse') return this.sse.end(session);
    if (t.server.transport === 'stdio') return; // one process serves every session
    const headers = headersFor({ ...t, session, protocol, message: { jsonrpc: '2.0', method: 'noop' }, maxBytes: 0 });
    try {
      const res = await request(t.server.url, { method: 'DELETE', headers, dispatcher: this.dispatcher, signal: AbortSignal.timeout(Math.min(5000, t.server.timeoutMs)) });
      await res.body.dump();
    } catch {
      // best effort: the server's session expires on its own
    }
  }

  /** Closes streams, stops processes, closes the dispatcher; a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.sse.close();
      await this.stdio.close();
      await this.dispatcher.close();
    })();
    return this.closing;
  }
}

/**
 * The HTTP+SSE transport of MCP 2024-11-05, for clients that still use it: GET /mcp/sse opens the
 * stream and names the endpoint to POST to (`endpoint` event, /mcp/message?sessionId=…); every
 * answer and notification goes down the stream, the POST itself is answered 202.
 *
 * The stream lives in the process that holds the GET, so this transport needs affinity with
 * several replicas (a POST on another replica finds no stream: 404). Connections are bounded in
 * number; a comment line every 15 s keeps proxies from closing an idle stream. A connection is
 * tied to the key that opened it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SSE_HEADERS } from '../sse.js';
import { RPC, RpcError, type JsonRpcMessage } from './jsonrpc.js';
import { clientGone, contextOf, mcpRouteOptions, sendRpcError } from './http.js';
import { answerAll, readBody, settle } from './messages.js';
import type { McpParts } from './parts.js';
import type { McpSession } from './session.js';

/** Open HTTP+SSE streams one process holds at most (503 beyond). */
export const MAX_SSE_CONNECTIONS = 10_000;
const KEEPALIVE_MS = 15_000;
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

interface Connection {
  id: string;
  key: string;
  reply: FastifyReply;
  session?: McpSession;
  /** The session header the stream was opened with, for the agent run. */
  header?: string;
  signal: AbortSignal;
}

export class LegacySse {
  private readonly open = new Map<string, Connection>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly parts: McpParts) {
    this.keepalive = setInterval(() => {
      for (const c of this.open.values()) if (!c.reply.raw.destroyed) c.reply.raw.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  register(app: FastifyInstance, bodyLimit: number): void {
    const opts = mcpRouteOptions(this.parts, bodyLimit);
    app.get('/mcp/sse', opts, (req, reply) => this.stream(req, reply));
    app.post('/mcp/message', opts, (req, reply) => this.message(req, reply));
  }

  private stream(req: FastifyRequest, reply: FastifyReply): void {
    if (this.open.size >= MAX_SSE_CONNECTIONS) {
      void sendRpcError(reply, new RpcError(RPC.INTERNAL_ERROR, 'too many open MCP SSE streams on this gateway; retry later or use Streamable HTTP at POST /mcp', undefined, 503));
      return;
    }
    const config = this.parts.live();
    const c: Connection = { id: randomBytes(16).toString('hex'), key: req.identity?.key ?? '', reply, header: first(req.headers[config.gateway.headers.session]), signal: clientGone(reply) };
    this.open.set(c.id, c);
    reply.hijack();
    reply.raw.writeHead(200, SSE_HEADERS);
    reply.raw.write(`event: endpoint\ndata: /mcp/message?sessionId=${c.id}\n\n`);
    reply.raw.once('close', () => {
      this.open.delete(c.id);
      if (c.session) void this.parts.endSession(c.session, this.parts.live(), c.header);
    });
  }

  private write(c: Connection, m: JsonRpcMessage): void {
    if (!c.reply.raw.destroyed) c.reply.raw.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
  }

  private async message(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const id = (req.query as Record<string, unknown> | undefined)?.sessionId;
    const c = typeof id === 'string' ? this.open.get(id) : undefined;
    // Another key's connection is as unknown as one that does not exist.
    if (!c || c.key !== (req.identity?.key ?? ''))
      return sendRpcError(reply, new RpcError(RPC.SESSION_NOT_FOUND, 'no open MCP SSE stream with this sessionId on this gateway (open GET /mcp/sse first)', undefined, 404));
    const config = this.parts.live();
    if (Buffer.byteLength(req.rawBody ?? '') > config.gateway.mcp.maxMessageBytes)
      return sendRpcError(reply, new RpcError(RPC.TOO_LARGE, `the message is larger than ${config.gateway.mcp.maxMessageBytes} bytes (gateway.mcp.maxMessageBytes)`, undefined, 413));
    const body = readBody(req.body, config.gateway.mcp.maxBatch);
    if (!body.ok) return sendRpcError(reply, body.error);
    const init = !body.batch && body.items[0].kind === 'request' && body.items[0].msg.method === 'initialize';
    if (!init && !c.session && body.items.some((i) => i.kind === 'request' && i.msg.method !== 'ping')) {
      return sendRpcError(reply, new RpcError(RPC.SESSION_NOT_FOUND, 'send initialize first', undefined, 400));
    }
    // Answered at once; the answers go down the stream as they are ready.
    void reply.code(202).send('Accepted');
    let notified = false;
    const notify = (m: JsonRpcMessage) => {
      notified = true;
      this.write(c, m);
    };
    const ctx = {
      ...contextOf(this.parts, req, 'sse', c.signal, notify, c.session),
      headers: { ...req.headers, [config.gateway.headers.session]: req.headers[config.gateway.headers.session] ?? c.header },
    };
    const { responses, handled } = await answerAll(this.parts.router, body, ctx);
    if (notified) await settle();
    const opened = handled.find((h) => h.opened)?.opened;
    if (opened) c.session = opened;
    if (body.batch && responses.length) this.write(c, responses as unknown as JsonRpcMessage);
    else for (const r of responses) this.write(c, r);
    return reply;
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const c of this.open.values()) c.reply.raw.end();
    this.open.clear();
  }
}

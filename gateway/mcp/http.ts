/**
 * /mcp over Streamable HTTP (MCP 2025-03-26 and later). POST carries one message or a batch;
 * a lone tools/call, prompts/get, resources/read or completion/complete is answered as an SSE
 * stream when the client accepts one (progress and log notifications go out as they arrive),
 * anything else as JSON. The session is the sealed Mcp-Session-Id (session.ts); DELETE ends it
 * at every server and ends its agent run. GET offers no server-initiated stream (405, as MCP
 * allows). Refusals are JSON-RPC errors with the HTTP status they stand for: 401 without a valid
 * key, 403 for a server or tool the key may not use, 429 past a tool-call limit, 404 for a
 * session that is unknown or expired, 413 past the size limits.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/model.js';
import { SSE_HEADERS } from '../sse.js';
import { errorResponse, RPC, RpcError, type JsonRpcMessage, type JsonRpcResponse } from './jsonrpc.js';
import { answerAll, bodyError, readBody, settle } from './messages.js';
import type { McpContext } from './router.js';
import type { McpSession } from './session.js';
import type { McpParts } from './parts.js';

/** Methods answered as a stream when the client accepts one: those that may report progress. */
const STREAMED = new Set(['tools/call', 'prompts/get', 'resources/read', 'completion/complete']);

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function sendRpcError(reply: FastifyReply, e: RpcError, id: JsonRpcResponse['id'] = null): FastifyReply {
  if (e.retryAfterMs !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
  if (e.httpStatus === 401) void reply.header('www-authenticate', 'Bearer');
  return reply
    .code(e.httpStatus === 200 ? 400 : e.httpStatus)
    .type('application/json')
    .send(errorResponse(id, e));
}

/** Opens the session a request names, or the error that answers it. */
export function openSession(parts: McpParts, config: GatewayConfig, token: string | undefined, key: string): McpSession | RpcError {
  if (!token) return new RpcError(RPC.SESSION_NOT_FOUND, 'Bad Request: Mcp-Session-Id header is required (send initialize first)', undefined, 400);
  const s = parts.sealer().open(token, key, Date.now(), config.gateway.mcp.sessionTtl);
  return typeof s === 'string' ? new RpcError(RPC.SESSION_NOT_FOUND, `${s}: initialize a new session`, undefined, 404) : s;
}

/** Aborted when the client closes the connection before its answer is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const c = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) c.abort();
  });
  return c.signal;
}

export function contextOf(parts: McpParts, req: FastifyRequest, transport: McpContext['transport'], signal: AbortSignal, notify: McpContext['notify'], session?: McpSession): McpContext {
  return { config: parts.live(), identity: req.identity, authOpen: !parts.auth.enabled, headers: req.headers, transport, session, signal, notify };
}

async function post(parts: McpParts, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const config = parts.live();
  const mcp = config.gateway.mcp;
  if (Buffer.byteLength(req.rawBody ?? '') > mcp.maxMessageBytes)
    return sendRpcError(reply, new RpcError(RPC.TOO_LARGE, `the message is larger than ${mcp.maxMessageBytes} bytes (gateway.mcp.maxMessageBytes)`, undefined, 413));
  const body = readBody(req.body, mcp.maxBatch);
  if (!body.ok) return sendRpcError(reply, body.error);
  const lone = !body.batch ? body.items[0] : undefined;
  const init = lone?.kind === 'request' && lone.msg.method === 'initialize';
  let session: McpSession | undefined;
  if (!init && !(lone?.kind === 'request' && lone.msg.method === 'ping') && lone?.kind !== 'invalid') {
    const s = openSession(parts, config, first(req.headers['mcp-session-id']), req.identity?.key ?? '');
    if (s instanceof RpcError) return sendRpcError(reply, s, lone?.kind === 'request' ? lone.msg.id : null);
    session = s;
  }
  const signal = clientGone(reply);
  const accepts = /text\/event-stream/i.test(first(req.headers.accept) ?? '');
  if (lone?.kind === 'request' && accepts && STREAMED.has(lone.msg.method)) {
    // Streamed: notifications go out as they arrive, then the answer (none for a cancelled request).
    reply.hijack();
    reply.raw.writeHead(200, SSE_HEADERS);
    const write = (m: JsonRpcMessage) => {
      if (!reply.raw.destroyed) reply.raw.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
    };
    let notified = false;
    const notify = (m: JsonRpcMessage) => {
      notified = true;
      write(m);
    };
    const handled = await parts.router.request(lone.msg, contextOf(parts, req, 'streamable-http', signal, notify, session));
    if (notified) await settle();
    if (handled.response) write(handled.response);
    reply.raw.end();
    return;
  }
  const ctx = contextOf(parts, req, 'streamable-http', signal, () => {}, session);
  const { responses, handled } = await answerAll(parts.router, body, ctx);
  const opened = handled.find((h) => h.opened)?.opened;
  if (opened) void reply.header('mcp-session-id', parts.sealer().seal(opened));
  if (responses.length === 0) return reply.code(202).send();
  if (body.batch) return reply.code(200).type('application/json').send(responses);
  const h = handled[0];
  if (h.retryAfterMs !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(h.retryAfterMs / 1000))));
  if (h.status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply
    .code(h.status && h.status !== 200 ? h.status : 200)
    .type('application/json')
    .send(responses[0]);
}

async function remove(parts: McpParts, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const config = parts.live();
  const s = openSession(parts, config, first(req.headers['mcp-session-id']), req.identity?.key ?? '');
  if (s instanceof RpcError) return sendRpcError(reply, s);
  await parts.endSession(s, config, first(req.headers[config.gateway.headers.session]));
  return reply.code(200).send();
}

/** The route options every /mcp route shares: authentication before the body is read, JSON-RPC errors. */
export function mcpRouteOptions(parts: McpParts, bodyLimit: number) {
  return {
    bodyLimit,
    onRequest: (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      if (!parts.auth.enabled) return done();
      const r = parts.auth.identify(req.headers);
      if (r.ok) {
        req.identity = r.identity;
        return done();
      }
      parts.onDenied(r.reason);
      parts.metrics.record('', '', '', 'unauthenticated', 0);
      void sendRpcError(reply, new RpcError(RPC.UNAUTHENTICATED, r.error.message, { status: 401 }, 401));
    },
    errorHandler: (err: Error, _req: FastifyRequest, reply: FastifyReply) => {
      void sendRpcError(reply, err instanceof RpcError ? err : bodyError(err as Parameters<typeof bodyError>[0]));
    },
  };
}

export function registerStreamableHttp(app: FastifyInstance, parts: McpParts, bodyLimit: number): void {
  const opts = mcpRouteOptions(parts, bodyLimit);
  app.post('/mcp', opts, (req, reply) => post(parts, req, reply));
  app.delete('/mcp', opts, (req, reply) => remove(parts, req, reply));
  app.get('/mcp', opts, async (_req, reply) =>
    reply
      .code(405)
      .header('allow', 'POST, DELETE')
      .type('application/json')
      .send(
        errorResponse(null, { code: RPC.INVALID_REQUEST, message: 'this gateway offers no server-initiated SSE stream at GET /mcp; POST messages (or use the HTTP+SSE transport at GET /mcp/sse)' }),
      ),
  );
}

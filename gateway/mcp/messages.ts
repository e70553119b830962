/**
 * A POSTed body of JSON-RPC messages, whatever the transport: one message or a batch (bounded by
 * gateway.mcp.maxBatch; initialize alone), each read and answered by the router. Shared by the
 * Streamable HTTP endpoint (http.ts) and the HTTP+SSE endpoint (legacy-sse.ts).
 */
import type { FastifyError } from 'fastify';
import { fastifyErrorToGateway } from '../handlers/framework.js';
import { errorResponse, readClientMessage, RPC, RpcError, type ClientMessage, type JsonRpcId, type JsonRpcResponse } from './jsonrpc.js';
import type { Handled, McpContext, McpRouter } from './router.js';

export type ReadBody = { ok: true; batch: boolean; items: (ClientMessage | { kind: 'invalid'; id: JsonRpcId | null; error: RpcError })[] } | { ok: false; error: RpcError };

/** The body's messages, or the one error that answers the whole body. */
export function readBody(body: unknown, maxBatch: number): ReadBody {
  if (!Array.isArray(body)) return { ok: true, batch: false, items: [readClientMessage(body)] };
  if (body.length === 0) return { ok: false, error: new RpcError(RPC.INVALID_REQUEST, 'an empty batch is not a JSON-RPC request', undefined, 400) };
  if (body.length > maxBatch)
    return { ok: false, error: new RpcError(RPC.TOO_LARGE, `a batch of ${body.length} messages; this gateway takes at most ${maxBatch} (gateway.mcp.maxBatch)`, { maxBatch }, 413) };
  const items = body.map((m) => {
    const r = readClientMessage(m);
    if (r.kind === 'request' && r.msg.method === 'initialize')
      return { kind: 'invalid' as const, id: r.msg.id, error: new RpcError(RPC.INVALID_REQUEST, 'initialize must be sent alone, not in a batch') };
    return r;
  });
  return { ok: true, batch: true, items };
}

/** Answers every message of a body (requests in parallel); responses in the order of their requests. */
export async function answerAll(router: McpRouter, items: ReadBody & { ok: true }, ctx: McpContext): Promise<{ responses: JsonRpcResponse[]; handled: Handled[] }> {
  const out = await Promise.all(
    items.items.map(async (it): Promise<Handled | undefined> => {
      switch (it.kind) {
        case 'invalid':
          return { response: errorResponse(it.id, it.error) };
        case 'request':
          return router.request(it.msg, ctx);
        case 'notification':
          await router.notification(it.msg, ctx);
          return undefined;
        case 'response':
          return undefined; // the gateway relays no server requests: there is nothing to answer
        default:
          return undefined;
      }
    }),
  );
  const handled = out.filter((h): h is Handled => h !== undefined);
  return { responses: handled.flatMap((h) => (h.response ? [h.response] : [])), handled };
}

/** Fastify's and the JSON parser's errors on /mcp, as JSON-RPC errors with their HTTP status. */
export function bodyError(err: FastifyError): RpcError {
  const e = fastifyErrorToGateway(err);
  switch (e.code) {
    case 'body_too_large':
      return new RpcError(RPC.TOO_LARGE, 'the message is larger than this gateway accepts (gateway.mcp.maxMessageBytes)', undefined, 413);
    case 'invalid_json':
      return new RpcError(RPC.PARSE_ERROR, `Parse error: ${e.message}`, undefined, 400);
    case 'unsupported_media_type':
      return new RpcError(RPC.INVALID_REQUEST, 'send JSON-RPC messages as application/json', undefined, 415);
    case 'internal_error':
      return new RpcError(RPC.INTERNAL_ERROR, 'the MCP gateway failed to handle the request', undefined, 500);
    default:
      return new RpcError(e.status === 400 && /deep|nest/i.test(e.message) ? RPC.PARSE_ERROR : RPC.INVALID_REQUEST, e.message, undefined, e.status);
  }
}

/**
 * A pause of a few milliseconds before an answer that follows notifications: the SDK's client runs
 * notification handlers on a later microtask but handles answers at once, so a progress
 * notification read in the same chunk as its answer would find its handler already gone. Only
 * requests that had notifications wait.
 */
export const SETTLE_MS = 5;
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));

/**
 * What the MCP gateway's upstream transports share (upstream.ts: Streamable HTTP, upstream-sse.ts:
 * HTTP+SSE, upstream-stdio.ts: stdio): what is sent and answered, the HTTP headers of a message,
 * the errors, and the bounded reading and parsing of what a server sends.
 */
import { checkJsonText } from '../handlers/body.js';
import type { McpServerConfig } from '../config/model.js';
import { readServerMessage, RPC, RpcError, type JsonRpcMessage, type JsonRpcResponse } from './jsonrpc.js';

export interface UpstreamTarget {
  server: McpServerConfig;
  /** Its credential, from GatewayConfig.mcpKeys. */
  credential?: string;
  /** A stdio server's environment, from GatewayConfig.mcpEnv. */
  env?: Readonly<Record<string, string>>;
}

export interface UpstreamSend extends UpstreamTarget {
  message: JsonRpcMessage;
  /** The server's own session id (null or undefined: none yet, or it runs without). */
  session?: string | null;
  protocol?: string;
  /** W3C trace context for the server (the gateway's span). */
  traceparent?: string;
  tracestate?: string;
  /** The client went away or cancelled. */
  signal?: AbortSignal;
  /** Notifications that arrive before the answer, in order. */
  onNotification?: (m: JsonRpcMessage) => void;
  maxBytes: number;
  /** Overrides the server's timeout (ms). */
  timeoutMs?: number;
}

export interface UpstreamAnswer {
  /** The answer to a request; undefined for a notification (202). */
  response?: JsonRpcResponse;
  /** Mcp-Session-Id the server set (initialize), if any. */
  session?: string;
  /** HTTP status of the answer. */
  status: number;
}

/** Nesting an MCP server's message may have: a tool's result schema can nest deeper than a chat request. */
const MAX_UPSTREAM_DEPTH = 128;
export const SERVER_REQUEST_REFUSED = 'the tracegate MCP gateway does not relay requests from MCP servers to clients (sampling, elicitation, roots)';

export function headersFor(s: UpstreamSend): Record<string, string> {
  const h: Record<string, string> = { ...s.server.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (s.credential !== undefined) h[s.server.authHeader] = s.server.authHeader === 'authorization' ? `Bearer ${s.credential}` : s.credential;
  if (s.session) h['mcp-session-id'] = s.session;
  if (s.protocol) h['mcp-protocol-version'] = s.protocol;
  if (s.traceparent) h.traceparent = s.traceparent;
  if (s.tracestate) h.tracestate = s.tracestate;
  return h;
}

export const upstreamError = (server: string, what: string, code: number = RPC.UPSTREAM_ERROR) => new RpcError(code, `MCP server "${server}" ${what}`, { server });

export function parseServerJson(server: string, text: string): JsonRpcMessage[] {
  // nesting and prototype keys first, so that nothing refused is ever parsed; the error says which
  try {
    checkJsonText(text, MAX_UPSTREAM_DEPTH, { source: 'answer' });
  } catch (err) {
    throw upstreamError(server, `answered with JSON the gateway refuses: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw upstreamError(server, 'answered with something that is not JSON');
  }
  const list = Array.isArray(v) ? v : [v];
  return list.map((m) => {
    const msg = readServerMessage(m);
    if (!msg) throw upstreamError(server, 'answered with something that is not a JSON-RPC message');
    return msg;
  });
}

/** A body as text, refused past `max` bytes without reading the rest. */
export async function readBounded(body: AsyncIterable<Buffer> & { destroy?: () => void }, max: number, server: string): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > max) {
      body.destroy?.();
      throw upstreamError(server, `answered with more than ${max} bytes (gateway.mcp.maxResponseBytes)`, RPC.UPSTREAM_TOO_LARGE);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

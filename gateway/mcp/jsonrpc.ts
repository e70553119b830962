/**
 * JSON-RPC 2.0 as MCP uses it: the message shapes, their validation (a client's and an MCP
 * server's messages are both untrusted), and the error codes the MCP gateway answers with. One
 * catalogue of codes: JSON-RPC's own, the MCP SDK's request timeout, and the gateway's own in the
 * server-defined range (-32000 to -32099).
 */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse = { jsonrpc: '2.0'; id: JsonRpcId | null; result: Record<string, unknown> } | { jsonrpc: '2.0'; id: JsonRpcId | null; error: JsonRpcError };

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** Codes the gateway answers with, and the HTTP status a lone request's refusal carries. */
export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** The MCP SDK's ErrorCode.RequestTimeout: an MCP server did not answer in its timeout. */
  REQUEST_TIMEOUT: -32001,
  /** An MCP server could not be reached, failed, or answered something that is not MCP. */
  UPSTREAM_ERROR: -32010,
  /** An MCP server's answer was larger than gateway.mcp.maxResponseBytes. */
  UPSTREAM_TOO_LARGE: -32011,
  /** The Mcp-Session-Id is unknown, expired, or belongs to another key: initialize again. */
  SESSION_NOT_FOUND: -32020,
  /** No API key, or one that is not valid (HTTP 401). */
  UNAUTHENTICATED: -32030,
  /** The key may not use this server or tool (HTTP 403). */
  FORBIDDEN: -32031,
  /** A tool-call rate limit (HTTP 429, Retry-After). */
  RATE_LIMITED: -32029,
  /** The request (or batch) is larger than gateway.mcp.maxMessageBytes / maxBatch. */
  TOO_LARGE: -32040,
} as const;

/** Upper bounds on what a client's message may hold, besides its size in bytes. */
const MAX_METHOD_CHARS = 256;
const MAX_ID_CHARS = 256;

/** An error the gateway answers for one request; `httpStatus` applies when it answers a lone request. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
    readonly httpStatus = 200,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  toJson(): JsonRpcError {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

export const errorResponse = (id: JsonRpcId | null, e: RpcError | JsonRpcError): JsonRpcResponse => ({ jsonrpc: '2.0', id, error: e instanceof RpcError ? e.toJson() : e });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validId(id: unknown): id is JsonRpcId {
  if (typeof id === 'string') return id.length <= MAX_ID_CHARS;
  return typeof id === 'number' && Number.isSafeInteger(id);
}

export type ClientMessage = { kind: 'request'; msg: JsonRpcRequest } | { kind: 'notification'; msg: JsonRpcNotification } | { kind: 'response'; msg: JsonRpcResponse };

/**
 * A client's message, or the error to answer it with (id null when it has none that can be
 * echoed). MCP ids are never null, and params are an object when present.
 */
export function readClientMessage(v: unknown): ClientMessage | { kind: 'invalid'; id: JsonRpcId | null; error: RpcError } {
  const invalid = (message: string, id: JsonRpcId | null = null) => ({ kind: 'invalid' as const, id, error: new RpcError(RPC.INVALID_REQUEST, message) });
  if (!isObject(v)) return invalid('a JSON-RPC message is an object');
  const id = 'id' in v && validId(v.id) ? v.id : null;
  if (v.jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"', id);
  if ('method' in v) {
    if (typeof v.method !== 'string' || v.method.length === 0 || v.method.length > MAX_METHOD_CHARS) return invalid(`"method" must be a string of 1 to ${MAX_METHOD_CHARS} characters`, id);
    if ('params' in v && v.params !== undefined && !isObject(v.params)) return invalid('"params" must be an object in MCP', id);
    const params = v.params as Record<string, unknown> | undefined;
    if (!('id' in v)) return { kind: 'notification', msg: { jsonrpc: '2.0', method: v.method, params } };
    if (!validId(v.id)) return invalid(`"id" must be a string (at most ${MAX_ID_CHARS} characters) or an integer; MCP ids are never null`);
    return { kind: 'request', msg: { jsonrpc: '2.0', id: v.id, method: v.method, params } };
  }
  if ('result' in v || 'error' in v) {
    if (!validId(v.id)) return invalid('a response needs the id of the request it answers');
    return { kind: 'response', msg: v as unknown as JsonRpcResponse };
  }
  return invalid('neither a request, a notification nor a response (no "method", "result" or "error")', id);
}

/** An MCP server's message: anything else is garbage the gateway refuses to pass on. */
export function readServerMessage(v: unknown): JsonRpcMessage | undefined {
  if (!isObject(v) || v.jsonrpc !== '2.0') return undefined;
  if (typeof v.method === 'string') return v.params === undefined || isObject(v.params) ? (v as unknown as JsonRpcMessage) : undefined;
  if (!('id' in v)) return undefined;
  if ('result' in v) return isObject(v.result) ? (v as unknown as JsonRpcMessage) : undefined;
  if ('error' in v) {
    const e = v.error;
    return isObject(e) && Number.isInteger(e.code) && typeof e.message === 'string' ? (v as unknown as JsonRpcMessage) : undefined;
  }
  return undefined;
}

export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !('method' in m);
export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m;

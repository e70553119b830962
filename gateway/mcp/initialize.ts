/**
 * `initialize` at /mcp: the gateway initializes every MCP server the key may use (in parallel,
 * with the client's protocol version and info), keeps each one's session id in the new session,
 * and answers as one server: the oldest protocol version any of them agreed to, the union of
 * their capabilities, their instructions under their names. A server that fails is left out of
 * the session (its tools are not listed); when all fail, the first failure is the answer.
 *
 * The client's own capabilities (sampling, elicitation, roots) are not passed on: the gateway
 * does not relay requests from servers to clients.
 */
import { RPC, RpcError, type JsonRpcRequest } from './jsonrpc.js';
import { internalId, type Servers } from './servers.js';
import type { Handled, McpContext } from './router.js';
import { newSessionId, type McpSession } from './session.js';

/** Protocol versions the gateway speaks to clients, oldest first (the MCP SDK's list). */
export const PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
export const LATEST_PROTOCOL = PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.length - 1];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Capabilities the gateway offers: what at least one server offers, listChanged off (the gateway does not relay it). */
function unionCapabilities(results: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of results) {
    const caps = isObject(r.capabilities) ? r.capabilities : {};
    if (caps.tools) out.tools = { listChanged: false };
    if (caps.prompts) out.prompts = { listChanged: false };
    if (isObject(caps.resources)) out.resources = { listChanged: false, subscribe: caps.resources.subscribe === true || (out.resources as { subscribe?: boolean } | undefined)?.subscribe === true };
    if (caps.logging) out.logging = {};
    if (caps.completions) out.completions = {};
  }
  return out;
}

export async function initialize(servers: Servers, m: JsonRpcRequest, ctx: McpContext, id: string, trace?: { traceparent: string; tracestate?: string }): Promise<Handled> {
  const p = m.params ?? {};
  const asked = p.protocolVersion;
  if (typeof asked !== 'string' || asked.length > 32) throw new RpcError(RPC.INVALID_PARAMS, 'initialize needs params.protocolVersion, e.g. "2025-06-18"');
  const clientInfo = isObject(p.clientInfo) ? p.clientInfo : { name: 'unknown', version: '0' };
  const version = (PROTOCOL_VERSIONS as readonly string[]).includes(asked) ? asked : LATEST_PROTOCOL;
  const sessionId = id || newSessionId();
  const provisional: McpSession = {
    id: sessionId,
    key: ctx.identity?.key ?? '',
    protocol: version,
    upstream: Object.fromEntries([...ctx.config.mcpServers.keys()].map((n) => [n, null])),
    created: Date.now(),
  };
  const reach = { config: ctx.config, session: provisional, identity: ctx.identity, signal: ctx.signal, trace };
  const targets = servers.usable(reach);
  const message = { jsonrpc: '2.0' as const, id: internalId(), method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo, _meta: trace } };
  const settled = await Promise.allSettled(targets.map((s) => servers.send({ ...reach, session: { ...provisional, protocol: '' } }, s, message)));
  const upstream: Record<string, string | null> = {};
  const results: Record<string, unknown>[] = [];
  const instructions: string[] = [];
  let failure: unknown;
  settled.forEach((s, i) => {
    const r = s.status === 'fulfilled' ? s.value.response : undefined;
    if (s.status === 'rejected' || !r || 'error' in r) {
      failure ??= s.status === 'rejected' ? s.reason : new RpcError(RPC.UPSTREAM_ERROR, `MCP server "${targets[i].name}" refused initialize: ${r && 'error' in r ? r.error.message : 'no answer'}`);
      return;
    }
    upstream[targets[i].name] = s.status === 'fulfilled' ? (s.value.session ?? null) : null;
    results.push(r.result);
    if (typeof r.result.instructions === 'string' && r.result.instructions) instructions.push(`${targets[i].name}: ${r.result.instructions}`);
  });
  if (targets.length > 0 && results.length === 0) throw failure;
  // The oldest version any server agreed to: every server can speak it to the gateway.
  const agreed = results.map((r) => r.protocolVersion).filter((v): v is string => typeof v === 'string' && (PROTOCOL_VERSIONS as readonly string[]).includes(v));
  const protocol = [version, ...agreed].sort()[0];
  const opened: McpSession = { id: sessionId, key: provisional.key, protocol, upstream, created: provisional.created };
  const result: Record<string, unknown> = { protocolVersion: protocol, capabilities: unionCapabilities(results), serverInfo: { name: 'tracegate', version: '0.1.0' } };
  if (instructions.length) result.instructions = instructions.join('\n\n');
  return { response: { jsonrpc: '2.0', id: m.id, result }, opened };
}

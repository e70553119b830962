/**
 * McpServer documents -> Envoy AI Gateway's `MCPRoute` (aigateway.envoyproxy.io/v1beta1), the
 * Gateway API-style object for MCP that the rest of `tracegate render` follows: one route at
 * /mcp in front of every McpServer, each a backendRef (an Envoy Gateway `Backend` of the same
 * name unless backendRef says otherwise) with its path and its allowed tools as a tool selector.
 * What the MCPRoute cannot say is listed as warnings.
 */
import { globToRegExp } from '../routing/match.js';
import type { GatewayConfig, McpServerConfig } from './model.js';

type Obj = Record<string, unknown>;

export const MCP_ROUTE_NAME = 'tracegate-mcp';

function backendRef(s: McpServerConfig): Obj {
  const ref = s.backendRef;
  const out: Obj = { group: ref?.group ?? 'gateway.envoyproxy.io', kind: ref?.kind ?? 'Backend', name: ref?.name ?? s.name };
  if (ref?.namespace) out.namespace = ref.namespace;
  if (ref?.port) out.port = ref.port;
  out.path = new URL(s.url).pathname || '/';
  if (s.allowedTools.length) out.toolSelector = { includeRegex: s.allowedTools.map((g) => globToRegExp(g).source) };
  return out;
}

/** The MCPRoute of the configuration's McpServers (none when it has none), with what it cannot express. */
export function renderMcpRoute(config: GatewayConfig, warnings: string[]): Obj[] {
  const all = [...config.mcpServers.values()];
  // A stdio server is a process of the gateway itself: it has no address a route could name.
  for (const s of all) {
    if (s.transport === 'stdio') warnings.push(`MCPRoute ${MCP_ROUTE_NAME}: McpServer ${s.name} is a stdio process run by tracegate; it has no backendRef and is not rendered`);
    if (s.transport === 'sse') warnings.push(`MCPRoute ${MCP_ROUTE_NAME}: McpServer ${s.name} speaks only HTTP+SSE (transport: sse); an MCPRoute backendRef does not say so`);
  }
  const servers = all.filter((s) => s.transport !== 'stdio');
  if (servers.length === 0) return [];
  const k8s = config.gateway.kubernetes;
  const metadata: Obj = { name: MCP_ROUTE_NAME, labels: { 'app.kubernetes.io/managed-by': 'tracegate' } };
  if (k8s.namespace) metadata.namespace = k8s.namespace;
  for (const s of servers) {
    if (config.mcpKeys.has(s.name))
      warnings.push(`MCPRoute ${MCP_ROUTE_NAME}: McpServer ${s.name} has a credential; give its backendRef a securityPolicy (apiKey secretRef) in the cluster, it is not rendered`);
  }
  if (config.gateway.mcp.toolNames === 'prefixOnClash')
    warnings.push(`MCPRoute ${MCP_ROUTE_NAME}: Envoy AI Gateway prefixes every tool with its backend's name; tracegate prefixes only clashing names (gateway.mcp.toolNames: prefixOnClash)`);
  if ([...config.apiKeys.values()].some((k) => k.identity.tools))
    warnings.push(`MCPRoute ${MCP_ROUTE_NAME}: per-key allowed servers and tools and tool-call limits (ApiKey documents) are enforced by tracegate only`);
  return [
    { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'MCPRoute', metadata, spec: { parentRefs: k8s.parentRefs.map((p) => ({ ...p })), path: '/mcp', backendRefs: servers.map(backendRef) } },
  ];
}

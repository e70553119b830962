/**
 * McpServer documents compiled for the MCP gateway (gateway/mcp/): their credentials resolved
 * and kept apart from the rest, the session key, and the cross-document checks (two servers
 * whose tools would be listed under one prefix).
 */
import type { ConfigProblem, McpServerConfig } from './model.js';
import type { GatewaySpec, McpServerSpec } from './schema.js';
import { resolveCredential, resolveSecret, type SecretSources } from './secrets.js';

type Path = (string | number)[];

export interface McpServerDoc {
  name: string;
  spec: McpServerSpec;
  at: (path: Path, message: string) => ConfigProblem;
}

export interface CompiledMcp {
  mcpServers: Map<string, McpServerConfig>;
  mcpKeys: Map<string, string>;
  mcpEnv: Map<string, Record<string, string>>;
  mcpSessionKey?: string;
}

/** A stdio server's environment, its secret refs resolved (a missing one is a problem at its path). */
function stdioEnv(d: McpServerDoc, secrets: SecretSources, problems: ConfigProblem[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.spec.env ?? {})) {
    if (typeof v === 'string') out[k] = v;
    else {
      const r = resolveSecret(v, secrets);
      if (r.ok) out[k] = r.value;
      else if (!(v.optional && r.missing)) problems.push(d.at(['spec', 'env', k], r.message));
    }
  }
  return out;
}

/** Shortest session key accepted: it is hashed to the AES-256 key, so any length works, but a short one can be guessed. */
export const MIN_SESSION_KEY_CHARS = 32;

export function compileMcp(docs: McpServerDoc[], gw: GatewaySpec, secrets: SecretSources, problems: ConfigProblem[]): CompiledMcp {
  const mcpServers = new Map<string, McpServerConfig>();
  const mcpKeys = new Map<string, string>();
  const mcpEnv = new Map<string, Record<string, string>>();
  const prefixes = new Map<string, string>();
  for (const d of docs) {
    if (mcpServers.has(d.name)) continue;
    const s = d.spec;
    const disabled = resolveCredential(s.apiKey, secrets, { keys: mcpKeys, name: d.name, label: 'credential' }, (m) => problems.push(d.at(['spec', 'apiKey'], m)));
    const prefix = s.toolPrefix ?? d.name;
    const other = prefixes.get(prefix);
    if (other !== undefined) problems.push(d.at(['spec', 'toolPrefix'], `McpServer/${other} already lists its tools under the prefix "${prefix}": give one of them another toolPrefix`));
    prefixes.set(prefix, d.name);
    if (s.transport === 'stdio') mcpEnv.set(d.name, stdioEnv(d, secrets, problems));
    mcpServers.set(d.name, {
      name: d.name,
      transport: s.transport,
      url: s.url ?? `stdio:${s.command ?? ''}`,
      stdio: s.transport === 'stdio' && s.command !== undefined ? { command: s.command, args: s.args ?? [], cwd: s.cwd } : undefined,
      headers: s.headers ?? {},
      authHeader: s.authHeader.toLowerCase(),
      timeoutMs: s.timeout,
      allowedTools: s.allowedTools ?? [],
      prefix,
      backendRef: s.backendRef,
      disabled,
    });
  }
  const out: CompiledMcp = { mcpServers, mcpKeys, mcpEnv };
  const key = resolveSecret(gw.mcp.sessionKey, secrets);
  if (key.ok) {
    if (key.value.length < MIN_SESSION_KEY_CHARS)
      problems.push({ path: 'Gateway spec.mcp.sessionKey', message: `the session key has ${key.value.length} characters; use at least ${MIN_SESSION_KEY_CHARS} (openssl rand -hex 32)` });
    else out.mcpSessionKey = key.value;
  } else if (!(gw.mcp.sessionKey.optional && key.missing)) problems.push({ path: 'Gateway spec.mcp.sessionKey', message: key.message });
  return out;
}

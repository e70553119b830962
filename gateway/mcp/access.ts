/**
 * The policy at /mcp: which servers and tools a key may see and call (ApiKey allowedMcpServers,
 * allowedTools, merged with its team's defaults), and tool calls per minute per key and team,
 * counted in the policy's counter store (memory or Redis, shared exactly by replicas), with its
 * fail mode. Refusals are JSON-RPC errors carrying the HTTP status they would have had.
 */
import type { GatewaySpec } from '../config/schema.js';
import type { Check } from '../policy/counters.js';
import type { Identity } from '../policy/identity.js';
import type { Policy } from '../policy/limits.js';
import { resetText } from '../policy/refusal.js';
import { globToRegExp } from '../routing/match.js';
import type { Entry } from './catalog.js';
import { RPC, RpcError } from './jsonrpc.js';

const compiled = new WeakMap<Identity, { servers: RegExp[]; tools: RegExp[] }>();

function globsOf(identity: Identity) {
  let c = compiled.get(identity);
  if (!c) {
    c = { servers: (identity.tools?.allowedServers ?? []).map(globToRegExp), tools: (identity.tools?.allowedTools ?? []).map(globToRegExp) };
    compiled.set(identity, c);
  }
  return c;
}

/** Whether the key may reach the McpServer `server` (no identity: the master key, or authentication off). */
export function serverAllowed(identity: Identity | undefined, server: string): boolean {
  if (!identity) return true;
  const { servers } = globsOf(identity);
  return servers.length === 0 || servers.some((re) => re.test(server));
}

/** Whether the key may see and call a tool: by the name /mcp lists, or as `server/tool`. */
export function toolAllowed(identity: Identity | undefined, e: Entry): boolean {
  if (!identity) return true;
  const { tools } = globsOf(identity);
  return tools.length === 0 || tools.some((re) => re.test(e.name) || re.test(`${e.server}/${e.own}`));
}

export function forbidden(identity: Identity, what: string): RpcError {
  return new RpcError(RPC.FORBIDDEN, `the API key "${identity.key}" may not use ${what}`, { status: 403 }, 403);
}

const MINUTE = 60_000;

/**
 * Counts one tool call against the caller's per-minute limits; a refusal is a 429 RpcError.
 * `open`: authentication is off, so a call without identity is held to policy.defaultLimits.
 */
export async function admitToolCall(policy: Policy, identity: Identity | undefined, open: boolean, gw: GatewaySpec): Promise<void> {
  const checks: Check[] = [];
  const scopes: { scope: string; name?: string }[] = [];
  const add = (key: string, limit: number | undefined, scope: string, name?: string) => {
    if (limit === undefined) return;
    checks.push({ kind: 'window', key, limit, amount: 1, windowMs: MINUTE });
    scopes.push({ scope, name });
  };
  if (identity) {
    add(`k:${identity.key}:tcpm`, identity.tools?.callsPerMinute, 'key', identity.key);
    if (identity.team !== undefined) add(`t:${identity.team}:tcpm`, identity.tools?.teamCallsPerMinute, 'team', identity.team);
  } else if (open) add('default:tcpm', gw.policy.defaultLimits?.toolCallsPerMinute, 'default');
  if (checks.length === 0) return;
  const now = Date.now();
  const ran = await policy.run({ id: `${now.toString(36)}-${Math.random().toString(36).slice(2, 12)}`, checks, ttlMs: policy.ttlMs });
  if ('refusal' in ran) throw new RpcError(RPC.RATE_LIMITED, ran.refusal.error.message, { status: 503 }, 503, 1000);
  const r = ran.result;
  if (r.ok) return;
  if ('rebuild' in r) return; // windows need no ledger
  const c = checks[r.failed];
  const s = scopes[r.failed];
  const retry = Math.max(1, r.states[r.failed].resetMs);
  const who = s.scope === 'default' ? 'the default limits' : `${s.scope} ${s.name}`;
  throw new RpcError(
    RPC.RATE_LIMITED,
    `Rate limit reached for tool calls per minute: limit ${c.limit}, used ${r.states[r.failed].used} (toolCallsPerMinute of ${who}). Please retry after ${resetText(retry)}.`,
    { status: 429, limit: 'toolCallsPerMinute', scope: s.scope, retryAfterMs: retry },
    429,
    retry,
  );
}

/**
 * ApiKey and Team documents compiled into identities (gateway/policy/identity.ts): each key's
 * own settings first, then its team's defaults, then the Gateway's `policy.defaultLimits`.
 * Cross-document checks: a key naming a team that does not exist, two keys with one hash.
 */
import type { Limits, ToolPolicy } from '../policy/identity.js';
import type { ApiKeyConfig, ConfigProblem, TeamConfig } from './model.js';
import type { ApiKeySpec, GatewaySpec, LimitsSpec, TeamSpec } from './schema.js';

type Path = (string | number)[];

/** One validated document of a kind, with the locator of its problems. */
export interface PolicyDoc<S> {
  name: string;
  spec: S;
  at: (path: Path, message: string) => ConfigProblem;
}

/** The YAML's grouped budget, flattened to identity.ts's names; absent fields stay absent. */
export function limitsOf(spec: LimitsSpec | undefined): Limits {
  if (!spec) return {};
  const all: Limits = {
    requestsPerMinute: spec.requestsPerMinute,
    tokensPerMinute: spec.tokensPerMinute,
    inputTokensPerMinute: spec.inputTokensPerMinute,
    outputTokensPerMinute: spec.outputTokensPerMinute,
    concurrentRequests: spec.concurrentRequests,
    dailyBudgetUsd: spec.budget?.dailyUsd,
    monthlyBudgetUsd: spec.budget?.monthlyUsd,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Limits;
}

/** Field by field, the first layer that sets a limit wins. */
export function mergeLimits(...layers: Limits[]): Limits {
  const out: Record<string, number> = {};
  for (const layer of [...layers].reverse()) Object.assign(out, layer);
  return out as Limits;
}

/** The key's MCP settings; undefined when nothing restricts or limits its tool calls. */
function toolPolicyOf(s: ApiKeySpec, team: TeamSpec | undefined, gw: GatewaySpec): ToolPolicy | undefined {
  const d = team?.defaults;
  const tools: ToolPolicy = {
    allowedServers: s.allowedMcpServers ?? d?.allowedMcpServers ?? [],
    allowedTools: s.allowedTools ?? d?.allowedTools ?? [],
    callsPerMinute: s.limits?.toolCallsPerMinute ?? d?.limits?.toolCallsPerMinute ?? gw.policy.defaultLimits?.toolCallsPerMinute,
    teamCallsPerMinute: team?.limits?.toolCallsPerMinute,
  };
  const none = !tools.allowedServers.length && !tools.allowedTools.length && tools.callsPerMinute === undefined && tools.teamCallsPerMinute === undefined;
  return none ? undefined : tools;
}

function compileKey(d: PolicyDoc<ApiKeySpec>, gw: GatewaySpec, teams: ReadonlyMap<string, TeamSpec>): ApiKeyConfig {
  const s = d.spec;
  const team = s.team === undefined ? undefined : teams.get(s.team);
  const defaults = team?.defaults;
  const tools = toolPolicyOf(s, team, gw);
  return {
    identity: {
      key: d.name,
      team: s.team,
      metadata: s.metadata,
      allowedRoutes: s.allowedRoutes ?? defaults?.allowedRoutes ?? [],
      allowedModels: s.allowedModels ?? defaults?.allowedModels ?? [],
      keyLimits: mergeLimits(limitsOf(s.limits), limitsOf(defaults?.limits), limitsOf(gw.policy.defaultLimits)),
      teamLimits: team ? limitsOf(team.limits) : undefined,
      ...(tools ? { tools } : {}),
    },
    hash: s.hash,
    expiresAt: s.expires === undefined ? undefined : Date.parse(s.expires),
    revoked: s.revoked,
  };
}

/**
 * Teams and keys of a configuration. `invalid` holds `Kind/name` of documents that failed their
 * own schema: a key naming such a team is reported once, on the team.
 */
export function compilePolicy(
  keyDocs: PolicyDoc<ApiKeySpec>[],
  teamDocs: PolicyDoc<TeamSpec>[],
  gw: GatewaySpec,
  invalid: ReadonlySet<string>,
  problems: ConfigProblem[],
): { apiKeys: Map<string, ApiKeyConfig>; teams: Map<string, TeamConfig> } {
  const teamSpecs = new Map<string, TeamSpec>();
  const teams = new Map<string, TeamConfig>();
  for (const d of teamDocs) {
    if (teams.has(d.name)) continue;
    teamSpecs.set(d.name, d.spec);
    teams.set(d.name, { name: d.name, limits: limitsOf(d.spec.limits) });
  }
  const apiKeys = new Map<string, ApiKeyConfig>();
  const byHash = new Map<string, string>();
  for (const d of keyDocs) {
    if (apiKeys.has(d.name)) continue;
    const team = d.spec.team;
    if (team !== undefined && !teams.has(team) && !invalid.has(`Team/${team}`)) {
      problems.push(d.at(['spec', 'team'], `unknown team "${team}": add a Team document of that name, or remove team`));
    }
    const other = byHash.get(d.spec.hash);
    if (other !== undefined) problems.push(d.at(['spec', 'hash'], `ApiKey/${other} has the same hash: each client needs a key of its own (tracegate keys create)`));
    byHash.set(d.spec.hash, d.name);
    apiKeys.set(d.name, compileKey(d, gw, teamSpecs));
  }
  return { apiKeys, teams };
}

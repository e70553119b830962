/**
 * Who is calling: the contract between authentication (ApiKey and Team documents, keys.ts) and
 * everything downstream of it (authorization, rate limits and budgets, spans). Built once per
 * configuration load from the documents, never from the request, and holding no secret: the key
 * itself and its hash stay in the key index.
 */

/** Limits one scope (a key, a team, or the default) may set; every field optional, absent = unlimited. */
export interface Limits {
  readonly requestsPerMinute?: number;
  /** Input + output tokens per minute. */
  readonly tokensPerMinute?: number;
  readonly inputTokensPerMinute?: number;
  readonly outputTokensPerMinute?: number;
  readonly concurrentRequests?: number;
  /** USD per UTC day (or the configured time zone's day). */
  readonly dailyBudgetUsd?: number;
  /** USD per calendar month, same time zone. */
  readonly monthlyBudgetUsd?: number;
}

export interface Identity {
  /** The ApiKey document's name: lands on spans as `tracegate.key`. */
  readonly key: string;
  /** The Team document's name, if the key has one: `tracegate.team`. */
  readonly team?: string;
  /** Free-form labels from the ApiKey document. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Globs over route names (`chat`, `chat-*`); empty = every route. */
  readonly allowedRoutes: readonly string[];
  /** Globs over the model the client asked for; empty = every model. */
  readonly allowedModels: readonly string[];
  /** The key's own limits (already merged with its team's defaults for keys). */
  readonly keyLimits: Limits;
  /** The team's limits, shared by all of its keys; undefined without a team. */
  readonly teamLimits?: Limits;
  /** What the key may do through the MCP gateway (/mcp); undefined: everything, no tool-call limit. */
  readonly tools?: ToolPolicy;
}

/** An ApiKey's MCP settings, merged as its other settings are (key, then team defaults, then policy.defaultLimits). */
export interface ToolPolicy {
  /** Globs over McpServer names; empty = every server. */
  readonly allowedServers: readonly string[];
  /** Globs over tool names as /mcp lists them, or `server/tool`; empty = every tool. */
  readonly allowedTools: readonly string[];
  /** tools/call requests per minute of the key. */
  readonly callsPerMinute?: number;
  /** tools/call requests per minute of the key's team, all of its keys together. */
  readonly teamCallsPerMinute?: number;
}

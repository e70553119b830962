/**
 * The validated, compiled configuration the data plane runs on. Built once by `load.ts`, then
 * frozen; a reload builds a new one and swaps it whole.
 */
import type { EvaluatorConfig } from '../../schemas/evaluator.js';
import type { Identity, Limits } from '../policy/identity.js';
import type { ProviderKind } from '../providers/kinds.js';
import type { CircuitBreakerSpec, GatewaySpec, HeaderMatchSpec, RetrySpec, TimeoutsSpec } from './schema.js';

export interface BackendConfig {
  readonly name: string;
  readonly provider: ProviderKind;
  /** Base URL: the document's, else its provider's default (for `simulated` backends a placeholder). */
  readonly url: string;
  /** The provider's own fields of the document (`ProviderConfig.fields`, secret ones excepted). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections?: number;
  readonly circuitBreaker: CircuitBreakerSpec;
  readonly backendRef?: { group?: string; kind?: string; name: string; namespace?: string; port?: number };
  /** Set when the backend cannot serve (an optional key that is not there): why, for logs and errors. */
  readonly disabled?: string;
}

export interface TargetConfig {
  readonly backend: string;
  readonly weight: number;
  readonly model?: string;
}

export interface MatchConfig {
  readonly model?: string;
  readonly as?: string;
  readonly headers?: readonly HeaderMatchSpec[];
  readonly path?: { readonly type: 'Exact' | 'PathPrefix'; readonly value: string };
}

export interface RuleConfig {
  /** `route` or `route/rule` for spans, metrics and logs. */
  readonly id: string;
  readonly route: string;
  readonly name?: string;
  readonly matches: readonly MatchConfig[];
  readonly targets: readonly TargetConfig[];
  readonly fallbacks: readonly { backend: string; model?: string }[];
  readonly timeouts: TimeoutsSpec;
  readonly retry: RetrySpec;
}

export interface RouteConfig {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly hostnames?: readonly string[];
  readonly rules: readonly RuleConfig[];
}

/** An ApiKey document, compiled: who the key is, and what the request path checks before serving it. */
export interface ApiKeyConfig {
  readonly identity: Identity;
  /** `hmac-sha256:<hex>` of the key under the pepper (gateway/policy/keys.ts). Never logged. */
  readonly hash: string;
  /** Epoch ms from which the key is refused; checked on each request, not only at load. */
  readonly expiresAt?: number;
  readonly revoked: boolean;
}

export interface TeamConfig {
  readonly name: string;
  /** Shared by all of the team's keys together. */
  readonly limits: Limits;
}

/** An McpServer document, compiled (its credential is in GatewayConfig.mcpKeys). */
export interface McpServerConfig {
  readonly name: string;
  readonly transport: 'http' | 'sse' | 'stdio';
  /** http and sse: where it is reached; stdio: `stdio:<command>`, for spans and metrics only. */
  readonly url: string;
  /** stdio: the process the gateway runs (its env, which may hold secrets, is in GatewayConfig.mcpEnv). */
  readonly stdio?: { readonly command: string; readonly args: readonly string[]; readonly cwd?: string };
  readonly headers: Readonly<Record<string, string>>;
  /** Header the credential goes in (`authorization`: as `Bearer <key>`). */
  readonly authHeader: string;
  readonly timeoutMs: number;
  /** Globs over the server's own tool names; empty: all. */
  readonly allowedTools: readonly string[];
  /** Prefix of its tool and prompt names when they are prefixed. */
  readonly prefix: string;
  readonly backendRef?: { group?: string; kind?: string; name: string; namespace?: string; port?: number };
  /** Set when the server cannot be reached as configured (an optional key that is not there): why. */
  readonly disabled?: string;
}

export interface GatewayConfig {
  readonly gateway: GatewaySpec;
  /** In file order. */
  readonly backends: ReadonlyMap<string, BackendConfig>;
  /** In file order: the first rule that matches a request serves it. */
  readonly routes: readonly RouteConfig[];
  /** Provider keys by backend name, kept apart so that logging the config can never print one. */
  readonly keys: ReadonlyMap<string, string>;
  /** Provider secret fields (`ProviderConfig.secrets`) by backend name, then field, kept apart as `keys` are. */
  readonly providerSecrets?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Client keys by ApiKey name, in file order; any of them turns authentication on. */
  readonly apiKeys: ReadonlyMap<string, ApiKeyConfig>;
  readonly teams: ReadonlyMap<string, TeamConfig>;
  /** Evaluator documents by name, in file order: run by the collector's evaluator worker. */
  readonly evaluators: ReadonlyMap<string, EvaluatorConfig>;
  /** Each evaluator's judge key (its virtual key at the gateway), resolved, kept apart like `keys`. */
  readonly evaluatorKeys: ReadonlyMap<string, string>;
  /** MCP servers served at /mcp, in file order. */
  readonly mcpServers: ReadonlyMap<string, McpServerConfig>;
  /** MCP servers' credentials by McpServer name, kept apart as `keys` are. */
  readonly mcpKeys: ReadonlyMap<string, string>;
  /** stdio MCP servers' environments (secrets resolved) by McpServer name, kept apart as `keys` are. */
  readonly mcpEnv?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** The key sealing Mcp-Session-Ids (gateway.mcp.sessionKey), when one is configured. */
  readonly mcpSessionKey?: string;
  /** Where it was read from, for logs. */
  readonly source?: string;
}

/** One thing wrong with a config file, located as precisely as the YAML allows. */
export interface ConfigProblem {
  /** `Route/chat spec.rules[0].targets[1].backend`, or `document 3` when the kind is unknown. */
  readonly path: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: ConfigProblem[] };

/** `file:line:col path: message`, one line per problem. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}:${p.column ?? 1}` : ''} ` : p.line ? `line ${p.line}: ` : '';
  return `${where}${p.path}: ${p.message}`;
}

/** Freezes objects and arrays all the way down; a Map's values are frozen, the Map is read-only by type. */
export function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    return value;
  }
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Request headers read for session.id / user.id. */
export type GatewaySpecHeaders = GatewaySpec['headers'];

/**
 * The control plane's resource documents, one zod schema per kind. They hold the defaults and
 * the per-document checks; cross-document checks (a route naming a backend that does not exist)
 * live in `load.ts`. The same schemas emit `gateway/config.schema.json` for editors.
 */
import { z } from 'zod';
import { PROVIDER_KINDS, type ProviderKind } from '../providers/kinds.js';
import { providerFor, providerSecretHeaders } from '../providers/registry.js';
import { evaluatorSpec } from '../../schemas/evaluator.js';
import { duration, headerName, headerValue, httpUrl, name, secretRef, size } from './fields.js';

export const API_VERSION = 'tracegate.dev/v1alpha1';

/** Every kind a config file may hold. Later issues add kinds here and in `load.ts`'s switch. */
export const KINDS = ['Gateway', 'Backend', 'Route', 'ApiKey', 'Team', 'Evaluator', 'McpServer'] as const;
export type Kind = (typeof KINDS)[number];

/** Request headers that carry credentials: never configured inline, never logged. */
export const SECRET_HEADERS: readonly string[] = [...providerSecretHeaders(), 'cookie'];

export const retrySchema = z
  .object({
    /** Further tries on the same target after the first one fails with a retryable error. */
    retries: z.number().int().min(0).max(10).default(2),
    backoff: z
      .object({ base: duration.default(100), max: duration.default(2000) })
      .strict()
      .prefault({}),
    /** An upstream Retry-After longer than this moves on to the next target instead of waiting. */
    maxRetryAfter: duration.default(10_000),
  })
  .strict();

export const timeoutsSchema = z
  .object({
    /** The whole call until its answer starts (all attempts, backoffs included). */
    request: duration.default(60_000),
    /** One upstream attempt, until its whole answer (or, for a stream, its first event). */
    attempt: duration.default(30_000),
    /** Longest silence between two events of a stream once it has started. */
    streamIdle: duration.default(60_000),
  })
  .strict();

export const circuitBreakerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Consecutive failed attempts (connect errors, timeouts, 5xx) that open the circuit. */
    failures: z.number().int().min(1).default(5),
    /** How long an open circuit keeps the backend out before one probe request is let through. */
    cooldown: duration.default(30_000),
  })
  .strict();

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const metadata = z.object({ name, labels: z.record(z.string(), z.string()).optional() }).strict();

const COUNT_MSG = 'a whole number, 0 or more';
const count = z.number({ error: COUNT_MSG }).int(COUNT_MSG).nonnegative(COUNT_MSG);
const USD_MSG = 'an amount in US dollars, 0 or more';
const usd = z.number({ error: USD_MSG }).nonnegative(USD_MSG).finite(USD_MSG);

/**
 * Limits of one scope (a key, a team, the default). Names as gateway/policy/identity.ts's
 * `Limits`; the budgets are grouped under `budget` here and flattened when compiled.
 */
export const limitsSchema = z
  .object({
    requestsPerMinute: count.optional(),
    /** Input + output tokens. */
    tokensPerMinute: count.optional(),
    inputTokensPerMinute: count.optional(),
    outputTokensPerMinute: count.optional(),
    concurrentRequests: count.optional(),
    budget: z.object({ dailyUsd: usd.optional(), monthlyUsd: usd.optional() }).strict().optional(),
    /** MCP `tools/call` requests through /mcp (gateway/mcp/). */
    toolCallsPerMinute: count.optional(),
  })
  .strict();

/** Globs with * and ? over route names or model names; empty or absent: all of them. */
const globs = z.array(z.string().min(1).max(256)).max(256);

/** The only form a key is stored in: gateway/policy/keys.ts's peppered HMAC. */
export const KEY_HASH_PATTERN = /^hmac-sha256:[0-9a-f]{64}$/;
const keyHash = z.string().superRefine((v, ctx) => {
  if (KEY_HASH_PATTERN.test(v)) return;
  // Never repeats the value: it may be the key itself, pasted by mistake.
  ctx.addIssue({
    code: 'custom',
    message: v.startsWith('tg-')
      ? 'this is a key, not its hash: never put a key in the configuration; write what `tracegate keys hash` prints'
      : 'the hash `tracegate keys hash` (or `keys create`) prints: hmac-sha256: and 64 hex digits',
  });
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const RFC3339_MSG = 'an RFC 3339 time with its offset, e.g. 2026-12-31T23:59:59Z';
const timestamp = z.string({ error: RFC3339_MSG }).refine((v) => RFC3339.test(v) && Number.isFinite(Date.parse(v)), RFC3339_MSG);

/** A client's key (stored as its hash only), whom it belongs to, and what it may do. */
export const apiKeySpec = z
  .object({
    /** The Team document the key belongs to: its limits are shared, its defaults fill the key's gaps. */
    team: name.optional(),
    hash: keyHash,
    /** Free-form labels (owner, purpose). */
    metadata: z.record(z.string(), z.string().max(1024)).default({}),
    allowedRoutes: globs.optional(),
    allowedModels: globs.optional(),
    /** McpServer documents (by name) the key may reach through /mcp; empty or absent: all of them. */
    allowedMcpServers: globs.optional(),
    /** MCP tools the key may list and call, by the name /mcp lists or as `server/tool`; empty or absent: all. */
    allowedTools: globs.optional(),
    limits: limitsSchema.optional(),
    /** From then on the key is refused (checked on every request). */
    expires: timestamp.optional(),
    revoked: z.boolean().default(false),
  })
  .strict();

export const teamSpec = z
  .object({
    /** Shared by all of the team's keys together. */
    limits: limitsSchema.optional(),
    /** For each key of the team that does not set its own. */
    defaults: z
      .object({ allowedRoutes: globs.optional(), allowedModels: globs.optional(), allowedMcpServers: globs.optional(), allowedTools: globs.optional(), limits: limitsSchema.optional() })
      .strict()
      .prefault({}),
  })
  .strict();

const CONTENT_CAPTURE = ['off', 'on', 'truncate'] as const;

const mcpGatewaySchema = z
  .object({
    /** Tools and prompts of several servers under one list: a server's prefix only on a name another server also has, or always. */
    toolNames: z.enum(['prefixOnClash', 'alwaysPrefix']).default('prefixOnClash'),
    /** Between a server's prefix and a tool's name (`weather__search`). */
    separator: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,4}$/, '1 to 4 of letters, digits, "_", "-", "."')
      .default('__'),
    /** Largest JSON-RPC message (or batch) a client may send (413 above). */
    maxMessageBytes: size.default(1024 * 1024),
    /** Messages of one JSON-RPC batch (protocol 2025-03-26; later versions have none). */
    maxBatch: z.number().int().min(1).max(100).default(16),
    /** Largest answer accepted from an MCP server (one message, or one SSE event). */
    maxResponseBytes: size.default(8 * 1024 * 1024),
    /** Entries per page of a merged list (tools, prompts, resources). */
    pageSize: z.number().int().min(1).max(10_000).default(100),
    /** Key sealing the Mcp-Session-Id (AES-256-GCM), shared by replicas; absent: a key per process. */
    sessionKey: secretRef.default({ env: 'TRACEGATE_MCP_SESSION_KEY', optional: true }),
    /** A session older than this is refused (the client initializes again). */
    sessionTtl: duration.default(86_400_000),
  })
  .strict();

export const gatewaySpec = z
  .object({
    listen: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8080) })
      .strict()
      .prefault({}),
    /**
     * A configuration without any Route serves nothing. It is refused unless this says it is
     * meant, so that an emptied or cut-off file never takes every route away from a running gateway.
     */
    allowEmpty: z.boolean().default(false),
    /** Largest request body accepted (413 above). */
    bodyLimit: size.default(4 * 1024 * 1024),
    /** Request headers read for the span's session.id and user.id, and the agent.name of an AGENT span the gateway opens. */
    headers: z
      .object({ session: headerName.default('x-session-id'), user: headerName.default('x-user-id'), agent: headerName.default('x-agent-name') })
      .strict()
      .prefault({}),
    telemetry: z
      .object({
        serviceName: z.string().min(1).default('tracegate-gateway'),
        /** Collector's OTLP gRPC endpoint; null exports nothing (spans still feed metrics). */
        otlpEndpoint: httpUrl.nullable().default('http://127.0.0.1:4317'),
        content: z
          .object({ capture: z.enum(CONTENT_CAPTURE).default('on'), maxBytes: size.default(16 * 1024) })
          .strict()
          .prefault({}),
        /**
         * Agents that send no trace context: the model and tool calls of one session (the session
         * header, else the MCP session) become one trace under an AGENT span the gateway opens, and
         * ends after `idle` without a call or when the MCP session is closed.
         */
        agentSessions: z
          .object({ enabled: z.boolean().default(true), idle: duration.default(300_000), maxOpen: z.number().int().min(1).max(1_000_000).default(10_000) })
          .strict()
          .prefault({}),
        /**
         * A child span per upstream attempt: only for calls that made more than one (`retried`: a
         * call answered by its first attempt is one span, which names the backend and its server),
         * or for every call (`always`).
         */
        attemptSpans: z.enum(['retried', 'always']).default('retried'),
      })
      .strict()
      .prefault({}),
    defaults: z
      .object({
        timeouts: timeoutsSchema.prefault({}),
        retry: retrySchema.prefault({}),
        circuitBreaker: circuitBreakerSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    /** Keys, teams, limits and budgets (ApiKey and Team documents). */
    policy: z
      .object({
        /** Limits of each key that neither it nor its team's defaults set. */
        defaultLimits: limitsSchema.optional(),
        /** Where limit and budget counters live: this process (one replica) or Redis (replicas share exact counts). */
        counters: z.enum(['memory', 'redis']).default('memory'),
        redis: z
          .object({
            /** redis://[user:password@]host:port[/db], a secret: from an environment variable or a file. */
            url: secretRef.default({ env: 'TRACEGATE_REDIS_URL', optional: false }),
            /** Longest a Redis call may take before the fail mode answers. */
            timeout: duration.default(100),
            /** Key prefix (also the keys' hash tag). */
            prefix: name.default('tracegate'),
          })
          .strict()
          .prefault({}),
        /** Redis unreachable: serve and count locally (open), or refuse with 503 (closed). */
        failMode: z.enum(['open', 'closed']).default('open'),
        /** IANA time zone whose days and months budgets run on. */
        timeZone: z
          .string()
          .default('UTC')
          .refine((tz) => validTimeZone(tz), 'an IANA time zone, e.g. UTC or Europe/Berlin'),
        reservation: z
          .object({
            /** A dead replica's concurrency leases and budget reservations expire after this (live ones are renewed). */
            ttl: duration.default(30_000),
            /** Output tokens reserved for a call that sets no max_tokens. */
            maxTokens: count.min(1).default(4096),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The MCP gateway at /mcp, in front of the McpServer documents (gateway/mcp/). */
    mcp: mcpGatewaySchema.prefault({}),
    /** How `tracegate render` writes HTTPRoutes for a cluster. */
    kubernetes: z
      .object({
        namespace: name.optional(),
        /** Header carrying the model name, set from the body by the data plane in front (as x-ai-eg-model in Envoy AI Gateway). */
        modelHeader: headerName.default('x-ai-model'),
        parentRefs: z
          .array(z.object({ name, namespace: name.optional(), sectionName: z.string().optional() }).strict())
          .min(1)
          .default([{ name: 'tracegate' }]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The fields every Backend has, whatever its provider. */
const backendCommon = {
  /** Base URL as the provider's SDK takes it (OpenAI `https://api.openai.com/v1`, Anthropic `https://api.anthropic.com`); the provider's default when absent. */
  url: httpUrl.optional(),
  apiKey: secretRef.optional(),
  /** Extra non-secret headers sent on every upstream request. */
  headers: z.record(headerName, headerValue).optional(),
  /** Upper bound of keep-alive connections to this backend. */
  connections: z.number().int().positive().optional(),
  circuitBreaker: circuitBreakerSchema.partial().optional(),
  /** Gateway API backendRef used by `tracegate render` (default: an Envoy Gateway `Backend` of the same name). */
  backendRef: z
    .object({
      group: z.string().optional(),
      kind: z.string().optional(),
      name,
      namespace: name.optional(),
      port: z.number().int().min(1).max(65535).optional(),
    })
    .strict()
    .optional(),
};

/** One provider's Backend: the common fields and the provider's own (gateway/providers/<name>/), nothing else. */
function backendOf(kind: ProviderKind) {
  const p = providerFor(kind);
  return z
    .object(
      { provider: z.literal(kind), ...backendCommon, ...p.config.fields },
      {
        error: (iss) =>
          iss.code === 'unrecognized_keys' ? `${iss.keys.map((k) => `"${k}"`).join(', ')} ${iss.keys.length === 1 ? 'is not a field' : 'are not fields'} of ${kind} backends` : undefined,
      },
    )
    .strict()
    .superRefine(
      (spec, ctx) => {
        if (!spec.url && !p.defaultBaseUrl) ctx.addIssue({ code: 'custom', path: ['url'], message: `this ${kind} backend needs a url` });
        const headers = spec.headers && typeof spec.headers === 'object' ? spec.headers : {};
        for (const h of Object.keys(headers)) {
          if (SECRET_HEADERS.includes(h.toLowerCase())) {
            ctx.addIssue({ code: 'custom', path: ['headers', h], message: `"${h}" carries a credential: use apiKey with { env } or { file }, not an inline header` });
          }
        }
        p.config.check?.(spec, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
        // Runs even when another field failed, so one pass reports every problem of the document.
      },
      { when: () => true },
    );
}

const PROVIDER_MSG = `one of ${PROVIDER_KINDS.map((k) => `"${k}"`).join(', ')}`;

/** A Backend: one branch per provider, chosen by `provider`. */
export const backendSpec = z.discriminatedUnion('provider', PROVIDER_KINDS.map(backendOf) as unknown as [ReturnType<typeof backendOf>, ...ReturnType<typeof backendOf>[]], {
  // The union's own issue is a `provider` that names no branch; the branches' issues keep their messages.
  error: (iss) => (iss.code === 'invalid_union' ? PROVIDER_MSG : undefined),
});

/** An environment variable's name for a stdio MCP server. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name (letters, digits, "_")');

/** An MCP server the gateway serves at /mcp: reached over Streamable HTTP, the old HTTP+SSE transport, or stdio. */
export const mcpServerSpec = z
  .object({
    /** How it is reached: `http` (Streamable HTTP), `sse` (HTTP+SSE, MCP 2024-11-05), `stdio` (a process the gateway runs). */
    transport: z.enum(['http', 'sse', 'stdio']).default('http'),
    /** http: its Streamable HTTP endpoint (http://127.0.0.1:9000/mcp); sse: its SSE stream (http://127.0.0.1:9000/sse). */
    url: httpUrl.optional(),
    /** stdio: the program the gateway starts (operator-trusted: only what this file says is ever run). */
    command: z.string().min(1).max(4096).optional(),
    args: z.array(z.string().max(65_536)).max(256).optional(),
    /** stdio: its environment (besides PATH, HOME, USER, LANG…): values, or secrets as { env } / { file }. */
    env: z.record(envName, z.union([z.string().max(65_536), secretRef])).optional(),
    /** stdio: its working directory (default: the gateway's). */
    cwd: z.string().min(1).optional(),
    /** Extra non-secret headers sent on every request to it. */
    headers: z.record(headerName, headerValue).optional(),
    /** Its credential: sent as `Authorization: Bearer <secret>`, or raw in `authHeader` when that is another header. */
    apiKey: secretRef.optional(),
    authHeader: headerName.default('authorization'),
    /** One request to it, until its whole answer (a tool call's progress included). */
    timeout: duration.default(30_000),
    /** Its tools that are served (globs over its own names); absent: all. */
    allowedTools: globs.optional(),
    /** Prefix of its tool and prompt names when prefixed (default: the document's name). */
    toolPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-", "."')
      .optional(),
    /** Gateway API backendRef used by `tracegate render` (default: an Envoy Gateway `Backend` of the same name). */
    backendRef: z
      .object({ group: z.string().optional(), kind: z.string().optional(), name, namespace: name.optional(), port: z.number().int().min(1).max(65535).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine(
    (spec, ctx) => {
      const headers = spec.headers && typeof spec.headers === 'object' ? spec.headers : {};
      for (const h of Object.keys(headers)) {
        if (SECRET_HEADERS.includes(h.toLowerCase()) || h.toLowerCase() === String(spec.authHeader).toLowerCase()) {
          ctx.addIssue({ code: 'custom', path: ['headers', h], message: `"${h}" carries a credential: use apiKey with { env } or { file }, not an inline header` });
        }
      }
      transportFields(spec, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    },
    { when: () => true },
  );

const HTTP_ONLY = ['url', 'headers', 'apiKey', 'backendRef'] as const;
const STDIO_ONLY = ['command', 'args', 'env', 'cwd'] as const;

/** Which fields a transport needs and which it cannot use. */
function transportFields(spec: Record<string, unknown>, issue: (path: string, message: string) => void): void {
  const transport = spec.transport ?? 'http';
  if (transport === 'stdio') {
    if (spec.command === undefined) issue('command', 'a stdio McpServer needs command (the program the gateway starts)');
    for (const f of HTTP_ONLY) if (spec[f] !== undefined) issue(f, `${f} is for http and sse McpServers; a stdio server is a process (command, args, env, cwd)`);
    return;
  }
  if (transport !== 'http' && transport !== 'sse') return;
  if (spec.url === undefined)
    issue('url', `an ${transport} McpServer needs url (${transport === 'sse' ? 'its SSE stream, e.g. http://127.0.0.1:9000/sse' : 'its Streamable HTTP endpoint, e.g. http://127.0.0.1:9000/mcp'})`);
  for (const f of STDIO_ONLY) if (spec[f] !== undefined) issue(f, `${f} is for stdio McpServers (transport: stdio)`);
}

const headerMatch = z
  .object({
    name: headerName,
    value: z.string(),
    type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.type !== 'RegularExpression') return;
    try {
      new RegExp(h.value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `not a valid regular expression: ${(err as Error).message}` });
    }
  });

const match = z
  .object({
    /** Exact model name, or a glob with * and ? (`gpt-4o-*`). Omitted: any model. */
    model: z.string().min(1).optional(),
    /** Makes `model` an alias: the request continues as this model name. */
    as: z.string().min(1).optional(),
    headers: z.array(headerMatch).optional(),
    path: z
      .object({ type: z.enum(['Exact', 'PathPrefix']).default('PathPrefix'), value: z.string().startsWith('/') })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.as && (!m.model || /[*?]/.test(m.model))) {
      ctx.addIssue({ code: 'custom', path: ['as'], message: 'an alias needs an exact model name (no * or ?)' });
    }
  });

const target = z
  .object({
    backend: name,
    weight: z.number().int().min(0).max(10_000).default(1),
    /** The model name sent to this backend instead of the requested one. */
    model: z.string().min(1).optional(),
  })
  .strict();

const fallback = z.object({ backend: name, model: z.string().min(1).optional() }).strict();

const rule = z
  .object({
    name: name.optional(),
    matches: z.array(match).min(1),
    targets: z.array(target).min(1),
    /** Tried in order once the chosen target has failed (after its retries). */
    fallbacks: z.array(fallback).default([]),
    timeouts: timeoutsSchema.partial().optional(),
    retry: retrySchema.partial().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.targets.every((t) => t.weight === 0)) {
      ctx.addIssue({ code: 'custom', path: ['targets'], message: 'at least one target needs a weight above 0' });
    }
  });

export const routeSpec = z
  .object({
    rules: z.array(rule).min(1),
    hostnames: z.array(z.string()).optional(),
  })
  .strict();

/** Document envelopes, used to emit the JSON Schema (load.ts checks the envelope, then the spec by kind). */
const doc = <K extends Kind, S extends z.ZodType>(kind: K, spec: S) => z.object({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata, spec }).strict();

export const gatewayDocument = doc('Gateway', gatewaySpec.prefault({}));
export const backendDocument = doc('Backend', backendSpec);
export const routeDocument = doc('Route', routeSpec);
export const apiKeyDocument = doc('ApiKey', apiKeySpec);
export const teamDocument = doc('Team', teamSpec.prefault({}));
/** Evaluator documents are run by the collector: their schema lives in schemas/evaluator.ts. */
export const evaluatorDocument = doc('Evaluator', evaluatorSpec);
export const mcpServerDocument = doc('McpServer', mcpServerSpec);
export const documentSchema = z.discriminatedUnion('kind', [gatewayDocument, backendDocument, routeDocument, apiKeyDocument, teamDocument, evaluatorDocument, mcpServerDocument]);

export const envelopeSchema = z.object({ apiVersion: z.literal(API_VERSION), kind: z.enum(KINDS), metadata, spec: z.unknown().optional() }).strict();

export type GatewaySpec = z.output<typeof gatewaySpec>;
export type BackendSpec = z.output<typeof backendSpec>;
export type RouteSpec = z.output<typeof routeSpec>;
export type ApiKeySpec = z.output<typeof apiKeySpec>;
export type TeamSpec = z.output<typeof teamSpec>;
export type McpServerSpec = z.output<typeof mcpServerSpec>;
export type McpGatewaySpec = z.output<typeof mcpGatewaySchema>;
export type LimitsSpec = z.output<typeof limitsSchema>;
export type RuleSpec = z.output<typeof rule>;
export type MatchSpec = z.output<typeof match>;
export type HeaderMatchSpec = z.output<typeof headerMatch>;
export type RetrySpec = z.output<typeof retrySchema>;
export type TimeoutsSpec = z.output<typeof timeoutsSchema>;
export type CircuitBreakerSpec = z.output<typeof circuitBreakerSchema>;
export type SecretRef = z.output<typeof secretRef>;
export type ContentCapture = (typeof CONTENT_CAPTURE)[number];

/**
 * The MCP gateway of one tracegate gateway: built by buildGateway (server.ts) with the serving
 * configuration, its authentication and policy, and its telemetry; registers /mcp (Streamable
 * HTTP) and /mcp/sse + /mcp/message (HTTP+SSE), follows reloads, closes with the gateway.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/model.js';
import type { AuthRefusal, Authenticator } from '../policy/authenticate.js';
import type { Policy } from '../policy/limits.js';
import type { AgentSessions } from '../telemetry/agent-sessions.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { Capture } from '../telemetry/spans/sink.js';
import type { GatewayTracer } from '../telemetry/spans/tracer.js';
import { ListCache } from './catalog.js';
import { registerStreamableHttp } from './http.js';
import { LegacySse } from './legacy-sse.js';
import { buildMcpMetrics, type McpMetrics } from './metrics.js';
import { McpRouter } from './router.js';
import { Servers } from './servers.js';
import { SessionSealer, type McpSession } from './session.js';
import { McpUpstreams } from './upstream.js';

export interface McpDeps {
  live: () => GatewayConfig;
  auth: Authenticator;
  policy: Policy;
  onDenied: (reason: AuthRefusal) => void;
  telemetry: () => { tracer: GatewayTracer | undefined; metrics: GatewayMetrics; capture: Capture };
  agents?: AgentSessions;
  log: FastifyBaseLogger;
  /** Replaces the undici Agent the gateway reaches MCP servers with (tests). */
  upstreams?: McpUpstreams;
}

/** What the MCP endpoints share. */
export interface McpParts {
  live: () => GatewayConfig;
  auth: Authenticator;
  onDenied: (reason: AuthRefusal) => void;
  router: McpRouter;
  metrics: McpMetrics;
  sealer: () => SessionSealer;
  /** Ends a session at its servers, drops what this process keeps of it, ends its agent run. */
  endSession(s: McpSession, config: GatewayConfig, header: string | undefined): Promise<void>;
}

/** Largest body a /mcp route reads at all; gateway.mcp.maxMessageBytes (reloadable) is checked under it. */
const ROUTE_BODY_LIMIT = 64 * 1024 * 1024;

export class McpGateway {
  readonly metrics = buildMcpMetrics();
  private readonly upstreams: McpUpstreams;
  private readonly cache = new ListCache();
  private readonly servers: Servers;
  private readonly router: McpRouter;
  private readonly legacy: LegacySse;
  private sealerOf: { key: string | undefined; sealer: SessionSealer };
  readonly parts: McpParts;

  constructor(private readonly deps: McpDeps) {
    this.upstreams = deps.upstreams ?? new McpUpstreams();
    this.servers = new Servers(this.upstreams, this.cache, Date.now);
    this.router = new McpRouter({ servers: this.servers, policy: deps.policy, telemetry: deps.telemetry, agents: deps.agents, metrics: this.metrics });
    const key = deps.live().mcpSessionKey;
    this.sealerOf = { key, sealer: new SessionSealer(key) };
    this.parts = {
      live: deps.live,
      auth: deps.auth,
      onDenied: deps.onDenied,
      router: this.router,
      metrics: this.metrics,
      sealer: () => this.sealer(),
      endSession: (s, config, header) => this.endSession(s, config, header),
    };
    this.legacy = new LegacySse(this.parts);
  }

  /** The sealer of the serving configuration's session key (a new key: sessions sealed with the old one are refused). */
  private sealer(): SessionSealer {
    const key = this.deps.live().mcpSessionKey;
    if (key !== this.sealerOf.key) this.sealerOf = { key, sealer: new SessionSealer(key) };
    return this.sealerOf.sealer;
  }

  register(app: FastifyInstance): void {
    registerStreamableHttp(app, this.parts, ROUTE_BODY_LIMIT);
    this.legacy.register(app, ROUTE_BODY_LIMIT);
    // Open HTTP+SSE streams are never idle: they are ended before the server waits for its connections.
    app.addHook('preClose', (done) => {
      this.legacy.close();
      done();
    });
  }

  private async endSession(s: McpSession, config: GatewayConfig, header: string | undefined): Promise<void> {
    this.cache.drop(`${s.id}\0${s.key}`);
    this.deps.agents?.close(header || s.id);
    await Promise.allSettled(
      Object.entries(s.upstream).flatMap(([name, upstream]) => {
        const server = config.mcpServers.get(name);
        return server && upstream ? [this.upstreams.terminate({ server, credential: config.mcpKeys.get(name) }, upstream, s.protocol)] : [];
      }),
    );
  }

  /** A reload: the streams and processes of McpServers it removed or changed are closed. */
  sync(config: GatewayConfig): void {
    this.upstreams.sync(config);
  }

  async close(): Promise<void> {
    this.legacy.close();
    await this.upstreams.close();
  }
}

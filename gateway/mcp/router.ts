/**
 * One MCP message from a client, answered: `initialize` opens a session with every MCP server
 * the key may use; lists are merged and paged (catalog.ts); `tools/call`, `prompts/get`,
 * `resources/*` and `completion/complete` go to the server that owns the name or URI, with the
 * client's id, params and progress token, and come back as the server answered (its JSON-RPC
 * errors included). Notifications are routed (`notifications/cancelled` to the server running
 * the request) or sent to every server. Each request is a span (telemetry/mcp.ts) under the
 * caller's trace context (`params._meta.traceparent`, else the HTTP `traceparent`), else under
 * the AGENT span of its session; the span's context goes on to the server in both places.
 */
import { performance } from 'node:perf_hooks';
import type { GatewayConfig } from '../config/model.js';
import type { Identity } from '../policy/identity.js';
import type { Policy } from '../policy/limits.js';
import type { AgentSessions, RunStep } from '../telemetry/agent-sessions.js';
import { McpTelemetry, type McpFacts } from '../telemetry/mcp.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { Capture } from '../telemetry/spans/sink.js';
import { parseTraceparent } from '../../common/trace-context.js';
import type { GatewayTracer } from '../telemetry/spans/tracer.js';
import { admitToolCall, forbidden, serverAllowed, toolAllowed } from './access.js';
import { offsetOf, page, templateMatcher, type ListKind } from './catalog.js';
import { errorResponse, RPC, RpcError, type JsonRpcId, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import type { McpMetrics, Outcome } from './metrics.js';
import { initialize } from './initialize.js';
import type { Servers, Reach } from './servers.js';
import { newSessionId, type McpSession } from './session.js';

export interface McpContext {
  config: GatewayConfig;
  identity?: Identity;
  /** Authentication is off: tool calls without identity are held to policy.defaultLimits. */
  authOpen: boolean;
  headers: Record<string, string | string[] | undefined>;
  transport: 'streamable-http' | 'sse';
  /** The client's session (every method but initialize and ping needs one). */
  session?: McpSession;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Notifications for the client while its request runs (progress, logs). */
  notify(m: JsonRpcNotification): void;
}

export interface Handled {
  /** Undefined when the request was cancelled by the client (no answer is due). */
  response?: JsonRpcResponse;
  /** A session initialize opened. */
  opened?: McpSession;
  /** HTTP status of a refusal when the request came alone (401, 403, 429, 404…); 200 otherwise. */
  status?: number;
  retryAfterMs?: number;
}

export interface RouterDeps {
  servers: Servers;
  policy: Policy;
  telemetry: () => { tracer: GatewayTracer | undefined; metrics: GatewayMetrics; capture: Capture };
  agents?: AgentSessions;
  metrics: McpMetrics;
}

const LISTS: Record<string, ListKind> = { 'tools/list': 'tools', 'prompts/list': 'prompts', 'resources/list': 'resources', 'resources/templates/list': 'resourceTemplates' };
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function outcomeOf(r: JsonRpcResponse | undefined, toolError: boolean): Outcome {
  if (!r) return 'error';
  if (!('error' in r)) return toolError ? 'tool_error' : 'ok';
  switch (r.error.code) {
    case RPC.REQUEST_TIMEOUT:
      return 'timeout';
    case RPC.UPSTREAM_ERROR:
    case RPC.UPSTREAM_TOO_LARGE:
      return 'upstream_error';
    case RPC.FORBIDDEN:
      return 'forbidden';
    case RPC.RATE_LIMITED:
      return 'rate_limited';
    default:
      return 'error';
  }
}

export class McpRouter {
  /** Requests running at a server, by session and client id: where notifications/cancelled goes. */
  private readonly running = new Map<string, { reach: Reach; server: string; abort: AbortController }>();

  constructor(private readonly deps: RouterDeps) {}

  private targetOf(m: JsonRpcRequest): string | undefined {
    const p = m.params ?? {};
    const v =
      m.method === 'resources/read' || m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe'
        ? p.uri
        : m.method === 'tools/call' || m.method === 'prompts/get'
          ? p.name
          : undefined;
    return typeof v === 'string' ? v : undefined;
  }

  /** The caller's trace context: params._meta first (as the MCP conventions carry it), then HTTP. */
  private callerContext(m: JsonRpcRequest, ctx: McpContext) {
    const meta = m.params?._meta;
    if (isObject(meta) && typeof meta.traceparent === 'string') {
      const c = parseTraceparent({ traceparent: meta.traceparent, tracestate: typeof meta.tracestate === 'string' ? meta.tracestate : undefined });
      if (c) return c;
    }
    return parseTraceparent(ctx.headers);
  }

  private agentStep(ctx: McpContext, sessionId: string | undefined): RunStep | undefined {
    const agents = this.deps.agents;
    if (!agents || !ctx.config.gateway.telemetry.agentSessions.enabled) return undefined;
    const names = ctx.config.gateway.headers;
    const key = first(ctx.headers[names.session]) || sessionId;
    return key ? agents.step(key, first(ctx.headers[names.agent])) : undefined;
  }

  /** Answers one request; never throws. */
  async request(m: JsonRpcRequest, ctx: McpContext, sessionIdForNew = m.method === 'initialize' ? newSessionId() : undefined): Promise<Handled> {
    const started = performance.now();
    const env = this.deps.telemetry();
    const caller = this.callerContext(m, ctx);
    const sessionId = ctx.session?.id ?? sessionIdForNew;
    const step = caller ? undefined : this.agentStep(ctx, sessionId);
    const names = ctx.config.gateway.headers;
    const facts: McpFacts = {
      method: m.method,
      transport: ctx.transport,
      requestId: m.id,
      sessionId,
      protocol: ctx.session?.protocol,
      identity: ctx.identity,
      agentSession: first(ctx.headers[names.session]) || (step ? sessionId : undefined),
      target: this.targetOf(m),
    };
    const tel = new McpTelemetry({ ...env, capture: env.capture }, facts, caller ?? step?.parent, started);
    let handled: Handled;
    try {
      handled = await this.dispatch(m, ctx, tel, sessionIdForNew);
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError(RPC.INTERNAL_ERROR, 'the MCP gateway failed to handle the request');
      handled = { response: errorResponse(m.id, e), status: e.httpStatus, retryAfterMs: e.retryAfterMs };
    }
    const r = handled.response;
    if (r && 'error' in r) facts.rpcError = { code: r.error.code, message: r.error.message };
    if (handled.opened) facts.protocol = handled.opened.protocol;
    this.deps.metrics.record(facts.server ?? '', m.method, facts.tool?.name ? `${facts.server}/${facts.tool.name}` : '', outcomeOf(r, facts.toolError === true), (performance.now() - started) / 1000);
    tel.end();
    step?.done();
    return handled;
  }

  private async dispatch(m: JsonRpcRequest, ctx: McpContext, tel: McpTelemetry, sessionIdForNew?: string): Promise<Handled> {
    if (m.method === 'ping') return { response: { jsonrpc: '2.0', id: m.id, result: {} } };
    if (m.method === 'initialize') return initialize(this.deps.servers, m, ctx, sessionIdForNew ?? '', tel.traceparent());
    const session = ctx.session;
    if (!session) throw new RpcError(RPC.SESSION_NOT_FOUND, 'no MCP session: send initialize first', undefined, 400);
    const reach: Reach = { config: ctx.config, session, identity: ctx.identity, signal: ctx.signal, trace: tel.traceparent(), onNotification: (n) => ctx.notify(n as JsonRpcNotification) };
    const kind = LISTS[m.method];
    if (kind) {
      const all = await this.deps.servers.list(reach, kind);
      const entries = kind === 'tools' && ctx.identity ? all.filter((e) => toolAllowed(ctx.identity, e)) : all;
      return { response: { jsonrpc: '2.0', id: m.id, result: page(kind, entries, offsetOf(kind, m.params?.cursor), ctx.config.gateway.mcp.pageSize) } };
    }
    switch (m.method) {
      case 'tools/call':
        return this.callTool(m, ctx, reach, tel);
      case 'prompts/get':
        return this.forwardByName(m, reach, tel, 'prompts', m.params?.name);
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.forwardByUri(m, reach, tel, m.params?.uri);
      case 'completion/complete': {
        const ref = isObject(m.params?.ref) ? m.params.ref : {};
        if (ref.type === 'ref/prompt') return this.forwardByName(m, reach, tel, 'prompts', ref.name, (own) => ({ ...m.params, ref: { ...ref, name: own } }));
        if (ref.type === 'ref/resource') return this.forwardByUri(m, reach, tel, ref.uri);
        throw new RpcError(RPC.INVALID_PARAMS, 'completion/complete needs a ref of type ref/prompt or ref/resource');
      }
      case 'logging/setLevel':
        await Promise.allSettled(this.deps.servers.usable(reach).map((s) => this.deps.servers.request(reach, s, m)));
        return { response: { jsonrpc: '2.0', id: m.id, result: {} } };
      default:
        throw new RpcError(RPC.METHOD_NOT_FOUND, `Method not found: ${m.method.slice(0, 100)}`);
    }
  }

  private async callTool(m: JsonRpcRequest, ctx: McpContext, reach: Reach, tel: McpTelemetry): Promise<Handled> {
    const name = m.params?.name;
    if (typeof name !== 'string' || !name) throw new RpcError(RPC.INVALID_PARAMS, 'tools/call needs params.name, the name of a tool from tools/list');
    const args = m.params?.arguments;
    if (args !== undefined && !isObject(args)) throw new RpcError(RPC.INVALID_PARAMS, 'params.arguments must be an object');
    tel.facts.arguments = args;
    const entry = await this.deps.servers.find(reach, 'tools', name);
    if (!entry) {
      const { separator } = ctx.config.gateway.mcp;
      const barred = [...ctx.config.mcpServers.values()].find((s) => name.startsWith(`${s.prefix}${separator}`) && !serverAllowed(ctx.identity, s.name));
      if (barred && ctx.identity) throw forbidden(ctx.identity, `the MCP server "${barred.name}"`);
      throw new RpcError(RPC.INVALID_PARAMS, `Unknown tool: ${name.slice(0, 200)}`);
    }
    tel.facts.server = entry.server;
    tel.facts.tool = { name: entry.own, description: typeof entry.item.description === 'string' ? entry.item.description : undefined, parameters: entry.item.inputSchema };
    if (ctx.identity && !toolAllowed(ctx.identity, entry)) throw forbidden(ctx.identity, `the tool "${entry.name.slice(0, 200)}"`);
    await admitToolCall(this.deps.policy, ctx.identity, ctx.authOpen, ctx.config.gateway);
    const res = await this.forward(m, reach, tel, entry.server, { ...m.params, name: entry.own });
    if (res.response && 'result' in res.response) {
      tel.facts.toolError = res.response.result.isError === true;
      tel.setResult(res.response.result);
    }
    return res;
  }

  private async forwardByName(m: JsonRpcRequest, reach: Reach, tel: McpTelemetry, kind: ListKind, name: unknown, params?: (own: string) => Record<string, unknown>): Promise<Handled> {
    if (typeof name !== 'string' || !name) throw new RpcError(RPC.INVALID_PARAMS, `${m.method} needs a name from ${kind}/list`);
    const entry = await this.deps.servers.find(reach, kind, name);
    if (!entry) throw new RpcError(RPC.INVALID_PARAMS, `Unknown ${kind === 'prompts' ? 'prompt' : 'tool'}: ${name.slice(0, 200)}`);
    return this.forward(m, reach, tel, entry.server, params ? params(entry.own) : { ...m.params, name: entry.own });
  }

  /** A URI goes to the server that lists it, else to the one whose template matches it. */
  private async forwardByUri(m: JsonRpcRequest, reach: Reach, tel: McpTelemetry, uri: unknown): Promise<Handled> {
    if (typeof uri !== 'string' || !uri) throw new RpcError(RPC.INVALID_PARAMS, `${m.method} needs params.uri`);
    const servers = this.deps.servers;
    const listed = await servers.find(reach, 'resources', uri);
    const owner = listed?.server ?? (await servers.list(reach, 'resourceTemplates')).find((t) => templateMatcher(t.own).test(uri))?.server;
    if (!owner) throw new RpcError(-32002, `Resource not found: ${uri.slice(0, 200)}`, { uri: uri.slice(0, 200) });
    return this.forward(m, reach, tel, owner, m.params ?? {});
  }

  /** The request to `server` with the client's id, the gateway's trace context in params._meta. */
  private async forward(m: JsonRpcRequest, reach: Reach, tel: McpTelemetry, server: string, params: Record<string, unknown>): Promise<Handled> {
    const config = reach.config.mcpServers.get(server);
    if (!config) throw new RpcError(RPC.INTERNAL_ERROR, `MCP server "${server}" is no longer configured`);
    tel.facts.server = server;
    tel.facts.serverAddress = hostOf(config.url);
    const meta = { ...(isObject(params._meta) ? params._meta : {}), ...(reach.trace ?? {}) };
    const key = this.runningKey(reach.session.id, m.id);
    const abort = new AbortController();
    const onClientGone = () => abort.abort();
    reach.signal?.addEventListener('abort', onClientGone, { once: true });
    this.running.set(key, { reach, server, abort });
    try {
      const response = await this.deps.servers.request({ ...reach, signal: abort.signal }, config, { jsonrpc: '2.0', id: m.id, method: m.method, params: { ...params, _meta: meta } });
      return { response: { ...response, id: m.id } as JsonRpcResponse };
    } catch (err) {
      if (abort.signal.aborted && !reach.signal?.aborted) return {}; // cancelled by the client: no answer is due
      throw err;
    } finally {
      this.running.delete(key);
      reach.signal?.removeEventListener('abort', onClientGone);
    }
  }

  private runningKey(session: string, id: JsonRpcId): string {
    return `${session}\0${typeof id}\0${id}`;
  }

  /** A client's notification: routed or sent to every server; never answered. */
  async notification(n: JsonRpcNotification, ctx: McpContext): Promise<void> {
    const session = ctx.session;
    if (!session) return;
    if (n.method === 'notifications/cancelled') {
      const id = n.params?.requestId;
      if (typeof id !== 'string' && typeof id !== 'number') return;
      const run = this.running.get(this.runningKey(session.id, id));
      if (!run) return;
      const server = ctx.config.mcpServers.get(run.server);
      if (server) await this.deps.servers.send({ ...run.reach, signal: undefined, onNotification: undefined }, server, n).catch(() => undefined);
      run.abort.abort();
      return;
    }
    if (n.method === 'notifications/initialized' || n.method === 'notifications/roots/list_changed') {
      await this.deps.servers.broadcast({ config: ctx.config, session, identity: ctx.identity }, n);
    }
  }
}

const hosts = new Map<string, string>();
function hostOf(url: string): string {
  let h = hosts.get(url);
  if (h === undefined) {
    h = new URL(url).host;
    if (hosts.size < 1000) hosts.set(url, h);
  }
  return h;
}

/**
 * A session's MCP servers as the router reaches them: which servers a session and key may use,
 * one message sent to one of them with the session's ids, and every page of a list read from
 * each of them and merged (catalog.ts).
 */
import type { GatewayConfig, McpServerConfig } from '../config/model.js';
import type { Identity } from '../policy/identity.js';
import { serverAllowed } from './access.js';
import { LIST_METHOD, type ListCache, MAX_ENTRIES, MAX_PAGES, merge, type Entry, type ListKind } from './catalog.js';
import { RPC, RpcError, type JsonRpcMessage, type JsonRpcResponse } from './jsonrpc.js';
import type { McpSession } from './session.js';
import type { UpstreamAnswer } from './upstream-common.js';
import type { McpUpstreams } from './upstream.js';

/** What one request of a session carries to the servers. */
export interface Reach {
  config: GatewayConfig;
  session: McpSession;
  identity?: Identity;
  signal?: AbortSignal;
  trace?: { traceparent: string; tracestate?: string };
  onNotification?: (m: JsonRpcMessage) => void;
}

let internalIds = 0;
/** Ids of the gateway's own requests to servers (list pages): never a client's. */
export const internalId = () => `tracegate-${(++internalIds).toString(36)}`;

export class Servers {
  constructor(
    readonly upstreams: McpUpstreams,
    readonly cache: ListCache,
    private readonly now: () => number,
  ) {}

  /** The session's servers the key may use, in file order (servers removed since initialize are gone). */
  usable(r: Reach): McpServerConfig[] {
    const out: McpServerConfig[] = [];
    for (const s of r.config.mcpServers.values()) if (s.name in r.session.upstream && !s.disabled && serverAllowed(r.identity, s.name)) out.push(s);
    return out;
  }

  send(r: Reach, server: McpServerConfig, message: JsonRpcMessage): Promise<UpstreamAnswer> {
    return this.upstreams.send({
      server,
      credential: r.config.mcpKeys.get(server.name),
      env: r.config.mcpEnv?.get(server.name),
      message,
      session: r.session.upstream[server.name],
      protocol: r.session.protocol,
      traceparent: r.trace?.traceparent,
      tracestate: r.trace?.tracestate,
      signal: r.signal,
      onNotification: r.onNotification,
      maxBytes: r.config.gateway.mcp.maxResponseBytes,
    });
  }

  /** A request to one server, its result or its JSON-RPC error as it answered. */
  async request(r: Reach, server: McpServerConfig, message: JsonRpcMessage): Promise<JsonRpcResponse> {
    const a = await this.send(r, server, message);
    if (!a.response) throw new RpcError(RPC.UPSTREAM_ERROR, `MCP server "${server.name}" sent no answer`, { server: server.name });
    return a.response;
  }

  /** Every page of one server's list (bounded in pages and entries). */
  private async listOne(r: Reach, server: McpServerConfig, kind: ListKind): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let cursor: unknown;
    for (let p = 0; p < MAX_PAGES; p++) {
      const params = cursor === undefined ? {} : { cursor };
      const res = await this.request({ ...r, onNotification: undefined }, server, { jsonrpc: '2.0', id: internalId(), method: LIST_METHOD[kind], params });
      if ('error' in res) {
        // A server without this capability answers method-not-found: it has none of them.
        if (res.error.code === RPC.METHOD_NOT_FOUND) return items;
        throw new RpcError(res.error.code, `MCP server "${server.name}": ${res.error.message}`, { server: server.name });
      }
      const page = res.result[kind];
      if (!Array.isArray(page)) throw new RpcError(RPC.UPSTREAM_ERROR, `MCP server "${server.name}" answered ${LIST_METHOD[kind]} without a ${kind} list`, { server: server.name });
      for (const it of page) if (it && typeof it === 'object' && !Array.isArray(it)) items.push(it as Record<string, unknown>);
      if (items.length > MAX_ENTRIES) throw new RpcError(RPC.UPSTREAM_ERROR, `MCP server "${server.name}" lists more than ${MAX_ENTRIES} ${kind}`, { server: server.name });
      cursor = res.result.nextCursor;
      if (typeof cursor !== 'string' || cursor === '') return items;
    }
    throw new RpcError(RPC.UPSTREAM_ERROR, `MCP server "${server.name}" lists its ${kind} over more than ${MAX_PAGES} pages`, { server: server.name });
  }

  /**
   * The merged list of a kind for this session (from the cache unless `fresh`), before the key's
   * allowed tools are applied (the router does: a listed tool the key may not call is a 403). A server
   * that fails is left out of the list; when every server fails, the first failure is the answer.
   */
  async list(r: Reach, kind: ListKind, fresh = false): Promise<Entry[]> {
    const now = this.now();
    const cacheKey = `${r.session.id}\0${r.identity?.key ?? ''}`;
    const hit = fresh ? undefined : this.cache.get(cacheKey, kind, now);
    if (hit) return hit;
    const servers = this.usable(r);
    const settled = await Promise.allSettled(servers.map((s) => this.listOne(r, s, kind)));
    const lists = servers.flatMap((server, i) => {
      const s = settled[i];
      return s.status === 'fulfilled' ? [{ server, items: s.value }] : [];
    });
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (lists.length === 0 && failed) throw failed.reason;
    const { toolNames, separator } = r.config.gateway.mcp;
    const entries = merge(kind, lists, { mode: toolNames, separator });
    this.cache.set(cacheKey, kind, entries, now);
    return entries;
  }

  /** The entry a client's name (or URI) stands for, listing again once when it is not known. */
  async find(r: Reach, kind: ListKind, name: string): Promise<Entry | undefined> {
    const byName = (list: Entry[]) => list.find((e) => e.name === name);
    return byName(await this.list(r, kind)) ?? byName(await this.list(r, kind, true));
  }

  /** Sends a notification to each of the session's servers, ignoring failures. */
  async broadcast(r: Reach, message: JsonRpcMessage): Promise<void> {
    await Promise.allSettled(this.usable(r).map((s) => this.send(r, s, message)));
  }
}

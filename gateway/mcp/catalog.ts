/**
 * What a session's MCP servers offer, as one list: tools, prompts, resources and resource
 * templates of every server, each server's pages followed to the end, merged in file order.
 * Tool and prompt names of two servers that clash are prefixed by their server (or every name,
 * as gateway.mcp.toolNames says); resource URIs are kept and the first server wins a clash.
 * The merged list is paged again with the gateway's own cursor (an offset, sealed in base64url
 * JSON), so clients page exactly as MCP says whatever the servers' own page sizes.
 *
 * A merged list is kept per session for a short while in this process: tools/call and
 * prompts/get find their server in it (a name not found lists again once, for servers whose
 * tools changed).
 */
import { globToRegExp } from '../routing/match.js';
import type { McpServerConfig } from '../config/model.js';
import { RPC, RpcError } from './jsonrpc.js';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export const LIST_METHOD: Record<ListKind, string> = {
  tools: 'tools/list',
  prompts: 'prompts/list',
  resources: 'resources/list',
  resourceTemplates: 'resources/templates/list',
};

/** One entry of a merged list, with the server that owns it and its name there. */
export interface Entry {
  server: string;
  /** The server's own name (tools, prompts) or URI / URI template (resources). */
  own: string;
  /** The name or URI the client sees. */
  name: string;
  /** The server's definition, with `name` replaced for the client. */
  item: Record<string, unknown>;
}

/** Pages and entries one server's list may have: a server cannot make the gateway read for ever. */
export const MAX_PAGES = 50;
export const MAX_ENTRIES = 10_000;

const keyOf = (kind: ListKind) => (kind === 'resources' ? 'uri' : kind === 'resourceTemplates' ? 'uriTemplate' : 'name');

export interface NamingOptions {
  mode: 'prefixOnClash' | 'alwaysPrefix';
  separator: string;
}

/** Merges per-server lists (in server order) into the list a client sees. */
export function merge(kind: ListKind, lists: { server: McpServerConfig; items: Record<string, unknown>[] }[], naming: NamingOptions): Entry[] {
  const field = keyOf(kind);
  const named = kind === 'tools' || kind === 'prompts';
  const counts = new Map<string, number>();
  for (const l of lists) {
    const seen = new Set<string>();
    for (const it of l.items) {
      const own = it[field];
      if (typeof own !== 'string' || seen.has(own)) continue;
      seen.add(own);
      counts.set(own, (counts.get(own) ?? 0) + 1);
    }
  }
  const out: Entry[] = [];
  const taken = new Set<string>();
  for (const l of lists) {
    const allowed = kind === 'tools' && l.server.allowedTools.length ? l.server.allowedTools.map(globToRegExp) : undefined;
    for (const it of l.items) {
      const own = it[field];
      if (typeof own !== 'string') continue;
      if (allowed && !allowed.some((re) => re.test(own))) continue;
      const prefixed = named && (naming.mode === 'alwaysPrefix' || (counts.get(own) ?? 0) > 1);
      const name = prefixed ? `${l.server.prefix}${naming.separator}${own}` : own;
      if (taken.has(name)) continue; // a resource URI two servers list: the first one's
      taken.add(name);
      out.push({ server: l.server.name, own, name, item: { ...it, [field]: name } });
    }
  }
  return out;
}

/** The gateway's cursor for page `offset` of a merged `kind` list. */
export function cursorFor(kind: ListKind, offset: number): string {
  return Buffer.from(JSON.stringify({ k: kind, o: offset })).toString('base64url');
}

/** The offset a client's cursor names; an invalid cursor is -32602, as MCP says. */
export function offsetOf(kind: ListKind, cursor: unknown): number {
  if (cursor === undefined) return 0;
  const bad = () =>
    new RpcError(RPC.INVALID_PARAMS, 'Invalid cursor: pass the nextCursor of the previous page as it was given', { cursor: typeof cursor === 'string' ? cursor.slice(0, 100) : typeof cursor });
  if (typeof cursor !== 'string' || cursor.length > 200) throw bad();
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown; o?: unknown };
    if (v.k !== kind || typeof v.o !== 'number' || !Number.isSafeInteger(v.o) || v.o < 0) throw bad();
    return v.o;
  } catch {
    throw bad();
  }
}

/** One page of a merged list, as the MCP result of its list method. */
export function page(kind: ListKind, entries: readonly Entry[], offset: number, size: number): Record<string, unknown> {
  if (offset > entries.length) throw new RpcError(RPC.INVALID_PARAMS, 'Invalid cursor: the list is shorter than the page it names (it changed); list again from the start');
  const slice = entries.slice(offset, offset + size).map((e) => e.item);
  const result: Record<string, unknown> = { [kind]: slice };
  if (offset + size < entries.length) result.nextCursor = cursorFor(kind, offset + size);
  return result;
}

/** A URI template (RFC 6570, the forms MCP servers use) as a matcher of URIs. */
export function templateMatcher(template: string): RegExp {
  let re = '';
  for (const part of template.split(/(\{[^}]*\})/)) {
    if (part.startsWith('{') && part.endsWith('}')) re += /^\{[+#]/.test(part) ? '.+' : '[^/?#]+';
    else re += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Merged lists per session and kind, for a short while, bounded in number. */
export class ListCache {
  private readonly lists = new Map<string, { at: number; entries: Entry[] }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 10_000,
  ) {}

  get(session: string, kind: ListKind, now: number): Entry[] | undefined {
    const hit = this.lists.get(`${session}\0${kind}`);
    return hit && now - hit.at < this.ttlMs ? hit.entries : undefined;
  }

  set(session: string, kind: ListKind, entries: Entry[], now: number): void {
    const key = `${session}\0${kind}`;
    this.lists.delete(key);
    if (this.lists.size >= this.max) this.lists.delete(this.lists.keys().next().value as string);
    this.lists.set(key, { at: now, entries });
  }

  drop(session: string): void {
    for (const kind of Object.keys(LIST_METHOD) as ListKind[]) this.lists.delete(`${session}\0${kind}`);
  }
}

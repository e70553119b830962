/**
 * Stateless MCP sessions: the Mcp-Session-Id the gateway hands out is the session itself, sealed
 * with AES-256-GCM. It holds the MCP server sessions the gateway opened for the client, the
 * protocol version, the ApiKey it was opened with and when. Any replica with the same session key
 * (gateway.mcp.sessionKey) opens it, so Streamable HTTP sessions need no shared store and no
 * affinity. A token that was altered, sealed with another key, opened under another ApiKey or
 * older than the TTL is refused: the client initializes again.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface McpSession {
  /** Public id (hex): `mcp.session.id` on spans, the agent run's session when no header names one. */
  readonly id: string;
  /** The ApiKey document's name the session was opened with ('' for none or the master key). */
  readonly key: string;
  /** The protocol version negotiated at initialize. */
  readonly protocol: string;
  /** MCP server name -> the session id it gave (null: it runs without sessions). */
  readonly upstream: Readonly<Record<string, string | null>>;
  /** Epoch ms. */
  readonly created: number;
}

/** Longest Mcp-Session-Id accepted from a client (a server's own ids are short; a handful of servers fit). */
export const MAX_TOKEN_CHARS = 8192;
const IV = 12;
const TAG = 16;

export class SessionSealer {
  private readonly key: Buffer;

  /** `secret`: gateway.mcp.sessionKey; without one, a random key of this process (one replica). */
  constructor(secret: string | undefined) {
    this.key = secret === undefined ? randomBytes(32) : createHash('sha256').update(`tracegate-mcp-session\0${secret}`).digest();
  }

  seal(s: McpSession): string {
    const iv = randomBytes(IV);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(JSON.stringify({ i: s.id, k: s.key, p: s.protocol, u: s.upstream, t: s.created }), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The session, or why not (for the client's error message; never what the token held). */
  open(token: string, key: string, now: number, ttlMs: number): McpSession | string {
    if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return 'the Mcp-Session-Id is not one this gateway issued';
    const raw = Buffer.from(token, 'base64url');
    if (raw.length <= IV + TAG) return 'the Mcp-Session-Id is not one this gateway issued';
    let v: { i?: unknown; k?: unknown; p?: unknown; u?: unknown; t?: unknown };
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV));
      d.setAuthTag(raw.subarray(IV, IV + TAG));
      v = JSON.parse(Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]).toString('utf8'));
    } catch {
      return 'the Mcp-Session-Id is not one this gateway issued (or it was issued under another session key)';
    }
    if (typeof v.i !== 'string' || typeof v.k !== 'string' || typeof v.p !== 'string' || typeof v.t !== 'number' || typeof v.u !== 'object' || v.u === null)
      return 'the Mcp-Session-Id is not one this gateway issued';
    // Sessions are not shared between keys: one key's session id is no use with another key.
    if (v.k !== key) return 'the Mcp-Session-Id belongs to another API key';
    if (now - v.t > ttlMs) return 'the MCP session has expired';
    return { id: v.i, key: v.k, protocol: v.p, upstream: v.u as Record<string, string | null>, created: v.t };
  }
}

export const newSessionId = (): string => randomBytes(16).toString('hex');

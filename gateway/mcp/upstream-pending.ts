/**
 * Requests in flight on a connection that carries many of them (an HTTP+SSE stream, a stdio
 * process): each goes out under an id of the gateway's own (and a progress token of its own), so
 * that callers whose ids clash cannot take each other's answers or progress, and its answer comes
 * back under the caller's id. A connection that fails fails every request it carries.
 */
import type { RpcError, JsonRpcId, JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from './jsonrpc.js';

interface Pending {
  clientId: JsonRpcId;
  /** The caller's session and id, for notifications/cancelled. */
  key: string;
  clientToken?: unknown;
  onNotification?: (m: JsonRpcMessage) => void;
  resolve(r: JsonRpcResponse): void;
  reject(e: Error): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keyOf = (session: string | null | undefined, id: unknown) => `${session ?? ''}\0${typeof id}\0${String(id)}`;

export class PendingRequests {
  private next = 0;
  private readonly byId = new Map<string, Pending>();
  private readonly byClient = new Map<string, string>();

  constructor(private readonly prefix: string) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * Writes `m` under an id of its own and waits for its answer; `signal` (the caller's timeout
   * or cancellation) rejects it with a plain Error, which the caller maps.
   */
  call(
    m: JsonRpcRequest,
    session: string | null | undefined,
    signal: AbortSignal,
    write: (m: JsonRpcRequest) => void | Promise<void>,
    onNotification?: (m: JsonRpcMessage) => void,
  ): Promise<JsonRpcResponse> {
    const id = `${this.prefix}${(++this.next).toString(36)}`;
    const meta = isObject(m.params?._meta) ? m.params._meta : undefined;
    const clientToken = meta?.progressToken;
    const params = clientToken === undefined ? m.params : { ...m.params, _meta: { ...meta, progressToken: id } };
    const key = keyOf(session, m.id);
    return new Promise<JsonRpcResponse>((resolve, reject) => {
      const done = () => {
        this.byId.delete(id);
        if (this.byClient.get(key) === id) this.byClient.delete(key);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.byId.set(id, {
        clientId: m.id,
        key,
        clientToken,
        onNotification,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.byClient.set(key, id);
      Promise.resolve()
        .then(() => write({ ...m, id, params }))
        .catch((err: Error) => this.byId.get(id)?.reject(err));
    });
  }

  /** An answer: true when it was one of ours (handed to its caller under the caller's id). */
  answer(r: JsonRpcResponse): boolean {
    const p = typeof r.id === 'string' ? this.byId.get(r.id) : undefined;
    if (!p) return false;
    p.resolve({ ...r, id: p.clientId });
    return true;
  }

  /** A notification: progress goes to the request that owns its token, under the caller's token; others to `fallback`. */
  notify(n: JsonRpcNotification, fallback?: (n: JsonRpcNotification) => void): void {
    const token = n.params?.progressToken;
    const p = typeof token === 'string' ? this.byId.get(token) : undefined;
    if (p) p.onNotification?.({ ...n, params: { ...n.params, progressToken: p.clientToken } });
    else if (n.method !== 'notifications/progress') fallback?.(n);
  }

  /** notifications/cancelled of a caller, with the id its request went out under (undefined: not running here). */
  cancelled(n: JsonRpcNotification, session: string | null | undefined): JsonRpcNotification | undefined {
    const id = this.byClient.get(keyOf(session, n.params?.requestId));
    return id === undefined ? undefined : { ...n, params: { ...n.params, requestId: id } };
  }

  /** The first request in flight's notification handler (log messages of a connection that one session owns). */
  firstListener(): ((m: JsonRpcMessage) => void) | undefined {
    for (const p of this.byId.values()) if (p.onNotification) return p.onNotification;
    return undefined;
  }

  failAll(err: RpcError): void {
    for (const p of [...this.byId.values()]) p.reject(err);
  }
}

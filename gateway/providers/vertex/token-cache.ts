/**
 * An OAuth2 access token kept and refreshed: one per credential. A token is used until
 * `refreshBefore` ahead of its expiry (5 minutes, or half its life when it lives less than 10);
 * then a refresh starts while the old token still serves, until a few seconds before it expires,
 * after which callers wait for the new one. Concurrent callers share one refresh in flight, and a
 * caller that gives up (its attempt timed out, its client left) leaves the refresh running for the
 * others. A failed refresh fails the callers waiting for it, is not remembered, and the next call
 * tries again.
 */

export interface AccessToken {
  token: string;
  /** Wall-clock ms when it stops being valid. */
  expiresAt: number;
}

/** Fetches a new token; `signal` aborts it (the cache's own time limit). */
export type TokenFetch = (signal: AbortSignal) => Promise<AccessToken>;

export interface TokenCacheOptions {
  clock?: () => number;
  /** Refresh this long before expiry (default 5 minutes; at most half the token's life). */
  refreshBeforeMs?: number;
  /** One refresh may take this long (default 10 s). */
  fetchTimeoutMs?: number;
}

/** Below this much life left a token is not handed out: the request using it would outlive it. */
const MIN_LIFE_MS = 10_000;

export class TokenCache {
  private current: AccessToken | undefined;
  private issuedAt = 0;
  private inflight: Promise<AccessToken> | undefined;
  private readonly clock: () => number;
  private readonly refreshBeforeMs: number;
  private readonly fetchTimeoutMs: number;
  /** Refreshes started, for tests and diagnostics. */
  refreshes = 0;

  constructor(
    private readonly fetchToken: TokenFetch,
    opts: TokenCacheOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.refreshBeforeMs = opts.refreshBeforeMs ?? 5 * 60_000;
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? 10_000;
  }

  /**
   * The kept token when it can be used now without waiting (a refresh ahead of its expiry may
   * start meanwhile), else undefined.
   */
  peek(): string | undefined {
    const cur = this.current;
    if (!cur) return undefined;
    const now = this.clock();
    const margin = Math.min(this.refreshBeforeMs, (cur.expiresAt - this.issuedAt) / 2);
    if (now < cur.expiresAt - margin) return cur.token;
    if (now >= cur.expiresAt - MIN_LIFE_MS) return undefined;
    // Refresh ahead, serving the old token meanwhile; a failure here is retried by the next call.
    this.refresh().catch(() => {});
    return cur.token;
  }

  /** A valid token: the kept one, or a fresh one. `signal` stops only this caller's wait. */
  async get(signal?: AbortSignal): Promise<string> {
    return this.peek() ?? (await waitFor(this.refresh(), signal)).token;
  }

  /** Forgets the kept token (the provider refused it). */
  invalidate(): void {
    this.current = undefined;
  }

  private refresh(): Promise<AccessToken> {
    if (this.inflight) return this.inflight;
    this.refreshes++;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`no token within ${this.fetchTimeoutMs} ms`)), this.fetchTimeoutMs);
    timer.unref();
    const started = this.clock();
    const p = this.fetchToken(ac.signal).then((t) => {
      this.current = t;
      this.issuedAt = started;
      return t;
    });
    this.inflight = p;
    p.finally(() => {
      clearTimeout(timer);
      if (this.inflight === p) this.inflight = undefined;
    }).catch(() => {});
    return p;
  }
}

/** `p`, or the signal's reason once it aborts (p keeps running). */
function waitFor<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

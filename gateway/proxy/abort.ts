/**
 * A cheap stand-in for AbortController/AbortSignal on the request path (two per call; EventTarget
 * construction and listeners showed in profiles). It has what the transports use (`AbortLike`:
 * `aborted`, `reason`, `addEventListener('abort', fn)`, `removeEventListener('abort', fn)`), and
 * makes a real `AbortSignal` following it only when something needs one (`signal`: `fetch`, a
 * provider's token request).
 */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', fn: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

export class Abort implements AbortLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];
  private controller: AbortController | undefined;

  addEventListener(_type: 'abort', fn: () => void): void {
    if (this.aborted) return;
    this.listeners.push(fn);
  }

  removeEventListener(_type: 'abort', fn: () => void): void {
    const i = this.listeners.indexOf(fn);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /** Listeners run once; later ones are never registered. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    const ls = this.listeners;
    this.listeners = [];
    for (const fn of ls) fn();
  }

  /** A real AbortSignal that aborts with this (with the same reason), made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

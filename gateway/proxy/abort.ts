/**
 * A cheap stand-in for AbortController/AbortSignal on the request path (two per call; EventTarget
 * construction and listeners showed in profiles). It has what undici and the transports use:
 * `aborted`, `reason`, `addEventListener('abort', fn)`, `removeEventListener('abort', fn)`.
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
    const ls = this.listeners;
    this.listeners = [];
    for (const fn of ls) fn();
  }

  /** For APIs typed with AbortSignal that only use the members above (undici, the transports). */
  get signal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}

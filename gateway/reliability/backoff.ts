import type { AbortLike } from '../proxy/abort.js';

/**
 * Delay before retry number `retry` (0 for the first retry): exponential from `base`, capped at
 * `max`, with "equal jitter" (half fixed, half random) so that clients that failed together do not
 * come back together. An upstream Retry-After wins when it is longer.
 */
export function backoffDelay(retry: number, base: number, max: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const exp = Math.min(max, base * 2 ** Math.min(retry, 30));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.round(retryAfterMs !== undefined ? Math.max(retryAfterMs, jittered) : jittered);
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. The timer never holds the process. */
export function sleep(ms: number, signal?: Pick<AbortSignal, 'aborted' | 'addEventListener' | 'removeEventListener'> | AbortLike): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done);
  });
}

/**
 * The one retry delay of tracegate: exponential from `initialMs` by `multiplier`, capped at
 * `maxMs`, then spread at random so that callers that failed together do not come back together.
 * A server's Retry-After is a floor. What differs between its users is the spread:
 *   - the gateway's upstream retries draw from [d/2, d] ("equal jitter", `EQUAL_JITTER`): a client
 *     is waiting, so a retry never waits longer than the cap;
 *   - the collector's export retries draw from [d·(1−r), d·(1+r)] around the capped delay
 *     (`randomization(r)`), as the OpenTelemetry Collector's exporterhelper does;
 *   - the evaluators' judge retries and the MCP gateway's stdio server restarts wait exactly d
 *     (`NO_JITTER`): one process's own retries, nothing to spread apart.
 */

export interface Backoff {
  /** The delay before the first retry, before the spread. */
  initialMs: number;
  /** The delay stops growing here (the spread applies after the cap). */
  maxMs: number;
  /** Each further retry's delay is the last one times this. */
  multiplier: number;
  /** The drawn delay lies in [d·low, d·high] for the capped exponential delay d. */
  spread: readonly [low: number, high: number];
}

/** Half fixed, half random: [d/2, d]. */
export const EQUAL_JITTER: Backoff['spread'] = [0.5, 1];

/** Exactly the capped exponential delay. */
export const NO_JITTER: Backoff['spread'] = [1, 1];

/** exporterhelper's randomization factor `r`: [d·(1−r), d·(1+r)]. */
export const randomization = (r: number): Backoff['spread'] => [1 - r, 1 + r];

/**
 * Milliseconds to wait before retry number `retry` (0 for the first retry), never negative.
 * Pure given `random`. `retryAfterMs`: what the server asked for; it wins when it is longer.
 */
export function backoffDelay(b: Backoff, retry: number, random: () => number = Math.random, retryAfterMs = 0): number {
  const grown = b.initialMs * b.multiplier ** retry;
  // Past 2^1024 the power is Infinity (and 0 · Infinity is NaN): the cap, or 0 for no delay at all.
  const d = b.initialMs <= 0 ? 0 : Math.min(grown, b.maxMs);
  const [low, high] = b.spread;
  return Math.round(Math.max(0, retryAfterMs, d * (low + random() * (high - low))));
}

/** What `sleep` needs of an abort signal: an AbortSignal, or the gateway's cheaper stand-in. */
export interface AbortListenable {
  readonly aborted: boolean;
  addEventListener(type: 'abort', fn: () => void): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. The timer never holds the process. */
export function sleep(ms: number, signal?: AbortListenable): Promise<void> {
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

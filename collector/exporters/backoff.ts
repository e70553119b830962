/** Exponential backoff with jitter, as the OpenTelemetry Collector's exporterhelper retries. */
export interface BackoffConfig {
  initialIntervalMs: number;
  maxIntervalMs: number;
  multiplier: number;
  /** Each delay is drawn uniformly from [d·(1−r), d·(1+r)]. */
  randomizationFactor: number;
}

/** Delay before retry number `attempt` (0 = the first retry). Pure given `random`. */
export function backoffDelay(cfg: BackoffConfig, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(cfg.maxIntervalMs, cfg.initialIntervalMs * cfg.multiplier ** attempt);
  const spread = base * cfg.randomizationFactor;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

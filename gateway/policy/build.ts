/**
 * The policy of one gateway from its configuration: the counter store the Gateway spec names
 * (in memory, or Redis at the URL from its secret), this process's counters for failing open,
 * the price table the collector prices with, and where spend ledgers are rebuilt from.
 */
import { dirname } from 'node:path';
import { indexPrices, loadPriceTable, type PriceIndex } from '../../schemas/prices.js';
import { resolveSecret } from '../config/secrets.js';
import { Pricing } from './budget.js';
import { MemoryCounters } from './counters-memory.js';
import { RedisCounters } from './counters-redis.js';
import type { SpendSource } from './ledger.js';
import { Policy, type PolicySpec } from './limits.js';
import { buildPolicyMetrics, type PolicyMetrics } from './metrics.js';

export interface PolicyDeps {
  clock?: () => number;
  /** Where the Redis URL's secret is read from (default process.env; `file:` paths relative to the config file). */
  env?: NodeJS.ProcessEnv;
  configSource?: string;
  spend?: SpendSource;
  prices?: PriceIndex;
  metrics?: PolicyMetrics;
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
}

let bundled: PriceIndex | undefined;

export function buildPolicy(spec: PolicySpec, deps: PolicyDeps = {}): Policy {
  const clock = deps.clock ?? Date.now;
  const local = new MemoryCounters(clock);
  let store: MemoryCounters | RedisCounters = local;
  if (spec.counters === 'redis') {
    const baseDir = deps.configSource ? dirname(deps.configSource) : process.cwd();
    const url = resolveSecret(spec.redis.url, { env: deps.env ?? process.env, baseDir });
    if (!url.ok) throw new Error(`policy.counters is redis, but its URL is missing: ${url.message} (policy.redis.url)`);
    store = new RedisCounters({ url: url.value, timeoutMs: spec.redis.timeout, prefix: spec.redis.prefix });
  }
  const prices = deps.prices ?? (bundled ??= indexPrices(loadPriceTable()));
  return new Policy({
    spec,
    store,
    local,
    pricing: new Pricing(prices),
    clock,
    spend: deps.spend,
    metrics: deps.metrics ?? buildPolicyMetrics(),
    warn: deps.warn ?? (() => {}),
  });
}

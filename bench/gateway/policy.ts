/**
 * The gateway benchmark's policy case: `tracegate gateway` with authentication and every limit
 * on (requests, tokens, input and output tokens per minute, concurrency, daily and monthly
 * budgets, on the key and on its team), set high enough that nothing is refused, so each call
 * pays for the whole admission and settlement. Counters in memory, or in a redis-server of the
 * benchmark's own.
 */
import { readFileSync } from 'node:fs';
import { generateKey, hashKey } from '../../gateway/policy/keys.js';

export const PEPPER = 'bench-pepper-0123456789abcdefghijklmnop';
export const KEY = generateKey();

const LIMITS =
  '{ requestsPerMinute: 1000000000, tokensPerMinute: 1000000000000, inputTokensPerMinute: 1000000000000, outputTokensPerMinute: 1000000000000, concurrentRequests: 100000, budget: { dailyUsd: 1000000, monthlyUsd: 1000000 } }';

/** Documents appended to the benchmark's config; `counters` goes into the Gateway document's spec. */
export function withPolicy(config: string, counters: 'memory' | 'redis'): string {
  const gateway = config.replace(/^spec:\n/m, `spec:\n  policy: { counters: ${counters} }\n`);
  return `${gateway}---
apiVersion: tracegate.dev/v1alpha1
kind: Team
metadata: { name: bench-team }
spec:
  limits: ${LIMITS}
---
apiVersion: tracegate.dev/v1alpha1
kind: ApiKey
metadata: { name: bench-key }
spec:
  team: bench-team
  hash: ${hashKey(KEY, PEPPER)}
  limits: ${LIMITS}
`;
}

/** CPU milliseconds (user + system) a process has used, from /proc; null where there is none. */
export function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks; 100 a second on Linux.
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/**
 * The policy's own cost, in one process (`npm run bench -- policy`): CPU per call of an admission
 * and its settlement with every limit on for a key and its team (14 checks), 16 calls at a time,
 * counters in memory and in a redis-server of the benchmark's own. With Redis, redis-server's own
 * CPU per call is printed apart (from /proc): one Redis serves every replica, so it bounds the calls
 * a second a whole fleet can make with shared counters. The gateway case (`npm run bench -- gateway --targets
 * forwarder,tracegate,tracegate-policy,tracegate-redis`) measures the same inside the server.
 * Options: --calls N (20000).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gatewaySpec } from '../gateway/config/schema.js';
import { buildPolicy } from '../gateway/policy/build.js';
import type { Identity, Limits } from '../gateway/policy/identity.js';
import { Ticket } from '../gateway/policy/ticket.js';
import { startRedis } from '../test/helpers/redis.js';
import { BODY, round } from './gateway/load.js';
import { cpuMs } from './gateway/policy.js';

const here = dirname(fileURLToPath(import.meta.url));
const ALL: Limits = { requestsPerMinute: 1e9, tokensPerMinute: 1e12, inputTokensPerMinute: 1e12, outputTokensPerMinute: 1e12, concurrentRequests: 1e5, dailyBudgetUsd: 1e6, monthlyBudgetUsd: 1e6 };
const identity: Identity = { key: 'bench-key', team: 'bench-team', metadata: {}, allowedRoutes: [], allowedModels: [], keyLimits: ALL, teamLimits: ALL };
const usage = { promptTokens: 230, completionTokens: 7, totalTokens: 237 };

async function measure(counters: 'memory' | 'redis', url: string, calls: number, serverPid?: number) {
  const p = buildPolicy(gatewaySpec.parse({ policy: { counters } }).policy, { env: { TRACEGATE_REDIS_URL: url } });
  const body = JSON.parse(BODY(false)) as Record<string, unknown>;
  const one = async () => {
    const t = await p.admit({ identity, endpoint: 'chat', body, model: 'gpt-4o-mini' });
    if (!(t instanceof Ticket)) throw new Error(`refused: ${t.error.message}`);
    await t.end(usage, ['gpt-4o-mini']);
  };
  const run = async (n: number) =>
    Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < n / 16; i++) await one();
      }),
    );
  await run(Math.min(calls, 4000)); // warm-up
  const c0 = process.cpuUsage();
  const s0 = cpuMs(serverPid);
  const t0 = performance.now();
  await run(calls);
  const cpu = process.cpuUsage(c0);
  const s1 = cpuMs(serverPid);
  await p.close();
  const server = s0 !== null && s1 !== null ? { redis_server_cpu_us_per_call: round(((s1 - s0) * 1000) / calls, 1) } : {};
  return { counters, calls, cpu_us_per_call: round((cpu.user + cpu.system) / calls, 1), wall_us_per_call: round(((performance.now() - t0) * 1000) / calls, 1), ...server };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { calls: { type: 'string', default: '20000' } } });
  const calls = Number(values.calls);
  const redis = await startRedis();
  try {
    const results = [await measure('memory', '', calls), await measure('redis', redis.url, calls, redis.pid)];
    for (const r of results)
      process.stdout.write(
        `${r.counters.padEnd(7)} ${r.cpu_us_per_call} us CPU per call (admission + settlement, 14 checks), ${r.wall_us_per_call} us wall at 16 in flight${'redis_server_cpu_us_per_call' in r ? `; redis-server ${r.redis_server_cpu_us_per_call} us CPU per call` : ''}\n`,
      );
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'policy.json'), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
    process.stdout.write('saved bench/results/policy.json\n');
  } finally {
    await redis.stop();
  }
}

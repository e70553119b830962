/**
 * Failing open, then merging back: while Redis cannot be reached (a TCP proxy in front of a real
 * redis-server is cut, so Redis keeps its data), a replica counts calls on its own; when Redis
 * answers again those counts (requests in the current window, the spend settled) are added to
 * Redis before the next admission there, so the limit holds across the outage instead of
 * granting a second full window.
 */
import { Redis } from 'ioredis';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySpec } from '../../../gateway/config/schema.js';
import { buildPolicy } from '../../../gateway/policy/build.js';
import type { RedisCounters } from '../../../gateway/policy/counters-redis.js';
import type { Identity } from '../../../gateway/policy/identity.js';
import type { Policy } from '../../../gateway/policy/limits.js';
import { Ticket } from '../../../gateway/policy/ticket.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { eventually } from '../helpers.js';
import { MODEL, today } from './fixtures.js';

/** A TCP proxy to Redis that can be cut (connections dropped, new ones refused) and restored. */
async function cuttableProxy(port: number): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(port, '127.0.0.1');
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop).pipe(upstream);
    upstream.on('error', drop).on('close', drop).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: own } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${own}`,
    cut: () => {
      down = true;
      for (const s of open) s.destroy();
    },
    restore: () => {
      down = false;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const identity: Identity = { key: 'outage', metadata: {}, allowedRoutes: [], allowedModels: [], keyLimits: { requestsPerMinute: 3, dailyBudgetUsd: 1 } };
const usage = { promptTokens: 1000, completionTokens: 500, totalTokens: 1500 }; // $0.00045 on gpt-4o-mini
const CALL = 450_000;

let redis: TestRedis;
let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
let inspect: Redis;
let policy: Policy;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await cuttableProxy(redis.port);
  inspect = new Redis(redis.url);
  const spec = gatewaySpec.parse({ policy: { counters: 'redis', failMode: 'open', redis: { timeout: '200ms' } } }).policy;
  policy = buildPolicy(spec, { env: { TRACEGATE_REDIS_URL: proxy.url } });
});
afterAll(async () => {
  await policy?.close();
  inspect?.disconnect();
  await proxy?.close();
  await redis?.stop();
});

/** Admits and settles one call: 200, or the refusal's status. */
async function call(): Promise<number> {
  const t = await policy.admit({ identity, endpoint: 'chat', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 }, model: MODEL });
  if (!(t instanceof Ticket)) return t.error.status;
  await t.end(usage, [MODEL]);
  return 200;
}

const status = () => (policy.env.store as RedisCounters).client.status;
const spent = async () => Number((await inspect.hget(`{tracegate}:k:outage:d:${today()}`, 'spent')) ?? 0);

describe('fail open, then merge back into Redis', () => {
  it('the calls served alone during the outage count in Redis afterwards: requests and spend', async () => {
    // The whole test within one minute window.
    if (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    expect(await call()).toBe(200);
    await eventually(async () => (await spent()) === CALL || undefined);

    proxy.cut();
    await eventually(() => status() !== 'ready' || undefined);
    expect([await call(), await call()]).toEqual([200, 200]); // served by this replica alone
    expect(await spent()).toBe(CALL); // Redis has not seen them

    proxy.restore();
    await eventually(() => status() === 'ready' || undefined, 10_000);
    // 1 counted in Redis + 2 counted alone = the limit of 3: without the merge Redis would let 2 more in.
    expect(await call()).toBe(429);
    expect(await spent()).toBe(3 * CALL);
    expect(policy.env.metrics.render()).toMatch(/tracegate_gateway_policy_outage_merges_total\{result="with_spend"\} 1/);
  }, 90_000);
});

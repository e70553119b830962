/**
 * The spend ledger rebuilt from the real store: a gateway exports its spans over OTLP to a real
 * collector writing into ClickHouse (the embedded engine); Redis is killed and comes back empty;
 * the next budget check rebuilds today's spend from usage_minutely / llm_spans (common/spend.ts),
 * and the refusal comes at the same spend as without the restart.
 */
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySpend } from '../../../common/spend.js';
import type { RedisCounters } from '../../../gateway/policy/counters-redis.js';
import { startCollector, tempStore, type RunningCollector } from '../../collector/helpers.js';
import { startOpenAIStub, type OpenAIStub } from '../../helpers/providers/index.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import type { TempStore } from '../../helpers/store.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../helpers.js';
import { apiKeyDocs, dayLedger, keysFor, MODEL, PEPPER, statusOf, today } from './fixtures.js';

const KEYS = keysFor({ ledger: '' });

let store: TempStore;
let collector: RunningCollector;
let redis: TestRedis;
let stub: OpenAIStub;
let g: TestGateway;
let inspect: Redis;

beforeAll(async () => {
  store = await tempStore();
  collector = await startCollector(store);
  redis = await startRedis();
  stub = await startOpenAIStub({ usage: { input: 1000, output: 500 } }); // $0.00045 a call on gpt-4o-mini
  inspect = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  inspect.on('error', () => {});
  const cfg = config(
    docs(
      `kind: Gateway\nmetadata: { name: g }\nspec:\n  telemetry: { otlpEndpoint: "${collector.grpcUrl}" }\n  policy:\n    counters: redis\n    failMode: closed\n    redis: { timeout: 1s }`,
      backendDoc('openai', 'openai', stub.url),
      'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: gpt-4o-mini }]\n      targets: [{ backend: openai }]',
      `kind: Team\nmetadata: { name: ml }\nspec:\n  limits: { budget: { dailyUsd: 10 } }`,
      ...apiKeyDocs({ ledger: 'budget: { dailyUsd: 0.002 }' }, KEYS, 'ml'),
    ),
  );
  // The real exporter to the real collector, not the test's in-memory one.
  g = await startGateway(cfg, {
    keyPepper: PEPPER,
    spanExporter: undefined,
    simpleSpanProcessor: undefined,
    policy: { env: { TRACEGATE_REDIS_URL: redis.url }, spend: (range) => querySpend(store.client, store.database, range) },
  });
}, 60_000);
afterAll(async () => {
  await g?.close();
  inspect?.disconnect();
  await stub?.close();
  await redis?.stop();
  await collector?.stop();
  await store?.destroy();
});

const call = () =>
  statusOf(new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEYS.ledger, maxRetries: 0 }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 }));
const spent = async () => (await dayLedger(inspect, 'ledger')).spent;

describe('budgets rebuilt from ClickHouse after Redis restarts empty', () => {
  it('the next refusal comes at the same spend as without the restart', async () => {
    // Without a restart: 4 calls fit $0.002 (1.8M nano spent + a 0.3M+ worst case > 2M).
    expect([await call(), await call()]).toEqual([200, 200]);
    expect(await spent()).toBe(900_000);
    await g.gw.flush();
    expect(await collector.collector.idle(20_000)).toBe(true);
    await eventually(async () => (await querySpend(store.client, store.database, { start: new Date(Date.now() - 86_400_000) })).find((r) => r.key === 'ledger')?.calls === 2 || undefined, 20_000);

    await redis.kill();
    expect(await call()).toBe(503); // failMode closed
    await redis.restart();
    await eventually(() => (g.gw.policy.env.store as RedisCounters).client.status === 'ready' || undefined, 10_000);

    expect(await call()).toBe(200);
    expect(await spent()).toBe(3 * 450_000); // 2 rebuilt from the store, plus this one
    expect(await inspect.hget(`{tracegate}:t:ml:d:${today()}`, 'spent')).toBe(String(3 * 450_000));
    expect(await call()).toBe(200);
    expect(await call()).toBe(429);
    expect(await spent()).toBe(4 * 450_000);
  }, 90_000);
});

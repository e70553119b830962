/**
 * Limits and budgets held exactly by two gateway replicas sharing one real Redis
 * (test/helpers/redis.ts), through the real `openai` client against a loopback provider
 * stand-in. Each case has an ApiKey of its own, so its counters are its own.
 */
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { admissionInputTokens } from '../../../gateway/policy/limits.js';
import { startOpenAIStub, type OpenAIStub } from '../../helpers/providers/index.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../helpers.js';
import { apiKeyDocs, dayLedger, keysFor, MODEL, PEPPER, statusOf } from './fixtures.js';

/** The same prices, on a rule whose attempts time out after 300 ms. */
const SHORT = 'gpt-4o-mini-2024-07-18';
const LIMITS: Record<string, string> = {
  rpm: 'requestsPerMinute: 5',
  tpm: '', // set from the estimate below
  conc: 'concurrentRequests: 3',
  budget: 'budget: { dailyUsd: 0.002 }',
  release: 'budget: { dailyUsd: 1 }',
  month: 'budget: { monthlyUsd: 0.001 }',
  headers: 'requestsPerMinute: 100, tokensPerMinute: 1000',
  cut: 'budget: { dailyUsd: 1 }',
};
const KEYS = keysFor(LIMITS);

/** The prompt every call sends, and its estimate: what a call is admitted at. */
const PROMPT = [{ role: 'user' as const, content: 'hi' }];
const EST = admissionInputTokens('chat', { model: MODEL, messages: PROMPT });

let redis: TestRedis;
let stub: OpenAIStub;
let a: TestGateway;
let b: TestGateway;
let inspect: Redis;
let now: number | undefined;

function configText(): string {
  const keys = apiKeyDocs({ ...LIMITS, tpm: `tokensPerMinute: ${4 * (EST + 10)}` }, KEYS);
  return docs(
    'kind: Gateway\nmetadata: { name: g }\nspec:\n  telemetry: { otlpEndpoint: null }\n  policy:\n    counters: redis\n    redis: { timeout: 2s }\n    reservation: { ttl: 1s }',
    backendDoc('openai', 'openai', stub.url),
    `kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: ${MODEL} }]\n      targets: [{ backend: openai }]\n      retry: { retries: 0 }\n    - matches: [{ model: ${SHORT} }]\n      targets: [{ backend: openai }]\n      retry: { retries: 0 }\n      timeouts: { attempt: 300ms }`,
    ...keys,
  );
}

const client = (g: TestGateway, key: string) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEYS[key], maxRetries: 0, timeout: 10_000 });
const call = (g: TestGateway, key: string, extra: Record<string, unknown> = {}) =>
  client(g, key).chat.completions.create({ model: MODEL, messages: PROMPT, max_tokens: 10, ...extra } as never) as Promise<unknown>;
const status = statusOf;
const ledger = (key: string) => dayLedger(inspect, key);

/** Waits out the end of a minute, so a case's requests fall in one fixed window. */
async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8000) await new Promise((r) => setTimeout(r, left + 50));
}

beforeAll(async () => {
  redis = await startRedis();
  stub = await startOpenAIStub();
  inspect = new Redis(redis.url);
  const cfg = config(configText());
  const deps = { keyPepper: PEPPER, policy: { env: { TRACEGATE_REDIS_URL: redis.url } }, clock: () => now ?? Date.now() };
  a = await startGateway(cfg, deps);
  b = await startGateway(cfg, deps);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  inspect?.disconnect();
  await stub?.close();
  await redis?.stop();
});
beforeEach(() => {
  now = undefined;
  stub.reset();
  stub.set({ usage: undefined });
  stub.setDelays({});
});

describe('two replicas, one Redis', () => {
  it('N parallel requests against M requests per minute: exactly M served', async () => {
    await freshWindow();
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => status(call(i % 2 ? a : b, 'rpm'))));
    expect(statuses.filter((s) => s === 200).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(35);
    const err = await client(a, 'rpm')
      .chat.completions.create({ model: MODEL, messages: PROMPT })
      .catch((e: { error: unknown; headers: Headers }) => e);
    expect((err as { error: unknown }).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(Number((err as { headers: Headers }).headers.get('retry-after'))).toBeGreaterThan(0);
    // As OpenAI's 429s do, the refusal says where the window stands (Redis's count, shared by both replicas).
    expect((err as { headers: Headers }).headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect((err as { headers: Headers }).headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // Each refusal is a call span with status error and the policy's attributes.
    const refused = (await a.calls()).filter((s) => s.attributes['tracegate.policy.reason'] === 'requests');
    expect(refused.length).toBeGreaterThanOrEqual(17);
    expect(refused[0].status.code).toBe(2);
    expect(refused[0].attributes).toMatchObject({
      'tracegate.policy.limit': 'requestsPerMinute',
      'tracegate.policy.scope': 'key',
      'tracegate.policy.limit_value': 5,
      'http.response.status_code': 429,
    });
    const m = await (await fetch(`${a.url}/metrics`)).text();
    expect(m).toMatch(/tracegate_gateway_policy_refusals_total\{reason="requests",scope="key"\} (1[7-9]|2\d)/);
  });

  it('the same for tokens per minute (each call admitted at its estimate plus max_tokens, settled to its usage)', async () => {
    await freshWindow();
    stub.set({ usage: { input: EST, output: 10 } }); // real usage = what was admitted
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => status(call(i % 2 ? a : b, 'tpm'))));
    expect(statuses.filter((s) => s === 200).length).toBe(4);
  });

  it('the same for concurrent requests, and the slots come back when the calls end', async () => {
    stub.setDelays({ beforeHeadersMs: 300 });
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => status(call(i % 2 ? a : b, 'conc'))));
    expect(statuses.filter((s) => s === 200).length).toBe(3);
    stub.setDelays({});
    expect(await Promise.all([status(call(a, 'conc')), status(call(b, 'conc')), status(call(a, 'conc'))])).toEqual([200, 200, 200]);
  });

  it('successful answers carry x-ratelimit-* as OpenAI sends them', async () => {
    await freshWindow();
    const r = await client(a, 'headers').chat.completions.create({ model: MODEL, messages: PROMPT, max_tokens: 10 }).withResponse();
    expect(r.response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(r.response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(r.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
    expect(r.response.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(r.response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1000 - EST - 10));
    expect(r.response.headers.get('x-ratelimit-reset-tokens')).toMatch(/^\d+(ms|s|m\d+s)$/);
  });

  it('budgets: spend accumulates from real usage, streams included, and is refused once crossed', async () => {
    stub.set({ usage: { input: 1000, output: 500 } }); // $0.00045 a call
    for (let i = 0; i < 4; i++) {
      const g = i % 2 ? a : b;
      if (i < 2) expect(await status(call(g, 'budget', { max_tokens: 500 }))).toBe(200);
      else {
        const s = await client(g, 'budget').chat.completions.create({ model: MODEL, messages: PROMPT, max_tokens: 500, stream: true });
        for await (const _ of s);
      }
    }
    expect(stub.requests.filter((r) => r.body.stream).every((r) => r.body.stream_options?.include_usage === true)).toBe(true);
    expect(await eventually(async () => ((await ledger('budget')).reserved === 0 ? ledger('budget') : undefined))).toEqual({ spent: 4 * 450_000, reserved: 0 });
    // 1.8M spent + EST*150 + 500*600 > 2M: refused, on either replica.
    const err = await call(a, 'budget', { max_tokens: 500 }).catch((e: { status: number; error: unknown }) => e);
    expect(err).toMatchObject({ status: 429, error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
    expect(await status(call(b, 'budget', { max_tokens: 500 }))).toBe(429);
    // A call that fits the rest is still served.
    stub.set({ usage: { input: 100, output: 100 } });
    expect(await status(call(b, 'budget', { max_tokens: 100 }))).toBe(200);
    const m = await (await fetch(`${b.url}/metrics`)).text();
    expect(m).toMatch(/tracegate_gateway_policy_refusals_total\{reason="daily_budget",scope="key"\} [1-9]/);
  });

  it('a reservation is released after an upstream 500, a client disconnect and a timeout', async () => {
    stub.set({ usage: { input: 10, output: 10 } });
    // Settlements go to Redis with the next batch, just after the answer: read until they land.
    const released = () => eventually(async () => ((await ledger('release')).reserved === 0 ? ledger('release') : undefined));
    expect(await status(call(a, 'release'))).toBe(200);
    const before = await released();
    expect(before.spent).toBeGreaterThan(0);
    stub.failNext(1, 500);
    expect(await status(call(b, 'release'))).toBe(502);
    expect(await released()).toEqual(before);

    stub.hangNext(1);
    const gone = new AbortController();
    const pending = client(a, 'release')
      .chat.completions.create({ model: MODEL, messages: PROMPT }, { signal: gone.signal })
      .catch(() => 'aborted');
    await eventually(async () => (await ledger('release')).reserved > 0 || undefined);
    gone.abort();
    expect(await pending).toBe('aborted');
    await stub.waitForAbort();
    expect(await released()).toEqual(before);

    stub.hangNext(1);
    expect(await status(call(b, 'release', { model: SHORT }))).toBe(504);
    expect(await released()).toEqual(before);
  });

  it('a stream past its reservation is cut at the next chunk with a final error event', async () => {
    // No max_tokens: 4096 output tokens reserved (policy.reservation.maxTokens); the answer runs to ~10,000.
    stub.set({ reply: () => ({ text: 'word '.repeat(8000) }) });
    const s = await client(a, 'cut').chat.completions.create({ model: MODEL, messages: PROMPT, stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    })().catch((e: { error?: unknown; message: string }) => e);
    expect(err).toMatchObject({ error: { code: 'insufficient_quota' } });
    expect(text.length).toBeGreaterThan(4096 * 4 - 100);
    expect(text.length).toBeLessThan(4096 * 4 + 100);
    expect(await eventually(async () => ((await ledger('cut')).reserved === 0 ? ledger('cut') : undefined))).toMatchObject({ reserved: 0 });
  });

  it('the month rolls over (the gateway clock)', async () => {
    stub.set({ usage: { input: 1000, output: 1000 } }); // $0.00075
    now = Date.parse('2026-12-31T23:59:00Z');
    // $0.00075 spent; another worst case (EST input + 500 output, over $0.0003) passes $0.001.
    expect(await status(call(a, 'month', { max_tokens: 500 }))).toBe(200);
    expect(await status(call(b, 'month', { max_tokens: 500 }))).toBe(429);
    now = Date.parse('2027-01-01T00:00:01Z');
    expect(await status(call(b, 'month', { max_tokens: 500 }))).toBe(200);
  });
});

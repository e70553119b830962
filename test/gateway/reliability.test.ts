/**
 * Retries, fallbacks, timeouts, circuit breakers, weighted splits and client disconnects,
 * through the real openai SDK and loopback stand-ins. Durations are kept short; nothing asserts
 * on timing.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from './helpers.js';

let a: OpenAIStub;
let b: OpenAIStub;
let g: TestGateway;
let client: OpenAI;
let now = 1_000_000;

const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
const fail = async (p: Promise<unknown>) => (await p.catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;

const rule = (name: string, body: string) => `    - name: ${name}\n      matches: [{ model: ${name} }]\n${body}`;

beforeAll(async () => {
  a = await startOpenAIStub();
  b = await startOpenAIStub();
  const fast = '      retry: { retries: 1, backoff: { base: 1ms, max: 5ms } }\n';
  const cfg = config(
    docs(
      backendDoc('a', 'openai', a.url, '  circuitBreaker: { failures: 100 }'),
      backendDoc('b', 'openai', b.url),
      // The same stand-in as a, with its own breaker that opens quickly.
      backendDoc('c', 'openai', a.url, '  circuitBreaker: { failures: 2, cooldown: 30s }'),
      `kind: Route
metadata: { name: r }
spec:
  rules:
${rule('fallback', `      targets: [{ backend: a }]\n      fallbacks: [{ backend: b, model: other-model }]\n${fast}`)}
${rule('single', `      targets: [{ backend: a }]\n${fast}      timeouts: { attempt: 300ms }`)}
${rule('patient', '      targets: [{ backend: a }]\n      retry: { retries: 2, maxRetryAfter: 5s }')}
${rule('split', '      targets: [{ backend: a, weight: 3 }, { backend: b, weight: 1 }]')}
${rule('breaker', `      targets: [{ backend: c }]\n      fallbacks: [{ backend: b }]\n${fast}`)}
${rule('breaker-only', `      targets: [{ backend: c }]\n      retry: { retries: 0 }`)}
${rule('stream', `      targets: [{ backend: a }]\n${fast}      timeouts: { attempt: 300ms, streamIdle: 300ms }`)}`,
    ),
  );
  g = await startGateway(cfg, { clock: () => now });
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  await a?.close();
  await b?.close();
});
beforeEach(() => {
  a.reset();
  b.reset();
  g.exporter.reset();
});

const lastCall = async () => (await eventually(async () => (await g.calls()).at(-1))).attributes;

describe('retries and fallbacks', () => {
  it('falls back to the next target when the first answers 500 (after its retry)', async () => {
    a.failNext(2, 500);
    const r = await ask('fallback');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(a.requests).toHaveLength(2);
    expect(b.requests[0].body.model).toBe('other-model');
    const attrs = await lastCall();
    expect(attrs).toMatchObject({ 'tracegate.attempts': 3, 'tracegate.fallback.used': true, 'tracegate.backend': 'b', 'llm.model_name': 'other-model' });
    const attempts = (await g.spans()).filter((s) => s.name.startsWith('upstream '));
    expect(attempts.map((s) => s.attributes['http.response.status_code'])).toEqual([500, 500, 200]);
    expect(attempts.every((s) => s.attributes['openinference.span.kind'] === undefined)).toBe(true);
  });

  it('retries after a 429, waiting what Retry-After says', async () => {
    a.failNext(1, 429, { retryAfter: 1 });
    const r = await ask('patient');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(a.requests).toHaveLength(2);
    expect(await lastCall()).toMatchObject({ 'tracegate.attempts': 2, 'tracegate.retries': 1 });
  });

  it('answers 429 with Retry-After when the upstream asks for a longer wait than allowed', async () => {
    a.failNext(1, 429, { retryAfter: 120 });
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'patient', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('120');
    expect(a.requests).toHaveLength(1);
  });

  it('answers 502 in the envelope when every attempt failed', async () => {
    a.failNext(2, 503);
    const err = await fail(ask('single'));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_failed');
    expect(err.message).toMatch(/every attempt failed \(2 attempts\)/);
  });

  it('answers 504 when the upstream does not answer in time, and aborts the upstream request', async () => {
    a.hangNext(2);
    const err = await fail(ask('single'));
    expect(err.status).toBe(504);
    expect(err.code).toBe('upstream_timeout');
    await a.waitForAbort();
    expect(await lastCall()).toMatchObject({ 'error.type': 'timeout', 'tracegate.attempts': 2 });
  });
});

describe('circuit breaker', () => {
  const circuitMetric = async () => /tracegate_gateway_circuit_state\{backend="c"\} (\d)/.exec(await g.gw.metrics.scrape())?.[1];

  it('opens after consecutive failures, skips the backend, and closes after a successful probe', async () => {
    a.failNext(4, 500);
    await ask('breaker'); // two failures on c: its circuit opens, b answers
    expect(g.gw.breakers.get('c')?.state).toBe('open');
    expect(await circuitMetric()).toBe('1');
    a.reset();
    const r = await ask('breaker');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(a.requests).toHaveLength(0);
    expect(await lastCall()).toMatchObject({ 'tracegate.circuit.skipped': 'c', 'tracegate.backend': 'b' });
    const refused = await fail(ask('breaker-only'));
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('no_healthy_backend');
    now += 31_000; // past the cool-down: one probe goes to c
    await ask('breaker-only');
    expect(a.requests).toHaveLength(1);
    expect(g.gw.breakers.get('c')?.state).toBe('closed');
    expect(await circuitMetric()).toBe('0');
  });
});

describe('weighted split', () => {
  it('sends traffic in proportion to the weights', async () => {
    const n = 400;
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => ask('split')));
    const share = a.requests.length / n;
    expect(a.requests.length + b.requests.length).toBe(n);
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.85);
  });
});

describe('streams', () => {
  const stream = (signal?: AbortSignal) => client.chat.completions.create({ model: 'stream', messages: [{ role: 'user', content: 'hi' }], stream: true }, { signal });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    a.setDelays({ betweenChunksMs: 100 });
    const ac = new AbortController();
    const s = await stream(ac.signal);
    for await (const _c of s) {
      ac.abort();
      break;
    }
    const aborted = await a.waitForAbort();
    expect(aborted.completed).toBe(false);
    expect(await lastCall()).toMatchObject({ 'error.type': 'client_closed', 'tracegate.streaming': true });
  });

  it('retries a stream that failed before its first byte reached the client', async () => {
    a.hangNext(1);
    let text = '';
    for await (const c of await stream()) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(DEFAULT_TEXT);
    expect(a.requests).toHaveLength(2);
  });

  it('never retries a stream once its first byte reached the client; the client learns in-band', async () => {
    a.setDelays({ betweenChunksMs: 2000 });
    const err = await (async () => {
      for await (const _c of await stream()) {
        // keep reading until the gateway's idle timeout cuts the stream
      }
    })().catch((e: unknown) => e);
    expect(String(err)).toMatch(/timed out/);
    expect(a.requests).toHaveLength(1);
    expect(await lastCall()).toMatchObject({ 'error.type': '504', 'tracegate.attempts': 1 });
  });
});

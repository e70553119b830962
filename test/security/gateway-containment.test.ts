/**
 * The gateway's side work failing for real during a call: a log destination that throws, the
 * metrics registry throwing while a call is recorded and while /metrics is scraped, and the
 * token estimator throwing while a call settles. Each time the client gets the answer it gets
 * without the fault (the simulated backend answers the same request with the same text), the
 * next call is served, and `tracegate_gateway_internal_errors_total{component}` counts the
 * failure (the telemetry timer's case: gateway-input.test.ts). An exception that escaped would
 * fail the call or reach vitest as an unhandled error.
 */
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSimulatedTransport } from '../../gateway/providers/simulated.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../gateway/helpers.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { canaryListener, type CanaryListener } from './canary.js';

/** Which side work fails now (switched on by each case, off after it). */
const faults = { logging: false, tokenizer: false };

// The estimator as the call path imports it, failing while `faults.tokenizer` is on.
vi.mock('../../gateway/tokenizer.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../gateway/tokenizer.js')>();
  return {
    ...real,
    estimateChatUsage: (...args: Parameters<typeof real.estimateChatUsage>) => {
      if (faults.tokenizer) throw new RangeError('the token estimator failed');
      return real.estimateChatUsage(...args);
    },
  };
});

const SIM = 'tracegate-sim-1';
const ASK = { model: SIM, messages: [{ role: 'user' as const, content: 'tell me about containment' }], max_tokens: 16 };

let stub: OpenAIStub;
/** An OpenAI-compatible server that reports no usage, so the gateway estimates it. */
let quiet: OpenAIStub;
let canary: CanaryListener;
let g: TestGateway;
let client: OpenAI;
let logLines = 0;

beforeAll(async () => {
  stub = await startOpenAIStub();
  quiet = await startOpenAIStub({ omitUsage: true });
  canary = await canaryListener();
  // A log destination that throws while `faults.logging` is on, as a full disk or a closed pipe would.
  const logger = pino(
    { level: 'info' },
    {
      write() {
        if (faults.logging) throw new Error('the log destination failed');
        logLines += 1;
      },
    },
  );
  const cfg = config(
    docs(
      'kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { otlpEndpoint: null }',
      'kind: Backend\nmetadata: { name: sim }\nspec:\n  provider: simulated',
      backendDoc('up', 'openai', stub.url, '  circuitBreaker: { failures: 1, cooldown: 10m }'),
      backendDoc('quiet', 'openai', quiet.url),
      `kind: Route
metadata: { name: main }
spec:
  rules:
    - matches: [{ model: "tracegate-sim-*" }]
      targets: [{ backend: sim }]
    - matches: [{ model: flaky }]
      targets: [{ backend: up }]
      fallbacks: [{ backend: sim, model: ${SIM} }]
      retry: { retries: 0 }
    - matches: [{ model: quiet }]
      targets: [{ backend: quiet }]`,
    ),
  );
  g = await startGateway(cfg, { logger, simulated: createSimulatedTransport({ latency: { minMs: 0, maxMs: 0, perTokenMs: 0 } }) });
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k', maxRetries: 0 });
});
afterEach(() => {
  faults.logging = false;
  faults.tokenizer = false;
  vi.restoreAllMocks();
});
afterAll(async () => {
  await g?.close();
  await stub?.close();
  await quiet?.close();
  await canary?.close();
});

const scrape = async () => {
  const r = await fetch(`${g.url}/metrics`);
  expect(r.status).toBe(200);
  return r.text();
};
function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  expect(m, `${re.source} in /metrics`).not.toBeNull();
  return Number(m?.[1]);
}
const contained = async (component: string) => metric(await scrape(), new RegExp(`tracegate_gateway_internal_errors_total\\{component="${component}"\\} (\\d+)`));
/** Calls of a rule answered with 200, as recorded (rule 0 serves the simulated models, rule 2 `quiet`). */
const callsAnswered = async (rule = 0) => metric(await scrape(), new RegExp(`tracegate_gateway_requests_total\\{route="main/${rule}",status_code="200"\\} (\\d+)`));

const answer = async (model = SIM) => (await client.chat.completions.create({ ...ASK, model })).choices[0].message.content;
async function streamed(model = SIM): Promise<string> {
  let text = '';
  for await (const chunk of await client.chat.completions.create({ ...ASK, model, stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

/** The gateway still serves: health, and a call answered as before the fault. */
async function stillServes(normal: string | null): Promise<void> {
  expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
  expect(await answer()).toBe(normal);
  expect(canary.connections).toBe(0);
}

describe("a failure in the gateway's own side work is contained, counted, and the call answered", () => {
  let normal: string | null;
  let normalStream: string;
  beforeAll(async () => {
    normal = await answer();
    normalStream = await streamed();
    expect(normal).toBeTruthy();
    expect(normalStream).toBeTruthy();
  });

  it('logging: a log destination that throws while the circuit-opened line is written (counted as component="logging")', async () => {
    const before = await contained('logging');
    stub.failNext(1, 500);
    faults.logging = true;
    // up answers 500, its breaker opens (a warn line that cannot be written), the fallback serves.
    expect(await answer('flaky')).toBe(normal);
    expect(g.gw.breakers.get('up')?.state).toBe('open');
    faults.logging = false;
    expect(await contained('logging')).toBeGreaterThan(before);
    await stillServes(normal);
    // The logger works again once its destination does.
    const lines = logLines;
    g.gw.reload({ ok: true, config: g.gw.config });
    expect(logLines).toBeGreaterThan(lines);
  });

  it('metrics: the registry throwing while a call is recorded (counted as component="metrics")', async () => {
    const before = await contained('metrics');
    const answered = await callsAnswered();
    const spans = (await g.calls()).length;
    const record = vi.spyOn(g.gw.metrics, 'recordCall').mockImplementation(() => {
      throw new TypeError('the metrics registry failed');
    });
    expect(await answer()).toBe(normal);
    expect(await streamed()).toBe(normalStream);
    expect(record).toHaveBeenCalledTimes(2);
    record.mockRestore();
    expect(await contained('metrics')).toBe(before + 2);
    await stillServes(normal);
    // Only the call after the fault was recorded; the span of a faulted call still ended.
    expect(await callsAnswered()).toBe(answered + 1);
    await eventually(async () => ((await g.calls()).length === spans + 3 ? true : undefined));
  });

  it('metrics: a series that throws while /metrics is scraped: the rest is still exposed (counted as component="metrics")', async () => {
    const before = await contained('metrics');
    const entries = vi.spyOn(g.gw.breakers, 'entries').mockImplementation(() => {
      throw new Error('a metric source failed');
    });
    const text = await scrape();
    expect(text).toMatch(/tracegate_gateway_requests_total\{/);
    expect(text).not.toMatch(/tracegate_gateway_circuit_state\{/);
    entries.mockRestore();
    expect(await contained('metrics')).toBe(before + 1);
    expect(await scrape()).toMatch(/tracegate_gateway_circuit_state\{backend="sim"\} 0/);
    await stillServes(normal);
  });

  it('token estimation: the estimator throwing while a call without usage settles, JSON and streamed (counted as component="tokenizer")', async () => {
    const usage = async (at: number) => (await eventually(async () => (await g.calls()).at(at))).attributes['gen_ai.usage.output_tokens'];
    const first = (await g.calls()).length;
    const normalQuiet = await answer('quiet');
    const normalQuietStream = await streamed('quiet');
    // Unfaulted, the gateway estimates what the server did not report.
    expect(await usage(first)).toBeGreaterThan(0);
    expect(await usage(first + 1)).toBeGreaterThan(0);
    const before = await contained('tokenizer');
    const answered = await callsAnswered(2);
    const spans = (await g.calls()).length;
    faults.tokenizer = true;
    expect(await answer('quiet')).toBe(normalQuiet);
    expect(await streamed('quiet')).toBe(normalQuietStream);
    // Each call still finishes after its failed estimate: recorded, its span ended without usage.
    await eventually(async () => ((await callsAnswered(2)) === answered + 2 ? true : undefined));
    faults.tokenizer = false;
    expect(await contained('tokenizer')).toBe(before + 2);
    expect(await usage(spans)).toBeUndefined();
    expect(await usage(spans + 1)).toBeUndefined();
    // The next call is estimated again.
    expect(await streamed('quiet')).toBe(normalQuietStream);
    expect(await usage(spans + 2)).toBeGreaterThan(0);
    expect(await contained('tokenizer')).toBe(before + 2);
    await stillServes(normal);
  });
});

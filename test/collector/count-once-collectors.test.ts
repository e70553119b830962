/**
 * Count once across two collectors: the application (the openai SDK with the OpenInference
 * instrumentation) exports to one collector, the gateway it calls exports to another, both into
 * one store; the application's spans carry no traceparent into the gateway, so each call's two
 * spans are in two traces and pair by response id (plain answers) or by answer digest (streams).
 * A reader polling while the spans arrive never counts a call twice, and the final figures are
 * the gateway's, each call once.
 */
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { node } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../gateway/server.js';
import { otlpSpanProcessor } from '../../gateway/telemetry/tracing.js';
import { backendDoc, config, docs, eventually } from '../gateway/helpers.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';
import { startCollector, type RunningCollector } from './helpers.js';

const MODEL = 'gpt-4o-mini';
const PLAIN = 5;
const STREAMED = 2;
const CALLS = PLAIN + STREAMED;

let store: TempStore;
let appCollector: RunningCollector;
let gatewayCollector: RunningCollector;
let stub: OpenAIStub;
let gateway: Gateway;
let provider: InstanceType<typeof node.NodeTracerProvider>;
const violations: string[] = [];
let polls = 0;

async function poll(): Promise<void> {
  polls++;
  const [r] = await store.rows<{ counted: string; calls: string }>(
    `SELECT countIf(counted) AS counted, uniqExact(if(origin = 'gateway', span_id, superseded_by)) AS calls
     FROM ${store.database}.llm_spans WHERE model LIKE 'gpt-4o-mini%' AND span_kind = 'LLM'`,
  );
  const [u] = await store.rows<{ calls: string }>(`SELECT sum(calls) AS calls FROM ${store.database}.usage_minutely WHERE model LIKE 'gpt-4o-mini%'`);
  if (Number(r.counted) > CALLS) violations.push(`poll ${polls}: llm_spans counts ${r.counted} calls of ${CALLS}`);
  if (Number(u.calls) > CALLS) violations.push(`poll ${polls}: usage_minutely counts ${u.calls} calls of ${CALLS}`);
}

beforeAll(async () => {
  store = await tempStore();
  appCollector = await startCollector(store);
  gatewayCollector = await startCollector(store);
  stub = await startOpenAIStub({ usage: { input: 40, output: 12 } });
  const cfg = config(
    docs(
      'kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { serviceName: gw-two }',
      backendDoc('up', 'openai', stub.url),
      'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: "gpt-4o-mini*" }]\n      targets: [{ backend: up }]',
    ),
  );
  gateway = buildGateway(cfg, { logLevel: 'silent', spanProcessor: otlpSpanProcessor(gatewayCollector.grpcUrl) });
  const gwUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });
  provider = new node.NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'two-collectors-app' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: appCollector.grpcUrl }), { scheduledDelayMillis: 20 })],
  });
  const instrumentation = new OpenAIInstrumentation({ tracerProvider: provider });
  instrumentation.manuallyInstrument(OpenAI);
  const client = new OpenAI({ baseURL: `${gwUrl}/v1`, apiKey: 'k', maxRetries: 0 });

  let stop = false;
  const poller = (async () => {
    while (!stop) {
      await poll();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  // the two exporters flush on their own schedules: the gateway's and the app's spans arrive apart
  for (let i = 0; i < PLAIN; i++) {
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `question ${i}` }] });
    if (i === 2) await gateway.flush();
  }
  for (let i = 0; i < STREAMED; i++) {
    const s = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `stream ${i}` }], stream: true, stream_options: { include_usage: true } });
    for await (const c of s) void c;
  }
  await provider.forceFlush();
  await gateway.flush();
  expect(await appCollector.collector.idle(20_000)).toBe(true);
  expect(await gatewayCollector.collector.idle(20_000)).toBe(true);
  // until the engine's decider has written every pair's decision (a gateway row decided before
  // its application span arrived is decided again at the decider's next run)
  await eventually(async () => {
    const [r] = await store.rows<{ linked: string }>(
      `SELECT countIf(origin = 'gateway' AND link_trace_id != '' AND app_service_name = 'two-collectors-app') AS linked
       FROM ${store.database}.llm_spans WHERE model LIKE 'gpt-4o-mini%' AND span_kind = 'LLM'`,
    );
    return Number(r.linked) === CALLS || undefined;
  }, 60_000);
  await poll();
  stop = true;
  await poller;
}, 120_000);

afterAll(async () => {
  await provider?.shutdown();
  await gateway?.close();
  await stub?.close();
  await appCollector?.stop();
  await gatewayCollector?.stop();
  await store?.destroy();
});

describe('count once across two collectors', () => {
  it('stores both sides of every call, in separate traces', async () => {
    const rows = await store.rows<{ origin: string; service_name: string; n: string; traces: string }>(
      `SELECT origin, service_name, count() AS n, uniqExact(trace_id) AS traces FROM ${store.database}.llm_spans
       WHERE model LIKE 'gpt-4o-mini%' AND span_kind = 'LLM' GROUP BY origin, service_name ORDER BY origin`,
    );
    expect(rows.map((r) => [r.origin, r.service_name, Number(r.n), Number(r.traces)])).toEqual([
      ['app', 'two-collectors-app', CALLS, CALLS],
      ['gateway', 'gw-two', CALLS, CALLS],
    ]);
  });

  it('counts each call once, with the gateway figures billed to the application, at every poll and at the end', async () => {
    expect(polls).toBeGreaterThan(2);
    expect(violations).toEqual([]);
    const [r] = await store.rows<{ app_counted: string; gw_counted: string; billed: string; linked: string }>(
      `SELECT countIf(origin = 'app' AND counted) AS app_counted, countIf(origin = 'gateway' AND counted) AS gw_counted,
              countIf(origin = 'gateway' AND app_service_name = 'two-collectors-app') AS billed,
              countIf(origin = 'gateway' AND link_trace_id != '') AS linked
       FROM ${store.database}.llm_spans WHERE model LIKE 'gpt-4o-mini%' AND span_kind = 'LLM'`,
    );
    expect({ app: Number(r.app_counted), gateway: Number(r.gw_counted), billed: Number(r.billed), linked: Number(r.linked) }).toEqual({ app: 0, gateway: CALLS, billed: CALLS, linked: CALLS });
    const [u] = await store.rows<{ calls: string }>(`SELECT sum(calls) AS calls FROM ${store.database}.usage_minutely WHERE model LIKE 'gpt-4o-mini%'`);
    expect(Number(u.calls)).toBe(CALLS);
    // the gateway's trace is not a run of its own: the runs are the application's
    const [a] = await store.rows<{ runs: string; calls: string }>(
      `SELECT count() AS runs, sum(llm_calls) AS calls FROM ${store.database}.agent_runs WHERE trace_id IN
         (SELECT trace_id FROM ${store.database}.llm_spans WHERE model LIKE 'gpt-4o-mini%')`,
    );
    expect({ runs: Number(a.runs), calls: Number(a.calls) }).toEqual({ runs: CALLS, calls: CALLS });
  });
});

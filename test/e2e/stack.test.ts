/**
 * The main job, end to end in one process: the stack on free ports with a temporary store,
 * the demo's agent (the real `openai` SDK instrumented by OpenInference, exporting over OTLP
 * gRPC, sending traceparent to the gateway), and the trace checked in ClickHouse.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemoAgent } from '../../cli/demo/agent.js';
import { startStack, type Stack } from '../../cli/stack.js';
import { computeCost, indexPrices, loadPriceTable } from '../../schemas/prices.js';
import { refreshRollups } from '../../schemas/rollups.js';

let dir: string;
let stack: Stack;
let traceId: string;

interface SpanRow {
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  kind: string;
  origin: string;
}

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await stack.store.client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tracegate-e2e-'));
  stack = await startStack({
    target: { kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' },
    host: '127.0.0.1',
    ports: { gateway: 0, grpc: 0, http: 0, sql: 0 },
    logLevel: 'silent',
    simulatedLatency: { minMs: 0, maxMs: 0, perTokenMs: 0 },
  });
  const run = await runDemoAgent({ gatewayUrl: stack.urls.gateway, otlpGrpcUrl: stack.urls.otlpGrpc, model: 'tracegate-sim-1', sessionId: 'e2e-session', userId: 'e2e-user' });
  traceId = run.traceId;
  await stack.gateway.flush();
  // Spans reach the collector, then the spool, then ClickHouse; then the refreshable views run.
  for (let i = 0; i < 50; i++) {
    await stack.collector.idle(10_000);
    await refreshRollups(stack.store.client, stack.store.database);
    // Whole once both rollups have read the newest version of every span of the trace
    // (the count-once rewrite included), not only once the gateway's spans have arrived.
    const [r] = await rows<{ n: string }>(
      `SELECT count() AS n FROM tracegate.agent_runs
       WHERE trace_id = {t:String} AND gateway_calls = 3
         AND source_inserted_at >= (SELECT max(inserted_at) FROM tracegate.llm_spans_data WHERE trace_id = {t:String})
         AND (SELECT max(source_inserted_at) FROM tracegate.usage_minutely_data)
             >= (SELECT max(inserted_at) FROM tracegate.llm_spans_data WHERE trace_id = {t:String})`,
      { t: traceId },
    );
    if (Number(r?.n) === 1) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent run through the stack', () => {
  it('is one trace with every expected span under the right parent', async () => {
    const spans = await rows<SpanRow>(
      `SELECT SpanId, ParentSpanId, SpanName, SpanAttributes['openinference.span.kind'] AS kind, SpanAttributes['tracegate.origin'] AS origin
       FROM tracegate.otel_traces WHERE TraceId = {t:String}`,
      { t: traceId },
    );
    const traces = await rows<{ n: string }>(`SELECT uniqExact(TraceId) AS n FROM tracegate.otel_traces`);
    expect(Number(traces[0].n)).toBe(1);
    const byId = new Map(spans.map((s) => [s.SpanId, s]));
    const app = spans.filter((s) => s.origin !== 'gateway');
    const root = app.filter((s) => s.ParentSpanId === '');
    expect(root).toHaveLength(1);
    expect(root[0].kind).toBe('AGENT');
    const kinds = (list: SpanRow[]) => list.map((s) => s.kind).sort();
    expect(kinds(app.filter((s) => s.ParentSpanId === root[0].SpanId))).toEqual(['LLM', 'LLM', 'LLM', 'RETRIEVER', 'TOOL', 'TOOL']);
    const gatewayCalls = spans.filter((s) => s.origin === 'gateway' && s.kind === 'LLM');
    expect(gatewayCalls).toHaveLength(3);
    // The gateway continued the traceparent of the application's LLM span.
    for (const g of gatewayCalls) expect(byId.get(g.ParentSpanId)?.kind).toBe('LLM');
    expect(new Set(gatewayCalls.map((g) => g.ParentSpanId)).size).toBe(3);
    // Each call was answered by its first attempt: no upstream attempt span (telemetry.attemptSpans: retried).
    expect(spans.filter((s) => s.origin === 'gateway' && s.kind === '')).toEqual([]);
    expect(spans).toHaveLength(10);
  });

  it('counts each model call once, with the gateway figures and their cost', async () => {
    const gw = await rows<{ prompt_tokens: string; completion_tokens: string; cache_read_tokens: string; cost_total: number; counted: number; streaming: number }>(
      `SELECT prompt_tokens, completion_tokens, cache_read_tokens, cost_total, counted, streaming FROM tracegate.llm_spans
       WHERE trace_id = {t:String} AND origin = 'gateway' AND span_kind = 'LLM'`,
      { t: traceId },
    );
    expect(gw).toHaveLength(3);
    expect(gw.every((r) => Number(r.counted) === 1)).toBe(true);
    expect(gw.filter((r) => Number(r.streaming) === 1)).toHaveLength(1);
    // Even the streamed call has tokens: the gateway asked the provider for usage.
    expect(gw.every((r) => Number(r.prompt_tokens) > 0 && Number(r.completion_tokens) > 0)).toBe(true);
    const appCounted = await rows<{ n: string }>(`SELECT count() AS n FROM tracegate.llm_spans WHERE trace_id = {t:String} AND origin = 'app' AND span_kind = 'LLM' AND counted = 1`, { t: traceId });
    expect(Number(appCounted[0].n)).toBe(0);
    const price = indexPrices(loadPriceTable()).find('tracegate-sim-1')!;
    const want = gw.reduce((sum, r) => sum + computeCost(price, { prompt: Number(r.prompt_tokens), completion: Number(r.completion_tokens), cacheRead: Number(r.cache_read_tokens) }).total, 0);
    const got = gw.reduce((s, r) => s + Number(r.cost_total), 0);
    expect(got).toBeGreaterThan(0);
    expect(got).toBeCloseTo(want, 9);

    const [run] = await rows<Record<string, string | number>>(`SELECT * FROM tracegate.agent_runs WHERE trace_id = {t:String}`, { t: traceId });
    expect(run).toMatchObject({ root_span_kind: 'AGENT', agent_name: 'research-agent', session_id: 'e2e-session', user_id: 'e2e-user', status: 'Ok' });
    expect(Number(run.llm_calls)).toBe(3);
    expect(Number(run.tool_calls)).toBe(2);
    expect(Number(run.retriever_calls)).toBe(1);
    const tokens = gw.reduce((s, r) => s + Number(r.prompt_tokens) + Number(r.completion_tokens), 0);
    expect(Number(run.total_tokens)).toBe(tokens);
    expect(Number(run.cost_total)).toBeCloseTo(want, 9);
    expect(Number(run.duration_ms)).toBeGreaterThan(0);

    const usage = await rows<{ calls: string; tokens: string; cost: number }>(
      `SELECT sum(calls) AS calls, sum(prompt_tokens) + sum(completion_tokens) AS tokens, sum(cost_total) AS cost FROM tracegate.usage_minutely WHERE model = 'tracegate-sim-1'`,
    );
    expect(Number(usage[0].calls)).toBe(3);
    expect(Number(usage[0].tokens)).toBe(tokens);
    expect(Number(usage[0].cost)).toBeCloseTo(want, 9);
  });

  it('serves usage over HTTP as JSON and CSV, and refuses bad parameters', async () => {
    const json = (await (await fetch(`${stack.urls.otlpHttp}/v1/usage?since=1h&by=model,route`)).json()) as { rows: Array<Record<string, unknown>> };
    expect(json.rows).toHaveLength(1);
    expect(json.rows[0]).toMatchObject({ model: 'tracegate-sim-1', route: 'default/simulated', calls: 3 });
    const csv = await fetch(`${stack.urls.otlpHttp}/v1/usage?since=1h&by=model&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0].split(',')).toContain('calls');
    expect(lines).toHaveLength(2);
    const bad = await fetch(`${stack.urls.otlpHttp}/v1/usage?since=yesterday&by=colour`);
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/since/);
    expect(body.error.message).toMatch(/by/);
  });

  it('reads the same trace through the read-only ClickHouse HTTP interface', async () => {
    const res = await fetch(`${stack.urls.sql}/?query=${encodeURIComponent(`SELECT count() FROM tracegate.otel_traces WHERE TraceId = '${traceId}' FORMAT TabSeparated`)}`);
    expect(res.status).toBe(200);
    expect(Number((await res.text()).trim())).toBe(10);
  });
});

/**
 * A small agent run written straight into `otel_traces` (as the collector writes rows), for the
 * usage and trace tests: an AGENT span, a RETRIEVER, two application LLM spans each with the
 * gateway's own span for the same call beneath it, and a TOOL span; plus plain LLM calls for
 * other teams and models.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

export interface SeedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service?: string;
  startMs: number;
  durationMs: number;
  attributes: Record<string, string>;
  status?: 'Ok' | 'Error' | 'Unset';
}

function ts(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export async function insertSpans(client: ClickHouseClient, database: string, spans: SeedSpan[]): Promise<void> {
  await client.insert({
    table: `${database}.otel_traces`,
    format: 'JSONEachRow',
    values: spans.map((s) => ({
      Timestamp: ts(s.startMs),
      TraceId: s.traceId,
      SpanId: s.spanId,
      ParentSpanId: s.parentSpanId ?? '',
      TraceState: '',
      SpanName: s.name,
      SpanKind: 'Internal',
      ServiceName: s.service ?? 'demo-agent',
      ResourceAttributes: { 'service.name': s.service ?? 'demo-agent' },
      ScopeName: 'seed',
      ScopeVersion: '1',
      SpanAttributes: s.attributes,
      Duration: Math.round(s.durationMs * 1e6),
      StatusCode: s.status ?? 'Unset',
      StatusMessage: s.status === 'Error' ? 'boom' : '',
    })),
  });
}

/** Runs every refreshable view that exists, in order, and waits for each. */
export async function refreshViews(client: ClickHouseClient, database: string): Promise<void> {
  const order = ['llm_spans_count_once', 'agent_runs_refresh', 'usage_minutely_refresh', 'usage_hourly_refresh', 'usage_daily_refresh', 'evaluations_linked_refresh'];
  const rs = await client.query({ query: 'SELECT name FROM system.tables WHERE database = {db:String}', query_params: { db: database }, format: 'JSONEachRow' });
  const present = new Set((await rs.json<{ name: string }>()).map((r) => r.name));
  for (const view of order) {
    if (!present.has(view)) continue;
    await client.command({ query: `SYSTEM REFRESH VIEW ${database}.${view}` });
    await client.command({ query: `SYSTEM WAIT VIEW ${database}.${view}` });
  }
}

const llm = (model: string, prompt: number, completion: number, extra: Record<string, string> = {}) => ({
  'openinference.span.kind': 'LLM',
  'llm.model_name': model,
  'llm.provider': 'simulated',
  'llm.system': 'openai',
  'llm.token_count.prompt': String(prompt),
  'llm.token_count.completion': String(completion),
  'llm.token_count.total': String(prompt + completion),
  ...extra,
});

const gateway = (team: string, key: string) => ({ 'tracegate.origin': 'gateway', 'tracegate.route': 'default', 'tracegate.team': team, 'tracegate.key': key, 'tracegate.backend': 'sim' });

/** The agent run plus other calls; all within the last few minutes of `nowMs`. */
export function seedSpans(nowMs: number): SeedSpan[] {
  const t0 = nowMs - 5 * 60_000;
  const run: SeedSpan[] = [
    { traceId: TRACE_ID, spanId: 'a000000000000001', name: 'research-agent', startMs: t0, durationMs: 1500, attributes: { 'openinference.span.kind': 'AGENT', 'agent.name': 'research-agent' } },
    { traceId: TRACE_ID, spanId: 'a000000000000002', parentSpanId: 'a000000000000001', name: 'retrieve', startMs: t0 + 10, durationMs: 40, attributes: { 'openinference.span.kind': 'RETRIEVER' } },
    { traceId: TRACE_ID, spanId: 'a000000000000003', parentSpanId: 'a000000000000001', name: 'ChatCompletion', startMs: t0 + 60, durationMs: 300, attributes: llm('tracegate-sim-1', 100, 20) },
    {
      traceId: TRACE_ID,
      spanId: 'a000000000000004',
      parentSpanId: 'a000000000000003',
      name: 'chat tracegate-sim-1',
      service: 'tracegate-gateway',
      startMs: t0 + 65,
      durationMs: 280,
      attributes: { ...llm('tracegate-sim-1', 100, 20), ...gateway('search', 'k-search') },
    },
    {
      traceId: TRACE_ID,
      spanId: 'a000000000000005',
      parentSpanId: 'a000000000000001',
      name: 'get_weather',
      startMs: t0 + 400,
      durationMs: 25,
      attributes: { 'openinference.span.kind': 'TOOL', 'tool.name': 'get_weather' },
    },
    { traceId: TRACE_ID, spanId: 'a000000000000006', parentSpanId: 'a000000000000001', name: 'ChatCompletion', startMs: t0 + 450, durationMs: 900, attributes: llm('tracegate-sim-1', 200, 50) },
    {
      traceId: TRACE_ID,
      spanId: 'a000000000000007',
      parentSpanId: 'a000000000000006',
      name: 'chat tracegate-sim-1',
      service: 'tracegate-gateway',
      startMs: t0 + 455,
      durationMs: 880,
      attributes: { ...llm('tracegate-sim-1', 200, 50), ...gateway('search', 'k-search') },
    },
  ];
  const others: SeedSpan[] = [
    {
      traceId: 'b'.repeat(32),
      spanId: 'b000000000000001',
      name: 'chat gpt-4o-mini',
      service: 'tracegate-gateway',
      startMs: t0 + 1000,
      durationMs: 500,
      attributes: { ...llm('gpt-4o-mini', 1000, 100, { 'llm.provider': 'openai' }), ...gateway('billing', 'k-billing') },
    },
    {
      traceId: 'c'.repeat(32),
      spanId: 'c000000000000001',
      name: 'chat gpt-4o-mini',
      service: 'tracegate-gateway',
      startMs: t0 + 2000,
      durationMs: 700,
      status: 'Error',
      attributes: { ...llm('gpt-4o-mini', 10, 0, { 'llm.provider': 'openai' }), ...gateway('billing', 'k-billing') },
    },
  ];
  return [...run, ...others];
}

import { describe, expect, it, beforeAll } from 'vitest';
import { ROOT_CONTEXT, SpanKind, trace, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { OI, TG } from '../../common/semconv.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { useCollector } from './helpers.js';

/**
 * Team and key name of gateway spans, sent through the collector by the OpenTelemetry gRPC
 * exporter the gateway uses, land in llm_spans and usage_minutely as the spans said, and
 * `GET /v1/usage` groups and filters by them exactly; a call the application recorded too
 * counts once, under the gateway's team and key.
 */
const fx = useCollector();

interface Call {
  team?: string;
  key?: string;
  prompt: number;
  completion: number;
}

const CALLS: Call[] = [
  { team: 'search', key: 'search-prod', prompt: 100, completion: 10 },
  { team: 'search', key: 'search-prod', prompt: 200, completion: 20 },
  { team: 'search', key: 'search-batch', prompt: 300, completion: 30 },
  { team: 'support', key: 'support-prod', prompt: 400, completion: 40 },
  { key: 'no-team-key', prompt: 500, completion: 50 },
  { prompt: 600, completion: 60 }, // open gateway: no key
];

function gatewayCall(tracer: Tracer, c: Call, parent?: Span): void {
  const attributes: Record<string, string | number> = {
    [TG.ORIGIN]: 'gateway',
    [OI.SPAN_KIND]: 'LLM',
    [OI.LLM_MODEL_NAME]: 'gpt-4o-mini',
    [OI.LLM_PROVIDER]: 'openai',
    [OI.TOKEN_PROMPT]: c.prompt,
    [OI.TOKEN_COMPLETION]: c.completion,
    [TG.ROUTE]: 'chat',
  };
  if (c.team) attributes[TG.TEAM] = c.team;
  if (c.key) attributes[TG.KEY] = c.key;
  const ctx = parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  tracer.startSpan('chat gpt-4o-mini', { kind: SpanKind.SERVER, attributes }, ctx).end();
}

async function send(service: string, emit: (tracer: Tracer) => void): Promise<void> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: fx.run.grpcUrl }), { scheduledDelayMillis: 10 })],
  });
  emit(provider.getTracer('team-key-test'));
  await provider.forceFlush();
  await provider.shutdown();
}

async function usage(query: string): Promise<Record<string, unknown>[]> {
  const res = await request(`${fx.run.httpUrl}/v1/usage?${query}`);
  expect(res.statusCode).toBe(200);
  return ((await res.body.json()) as { rows: Record<string, unknown>[] }).rows;
}

describe('team and key through the collector', () => {
  let appTraceId = '';

  beforeAll(async () => {
    await send('tracegate-gateway', (t) => {
      for (const c of CALLS) gatewayCall(t, c);
    });
    // an application's LLM span with the gateway's span for the same call beneath it
    await send('search-app', (t) => {
      const app = t.startSpan('chat', {
        kind: SpanKind.CLIENT,
        attributes: {
          [OI.SPAN_KIND]: 'LLM',
          [OI.LLM_MODEL_NAME]: 'gpt-4o-mini',
          [OI.LLM_PROVIDER]: 'openai',
          [OI.TOKEN_PROMPT]: 70,
          [OI.TOKEN_COMPLETION]: 7,
        },
      });
      appTraceId = app.spanContext().traceId;
      gatewayCall(t, { team: 'search', key: 'search-prod', prompt: 80, completion: 8 }, app);
      app.end();
    });
    expect(await fx.run.collector.idle()).toBe(true);
    await refreshRollups(fx.store.client, fx.store.database);
  });

  it('stores the attributes as sent and lands them in llm_spans', async () => {
    const raw = await fx.store.rows<{ team: string; key: string }>(
      `SELECT SpanAttributes['tracegate.team'] AS team, SpanAttributes['tracegate.key'] AS key FROM tracegate.otel_traces
       WHERE ServiceName = 'tracegate-gateway' ORDER BY toUInt64(SpanAttributes['llm.token_count.prompt'])`,
    );
    expect(raw).toEqual(CALLS.map((c) => ({ team: c.team ?? '', key: c.key ?? '' })));
    const spans = await fx.store.rows(
      `SELECT team, key_name, prompt_tokens FROM tracegate.llm_spans WHERE origin = 'gateway' AND counted = 1 AND app_service_name = 'tracegate-gateway' ORDER BY prompt_tokens`,
    );
    expect(spans).toEqual(CALLS.map((c) => ({ team: c.team ?? '', key_name: c.key ?? '', prompt_tokens: c.prompt })));
  });

  it('counts a call the application recorded too once, under the gateway team and key', async () => {
    const rows = await fx.store.rows(`SELECT origin, counted, team, key_name, prompt_tokens FROM tracegate.llm_spans WHERE trace_id = {t:String} ORDER BY origin`, { t: appTraceId });
    expect(rows).toEqual([
      { origin: 'app', counted: 0, team: 'search', key_name: 'search-prod', prompt_tokens: 70 },
      { origin: 'gateway', counted: 1, team: 'search', key_name: 'search-prod', prompt_tokens: 80 },
    ]);
  });

  it('rolls up per team and key exactly, and /v1/usage groups by them', async () => {
    const rollup = await fx.store.rows(
      `SELECT team, key_name, sum(calls) AS calls, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion
       FROM tracegate.usage_minutely GROUP BY team, key_name ORDER BY team, key_name`,
    );
    const expected = [
      { team: '', key_name: '', calls: 1, prompt: 600, completion: 60 },
      { team: '', key_name: 'no-team-key', calls: 1, prompt: 500, completion: 50 },
      { team: 'search', key_name: 'search-batch', calls: 1, prompt: 300, completion: 30 },
      { team: 'search', key_name: 'search-prod', calls: 3, prompt: 380, completion: 38 },
      { team: 'support', key_name: 'support-prod', calls: 1, prompt: 400, completion: 40 },
    ];
    expect(rollup).toEqual(expected);
    const rows = await usage('since=1h&by=team,key&limit=100');
    const got = rows.map((r) => ({ team: r.team, key_name: r.key, calls: r.calls, prompt: r.prompt_tokens, completion: r.completion_tokens }));
    expect(got.sort((a, b) => `${a.team}/${a.key_name}`.localeCompare(`${b.team}/${b.key_name}`))).toEqual(expected);
  });

  it('filters /v1/usage by team and by key, alone and with other group-bys', async () => {
    expect(await usage('since=1h&by=key&team=search')).toEqual([
      expect.objectContaining({ key: 'search-prod', calls: 3, prompt_tokens: 380 }),
      expect.objectContaining({ key: 'search-batch', calls: 1, prompt_tokens: 300 }),
    ]);
    // the gateway's row of the application's call is billed to the application's service
    expect(await usage('since=1h&by=team,model,service&key=search-prod')).toEqual([
      expect.objectContaining({ team: 'search', model: 'gpt-4o-mini', service: 'tracegate-gateway', calls: 2, prompt_tokens: 300 }),
      expect.objectContaining({ team: 'search', model: 'gpt-4o-mini', service: 'search-app', calls: 1, prompt_tokens: 80 }),
    ]);
    expect(await usage('since=1h&by=&team=support&key=support-prod')).toEqual([expect.objectContaining({ calls: 1, prompt_tokens: 400 })]);
    expect(await usage('since=1h&by=team&team=support&key=search-prod')).toEqual([]);
  });
});

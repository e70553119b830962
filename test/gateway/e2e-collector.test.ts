/**
 * End to end: a call with a traceparent goes through the gateway, whose span travels over OTLP
 * gRPC (the real exporter, batched) to the collector and lands in ClickHouse (the embedded engine)
 * with the right parent and token counts.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TEXT } from '../helpers/providers/index.js';
import { useGatewayToCollector } from './e2e.js';
import { backendDoc, config, docs } from './helpers.js';
import { decideCalls } from '../helpers/spans.js';

const TRACE_ID = 'aa92f3577b34da6a3ce929d0e0e47361';
const PARENT_ID = 'b0f067aa0ba902b7';

const fx = useGatewayToCollector({ usage: { input: 30, output: 9, cacheRead: 10 } }, (otlp, up) =>
  config(
    docs(
      `kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { serviceName: gw-e2e, otlpEndpoint: "${otlp}", attemptSpans: always }`,
      backendDoc('up', 'openai', up),
      'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: gpt-4o-mini }]\n      targets: [{ backend: up }]',
    ),
  ),
);

describe('gateway → collector → ClickHouse', () => {
  it('stores the gateway span under the caller span, with token counts, and its attempt span uncounted', async () => {
    const { store, collector, gw, url } = fx;
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    await gw.flush();
    expect(await collector.collector.idle(20_000)).toBe(true);
    await decideCalls(store);
    const rows = await store.rows<{ SpanName: string; ParentSpanId: string; ServiceName: string; kind: string; prompt: string; completion: string; origin: string }>(
      `SELECT SpanName, ParentSpanId, ServiceName, SpanAttributes['openinference.span.kind'] AS kind,
              SpanAttributes['llm.token_count.prompt'] AS prompt, SpanAttributes['llm.token_count.completion'] AS completion,
              SpanAttributes['tracegate.origin'] AS origin
       FROM ${store.database}.otel_traces WHERE TraceId = {t:String} ORDER BY Timestamp`,
      { t: TRACE_ID },
    );
    expect(rows).toHaveLength(2);
    const call = rows.find((x) => x.kind === 'LLM');
    expect(call).toMatchObject({ SpanName: 'chat gpt-4o-mini', ParentSpanId: PARENT_ID, ServiceName: 'gw-e2e', prompt: '40', completion: '9', origin: 'gateway' });
    const llm = await store.rows<{ prompt_tokens: string; counted: number }>(`SELECT prompt_tokens, counted FROM ${store.database}.llm_spans WHERE trace_id = {t:String}`, { t: TRACE_ID });
    expect(llm).toHaveLength(1);
    expect(Number(llm[0].prompt_tokens)).toBe(40);
    // The gateway says what its exporter did.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('tracegate_gateway_spans_exported_total 2');
    expect(metrics).toContain('tracegate_gateway_spans_dropped_total 0');
    expect(metrics).toContain('tracegate_gateway_span_queue_bytes 0');
  });
});

/**
 * End to end: a call the policy refuses (429: a rate limit; 403: a model its key may not use)
 * is still a span, exported over OTLP gRPC by the real exporter to a real collector, and lands
 * in ClickHouse (the embedded engine): in llm_spans with its refusal, key and team, status error
 * and the HTTP status the client got, and in otel_traces with its tracegate.policy.* attributes.
 * Nothing of the key itself or its hash travels with it.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../../gateway/policy/keys.js';
import { useGatewayToCollector } from '../e2e.js';
import { backendDoc, config, docs } from '../helpers.js';
import { keysFor, MODEL, PEPPER, statusOf } from './fixtures.js';
import { decideCalls } from '../../helpers/spans.js';

const KEYS = keysFor({ limited: '' });
const TRACES = { ok: 'a1000000000000000000000000000001', limited: 'a1000000000000000000000000000002', model: 'a1000000000000000000000000000003' };
const PARENT = 'b0f067aa0ba902b7';

const fx = useGatewayToCollector(
  { usage: { input: 30, output: 9 } },
  (otlp, up) =>
    config(
      docs(
        `kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { serviceName: gw-refusals, otlpEndpoint: "${otlp}" }`,
        backendDoc('up', 'openai', up),
        `kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: ${MODEL} }, { model: gpt-4o }]\n      targets: [{ backend: up }]`,
        'kind: Team\nmetadata: { name: ml }\nspec: {}',
        `kind: ApiKey\nmetadata: { name: limited }\nspec:\n  team: ml\n  hash: ${hashKey(KEYS.limited, PEPPER)}\n  allowedModels: [${MODEL}]\n  limits: { requestsPerMinute: 1 }`,
      ),
    ),
  { keyPepper: PEPPER },
);

const call = (trace: string, model = MODEL) =>
  statusOf(
    new OpenAI({ baseURL: `${fx.url}/v1`, apiKey: KEYS.limited, maxRetries: 0 }).chat.completions.create(
      { model, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: `00-${trace}-${PARENT}-01` } },
    ),
  );

describe('policy refusals through the collector into ClickHouse', () => {
  it('a 429 (requests per minute) and a 403 (model not allowed) each land as a span with the refusal', async () => {
    expect(await call(TRACES.ok)).toBe(200);
    expect(await call(TRACES.limited)).toBe(429);
    expect(await call(TRACES.model, 'gpt-4o')).toBe(403);
    expect(fx.stub.requests).toHaveLength(1); // the refused calls never reached the provider
    await fx.gw.flush();
    expect(await fx.collector.collector.idle(20_000)).toBe(true);
    const { store } = fx;
    await decideCalls(store);

    const rows = await store.rows<{
      trace_id: string;
      refusal: string;
      key_name: string;
      team: string;
      status_code: string;
      http_status: number;
      origin: string;
      cost_total: number;
      parent_span_id: string;
    }>(
      `SELECT trace_id, refusal, key_name, team, status_code, http_status, origin, cost_total, parent_span_id
       FROM ${store.database}.llm_spans WHERE trace_id IN {t:Array(String)} ORDER BY trace_id`,
      { t: Object.values(TRACES) },
    );
    expect(rows.map((r) => ({ ...r, http_status: Number(r.http_status), cost_total: Number(r.cost_total) }))).toEqual([
      expect.objectContaining({ trace_id: TRACES.ok, refusal: '', key_name: 'limited', team: 'ml', http_status: 200, origin: 'gateway', parent_span_id: PARENT }),
      { trace_id: TRACES.limited, refusal: 'requests', key_name: 'limited', team: 'ml', status_code: 'Error', http_status: 429, origin: 'gateway', cost_total: 0, parent_span_id: PARENT },
      { trace_id: TRACES.model, refusal: 'model', key_name: 'limited', team: 'ml', status_code: 'Error', http_status: 403, origin: 'gateway', cost_total: 0, parent_span_id: PARENT },
    ]);

    const attrs = await store.rows<{ TraceId: string; a: Record<string, string> }>(
      `SELECT TraceId, mapFilter((k, v) -> startsWith(k, 'tracegate.policy.') OR k = 'tracegate.refusal', SpanAttributes) AS a
       FROM ${store.database}.otel_traces WHERE TraceId IN {t:Array(String)} AND SpanAttributes['tracegate.refusal'] != '' ORDER BY TraceId`,
      { t: Object.values(TRACES) },
    );
    expect(attrs).toEqual([
      {
        TraceId: TRACES.limited,
        a: {
          'tracegate.refusal': 'requests',
          'tracegate.policy.reason': 'requests',
          'tracegate.policy.scope': 'key',
          'tracegate.policy.limit': 'requestsPerMinute',
          'tracegate.policy.limit_value': '1',
        },
      },
      { TraceId: TRACES.model, a: { 'tracegate.refusal': 'model', 'tracegate.policy.reason': 'model', 'tracegate.policy.scope': 'key', 'tracegate.policy.limit': 'allowedModels' } },
    ]);

    // Neither the key nor its hash is anywhere in what was stored.
    const secrets = [KEYS.limited, hashKey(KEYS.limited, PEPPER), hashKey(KEYS.limited, PEPPER).slice('hmac-sha256:'.length)];
    const [{ n }] = await store.rows<{ n: string }>(
      `SELECT count() AS n FROM ${store.database}.otel_traces
       WHERE arrayExists(s -> position(toString(SpanAttributes), s) > 0 OR position(toString(ResourceAttributes), s) > 0 OR position(StatusMessage, s) > 0, {s:Array(String)})`,
      { s: secrets },
    );
    expect(Number(n)).toBe(0);
  }, 60_000);
});

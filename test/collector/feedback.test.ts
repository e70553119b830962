import { beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { encodeRequest } from './otlp-encode.js';
import { postJson, useCollector } from './helpers.js';

const fx = useCollector();
const TRACE = 'ab'.repeat(16);
const SPAN = 'cd'.repeat(8);

beforeAll(async () => {
  const body = encodeRequest('fb-svc', [
    {
      traceId: Buffer.from(TRACE, 'hex'),
      spanId: Buffer.from(SPAN, 'hex'),
      name: 'ChatCompletion',
      attributes: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini', 'llm.provider': 'openai', 'session.id': 'sess-1' },
    },
  ]);
  const res = await request(`${fx.run.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  await res.body.arrayBuffer();
  await fx.run.collector.idle();
});

const post = (body: unknown) => postJson(`${fx.run.httpUrl}/v1/feedback`, body);

describe('POST /v1/feedback', () => {
  it.each([
    ['no trace id', { name: 'helpful', score: 1 }, ['trace_id']],
    ['malformed ids', { trace_id: 'xyz', span_id: '12', name: 'helpful', score: 1 }, ['trace_id', 'span_id']],
    ['neither score nor label', { trace_id: TRACE, name: 'helpful' }, ['score']],
    ['unknown source and extra field', { trace_id: TRACE, name: 'x', score: 1, source: 'robot', extra: 1 }, ['source', '(body)']],
  ])('%s → 400 naming the fields', async (_n, body, paths) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_feedback');
    expect(res.json.error.fields.map((f: { path: string }) => f.path).sort()).toEqual([...paths].sort());
  });

  it('writes an evaluations row with the span context copied onto it', async () => {
    const res = await post({ trace_id: TRACE, span_id: SPAN, name: 'helpful', score: 0.8, label: 'good', explanation: 'answered', source: 'human' });
    expect(res.status).toBe(201);
    const rows = await fx.store.rows(
      `SELECT name, score, label, source, model, provider, service_name, session_id, span_kind, via FROM tracegate.evaluations WHERE trace_id = {t:String} AND via = 'api'`,
      { t: TRACE },
    );
    expect(rows).toEqual([
      { name: 'helpful', score: 0.8, label: 'good', source: 'human', model: 'gpt-4o-mini', provider: 'openai', service_name: 'fb-svc', session_id: 'sess-1', span_kind: 'LLM', via: 'api' },
    ]);
  });
});

/**
 * POST /v1/feedback: where the copied context comes from (the span's llm_spans row, its raw
 * otel_traces row, the trace's agent_runs row or root span), field-by-field validation, and the
 * rows in `evaluations`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { refreshRollups } from '../../schemas/rollups.js';
import { postJson, useCollector } from './helpers.js';
import { encodeRequest, type TestSpan } from './otlp-encode.js';

const fx = useCollector();

const hex = (c: string, n: number) => c.repeat(n);
/** An agent run: AGENT root → LLM → plain HTTP client span (no OpenInference kind), and a TOOL span. */
const AGENT = { trace: hex('a1', 16), root: hex('01', 8), llm: hex('02', 8), http: hex('03', 8), tool: hex('04', 8) };
/** A trace with no OpenInference span at all: never in llm_spans or agent_runs. */
const PLAIN = { trace: hex('b2', 16), root: hex('11', 8), child: hex('12', 8) };
/** A trace nobody sent (feedback that arrives before its spans). */
const UNSEEN = { trace: hex('c3', 16), span: hex('21', 8) };

const span = (trace: string, id: string, name: string, attributes: Record<string, string>, parent?: string): TestSpan => ({
  traceId: Buffer.from(trace, 'hex'),
  spanId: Buffer.from(id, 'hex'),
  parentSpanId: parent ? Buffer.from(parent, 'hex') : undefined,
  name,
  attributes,
});

async function send(service: string, spans: TestSpan[]): Promise<void> {
  const res = await request(`${fx.run.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeRequest(service, spans) });
  await res.body.arrayBuffer();
  expect(res.statusCode).toBe(200);
}

beforeAll(async () => {
  await send('agent-svc', [
    span(AGENT.trace, AGENT.root, 'planner', { 'openinference.span.kind': 'AGENT', 'agent.name': 'planner', 'session.id': 'sess-a' }),
    span(
      AGENT.trace,
      AGENT.llm,
      'ChatCompletion',
      {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o-mini',
        'llm.provider': 'openai',
        'llm.system': 'openai',
        'llm.token_count.prompt': '10',
        'llm.token_count.completion': '5',
      },
      AGENT.root,
    ),
    span(AGENT.trace, AGENT.http, 'POST /v1/chat/completions', { 'http.request.method': 'POST' }, AGENT.llm),
    span(AGENT.trace, AGENT.tool, 'search', { 'openinference.span.kind': 'TOOL', 'tool.name': 'search', 'session.id': 'sess-a' }, AGENT.root),
  ]);
  await send('plain-svc', [span(PLAIN.trace, PLAIN.root, 'GET /orders', { 'session.id': 'sess-p', 'llm.model_name': 'gpt-4o' }), span(PLAIN.trace, PLAIN.child, 'db.query', {}, PLAIN.root)]);
  expect(await fx.run.collector.idle()).toBe(true);
});

const post = (body: unknown) => postJson(`${fx.run.httpUrl}/v1/feedback`, body);

const evaluation = async (name: string) =>
  await fx.store.rows<Record<string, unknown>>(
    `SELECT trace_id, span_id, score, label, explanation, source, identifier, model, provider, agent_name, service_name, session_id, span_kind, via
     FROM tracegate.evaluations WHERE name = {n:String}`,
    { n: name },
  );

describe('POST /v1/feedback copies its target context', () => {
  it('a span in llm_spans: model and provider from its row, agent and session from its run', async () => {
    const res = await post({ trace_id: AGENT.trace.toUpperCase(), span_id: AGENT.llm, name: 'correctness', score: 0.25, source: 'llm', identifier: 'judge-v1' });
    expect(res).toEqual({ status: 201, json: { status: 'recorded', trace_id: AGENT.trace, span_id: AGENT.llm, model: 'gpt-4o-mini', context: 'llm_spans' } });
    expect(await evaluation('correctness')).toEqual([
      {
        trace_id: AGENT.trace,
        span_id: AGENT.llm,
        score: 0.25,
        label: '',
        explanation: '',
        source: 'llm',
        identifier: 'judge-v1',
        model: 'gpt-4o-mini',
        provider: 'openai',
        agent_name: 'planner',
        service_name: 'agent-svc',
        session_id: 'sess-a',
        span_kind: 'LLM',
        via: 'api',
      },
    ]);
  });

  it('a span that is not an OpenInference span: its otel_traces row, agent and session from the trace', async () => {
    const res = await post({ trace_id: AGENT.trace, span_id: AGENT.http, name: 'latency-ok', label: 'yes' });
    expect(res.status).toBe(201);
    expect(res.json.context).toBe('otel_traces');
    expect(await evaluation('latency-ok')).toEqual([
      expect.objectContaining({
        span_id: AGENT.http,
        label: 'yes',
        score: null,
        source: 'human',
        model: '',
        provider: '',
        agent_name: 'planner',
        service_name: 'agent-svc',
        session_id: 'sess-a',
        span_kind: '',
      }),
    ]);
  });

  it('a trace with an agent_runs row: the run root kind, agent, session, service, and its single model and provider', async () => {
    await refreshRollups(fx.store.client, fx.store.database);
    const res = await post({ trace_id: AGENT.trace, name: 'task-success', score: 1, label: 'pass', explanation: 'booked the trip', source: 'code' });
    expect(res.json).toMatchObject({ span_id: '', model: 'gpt-4o-mini', context: 'agent_runs' });
    expect(await evaluation('task-success')).toEqual([
      {
        trace_id: AGENT.trace,
        span_id: '',
        score: 1,
        label: 'pass',
        explanation: 'booked the trip',
        source: 'code',
        identifier: '',
        model: 'gpt-4o-mini',
        provider: 'openai',
        agent_name: 'planner',
        service_name: 'agent-svc',
        session_id: 'sess-a',
        span_kind: 'AGENT',
        via: 'api',
      },
    ]);
  });

  it('a trace without OpenInference spans (never in agent_runs): its root span in otel_traces', async () => {
    const res = await post({ trace_id: PLAIN.trace, name: 'plain-trace', score: 0 });
    expect(res.json).toMatchObject({ context: 'otel_traces', model: 'gpt-4o' });
    expect(await evaluation('plain-trace')).toEqual([
      expect.objectContaining({
        span_id: '',
        score: 0,
        model: 'gpt-4o',
        service_name: 'plain-svc',
        session_id: 'sess-p',
        agent_name: '',
        span_kind: '',
      }),
    ]);
  });

  it.each([
    ['a span', { span_id: UNSEEN.span }],
    ['a trace', {}],
  ])('feedback on %s nobody sent yet is written with an empty context', async (_n, extra) => {
    const name = `early-${Object.keys(extra).length}`;
    const res = await post({ trace_id: UNSEEN.trace, name, score: 0.5, ...extra });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ context: 'none', model: null });
    expect(await evaluation(name)).toEqual([expect.objectContaining({ trace_id: UNSEEN.trace, model: '', service_name: '', session_id: '' })]);
  });
});

describe('POST /v1/feedback validation', () => {
  const ok = { trace_id: AGENT.trace, name: 'v', score: 1 };
  it.each<[string, unknown, string[]]>([
    ['trace id too short', { ...ok, trace_id: 'abc' }, ['trace_id']],
    ['trace id not hex', { ...ok, trace_id: 'z'.repeat(32) }, ['trace_id']],
    ['trace id all zeros', { ...ok, trace_id: '0'.repeat(32) }, ['trace_id']],
    ['trace id a number', { ...ok, trace_id: 12 }, ['trace_id']],
    ['span id of a trace id length', { ...ok, span_id: AGENT.trace }, ['span_id']],
    ['span id all zeros', { ...ok, span_id: '0'.repeat(16) }, ['span_id']],
    ['no name', { trace_id: AGENT.trace, score: 1 }, ['name']],
    ['neither score nor label', { trace_id: AGENT.trace, name: 'v' }, ['score']],
    ['score as a string', { ...ok, score: '0.5' }, ['score']],
    ['empty label', { trace_id: AGENT.trace, name: 'v', label: '' }, ['label']],
    ['every problem at once', { trace_id: 'nope', name: '', source: 'robot' }, ['trace_id', 'name', 'source', 'score']],
    ['source not one of human|llm|code|heuristic', { ...ok, source: 'robot' }, ['source']],
    ['explanation past 10000 characters', { ...ok, explanation: 'x'.repeat(10_001) }, ['explanation']],
    ['an unknown field', { ...ok, rating: 5 }, ['(body)']],
    ['a JSON array', [ok], ['(body)']],
  ])('%s → 400 naming the field', async (_n, body, paths) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_feedback' });
    expect(res.json.error.fields.map((f: { path: string }) => f.path).sort()).toEqual([...paths].sort());
    for (const p of paths) expect(res.json.error.message).toContain(`${p}: `);
  });

  it('the source error lists the accepted values', async () => {
    const res = await post({ ...ok, source: 'robot' });
    for (const s of ['human', 'llm', 'code', 'heuristic']) expect(res.json.error.fields[0].message).toContain(s);
  });

  it('an explanation of exactly 10000 characters is accepted and stored whole', async () => {
    const res = await post({ ...ok, name: 'long-explanation', explanation: 'y'.repeat(10_000) });
    expect(res.status).toBe(201);
    const [row] = await evaluation('long-explanation');
    expect((row.explanation as string).length).toBe(10_000);
  });

  it('a body that is not JSON → 400, and the collector keeps answering', async () => {
    const res = await request(`${fx.run.httpUrl}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"trace_id": ' });
    await res.body.arrayBuffer();
    expect(res.statusCode).toBe(400);
    expect((await post({ ...ok, name: 'after-garbage' })).status).toBe(201);
  });
});

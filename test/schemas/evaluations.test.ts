import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshRollups } from '../../schemas/rollups.js';
import { agentSpan, evaluationEvent, insertSpans, llmSpan, ns, oiSpan } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

describe('evaluations', () => {
  let store: TempStore;
  const db = 'tracegate';
  const t = ns(Date.now() - 60_000);
  const root = agentSpan({ agentName: 'support', sessionId: 'sess-e', start: t, durationMs: 5000 });
  const llm = llmSpan({
    traceId: root.traceId,
    parentSpanId: root.spanId,
    model: 'gpt-4o',
    provider: 'openai',
    agentName: 'support',
    sessionId: 'sess-e',
    usage: { prompt: 10, completion: 10 },
    start: t + 1_000_000n,
    durationMs: 500,
    events: [evaluationEvent(t + 600_000_000n, { name: 'empty_answer', score: 1, label: 'true', explanation: 'no content', source: 'heuristic' })],
    attributes: {
      'annotations.0.annotation.name': 'helpfulness',
      'annotations.0.annotation.score': '4',
      'annotations.0.annotation.annotator_kind': 'HUMAN',
      'annotations.0.annotation.identifier': 'reviewer-7',
      'evaluations.0.evaluation.name': 'hallucination',
      'evaluations.0.evaluation.label': 'factual',
      'evaluations.0.evaluation.score': '0',
      'evaluations.0.evaluation.explanation': 'supported by the documents',
      'evaluations.0.evaluation.annotator_kind': 'LLM',
      'trace.annotations.0.annotation.name': 'task_success',
      'trace.annotations.0.annotation.score': '1',
      'trace.annotations.0.annotation.annotator_kind': 'CODE',
    },
  });
  // an evaluator span in its own trace, linked to the LLM span, arriving before its target
  const evaluator = oiSpan('EVALUATOR', {
    start: t + 9_000_000_000n,
    links: [{ traceId: llm.traceId, spanId: llm.spanId, traceState: '', attributes: {} }],
    attributes: { 'evaluations.0.evaluation.name': 'correctness', 'evaluations.0.evaluation.score': '0.8', 'evaluations.0.evaluation.annotator_kind': 'LLM' },
  });

  beforeAll(async () => {
    store = await tempStore();
    await insertSpans(store, [evaluator]);
    await refreshRollups(store.client, db);
  });
  afterAll(async () => store?.destroy());

  it('waits for the target of a linked evaluator span', async () => {
    const rows = await store.rows(`SELECT * FROM ${db}.evaluations`);
    expect(rows).toEqual([]);
  });

  it('lands a row per score from events, inline attributes and linked evaluator spans', async () => {
    await insertSpans(store, [llm, root]);
    await refreshRollups(store.client, db);
    await refreshRollups(store.client, db);
    const rows = await store.rows<Record<string, unknown>>(
      `SELECT name, trace_id, span_id, score, label, explanation, source, identifier, via, model, provider, agent_name, service_name, session_id
       FROM ${db}.evaluations ORDER BY name`,
    );
    const onLlm = { trace_id: llm.traceId, model: 'gpt-4o', provider: 'openai', agent_name: 'support', service_name: 'test-app', session_id: 'sess-e' };
    expect(rows).toEqual([
      { ...onLlm, name: 'correctness', span_id: llm.spanId, score: 0.8, label: '', explanation: '', source: 'llm', identifier: '', via: 'evaluator_span' },
      { ...onLlm, name: 'empty_answer', span_id: llm.spanId, score: 1, label: 'true', explanation: 'no content', source: 'heuristic', identifier: '', via: 'event' },
      { ...onLlm, name: 'hallucination', span_id: llm.spanId, score: 0, label: 'factual', explanation: 'supported by the documents', source: 'llm', identifier: '', via: 'attribute' },
      { ...onLlm, name: 'helpfulness', span_id: llm.spanId, score: 4, label: '', explanation: '', source: 'human', identifier: 'reviewer-7', via: 'attribute' },
      { ...onLlm, name: 'task_success', span_id: '', score: 1, label: '', explanation: '', source: 'code', identifier: '', via: 'attribute' },
    ]);
  });

  it('takes direct inserts with the documented columns (the feedback API)', async () => {
    await store.client.insert({
      table: `${db}.evaluations`,
      values: [
        {
          // Now, not a fixed date: rows past the 400-day TTL may be merged away during the test.
          timestamp: `${Math.floor(Date.now() / 1000)}.000000000`,
          trace_id: llm.traceId,
          span_id: '',
          name: 'thumbs',
          score: null,
          label: 'up',
          explanation: '',
          source: 'human',
          identifier: 'user-1',
          annotator_kind: 'HUMAN',
          metadata: '{}',
          model: '',
          provider: '',
          agent_name: 'support',
          service_name: 'test-app',
          session_id: 'sess-e',
          span_kind: 'AGENT',
        },
      ],
      format: 'JSONEachRow',
    });
    const rows = await store.rows<Record<string, unknown>>(`SELECT via, score, label FROM ${db}.evaluations WHERE name = 'thumbs'`);
    expect(rows).toEqual([{ via: 'api', score: null, label: 'up' }]);
  });
});

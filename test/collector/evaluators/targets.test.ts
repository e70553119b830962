/**
 * What evaluators read from stored application spans (OpenInference, as instrumented apps send
 * them): an LLM answer judged for faithfulness against the documents a RETRIEVER span of its
 * trace found, correctness against `metadata.reference` with metadata and tag filters, an agent
 * run (its AGENT span's input and output), a retrieval's documents, and a span lacking what its
 * template needs (skipped, no score). The judge is a loopback OpenAI stand-in whose verdict
 * follows the prompt; results go through the collector over OTLP into the embedded store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpResultSink } from '../../../collector/evaluators/emit.js';
import { buildEvaluatorWorker } from '../../../collector/evaluators/worker.js';
import { evaluatorSpec, evaluatorVersion, type EvaluatorConfig } from '../../../schemas/evaluator.js';
import { startOpenAIStub, type OpenAIStub } from '../../helpers/providers/index.js';
import { agentSpan, insertSpans, llmSpan, newSpanId, newTraceId, ns, retrieverSpan } from '../../helpers/spans.js';
import type { TempStore } from '../../helpers/store.js';
import { eventually } from '../../gateway/helpers.js';
import { startCollector, tempStore, type RunningCollector } from '../helpers.js';

let store: TempStore;
let collector: RunningCollector;
let judge: OpenAIStub;
const prompts: string[] = [];
/** Judge calls open at once, at most. */
let maxOpen = 0;

const section = (p: string, open: string, close: string) => p.slice(p.indexOf(open) + open.length, p.indexOf(close, p.indexOf(open)));

/** Faithful when the response's words all appear in the context; correct when the answer holds the reference; relevant when the response mentions the question's last word. */
function verdict(body: any) {
  const p: string = body.messages[0].content;
  prompts.push(p);
  maxOpen = Math.max(maxOpen, judge.requests.filter((r) => !r.completed && !r.aborted).length);
  if (p.includes('<context>')) {
    const context = section(p, '<context>', '</context>').toLowerCase();
    const words =
      section(p, '<response>', '</response>')
        .toLowerCase()
        .match(/[a-z]+/g) ?? [];
    return { text: JSON.stringify({ label: words.every((w) => context.includes(w)) ? 'factual' : 'hallucinated', explanation: 'checked each word' }) };
  }
  if (p.includes('[Reference]:')) {
    const ref = section(p, '[Reference]:', '\n').trim();
    return { text: section(p, '[Answer]:', '\n').includes(ref) ? 'correct' : 'incorrect' };
  }
  const q = section(p, '[Question]:', '\n').trim().split(/\W+/).filter(Boolean).pop() ?? '';
  return { text: section(p, '[Response]:', '[END DATA]').toLowerCase().includes(q.toLowerCase()) ? 'relevant' : 'unrelated' };
}

function ev(name: string, spec: object): EvaluatorConfig {
  const s = evaluatorSpec.parse({ type: 'llm-judge', judge: { model: 'gpt-4o-mini' }, retries: 0, ...spec });
  return { name, version: evaluatorVersion(s), spec: s };
}

const T0 = Date.now() - 60_000;
const rag = { trace: newTraceId(), root: newSpanId(), llm: newSpanId(), bad: newSpanId() };
const qa = { good: newSpanId(), wrong: newSpanId(), dev: newSpanId(), noref: newSpanId() };
const agent = { trace: newTraceId(), span: newSpanId() };
const retrieval = { trace: newTraceId(), span: newSpanId() };

const msgs = (q: string, a: string) => ({
  'llm.input_messages.0.message.role': 'user',
  'llm.input_messages.0.message.content': q,
  'llm.output_messages.0.message.role': 'assistant',
  'llm.output_messages.0.message.content': a,
});
const meta = (m: object, tags?: string[]) => ({ metadata: JSON.stringify(m), ...(tags ? { 'tag.tags': JSON.stringify(tags) } : {}) });

beforeAll(async () => {
  store = await tempStore();
  collector = await startCollector(store);
  judge = await startOpenAIStub({ reply: verdict });
  const at = (s: number) => ns(T0 + s * 1000);
  const qaTrace = newTraceId();
  await insertSpans(store, [
    // A RAG trace: the retriever's documents are the context of both answers.
    retrieverSpan({
      traceId: rag.trace,
      spanId: newSpanId(),
      parentSpanId: rag.root,
      start: at(0),
      attributes: { 'input.value': 'opening hours', 'retrieval.documents.0.document.content': 'The shop opens at nine.', 'retrieval.documents.1.document.content': 'It closes at five.' },
    }),
    llmSpan({ traceId: rag.trace, spanId: rag.llm, parentSpanId: rag.root, start: at(1), model: 'gpt-4o', attributes: msgs('When does it open?', 'It opens at nine.') }),
    llmSpan({ traceId: rag.trace, spanId: rag.bad, parentSpanId: rag.root, start: at(2), model: 'gpt-4o', attributes: msgs('When does it close?', 'It closes at midnight.') }),
    // Questions with a reference answer, filtered on metadata env and a tag.
    llmSpan({
      traceId: qaTrace,
      spanId: qa.good,
      start: at(3),
      model: 'gpt-4o-mini',
      attributes: { ...msgs('Capital of France?', 'Paris, of course.'), ...meta({ reference: 'Paris', env: 'prod' }, ['beta']) },
    }),
    llmSpan({
      traceId: qaTrace,
      spanId: qa.wrong,
      start: at(4),
      model: 'gpt-4o-mini',
      attributes: { ...msgs('Capital of Italy?', 'Milan.'), ...meta({ reference: 'Rome', env: 'prod' }, ['beta', 'x']) },
    }),
    llmSpan({ traceId: qaTrace, spanId: qa.dev, start: at(5), model: 'gpt-4o-mini', attributes: { ...msgs('Capital of Spain?', 'Madrid.'), ...meta({ reference: 'Madrid', env: 'dev' }, ['beta']) } }),
    llmSpan({ traceId: qaTrace, spanId: qa.noref, start: at(6), model: 'gpt-4o-mini', attributes: { ...msgs('Capital of Peru?', 'Lima.'), ...meta({ env: 'prod' }, ['beta']) } }),
    // An agent run and a retrieval of their own.
    agentSpan({ traceId: agent.trace, spanId: agent.span, start: at(7), agentName: 'support', attributes: { 'input.value': 'Where is my parcel?', 'output.value': 'Your parcel is in Lyon.' } }),
    retrieverSpan({
      traceId: retrieval.trace,
      spanId: retrieval.span,
      start: at(8),
      attributes: { 'input.value': 'refund policy', 'retrieval.documents.0.document.content': 'Our refund policy: 30 days.' },
    }),
  ]);
  await eventually(async () => {
    const r = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${store.database}.llm_spans`);
    return Number(r[0].n) === 9 || undefined;
  });
}, 60_000);

afterAll(async () => {
  await judge?.close();
  await collector?.stop();
  await store?.destroy();
});

async function run(...evaluators: EvaluatorConfig[]) {
  const w = buildEvaluatorWorker({ client: store.client, database: store.database, sink: otlpResultSink(collector.grpcUrl), gatewayUrl: judge.url, settleMs: 0 });
  w.update(new Map(evaluators.map((e) => [e.name, e])), new Map());
  const summary = await w.runUntilDone({ since: T0 - 60_000, storedBefore: Date.now() + 1000 });
  await w.stop();
  expect(w.metrics.pollFailures).toBe(0);
  expect(await collector.collector.idle(20_000)).toBe(true);
  return summary;
}

async function runs(name: string, n: number) {
  return eventually(async () => {
    const r = await store.rows<{ span_id: string; status: string; label: string; score: number | null; target_kind: string }>(
      `SELECT span_id, status, label, score, target_kind FROM ${store.database}.evaluator_runs WHERE evaluator = {n:String} ORDER BY timestamp`,
      { n: name },
    );
    return r.length >= n ? r : undefined;
  });
}

describe('targets and what the judge is shown', () => {
  it('hallucination: an LLM answer against the documents a RETRIEVER span of its trace found', async () => {
    await run(ev('faithful', { template: 'hallucination', target: { kind: 'LLM', models: ['gpt-4o'] } }));
    const r = await runs('faithful', 2);
    expect(Object.fromEntries(r.map((x) => [x.span_id, x.label]))).toEqual({ [rag.llm]: 'factual', [rag.bad]: 'hallucinated' });
    const p = prompts.find((x) => x.includes('It opens at nine.') && x.includes('<context>'))!;
    expect(section(p, '<context>', '</context>')).toContain('[1] The shop opens at nine.\n[2] It closes at five.');
  });

  it('correctness against metadata.reference, only where metadata env = prod and tagged beta; a span without a reference is skipped', async () => {
    const s = await run(ev('correct', { template: 'correctness', target: { kind: 'LLM', models: ['gpt-4o-mini'], metadata: { env: 'prod' }, tags: ['beta'] } }));
    expect(s.byEvaluator.get('correct')).toMatchObject({ ok: 2, skipped: 1, error: 0 });
    const r = await runs('correct', 3);
    const by = Object.fromEntries(r.map((x) => [x.span_id, [x.status, x.label, x.score]]));
    expect(by).toEqual({ [qa.good]: ['ok', 'correct', 1], [qa.wrong]: ['ok', 'incorrect', 0], [qa.noref]: ['skipped', '', null] });
    // The skip carries no result: nothing in evaluations for it.
    await eventually(async () => {
      const e = await store.rows<{ span_id: string }>(`SELECT span_id FROM ${store.database}.evaluations WHERE name = 'correct'`);
      return e.length === 2 ? e : undefined;
    });
    await new Promise((res) => setTimeout(res, 5500));
    const e = await store.rows<{ span_id: string }>(`SELECT span_id FROM ${store.database}.evaluations WHERE name = 'correct' ORDER BY span_id`);
    expect(e.map((x) => x.span_id).sort()).toEqual([qa.good, qa.wrong].sort());
  }, 60_000);

  it('an agent run: the AGENT span input and output; a retrieval: its documents', async () => {
    await run(ev('agent-relevance', { template: 'relevance', target: { kind: 'AGENT' } }), ev('docs-relevance', { template: 'relevance', target: { kind: 'RETRIEVER' } }));
    const a = await runs('agent-relevance', 1);
    expect(a).toEqual([{ span_id: agent.span, status: 'ok', label: 'relevant', score: 1, target_kind: 'AGENT' }]);
    expect(prompts.some((p) => p.includes('[Question]: Where is my parcel?') && p.includes('[Response]: Your parcel is in Lyon.'))).toBe(true);
    const d = await runs('docs-relevance', 2);
    expect(d.find((x) => x.span_id === retrieval.span)).toMatchObject({ status: 'ok', label: 'relevant', target_kind: 'RETRIEVER' });
    expect(prompts.some((p) => p.includes('[Question]: refund policy') && p.includes('Our refund policy: 30 days.'))).toBe(true);
  });

  it('runs at most `concurrency` judge calls at once, and that many', async () => {
    judge.setDelays({ beforeHeadersMs: 150 });
    maxOpen = 0;
    try {
      const s = await run(ev('bounded', { template: 'relevance', target: { kind: 'LLM' }, concurrency: 2 }));
      expect(s.byEvaluator.get('bounded')!.ok).toBe(6);
    } finally {
      judge.setDelays({ beforeHeadersMs: 0 });
    }
    expect(maxOpen).toBe(2);
  });
});

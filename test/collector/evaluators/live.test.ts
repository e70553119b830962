/**
 * Online evaluators end to end: an application's calls (the real openai SDK, its own ApiKey) go
 * through the gateway to a loopback OpenAI stand-in and, over OTLP, into the embedded store. The
 * evaluator worker reads them back, asks a judge through the same gateway with the evaluator's
 * own ApiKey (the stand-in acts as a deterministic judge: its answer follows the prompt), and
 * writes EVALUATOR spans through the collector with the real OTLP exporter. Checked: the rows
 * in `evaluations` (source llm and code), the link and the event, sampling, attribution of the
 * judge's tokens and cost, re-runs that write nothing twice, and a judge that answers garbage,
 * times out, or is refused by its budget.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoresQuery } from '../../../cli/commands/evaluate.js';
import { exporterResultSink, otlpResultSink } from '../../../collector/evaluators/emit.js';
import { judgeWorstCase } from '../../../collector/evaluators/judge.js';
import { sampled } from '../../../collector/evaluators/select.js';
import { buildEvaluatorWorker, type EvaluatorWorker } from '../../../collector/evaluators/worker.js';
import type { GatewayConfig } from '../../../gateway/config/model.js';
import type { EvaluatorConfig } from '../../../schemas/evaluator.js';
import { generateKey, hashKey } from '../../../gateway/policy/keys.js';
import { buildGateway, type Gateway } from '../../../gateway/server.js';
import { startCollector, tempStore, type RunningCollector } from '../helpers.js';
import { startOpenAIStub, type OpenAIStub } from '../../helpers/providers/index.js';
import type { TempStore } from '../../helpers/store.js';
import { backendDoc, config, docs, eventually } from '../../gateway/helpers.js';

const PEPPER = 'pepper-for-evaluator-tests-0123456789';
const KEYS = { app: generateKey(), evaluator: generateKey(), broke: generateKey() };

let judgeMode: 'follow' | 'garbage' = 'follow';

/** The stand-in: a judge whose verdict follows the prompt, and an application model otherwise. */
function reply(body: any) {
  const prompt: string = body.messages?.[0]?.content ?? '';
  if (prompt.includes('[Response]:')) {
    if (judgeMode === 'garbage') return { text: 'banana banana, I refuse to classify' };
    const response = prompt.slice(prompt.indexOf('[Response]:'));
    return {
      text: response.includes('Paris') ? '{"label": "relevant", "explanation": "it names the capital"}' : '```json\n{"label": "unrelated", "explanation": "it talks about something else"}\n```',
    };
  }
  if (body.response_format) return { text: '{"answer": "Paris"}' };
  const q = JSON.stringify(body.messages);
  return { text: q.includes('France') ? 'Paris is the capital of France.' : 'I like turtles.' };
}

const evaluator = (name: string, spec: string) => `kind: Evaluator\nmetadata: { name: ${name} }\nspec:\n${spec}`;
const JUDGE = (key: string, extra = '') => `  judge: { model: gpt-4o-mini, apiKey: { env: ${key} } }\n  timeoutSeconds: 1\n  retries: 1\n${extra}`;

function configText(stub: OpenAIStub, otlp: string): string {
  return docs(
    `kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { serviceName: gw-eval, otlpEndpoint: "${otlp}" }\n  defaults: { retry: { retries: 0 } }`,
    backendDoc('up', 'openai', stub.url),
    'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: "gpt-4o-mini*" }]\n      targets: [{ backend: up }]',
    `kind: ApiKey\nmetadata: { name: app }\nspec:\n  team: shop\n  hash: ${hashKey(KEYS.app, PEPPER)}`,
    `kind: ApiKey\nmetadata: { name: evaluator }\nspec:\n  team: quality\n  hash: ${hashKey(KEYS.evaluator, PEPPER)}\n  metadata: { purpose: evaluator }`,
    `kind: ApiKey\nmetadata: { name: broke }\nspec:\n  team: quality\n  hash: ${hashKey(KEYS.broke, PEPPER)}\n  metadata: { purpose: evaluator }\n  limits: { budget: { dailyUsd: 0.0000001 } }`,
    'kind: Team\nmetadata: { name: shop }',
    'kind: Team\nmetadata: { name: quality }',
    evaluator('relevance', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: [gpt-4o-mini] }\n${JUDGE('EVAL_KEY')}`),
    evaluator('relevance-half', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: [gpt-4o-mini] }\n  sampling: { rate: 0.5, seed: s1 }\n${JUDGE('EVAL_KEY')}`),
    evaluator('is-json', '  type: code\n  check: json\n  target: { kind: LLM, teams: [shop] }'),
    evaluator('garbage', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: ["gpt-4o-mini-2024*"] }\n${JUDGE('EVAL_KEY')}`),
    evaluator('slow', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: ["gpt-4o-mini-2024*"] }\n${JUDGE('EVAL_KEY')}`),
    evaluator('refused', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: ["gpt-4o-mini-2024*"] }\n${JUDGE('BROKE_KEY')}`),
    evaluator('no-budget', `  type: llm-judge\n  template: relevance\n  target: { kind: LLM, models: [gpt-4o-mini] }\n  budget: { dailyUsd: 0 }\n${JUDGE('EVAL_KEY')}`),
  );
}

let store: TempStore;
let collector: RunningCollector;
let stub: OpenAIStub;
let gw: Gateway;
let gwUrl: string;
let cfg: GatewayConfig;
/** What the workers logged as failed passes: none is expected. */
const failures: string[] = [];
const db = () => store.database;
const QUESTIONS = ['What is the capital of France?', 'Tell me about France.', 'What is a turtle?', 'Name a colour.', 'Is France in Europe?', 'Why is the sky blue?'];

function only(name: string): GatewayConfig['evaluators'] {
  return new Map([[name, cfg.evaluators.get(name)!]]);
}

function newWorker(): EvaluatorWorker {
  const logger = { info: () => {}, warn: (o: object, m: string) => failures.push(`${m} ${JSON.stringify(o)}`) };
  return buildEvaluatorWorker({ client: store.client, database: db(), sink: otlpResultSink(collector.grpcUrl), gatewayUrl: `${gwUrl}/v1`, settleMs: 0, logger });
}

async function runOnly(name: string, retryErrors = false): Promise<EvaluatorWorker> {
  const w = newWorker();
  w.update(only(name), cfg.evaluatorKeys);
  await w.runUntilDone({ since: Date.now() - 3_600_000, storedBefore: Date.now() + 1000 }, { retryErrors });
  await w.stop();
  expect(failures).toEqual([]);
  return w;
}

async function landed(): Promise<void> {
  await gw.flush();
  expect(await collector.collector.idle(20_000)).toBe(true);
}

beforeAll(async () => {
  store = await tempStore();
  collector = await startCollector(store);
  stub = await startOpenAIStub({ reply });
  cfg = config(configText(stub, collector.grpcUrl), { EVAL_KEY: KEYS.evaluator, BROKE_KEY: KEYS.broke });
  gw = buildGateway(cfg, { logLevel: 'silent', keyPepper: PEPPER });
  gwUrl = await gw.listen({ host: '127.0.0.1', port: 0 });
  const app = new OpenAI({ baseURL: `${gwUrl}/v1`, apiKey: KEYS.app, maxRetries: 0 });
  for (const q of QUESTIONS) await app.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] });
  await app.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' } });
  await app.chat.completions.create({ model: 'gpt-4o-mini-2024-07-18', messages: [{ role: 'user', content: 'Capital of France?' }] });
  await landed();
  await eventually(async () => {
    const r = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db()}.llm_spans WHERE span_kind = 'LLM'`);
    return Number(r[0].n) === 8 || undefined;
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await stub?.close();
  await collector?.stop();
  await store?.destroy();
});

interface EvalRow {
  trace_id: string;
  span_id: string;
  name: string;
  score: number | null;
  label: string;
  explanation: string;
  source: string;
  via: string;
  model: string;
  carrier_span_id: string;
}

async function evaluations(name: string, n: number): Promise<EvalRow[]> {
  return eventually(async () => {
    const r = await store.rows<EvalRow>(`SELECT * FROM ${db()}.evaluations WHERE name = {n:String} ORDER BY span_id`, { n: name });
    return r.length >= n ? r : undefined;
  }, 30_000);
}

describe('an llm-judge evaluator through the gateway', () => {
  it('scores every matching call once: EVALUATOR spans linked to the scored span in its trace, rows in evaluations with source llm', async () => {
    const w = await runOnly('relevance');
    expect(w.metrics.evaluations.get('relevance\u0000ok')).toBe(QUESTIONS.length + 1);
    await landed();
    const rows = await evaluations('relevance', QUESTIONS.length + 1);
    expect(rows).toHaveLength(QUESTIONS.length + 1);
    expect(rows.filter((r) => r.label === 'relevant')).toHaveLength(4);
    const targets = await store.rows<{ trace_id: string; span_id: string; answer: string }>(
      `SELECT trace_id, span_id, o.SpanAttributes['llm.output_messages.0.message.content'] AS answer
       FROM ${db()}.llm_spans AS s INNER JOIN ${db()}.otel_traces AS o ON o.TraceId = s.trace_id AND o.SpanId = s.span_id
       WHERE s.model = 'gpt-4o-mini' AND s.key_name = 'app'`,
    );
    expect(targets).toHaveLength(QUESTIONS.length + 1);
    for (const t of targets) {
      const r = rows.find((x) => x.span_id === t.span_id)!;
      expect(r).toMatchObject({ trace_id: t.trace_id, source: 'llm', via: 'evaluator_span', model: 'gpt-4o-mini' });
      // The stand-in judges an answer naming Paris relevant (the France questions and the JSON answer).
      const relevant = t.answer.includes('Paris');
      expect(r.label).toBe(relevant ? 'relevant' : 'unrelated');
      expect(r.score).toBe(relevant ? 1 : 0);
      expect(r.explanation.length).toBeGreaterThan(5);
    }
    // The carrier: an EVALUATOR span in the scored trace, child of and linked to the scored span, with the GenAI event.
    const carrier = await store.rows<{ TraceId: string; ParentSpanId: string; link: string; ev: string; score: string; label: string }>(
      `SELECT TraceId, ParentSpanId, Links.SpanId[1] AS link, Events.Name[1] AS ev,
              Events.Attributes[1]['gen_ai.evaluation.score.value'] AS score, Events.Attributes[1]['gen_ai.evaluation.score.label'] AS label
       FROM ${db()}.otel_traces WHERE SpanId = {c:String}`,
      { c: rows[0].carrier_span_id },
    );
    expect(carrier[0]).toMatchObject({ TraceId: rows[0].trace_id, ParentSpanId: rows[0].span_id, link: rows[0].span_id, ev: 'gen_ai.evaluation.result', label: rows[0].label });
    expect(Number(carrier[0].score)).toBe(rows[0].score);
  }, 90_000);

  it("attributes the judge's tokens and cost to the evaluator: judge calls are its key's, in their own traces, marked, and never scored", async () => {
    // read once the count-once decider has decided them (0082; it runs every 2 s)
    const judge = await eventually(async () => {
      const r = await store.rows<{ trace_id: string; prompt_tokens: string; cost_total: number; team: string }>(
        `SELECT trace_id, prompt_tokens, cost_total, team FROM ${db()}.llm_spans
         WHERE key_name = 'evaluator' AND (trace_id, span_id) IN (SELECT TraceId, SpanId FROM ${db()}.otel_traces WHERE SpanAttributes['tracegate.purpose'] = 'evaluator')`,
      );
      return r.length >= QUESTIONS.length + 1 ? r : undefined;
    });
    expect(judge.length).toBe(QUESTIONS.length + 1);
    expect(judge.every((j) => j.team === 'quality' && Number(j.prompt_tokens) > 0 && j.cost_total > 0)).toBe(true);
    const runs = await eventually(async () => {
      const r = await store.rows<{ span_id: string; judge_trace_id: string; prompt_tokens: string; cost_total: number; status: string; trace_id: string }>(
        `SELECT * FROM ${db()}.evaluator_runs WHERE evaluator = 'relevance'`,
      );
      return r.length === QUESTIONS.length + 1 ? r : undefined;
    });
    // Every judge call's trace is an evaluator's, none is an application trace.
    expect(new Set(runs.map((r) => r.judge_trace_id))).toEqual(new Set(judge.map((j) => j.trace_id)));
    expect(runs.some((r) => judge.some((j) => j.trace_id === r.trace_id))).toBe(false);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(runs.map((r) => r.cost_total))).toBeCloseTo(sum(judge.map((j) => j.cost_total)), 9);
    expect(sum(runs.map((r) => Number(r.prompt_tokens)))).toBe(sum(judge.map((j) => Number(j.prompt_tokens))));
    // The application's own calls carry no judge spend.
    const app = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db()}.llm_spans WHERE key_name = 'app' AND trace_id IN (SELECT judge_trace_id FROM ${db()}.evaluator_runs)`);
    expect(Number(app[0].n)).toBe(0);
    // Judge calls stay visible in llm_spans, marked and uncounted, so no usage figure holds them:
    // usage_minutely and agent_runs (which read `counted`) have nothing of the evaluator's key,
    // and the application's figures there equal its own calls.
    const marked = await store.rows<{ purpose: string; counted: number }>(`SELECT purpose, toUInt8(counted) AS counted FROM ${db()}.llm_spans WHERE key_name = 'evaluator'`);
    expect(marked.length).toBe(QUESTIONS.length + 1);
    expect(marked.every((m) => m.purpose === 'evaluator' && Number(m.counted) === 0)).toBe(true);
    const usage = await store.rows<{ key_name: string; calls: string; cost: number }>(
      `SELECT key_name, sum(calls) AS calls, sum(cost_total) AS cost FROM ${db()}.usage_minutely GROUP BY key_name ORDER BY key_name`,
    );
    expect(usage.map((u) => u.key_name)).not.toContain('evaluator');
    const judged = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db()}.agent_runs WHERE trace_id IN (SELECT judge_trace_id FROM ${db()}.evaluator_runs) AND llm_calls > 0`);
    expect(Number(judged[0].n)).toBe(0);
  });

  it('a daily budget is never overshot by judge calls running side by side: each try sets aside its worst case first', async () => {
    const base = cfg.evaluators.get('relevance')!;
    const spec = base.spec;
    if (spec.type !== 'llm-judge') throw new Error('relevance is a judge');
    // the worst case of each relevance judge prompt (as the gateway recorded the calls), and the dearest real call
    const prompts = await store.rows<{ v: string }>(
      `SELECT SpanAttributes['input.value'] AS v FROM ${db()}.otel_traces WHERE SpanAttributes['tracegate.key'] = 'evaluator' AND SpanAttributes['input.value'] LIKE '%[Response]:%'`,
    );
    expect(prompts.length).toBeGreaterThan(0);
    const worst = prompts.map((p) => judgeWorstCase(spec.judge.model, JSON.parse(p.v).messages[0].content, spec.judge.maxTokens));
    const [c] = await store.rows<{ max: number }>(`SELECT max(cost_total) AS max FROM ${db()}.evaluator_runs WHERE evaluator = 'relevance' AND status = 'ok'`);
    expect(c.max).toBeGreaterThan(0);
    // all of max_tokens is far more than a verdict: a try sets aside more than any call spent
    expect(Math.min(...worst)).toBeGreaterThan(2 * c.max);
    // room for the dearest worst case and two and a half real calls, four calls at a time: two
    // never run side by side, a try starts only while spent + its worst case fits, and the
    // evaluator stops with spans left (setting aside the dearest call seen, all of them fitted)
    const budget = Math.max(...worst) + 2.5 * c.max;
    const capped = { ...base, name: 'capped', spec: { ...base.spec, concurrency: 4, budget: { dailyUsd: budget } } } as EvaluatorConfig;
    const w = newWorker();
    w.update(new Map([['capped', capped]]), new Map([['capped', KEYS.evaluator]]));
    const summary = await w.runUntilDone({ since: Date.now() - 3_600_000, storedBefore: Date.now() + 1000 }, { retryErrors: false });
    await w.stop();
    const t = summary.byEvaluator.get('capped')!;
    expect(t.costUsd).toBeGreaterThan(0);
    expect(t.costUsd).toBeLessThanOrEqual(budget - Math.min(...worst) + c.max);
    expect(t.ok).toBeGreaterThanOrEqual(2);
    expect(t.ok).toBeLessThan(QUESTIONS.length + 1);
    expect(t.budgetExhausted).toBe(true);
    expect(w.metrics.budgetExhausted.get('capped')).toBe(1);
  });

  it('a re-run over the same window writes nothing new for the same version', async () => {
    const w = await runOnly('relevance');
    expect(w.metrics.evaluations.size).toBe(0);
    await landed();
    await new Promise((r) => setTimeout(r, 6000)); // one refresh of evaluations_linked_refresh
    const rows = await store.rows(`SELECT * FROM ${db()}.evaluations WHERE name = 'relevance'`);
    expect(rows).toHaveLength(QUESTIONS.length + 1);
  }, 30_000);

  it('samples by a seeded hash of the span id: exactly the spans sampled() picks', async () => {
    await runOnly('relevance-half');
    const ids = await store.rows<{ span_id: string }>(`SELECT span_id FROM ${db()}.llm_spans WHERE model = 'gpt-4o-mini' AND key_name = 'app'`);
    const expected = ids
      .map((r) => r.span_id)
      .filter((id) => sampled(id, 0.5, 's1'))
      .sort();
    await landed();
    const runs = await eventually(async () => {
      const r = await store.rows<{ span_id: string }>(`SELECT span_id FROM ${db()}.evaluator_runs WHERE evaluator = 'relevance-half' ORDER BY span_id`);
      return r.length === expected.length ? r : undefined;
    });
    expect(runs.map((r) => r.span_id)).toEqual(expected);
  });
});

describe('a code evaluator', () => {
  it('checks JSON validity with no model: pass for the JSON answer, fail for text, source code', async () => {
    const w = await runOnly('is-json');
    expect(w.metrics.judgeCalls.size).toBe(0);
    await landed();
    const rows = await evaluations('is-json', QUESTIONS.length + 2);
    expect(rows.every((r) => r.source === 'code')).toBe(true);
    expect(rows.filter((r) => r.label === 'pass')).toHaveLength(1);
    expect(rows.filter((r) => r.label === 'fail' && r.score === 0)).toHaveLength(QUESTIONS.length + 1);
  }, 60_000);
});

describe('hostile judges: counted, retried, then an evaluation error; nothing else stops', () => {
  async function errorRun(name: string): Promise<{ error_type: string; attempts: number; status: string }> {
    await landed();
    return eventually(async () => {
      const r = await store.rows<{ error_type: string; attempts: number; status: string }>(`SELECT error_type, attempts, status FROM ${db()}.evaluator_runs WHERE evaluator = {n:String}`, { n: name });
      return r.length === 1 ? r[0] : undefined;
    });
  }

  it('garbage answers', async () => {
    judgeMode = 'garbage';
    try {
      const w = await runOnly('garbage');
      expect(w.metrics.judgeCalls.get('garbage\u0000unparseable')).toBe(2);
      expect(w.metrics.retries.get('garbage')).toBe(1);
      expect(w.metrics.evaluations.get('garbage\u0000error')).toBe(1);
    } finally {
      judgeMode = 'follow';
    }
    expect(await errorRun('garbage')).toEqual({ error_type: 'unparseable', attempts: 2, status: 'error' });
    const rows = await evaluations('garbage', 1);
    expect(rows[0]).toMatchObject({ score: null, label: 'error', source: 'llm' });
  }, 60_000);

  it('a judge that does not answer in time', async () => {
    stub.hangNext(2);
    const w = await runOnly('slow');
    expect(w.metrics.judgeCalls.get('slow\u0000timeout')).toBe(2);
    expect(await errorRun('slow')).toEqual({ error_type: 'timeout', attempts: 2, status: 'error' });
  }, 60_000);

  it("a judge call the gateway refuses by the evaluator key's budget", async () => {
    const before = stub.requests.length;
    const w = await runOnly('refused');
    expect(w.metrics.judgeCalls.get('refused\u0000refused_budget')).toBe(2);
    expect(stub.requests.length).toBe(before);
    expect(await errorRun('refused')).toEqual({ error_type: 'refused_budget', attempts: 2, status: 'error' });
  }, 60_000);

  it('an evaluator past its own daily budget scores nothing and says so in its metrics', async () => {
    const w = await runOnly('no-budget');
    expect(w.metrics.evaluations.size).toBe(0);
    expect(w.metricsText()).toContain('tracegate_evaluator_budget_exhausted{evaluator="no-budget"} 1');
  });

  it('after the hostile judges, the application is served and the backlog is visible', async () => {
    const app = new OpenAI({ baseURL: `${gwUrl}/v1`, apiKey: KEYS.app, maxRetries: 0 });
    const r = await app.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Paris or France?' }] });
    expect(r.choices[0].message.content).toContain('Paris');
    await landed();
    await eventually(async () => {
      const n = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db()}.llm_spans WHERE key_name = 'app'`);
      return Number(n[0].n) === 9 || undefined;
    });
    // Only counting: a sink that keeps results in memory, and no pass beyond the backlog count.
    const w = buildEvaluatorWorker({
      client: store.client,
      database: db(),
      sink: exporterResultSink(new (await import('@opentelemetry/sdk-trace-base')).InMemorySpanExporter()),
      gatewayUrl: `${gwUrl}/v1`,
      settleMs: 0,
      batch: 0,
    });
    w.update(only('relevance'), cfg.evaluatorKeys);
    await w.pass({ since: Date.now() - 3_600_000, storedBefore: Date.now() + 1000 });
    expect(w.metricsText()).toContain('tracegate_evaluator_backlog{evaluator="relevance"} 1');
    await w.stop();
  }, 60_000);

  it('a re-run (tracegate evaluate) tries an errored span again; the live worker does not', async () => {
    const live = await runOnly('garbage');
    expect(live.metrics.evaluations.size).toBe(0);
    const rerun = await runOnly('garbage', true);
    expect(rerun.metrics.evaluations.get('garbage\u0000ok')).toBe(1);
    await landed();
    const rows = await evaluations('garbage', 2);
    expect(rows.map((r) => r.label).sort()).toEqual(['error', 'relevant']);
  }, 60_000);
});

describe('tracegate evaluate --scores', () => {
  it('scores by evaluator and model: evaluations, mean score, pass rate, errors and judge cost', async () => {
    const { query, query_params } = scoresQuery(db(), 'model', new Date(Date.now() - 3_600_000), new Date(Date.now() + 60_000));
    const rows = await store.rows<{ evaluator: string; model: string; source: string; evaluations: string; mean_score: number; pass_rate: number; errors: string; judge_cost_usd: number }>(
      query,
      query_params,
    );
    const rel = rows.find((r) => r.evaluator === 'relevance')!;
    expect(rel).toMatchObject({ model: 'gpt-4o-mini', source: 'llm' });
    expect(Number(rel.evaluations)).toBe(QUESTIONS.length + 1);
    expect(rel.mean_score).toBeCloseTo(4 / 7, 4);
    expect(rel.pass_rate).toBeCloseTo(4 / 7, 4);
    expect(Number(rel.errors)).toBe(0);
    expect(rel.judge_cost_usd).toBeGreaterThan(0);
    const slow = rows.find((r) => r.evaluator === 'slow')!;
    expect(Number(slow.errors)).toBe(1);
    expect(slow.mean_score).toBeNull();
    const json = rows.find((r) => r.evaluator === 'is-json')!;
    expect(json).toMatchObject({ source: 'code', judge_cost_usd: 0 });
  });

  it.each([
    ['route', 'chat'],
    ['team', 'shop'],
  ] as const)("by %s: the scored call's, from llm_spans", async (by, value) => {
    const { query, query_params } = scoresQuery(db(), by, new Date(Date.now() - 3_600_000), new Date(Date.now() + 60_000));
    const rows = await store.rows<Record<string, string | number>>(query, query_params);
    const rel = rows.filter((r) => r.evaluator === 'relevance');
    expect(rel.map((r) => r[by])).toEqual([value]);
    expect(Number(rel[0].evaluations)).toBe(QUESTIONS.length + 1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../../schemas/migrate.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { agentRunFixture, type AgentRunFixture, type ExpectedRow } from '../fixtures/agent-run.js';
import { insertSpans } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

const COLUMNS = Object.keys(agentRunFixture('openinference').expected[0]) as (keyof ExpectedRow)[];
const FLOATS = new Set<keyof ExpectedRow>(['cost_prompt', 'cost_completion', 'cost_total', 'duration_ms', 'ttft_ms']);

function expectRows(actual: Record<string, unknown>[], expected: ExpectedRow[]) {
  expect(actual.map((r) => r.span_id).sort()).toEqual(expected.map((r) => r.span_id).sort());
  for (const want of expected) {
    const got = actual.find((r) => r.span_id === want.span_id)!;
    for (const col of COLUMNS) {
      const label = `${want.span_kind} ${want.model || want.tool_name} ${col}`;
      if (FLOATS.has(col) && want[col] !== null) expect(Number(got[col]), label).toBeCloseTo(Number(want[col]), 9);
      else expect(got[col], label).toEqual(want[col]);
    }
  }
}

const sum = (rows: ExpectedRow[], col: keyof ExpectedRow) => rows.reduce((n, r) => n + Number(r[col] ?? 0), 0);

// One engine per process (chDB): each convention gets its own database in it.
let engine: TempStore;
beforeAll(async () => {
  engine = await tempStore({ migrate: false });
});
afterAll(async () => engine?.destroy());

describe.each(['openinference', 'genai'] as const)('a fixture agent run written with %s attributes', (convention) => {
  let store: TempStore;
  let run: AgentRunFixture;
  beforeAll(async () => {
    store = Object.assign(Object.create(engine) as TempStore, { database: `tg_${convention}` });
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: store.database });
    run = agentRunFixture(convention);
    // three separate inserts in shuffled order, the rollups refreshed in between: late spans
    for (const batch of run.inserts) {
      await insertSpans(store, batch);
      await refreshRollups(store.client, store.database);
    }
  });

  it('gives exactly the expected llm_spans rows', async () => {
    const rows = await store.rows(`SELECT * FROM ${store.database}.llm_spans WHERE trace_id = {t:String}`, { t: run.traceId });
    expectRows(rows, run.expected);
  });

  it('gives one agent_runs row with the right counts, tokens, cost, duration and status', async () => {
    const rows = await store.rows<Record<string, unknown>>(`SELECT * FROM ${store.database}.agent_runs`);
    expect(rows).toHaveLength(1);
    const r = rows[0];
    const llm = run.expected.filter((e) => e.span_kind === 'LLM');
    expect({
      trace_id: r.trace_id,
      root_span_kind: r.root_span_kind,
      root_span_name: r.root_span_name,
      agent_name: r.agent_name,
      session_id: r.session_id,
      user_id: r.user_id,
      span_count: r.span_count,
      llm_calls: r.llm_calls,
      tool_calls: r.tool_calls,
      retriever_calls: r.retriever_calls,
      prompt_tokens: r.prompt_tokens,
      completion_tokens: r.completion_tokens,
      total_tokens: r.total_tokens,
      cache_read_tokens: r.cache_read_tokens,
      cache_write_tokens: r.cache_write_tokens,
      reasoning_tokens: r.reasoning_tokens,
      error_count: r.error_count,
      status: r.status,
      models: r.models,
    }).toEqual({
      trace_id: run.traceId,
      root_span_kind: 'AGENT',
      root_span_name: 'invoke_agent researcher',
      agent_name: 'researcher',
      session_id: 'session-1',
      user_id: 'user-1',
      span_count: 7,
      llm_calls: 3,
      tool_calls: 2,
      retriever_calls: 1,
      prompt_tokens: sum(llm, 'prompt_tokens'),
      completion_tokens: sum(llm, 'completion_tokens'),
      total_tokens: sum(llm, 'total_tokens'),
      cache_read_tokens: sum(llm, 'cache_read_tokens'),
      cache_write_tokens: sum(llm, 'cache_write_tokens'),
      reasoning_tokens: sum(llm, 'reasoning_tokens'),
      error_count: 1,
      status: 'Error',
      models: ['claude-sonnet-4-20250514', 'gpt-4o', 'gpt-4o-mini-2024-07-18'],
    });
    expect(Number(r.cost_total)).toBeCloseTo(sum(llm, 'cost_total'), 12);
    expect(Number(r.duration_ms)).toBeCloseTo(run.durationMs, 6);
    expect(new Date(`${String(r.start_time)}Z`).getTime()).toBe(run.startMs);
  });

  it('gives usage rollups whose sums equal the raw spans', async () => {
    const db = store.database;
    const [usage] = await store.rows<Record<string, number>>(
      `SELECT sum(calls) AS calls, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
              sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(reasoning_tokens) AS reasoning_tokens,
              sum(cost_total) AS cost_total, sum(streaming_calls) AS streaming_calls,
              quantileTDigestMerge(1)(latency_ms_state) AS max_latency, quantileTDigestMerge(0.5)(ttft_ms_state) AS ttft
       FROM ${db}.usage_minutely`,
    );
    const [raw] = await store.rows<Record<string, number>>(
      `SELECT count() AS calls, countIf(status_code = 'Error') AS errors, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
              sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(reasoning_tokens) AS reasoning_tokens,
              sum(cost_total) AS cost_total, countIf(streaming) AS streaming_calls, max(duration_ms) AS max_latency, 150 AS ttft
       FROM ${db}.llm_spans WHERE counted`,
    );
    expect(Number(raw.calls)).toBe(3);
    for (const k of Object.keys(raw)) expect(Number(usage[k]), k).toBeCloseTo(Number(raw[k]), 9);
    const byModel = await store.rows<{ model: string; calls: string; service_name: string; provider: string }>(
      `SELECT model, provider, service_name, sum(calls) AS calls FROM ${db}.usage_minutely GROUP BY model, provider, service_name ORDER BY model`,
    );
    expect(byModel.map((r) => [r.model, r.provider, r.service_name, Number(r.calls)])).toEqual([
      ['claude-sonnet-4-20250514', 'anthropic', 'test-app', 1],
      ['gpt-4o', 'openai', 'test-app', 1],
      ['gpt-4o-mini-2024-07-18', 'openai', 'test-app', 1],
    ]);
  });
});

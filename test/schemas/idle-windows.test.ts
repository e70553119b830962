import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUsageParams, queryUsage } from '../../common/usage.js';
import { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { refreshStopped } from '../helpers/rollup-calls.js';
import { agentSpan, gatewaySpan, insertSpans, llmSpan, newTraceId, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * The decider's and the rollups' windows move on while idle (0081): the last inserts before a
 * pause leave every window once a run of each refresh that started 30 s after them has completed,
 * though no run writes anything. Until such a run, time alone closes nothing. The figures stay
 * exact throughout, and a late span reopens what it touches.
 */
const db = 'tracegate';
let store: TempStore;

const OPEN = {
  fresh: 'count_once_fresh',
  minutes: 'usage_minutely_open',
  hours: 'usage_hourly_open',
  days: 'usage_daily_open',
  runs: 'agent_runs_open',
} as const;

async function openCounts(): Promise<Record<keyof typeof OPEN, number>> {
  const [r] = await store.rows<Record<string, string>>(
    `SELECT ${Object.entries(OPEN)
      .map(([k, v]) => `(SELECT count() FROM ${db}.${v}) AS ${k}`)
      .join(', ')}`,
  );
  return Object.fromEntries(Object.keys(OPEN).map((k) => [k, Number(r[k])])) as Record<keyof typeof OPEN, number>;
}

/** What every reader counts for the test's model: calls and prompt tokens. */
async function figures(): Promise<Record<string, unknown>> {
  const [r] = await store.rows<Record<string, string>>(
    `SELECT (SELECT count() FROM ${db}.llm_spans WHERE model = 'gpt-idle' AND counted) AS spans_calls,
            (SELECT sum(prompt_tokens) FROM ${db}.llm_spans WHERE model = 'gpt-idle' AND counted) AS spans_prompt,
            (SELECT sum(calls) FROM ${db}.usage_minutely WHERE model = 'gpt-idle') AS minutely_calls,
            (SELECT sum(calls) FROM ${db}.usage_hourly WHERE model = 'gpt-idle') AS hourly_calls,
            (SELECT sum(calls) FROM ${db}.usage_daily WHERE model = 'gpt-idle') AS daily_calls,
            (SELECT sum(llm_calls) FROM ${db}.agent_runs WHERE has(models, 'gpt-idle')) AS run_calls`,
  );
  const [usage] = await queryUsage(store.client, db, parseUsageParams({ since: '3d', by: 'model', model: 'gpt-idle' }));
  return { ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])), usage_calls: usage?.calls ?? 0, usage_prompt: usage?.prompt_tokens ?? 0 };
}

describe('windows that move on while idle', () => {
  beforeAll(async () => {
    store = await tempStore();
    for (const v of REFRESHABLE_VIEWS) await store.client.command({ query: `SYSTEM STOP VIEW ${db}.${v}` });
  });
  afterAll(async () => store?.destroy());

  it('closes every window after a completed run 30 s on, writing nothing, and stays exact', { timeout: 120_000 }, async () => {
    const at = Date.now() - 60_000;
    // two calls through the gateway under one agent span: one run
    const agent = agentSpan({ traceId: newTraceId(), agentName: 'idle-agent', start: ns(at - 10), durationMs: 3000 });
    const call = (i: number, t: number, appOnly = false) => {
      const app = llmSpan({ traceId: agent.traceId, parentSpanId: agent.spanId, model: 'gpt-idle', usage: { prompt: 100 + i, completion: 10 }, start: ns(t), durationMs: 300 });
      if (appOnly) return [app];
      const gateway = gatewaySpan({
        traceId: agent.traceId,
        parentSpanId: app.spanId,
        model: 'gpt-idle',
        usage: { prompt: 120 + i, completion: 20 },
        route: 'chat',
        team: 'team-idle',
        keyName: 'key-idle',
        start: ns(t + 5),
        durationMs: 200,
      });
      return [app, gateway];
    };
    const spans = [...call(1, at), ...call(2, at + 1000)];
    await insertSpans(store, [agent, ...spans]);
    await refreshStopped(store, db, ...REFRESHABLE_VIEWS);
    const exact = { spans_calls: 2, spans_prompt: 120 + 1 + 120 + 2, minutely_calls: 2, hourly_calls: 2, daily_calls: 2, run_calls: 2, usage_calls: 2, usage_prompt: 243 };
    expect(await figures()).toEqual(exact);
    const before = await openCounts();
    for (const [k, n] of Object.entries(before)) expect(n, k).toBeGreaterThan(0);
    const progress = await store.rows(`SELECT name, toString(max(through)) AS t FROM ${db}.refresh_progress GROUP BY name ORDER BY name`);

    // 31 s on with no run: time alone closes nothing
    await new Promise((r) => setTimeout(r, 31_000));
    expect(await openCounts()).toEqual(before);
    // one run of each, started more than 30 s after the inserts: each writes nothing, and closes its window
    await refreshStopped(store, db, ...REFRESHABLE_VIEWS);
    expect(await store.rows(`SELECT name, toString(max(through)) AS t FROM ${db}.refresh_progress GROUP BY name ORDER BY name`)).toEqual(progress);
    expect(await openCounts()).toEqual({ fresh: 0, minutes: 0, hours: 0, days: 0, runs: 0 });
    expect(await figures()).toEqual(exact);

    // a late span of the same run reopens its minute, hour, day and run, and is counted once
    // the decider has run (0082: a model call is read once decided)
    const [late] = call(3, at + 2000, true);
    await insertSpans(store, [late]);
    const reopened = await openCounts();
    for (const k of ['fresh', 'minutes', 'hours', 'days', 'runs'] as const) expect(reopened[k], k).toBeGreaterThan(0);
    expect(await figures()).toEqual(exact);
    await refreshStopped(store, db, 'llm_spans_count_once');
    expect(await figures()).toEqual({ ...exact, spans_calls: 3, spans_prompt: 243 + 103, minutely_calls: 3, hourly_calls: 3, daily_calls: 3, run_calls: 3, usage_calls: 3, usage_prompt: 346 });
  });
});

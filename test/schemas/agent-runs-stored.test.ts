import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshRollups } from '../../schemas/rollups.js';
import { gatewaySpan, insertSpans, llmSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * What the agent_runs refresh stores, not only what the view shows while a run is open: a
 * gateway span called without traceparent is a run of its own until the application's span
 * pairs with it; then its trace's stored run must be emptied (a zero row, which the view hides),
 * or it comes back as a second run of the call once the view's 30 s window has moved on.
 */
describe('agent_runs_data after a gateway trace joins the application run', () => {
  let store: TempStore;
  const db = 'tracegate';
  const text = 'the stored answer, streamed';
  const id = 'chatcmpl-stored-1';
  const at = Date.now() - 30_000;
  const app = llmSpan({
    model: 'gpt-stored-1',
    usage: { prompt: 7, completion: 3 },
    start: ns(at),
    durationMs: 900,
    serviceName: 'stored-app',
    attributes: { 'output.value': JSON.stringify({ id, object: 'chat.completion', choices: [{ message: { role: 'assistant', content: text } }] }), 'output.mime_type': 'application/json' },
  });
  const gateway = gatewaySpan({
    model: 'gpt-stored-1',
    usage: { prompt: 8, completion: 4 },
    route: 'chat',
    start: ns(at + 5),
    durationMs: 800,
    attributes: { 'gen_ai.response.id': id, 'tracegate.output.digest': createHash('sha256').update(text).digest('hex') },
  });

  beforeAll(async () => {
    store = await tempStore();
    // every stored version kept, as before a background merge reaches them
    await store.client.command({ query: `SYSTEM STOP MERGES ${db}.agent_runs_data` });
    // the gateway's span first, alone, and stored as a run of its own by a refresh
    await insertSpans(store, [gateway]);
    await refreshRollups(store.client, db);
    const [alone] = await store.rows(`SELECT span_count, llm_calls FROM ${db}.agent_runs_data FINAL WHERE trace_id = {t:String}`, { t: gateway.traceId });
    expect(Object.values(alone).map(Number)).toEqual([1, 1]);
    // then the application's, paired by response id
    await insertSpans(store, [app]);
    await refreshRollups(store.client, db);
    // and its refresh again while both traces are still open: the emptied run gets no new row,
    // so nothing else may be written for it either (0087's deleted twins were, and came out newest)
    await store.client.command({ query: `SYSTEM REFRESH VIEW ${db}.agent_runs_refresh` });
    await store.client.command({ query: `SYSTEM WAIT VIEW ${db}.agent_runs_refresh` });
  }, 60_000);
  afterAll(async () => store?.destroy());

  it("stores one run with the call, and empties the gateway trace's", async () => {
    const stored = await store.rows<{ trace_id: string; span_count: number; llm_calls: number }>(
      `SELECT trace_id, span_count, llm_calls FROM ${db}.agent_runs_data FINAL WHERE trace_id IN {t:Array(String)} ORDER BY trace_id = {a:String} DESC`,
      { t: [app.traceId, gateway.traceId], a: app.traceId },
    );
    expect(stored.map((r) => [r.trace_id, Number(r.span_count), Number(r.llm_calls)])).toEqual([
      [app.traceId, 2, 1],
      [gateway.traceId, 0, 0],
    ]);
    const [view] = await store.rows(`SELECT count() AS runs, sum(llm_calls) AS calls FROM ${db}.agent_runs WHERE trace_id IN {t:Array(String)}`, { t: [app.traceId, gateway.traceId] });
    expect(Object.values(view).map(Number)).toEqual([1, 1]);
  });
});

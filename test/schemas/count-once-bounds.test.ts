import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySpan, insertSpans, llmSpan, newSpanId, newTraceId, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * The count-once candidates are bounded by traffic, not by history (migration 0072): an id or an
 * answer digest that thousands of spans share, recent or old, never makes a read of llm_spans
 * gather them all, and pairing by id still works for a call among them.
 */
describe('count-once candidates under a flood of one id and one answer', () => {
  let store: TempStore;
  const db = 'tracegate';
  const MODEL = 'gpt-flood-1';
  const ID = 'chatcmpl-the-same-id';
  const DIGEST = 'd'.repeat(64);
  const N = 2500;

  const keyRow = (agoMs: number, origin: 'gateway' | 'app') => ({
    trace_id: newTraceId(),
    span_id: newSpanId(),
    parent_span_id: '',
    role: origin,
    service_name: 'flood',
    model: MODEL,
    response_id: ID,
    output_digest: DIGEST,
    session_id: '',
    user_id: '',
    team: '',
    key_name: '',
    timestamp: stamp(Date.now() - agoMs),
    inserted_at: stamp(Date.now() - agoMs),
  });
  const stamp = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

  beforeAll(async () => {
    store = await tempStore();
    // an OTLP sender repeating one response id and one answer digest: N keys of calls that started
    // 5 minutes ago (inside the ten minutes either side of the new spans, 0079; outside the
    // window), N of 20 minutes ago (inside the hour of inserts 0072 looks back, outside the ten
    // minutes) and N of two hours ago
    await store.client.insert({
      table: `${db}.call_keys_by_hour`,
      format: 'JSONEachRow',
      values: [5 * 60_000, 20 * 60_000, 7_200_000].flatMap((ago) => Array.from({ length: N }, () => keyRow(ago, 'gateway'))),
    });
    // the flood's gateway calls as spans, and one application span of the same id, stored now
    const t = Date.now() - 30_000;
    const flood = Array.from({ length: 50 }, (_, i) =>
      gatewaySpan({ model: MODEL, route: 'chat', start: ns(t + i), durationMs: 5, usage: { prompt: 1, completion: 1 }, attributes: { 'gen_ai.response.id': ID, 'tracegate.output.digest': DIGEST } }),
    );
    const app = llmSpan({
      model: MODEL,
      start: ns(t + 100),
      durationMs: 5,
      usage: { prompt: 1, completion: 1 },
      attributes: { 'output.value': JSON.stringify({ id: ID, object: 'chat.completion' }), 'output.mime_type': 'application/json' },
    });
    const before = Date.now();
    await insertSpans(store, [...flood, app]);
    // the decider's first decision after these inserts: the window starts 30 s before it
    for (let i = 0; i < 100; i++) {
      const [p] = await store.rows<{ ms: string }>(`SELECT toUnixTimestamp64Milli(max(through)) AS ms FROM ${db}.refresh_progress WHERE name = 'count_once'`);
      if (Number(p.ms) >= before) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // decided spans leave the candidates' starting set (0078): one more application span of the
    // id, not decided (the decider stopped), starts them again
    await store.client.command({ query: `SYSTEM STOP VIEW ${db}.llm_spans_count_once` });
    await insertSpans(store, [{ ...app, spanId: newSpanId() }]);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
  });

  it('gathers at most 1,000 spans of one id and of one (model, digest), none from more than ten minutes before the new spans', async () => {
    const [c] = await store.rows<{ n: string; by_id: string; by_digest: string; old: string }>(
      `SELECT count() AS n, countIf(response_id = {id:String}) AS by_id, countIf(output_digest = {d:String}) AS by_digest,
              countIf(timestamp < now() - INTERVAL 12 MINUTE) AS old
       FROM ${db}.count_once_candidates`,
      { id: ID, d: DIGEST },
    );
    // the span not decided is a candidate by its trace; the id rule and the digest rule each add
    // at most their 1,000 latest (the flood's and keys of 5 minutes ago), none of 20 minutes or two
    // hours ago
    expect(Number(c.old)).toBe(0);
    expect(Number(c.by_id)).toBeGreaterThanOrEqual(1000);
    expect(Number(c.n)).toBeLessThanOrEqual(2 + 2 * 1000);
    const [stored] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.call_keys_by_hour WHERE response_id = {id:String}`, { id: ID });
    expect(Number(stored.n)).toBe(3 * N + 52);
  });

  it('the application span of the flood id is uncounted (paired), and every gateway span counts once', async () => {
    const [r] = await store.rows<{ app: string; gw: string }>(
      `SELECT countIf(origin = 'app' AND counted) AS app, countIf(origin = 'gateway' AND counted) AS gw FROM ${db}.llm_spans WHERE model = {m:String}`,
      { m: MODEL },
    );
    expect(Number(r.app)).toBe(0);
    expect(Number(r.gw)).toBe(50);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TG } from '../../common/semconv.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import type { SpanRecord } from '../../collector/model.js';
import { attemptSpan, decideCalls, gatewaySpan, insertSpans, llmSpan, ns } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * gateway_call_outcomes (0086): one row per gateway call span with retries, a fallback, circuit
 * skips or a policy refusal, from spans stored before the migration (read once by it) and after
 * (at insert); a span exported twice is one row; the columns the dashboards filter on are those
 * llm_spans has for the same span.
 */
describe('gateway_call_outcomes', () => {
  let store: TempStore;
  const db = 'tracegate';
  const settings = { ...DEFAULT_SCHEMA_SETTINGS, database: db };
  const t0 = Date.now() - 300_000;
  let n = 0;
  const call = (attributes: Record<string, string>, o: Parameters<typeof gatewaySpan>[0] = {}) =>
    gatewaySpan({
      model: 'gpt-4o-mini',
      provider: 'openai',
      usage: { prompt: 10, completion: 5 },
      start: ns(t0 + 1000 * n++),
      route: 'chat',
      team: 'search',
      keyName: 'search-prod',
      ...o,
      attributes,
    });
  const retried = (at: number) => call({ [TG.RETRIES]: String(at) }, { attempts: at + 1 });
  const refused = (reason: string, scope: string) => call({ [TG.POLICY_REASON]: reason, [TG.POLICY_SCOPE]: scope, [TG.REFUSAL]: reason });
  const stored = {
    retried: retried(2),
    fallback: call({}, { fallbackUsed: true, attempts: 2, team: 'ads', keyName: 'ads-batch', model: 'claude-3-5-haiku', provider: 'anthropic' }),
    plain: call({ [TG.RETRIES]: '0' }, { fallbackUsed: false, attempts: 1 }),
  };
  const later = {
    skipped: call({ [TG.CIRCUIT_SKIPPED]: 'openai-primary,openai-eu' }),
    refused: refused('monthly_budget', 'team'),
    judge: call({ [TG.PURPOSE]: 'evaluator', [TG.RETRIES]: '1' }),
    plain: call({}),
  };
  // an upstream attempt's span carries tracegate.retries and the gateway's origin but no kind
  const attempt = attemptSpan({ traceId: stored.retried.traceId, parentSpanId: stored.retried.spanId, start: ns(t0), attributes: { [TG.RETRIES]: '1' } });
  // an application cannot write the gateway's outcomes: tracegate.origin is not the gateway's
  const app = llmSpan({ model: 'gpt-4o-mini', start: ns(t0), serviceName: 'search-app', attributes: { [TG.RETRIES]: '3', [TG.FALLBACK_USED]: 'true' } });
  let applied: number[] = [];

  const outcomes = () =>
    store.rows<{ span_id: string; retries: number; fallback_used: boolean; circuit_skipped: string[]; policy_reason: string; policy_scope: string; n: number }>(
      `SELECT span_id, retries, fallback_used, circuit_skipped, policy_reason, policy_scope, count() OVER (PARTITION BY span_id) AS n
       FROM ${db}.gateway_call_outcomes FINAL ORDER BY span_id`,
    );
  const ids = (spans: SpanRecord[]) => spans.map((s) => s.spanId).sort();

  beforeAll(async () => {
    store = await tempStore({ migrate: false });
    await migrate(
      store.client,
      settings,
      loadMigrations().filter((m) => m.version < 86),
    );
    await insertSpans(store, [...Object.values(stored), attempt, app]);
    applied = (await migrate(store.client, settings)).applied.map((m) => m.version);
    await insertSpans(store, Object.values(later));
    // the same spans again, as an exporter that did not hear the collector's answer sends them
    await insertSpans(store, [later.skipped, later.refused, stored.retried]);
    await decideCalls(store);
  });
  afterAll(async () => store?.destroy());

  it('applies 0086 to a store made before it', () => {
    expect(applied).toContain(86);
  });

  it('holds the calls with an outcome, stored before the migration or after, each once', async () => {
    const rows = await outcomes();
    expect(rows.map((r) => r.span_id)).toEqual(ids([stored.retried, stored.fallback, later.skipped, later.refused, later.judge]));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const by = Object.fromEntries(rows.map((r) => [r.span_id, r]));
    expect(by[stored.retried.spanId]).toMatchObject({ retries: 2, fallback_used: false, circuit_skipped: [], policy_reason: '' });
    expect(by[stored.fallback.spanId]).toMatchObject({ retries: 0, fallback_used: true });
    expect(by[later.skipped.spanId]).toMatchObject({ circuit_skipped: ['openai-primary', 'openai-eu'] });
    expect(by[later.refused.spanId]).toMatchObject({ policy_reason: 'monthly_budget', policy_scope: 'team' });
  });

  it('has the route, model, team, key and counted llm_spans has for the same call', async () => {
    const cols = 'span_id, route, model, team, key_name, toUInt8(counted) AS counted';
    const mine = await store.rows(`SELECT ${cols} FROM ${db}.gateway_call_outcomes FINAL ORDER BY span_id`);
    const theirs = await store.rows(`SELECT ${cols} FROM ${db}.llm_spans WHERE span_id IN (SELECT span_id FROM ${db}.gateway_call_outcomes) ORDER BY span_id`);
    expect(mine).toEqual(theirs);
    expect(mine.find((r) => r.span_id === later.judge.spanId)).toMatchObject({ counted: 0 });
    expect(mine.find((r) => r.span_id === stored.fallback.spanId)).toMatchObject({ model: 'claude-3-5-haiku', team: 'ads', key_name: 'ads-batch', counted: 1 });
  });
});

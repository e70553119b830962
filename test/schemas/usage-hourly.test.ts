import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../../collector/model.js';
import { parseUsageParams, queryUsage, type UsageParamsInput } from '../../common/usage.js';
import { USAGE_RANGE } from '../../dashboards/boards/common.js';
import { expandQuery } from '../../dashboards/macros.js';
import { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { refreshStopped, ROLLUP_SUMS, rollupCall } from '../helpers/rollup-calls.js';
import { insertSpans } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * usage_hourly (0077) is exact at every moment: at each step below (nothing refreshed, every
 * rollup refreshed, late spans in old hours, pairs not yet decided, each refresh run alone)
 * usage_hourly holds what usage_minutely holds summed by hour, and the usage query and the
 * dashboards' range panels, reading whole hours from usage_hourly, answer what they answer from
 * usage_minutely alone, for windows with partial hours at both edges. The scheduled refreshes
 * are stopped: each step runs the ones it names.
 */
const HOUR = 3_600_000;
const MODELS = ['gpt-hourly-a', 'gpt-hourly-b'];
const TEAMS = ['team-h1', 'team-h2'];

const db = 'tracegate';
let store: TempStore;
/** A minute past the top of the hour, so that data spans hours whatever the clock says. */
const now = Math.floor(Date.now() / HOUR) * HOUR + 31 * 60_000 + 17_000;
const queryNow = new Date(now + 60_000);

const call = (at: number, i: number, opts: { appOnly?: boolean; gatewayAfterMs?: number; model?: string } = {}) => rollupCall(at, i, { models: MODELS, teams: TEAMS, ...opts });

async function exec(query: string): Promise<void> {
  await store.client.command({ query });
}

/** Runs these refreshable views now, in the order given, each stopped again after. */
const refresh = (...views: (typeof REFRESHABLE_VIEWS)[number][]) => refreshStopped(store, db, ...views);

const BY_HOUR = `hour, service_name, span_kind, model, provider, route, team, key_name`;

/**
 * As 30 s without inserts would leave the store: the decider's and the rollups' windows start
 * now, so that the hours stored are read as stored (the spans inserted after this are in them).
 */
async function settle(): Promise<void> {
  await exec(`INSERT INTO ${db}.refresh_progress SELECT name, now64(3) + INTERVAL 30 SECOND FROM (SELECT arrayJoin(['count_once', 'usage_minutely', 'usage_hourly']) AS name)`);
}

/** usage_hourly against usage_minutely by hour, key by key. */
async function expectHourlyExact(step: string): Promise<void> {
  const hourly = await store.rows(`SELECT ${BY_HOUR}, ${ROLLUP_SUMS} FROM ${db}.usage_hourly GROUP BY ${BY_HOUR} ORDER BY ${BY_HOUR}`);
  const minutely = await store.rows(`SELECT toStartOfHour(minute) AS hour, ${BY_HOUR.slice(6)}, ${ROLLUP_SUMS} FROM ${db}.usage_minutely GROUP BY ${BY_HOUR} ORDER BY ${BY_HOUR}`);
  expect(hourly, step).toEqual(minutely);
}

const iso = (ms: number) => new Date(ms).toISOString();
/** Windows with partial hours at one or both edges, whole hours only, and too short for hours. */
const WINDOWS: UsageParamsInput[] = [
  { since: '8h' },
  { since: '3h' },
  { since: '150m' },
  { since: '90m' },
  { since: iso(now - 5 * HOUR - 13 * 60_000 - 7_000), until: iso(now - HOUR - 29 * 60_000 + 30_000) },
  { since: iso(Math.floor(now / HOUR) * HOUR - 4 * HOUR), until: iso(Math.floor(now / HOUR) * HOUR - HOUR) },
];
const GROUPS = ['model,team', 'hour', 'day,model', 'service,kind,provider,route,key', ''];
const FILTERED: UsageParamsInput[] = [
  { since: '7h', by: 'hour,team', model: MODELS[0] },
  { since: '6h', by: 'model', team: TEAMS[1], key: 'key-2' },
];

/** A dashboard's range panel over USAGE_RANGE against the same panel over usage_minutely. */
async function expectRangeAgrees(step: string): Promise<void> {
  const panel = (source: string) => `SELECT model, team, sum(calls) AS calls, sum(total_tokens) AS tokens, round(sum(cost_total), 9) AS cost,
    round(quantileTDigestMerge(0.95)(latency_ms_state), 3) AS p95 FROM ${source} WHERE $__timeFilter(minute) GROUP BY model, team ORDER BY model, team`;
  const ranges = [
    { fromMs: now - 8 * HOUR, toMs: now + 60_000 },
    { fromMs: now - 5 * HOUR - 13 * 60_000 - 7_000, toMs: now - HOUR - 29 * 60_000 + 30_000 },
    { fromMs: Math.floor(now / HOUR) * HOUR - 4 * HOUR, toMs: Math.floor(now / HOUR) * HOUR - HOUR },
  ];
  for (const range of ranges) {
    const ctx = { ...range, intervalMs: 60_000, variables: {} };
    const hourly = await store.rows(expandQuery(panel(USAGE_RANGE), ctx));
    expect(hourly.length, step).toBeGreaterThan(0);
    expect(hourly, `${step}: ${JSON.stringify(range)}`).toEqual(await store.rows(expandQuery(panel('usage_minutely'), ctx)));
  }
}

/** The usage query through usage_hourly against the same query over usage_minutely alone. */
async function expectPathsAgree(step: string): Promise<void> {
  const cases = [...WINDOWS.flatMap((w) => GROUPS.map((by) => ({ ...w, by }))), ...FILTERED];
  for (const input of cases) {
    const params = parseUsageParams({ ...input, limit: 10_000 });
    const hourly = await queryUsage(store.client, db, params, queryNow);
    const minutely = await queryUsage(store.client, db, params, queryNow, { hourly: false });
    expect(hourly, `${step}: ${JSON.stringify(input)}`).toEqual(minutely);
  }
}

describe('usage_hourly, exact at every moment', () => {
  beforeAll(async () => {
    store = await tempStore();
    // the dashboards' data source names tables bare
    await exec(`USE ${db}`);
    for (const v of REFRESHABLE_VIEWS) await exec(`SYSTEM STOP VIEW ${db}.${v}`);
  });
  afterAll(async () => store?.destroy());

  it('agrees with usage_minutely before any refresh and after every refresh', async () => {
    // calls over seven hours, some on the edges of hours and of the windows above
    const spans: SpanRecord[] = [];
    for (let i = 0; i < 120; i++) spans.push(...call(now - 7 * HOUR + i * 3.5 * 60_000, i, { appOnly: i % 5 === 0 }));
    for (let h = 1; h <= 6; h++) spans.push(...call(Math.floor(now / HOUR) * HOUR - h * HOUR - 200, 200 + h), ...call(Math.floor(now / HOUR) * HOUR - h * HOUR + 100, 300 + h));
    await insertSpans(store, spans);
    await expectHourlyExact('nothing refreshed');
    await expectPathsAgree('nothing refreshed');
    await refresh(...REFRESHABLE_VIEWS);
    await expectHourlyExact('every rollup refreshed');
    await expectPathsAgree('every rollup refreshed');
    await settle();
    const [stored] = await store.rows<{ hours: string; calls: string }>(`SELECT uniqExact(hour) AS hours, sum(calls) AS calls FROM ${db}.usage_hourly_stored`);
    expect(Number(stored.hours)).toBeGreaterThanOrEqual(7);
    expect(Number(stored.calls)).toBe(120 + 12);
    await expectHourlyExact('every hour stored');
    await expectPathsAgree('every hour stored');
    await expectRangeAgrees('every hour stored');
  });

  it('agrees while late spans and undecided pairs touch old hours', async () => {
    // late: an application's span five hours back, and the gateway's span of a stored application span
    const [late] = call(now - 5 * HOUR + 7 * 60_000, 400, { appOnly: true });
    const [app, gateway] = call(now - 4 * HOUR - 60_000 * 3, 401);
    await insertSpans(store, [app]);
    await refresh(...REFRESHABLE_VIEWS);
    await settle();
    await insertSpans(store, [late, gateway]);
    // the hours of the late span, of the gateway's span and of its pair's application span are open, the others stored
    const [open] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.usage_hourly_open`);
    expect(Number(open.n)).toBe(2);
    const [pending] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.count_once_pending WHERE app_span_id = {s:String}`, { s: app.spanId });
    expect(Number(pending.n)).toBe(1);
    await expectHourlyExact('late spans, a pair not decided');
    await expectPathsAgree('late spans, a pair not decided');
    await expectRangeAgrees('late spans, a pair not decided');
    await refresh('llm_spans_count_once');
    await expectHourlyExact('decided, rollups not refreshed');
    await refresh('usage_minutely_refresh');
    await expectHourlyExact('minutely refreshed, hourly not');
    await expectPathsAgree('minutely refreshed, hourly not');
    await refresh('usage_hourly_refresh');
    await expectHourlyExact('hourly refreshed');
    await settle();
    await expectPathsAgree('settled again');
    await expectRangeAgrees('settled again');
  });

  it("keeps exact when a minute's only call goes to the next hour's gateway span before the minutely refresh runs", async () => {
    // the application's span in the last second of an hour, decided alone (no gateway span yet)
    // and stored by the hourly refresh while its minute is open; its gateway span starts in the
    // next hour
    const top = Math.floor(now / HOUR) * HOUR - 2 * HOUR;
    const [app, gateway] = call(top - 500, 500, { gatewayAfterMs: 1000, model: 'gpt-hourly-edge' });
    await insertSpans(store, [app]);
    await refresh('llm_spans_count_once', 'usage_hourly_refresh');
    await expectHourlyExact('application span stored hourly only');
    await insertSpans(store, [gateway]);
    await expectHourlyExact('its gateway span, pair not decided');
    await refresh('llm_spans_count_once', 'usage_minutely_refresh');
    await expectHourlyExact('decided and minutely refreshed: the minute holds no call and no row');
    // 30 s on, as the decider's and the minutely refresh's next runs would leave them: their
    // windows no longer hold the pair, so the minute is closed without a row of usage_minutely_data
    // rewritten (the hourly refresh has not run since)
    await exec(`INSERT INTO ${db}.refresh_progress VALUES ('count_once', now64(3) + INTERVAL 31 SECOND), ('usage_minutely', now64(3) + INTERVAL 31 SECOND)`);
    const [open] = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.usage_minutely_open`);
    expect(Number(open.n)).toBe(0);
    await expectHourlyExact('the minute closed');
    await expectPathsAgree('decided and minutely refreshed');
    await refresh(...REFRESHABLE_VIEWS);
    await expectHourlyExact('every rollup refreshed');
    // the application's key in the first hour is stored again, emptied
    const stored = await store.rows<{ hour: string; team: string; calls: string }>(
      `SELECT toString(hour) AS hour, team, calls FROM ${db}.usage_hourly_data FINAL WHERE model = 'gpt-hourly-edge' ORDER BY hour`,
    );
    expect(stored.map((r) => [r.team, Number(r.calls)])).toEqual([
      ['', 0],
      ['team-h1', 1],
    ]);
  });
});

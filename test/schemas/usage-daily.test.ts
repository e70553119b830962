import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../../collector/model.js';
import { nothingOpen, parseUsageParams, queryUsage, type UsageParamsInput } from '../../common/usage.js';
import { USAGE_RANGE } from '../../dashboards/boards/common.js';
import { expandQuery } from '../../dashboards/macros.js';
import { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { refreshStopped, ROLLUP_SUMS, rollupCall } from '../helpers/rollup-calls.js';
import { insertSpans } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/**
 * usage_daily (0080) is exact at every moment: at each step below (decided and no rollup refreshed,
 * every rollup refreshed, late spans in old days, pairs not yet decided, and the hourly and daily levels open
 * for different spans because their refreshes ran apart) usage_daily holds what usage_minutely
 * holds summed by day, and the usage query and the dashboards' range panels, reading whole days
 * from usage_daily, answer what they answer from usage_minutely alone, for windows with partial
 * days and hours at both edges. The scheduled refreshes are stopped: each step runs the ones it
 * names. Days are the engine's (UTC here).
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MODELS = ['gpt-daily-a', 'gpt-daily-b'];
const TEAMS = ['team-d1', 'team-d2'];

const db = 'tracegate';
let store: TempStore;
const now = Date.now();
const today = Math.floor(now / DAY) * DAY;
const queryNow = new Date(now + 60_000);

const call = (at: number, i: number, opts: { appOnly?: boolean; gatewayAfterMs?: number; model?: string } = {}) => rollupCall(at, i, { models: MODELS, teams: TEAMS, ...opts });

async function exec(query: string): Promise<void> {
  await store.client.command({ query });
}

/** Runs these refreshable views now, in the order given, each stopped again after. */
const refresh = (...views: (typeof REFRESHABLE_VIEWS)[number][]) => refreshStopped(store, db, ...views);

/** As 30 s without inserts would leave these refreshes: their windows start now. */
async function settle(...names: string[]): Promise<void> {
  await exec(`INSERT INTO ${db}.refresh_progress SELECT name, now64(3) + INTERVAL 30 SECOND FROM (SELECT arrayJoin(['${names.join("', '")}']) AS name)`);
}
const ALL = ['count_once', 'usage_minutely', 'usage_hourly', 'usage_daily'];

const BY_DAY = `day, service_name, span_kind, model, provider, route, team, key_name`;

/** usage_daily against usage_minutely by day, key by key. */
async function expectDailyExact(step: string): Promise<void> {
  const daily = await store.rows(`SELECT ${BY_DAY}, ${ROLLUP_SUMS} FROM ${db}.usage_daily GROUP BY ${BY_DAY} ORDER BY ${BY_DAY}`);
  const minutely = await store.rows(`SELECT toStartOfDay(minute) AS day, ${BY_DAY.slice(5)}, ${ROLLUP_SUMS} FROM ${db}.usage_minutely GROUP BY ${BY_DAY} ORDER BY ${BY_DAY}`);
  expect(daily.length, step).toBeGreaterThan(0);
  expect(daily, step).toEqual(minutely);
}

const iso = (ms: number) => new Date(ms).toISOString();
/** Windows with partial days and hours at one or both edges, whole days only, and too short for days. */
const WINDOWS: UsageParamsInput[] = [
  { since: '5d' },
  { since: '47h' },
  { since: iso(today - 3 * DAY - 5 * HOUR - 13 * 60_000 - 7_000), until: iso(today - 17 * HOUR - 29 * 60_000 + 30_000) },
  { since: iso(today - 3 * DAY), until: iso(today - DAY) },
];
const GROUPS = ['model,team', 'day,model', 'service,kind,provider,route,key', ''];
const FILTERED: UsageParamsInput[] = [
  { since: '4d', by: 'day,team', model: MODELS[0] },
  { since: '3d', by: 'model', team: TEAMS[1], key: 'key-2' },
  // grouped by hour: whole hours, no days
  { since: '4d', by: 'hour,team' },
];

/** The usage query through usage_daily against the same query over usage_minutely alone. */
async function expectPathsAgree(step: string): Promise<void> {
  const cases = [...WINDOWS.flatMap((w) => GROUPS.map((by) => ({ ...w, by }))), ...FILTERED];
  for (const input of cases) {
    const params = parseUsageParams({ ...input, limit: 10_000 });
    const daily = await queryUsage(store.client, db, params, queryNow);
    const minutely = await queryUsage(store.client, db, params, queryNow, { hourly: false });
    expect(daily, `${step}: ${JSON.stringify(input)}`).toEqual(minutely);
  }
}

/** A dashboard's range panel over USAGE_RANGE against the same panel over usage_minutely. */
async function expectRangeAgrees(step: string): Promise<void> {
  const panel = (source: string) => `SELECT model, team, sum(calls) AS calls, sum(total_tokens) AS tokens, round(sum(cost_total), 9) AS cost,
    round(quantileTDigestMerge(0.95)(latency_ms_state), 3) AS p95 FROM ${source} WHERE $__timeFilter(minute) GROUP BY model, team ORDER BY model, team`;
  const ranges = [
    { fromMs: now - 5 * DAY, toMs: now + 60_000 },
    { fromMs: today - 3 * DAY - 5 * HOUR - 13 * 60_000 - 7_000, toMs: today - 17 * HOUR - 29 * 60_000 + 30_000 },
    { fromMs: today - 3 * DAY, toMs: today - DAY },
  ];
  for (const range of ranges) {
    const ctx = { ...range, intervalMs: 60_000, variables: {} };
    const daily = await store.rows(expandQuery(panel(USAGE_RANGE), ctx));
    expect(daily.length, step).toBeGreaterThan(0);
    expect(daily, `${step}: ${JSON.stringify(range)}`).toEqual(await store.rows(expandQuery(panel('usage_minutely'), ctx)));
  }
}

async function expectAll(step: string): Promise<void> {
  await expectDailyExact(step);
  await expectPathsAgree(step);
  await expectRangeAgrees(step);
}

const count = async (query: string) => Number((await store.rows<{ n: string }>(query))[0].n);

describe('usage_daily, exact at every moment', () => {
  beforeAll(async () => {
    store = await tempStore();
    // the dashboards' data source names tables bare
    await exec(`USE ${db}`);
    for (const v of REFRESHABLE_VIEWS) await exec(`SYSTEM STOP VIEW ${db}.${v}`);
  });
  afterAll(async () => store?.destroy());

  it('agrees with usage_minutely before any refresh, after every refresh and once every day is stored', async () => {
    // calls over four and a half days, some on the edges of days, of hours and of the windows above
    const spans: SpanRecord[] = [];
    for (let i = 0; i < 120; i++) spans.push(...call(now - 4.5 * DAY + i * 54 * 60_000, i, { appOnly: i % 5 === 0 }));
    for (let d = 1; d <= 4; d++) spans.push(...call(today - d * DAY - 200, 200 + d), ...call(today - d * DAY + 100, 300 + d));
    await insertSpans(store, spans);
    // the calls are read once decided (0082): the decider alone, no rollup refreshed
    await refresh('llm_spans_count_once');
    await expectDailyExact('decided, no rollup refreshed');
    await expectPathsAgree('decided, no rollup refreshed');
    await refresh(...REFRESHABLE_VIEWS);
    await expectAll('every rollup refreshed');
    await settle(...ALL);
    expect(await count(`SELECT count() AS n FROM ${db}.usage_daily_open`)).toBe(0);
    const [stored] = await store.rows<{ days: string; calls: string }>(`SELECT uniqExact(day) AS days, sum(calls) AS calls FROM ${db}.usage_daily_stored`);
    // four whole days back, and the parts of today and of the day four and a half days back
    expect(Number(stored.days)).toBeGreaterThanOrEqual(5);
    expect(Number(stored.calls)).toBe(120 + 8);
    await expectAll('every day stored');
  });

  it('agrees while late spans and undecided pairs touch old days', async () => {
    const [late] = call(today - 3 * DAY + 7 * HOUR, 400, { appOnly: true });
    const [app, gateway] = call(today - 2 * DAY + 5 * HOUR, 401);
    await insertSpans(store, [app]);
    await refresh(...REFRESHABLE_VIEWS);
    await settle(...ALL);
    await insertSpans(store, [late, gateway]);
    // the days of the late span and of the pair are open, the others stored
    expect(await count(`SELECT count() AS n FROM ${db}.usage_daily_open`)).toBe(2);
    expect(await count(`SELECT count() AS n FROM ${db}.count_once_pending WHERE app_span_id = '${app.spanId}'`)).toBe(1);
    await expectAll('late spans, a pair not decided');
    await refresh('llm_spans_count_once');
    await expectDailyExact('decided, rollups not refreshed');
    await refresh('usage_minutely_refresh', 'usage_hourly_refresh');
    await expectAll('minutely and hourly refreshed, daily not');
    await refresh('usage_daily_refresh');
    await settle(...ALL);
    await expectAll('settled again');
  });

  it('agrees when an hour is open for usage_hourly while its day is stored, and the reverse', async () => {
    // the daily refresh runs after a late span and the hourly one does not: its hour is read
    // live by the daily refresh and stays open for usage_hourly
    const [late] = call(today - 2 * DAY + 9 * HOUR + 17 * 60_000, 500, { appOnly: true, model: 'gpt-daily-late' });
    await insertSpans(store, [late]);
    await refresh('llm_spans_count_once', 'usage_minutely_refresh', 'usage_daily_refresh');
    await settle('count_once', 'usage_minutely', 'usage_daily');
    expect(await count(`SELECT count() AS n FROM ${db}.usage_daily_open`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM ${db}.usage_hourly_open`)).toBe(1);
    expect(await count(`SELECT sum(calls) AS n FROM ${db}.usage_daily_stored WHERE model = 'gpt-daily-late'`)).toBe(1);
    await expectAll('hour open, day stored');
    // and the reverse: the hourly refresh runs after another late span, the daily one does not
    const [later] = call(today - 3 * DAY + 20 * HOUR + 3 * 60_000, 501, { appOnly: true, model: 'gpt-daily-late' });
    await insertSpans(store, [later]);
    await refresh('llm_spans_count_once', 'usage_minutely_refresh', 'usage_hourly_refresh');
    await settle('count_once', 'usage_minutely', 'usage_hourly');
    expect(await count(`SELECT count() AS n FROM ${db}.usage_hourly_open`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM ${db}.usage_daily_open`)).toBe(1);
    await expectAll('day open, hour stored');
    await refresh(...REFRESHABLE_VIEWS);
    await settle(...ALL);
    await expectAll('every rollup refreshed');
    expect(await count(`SELECT sum(calls) AS n FROM ${db}.usage_daily_stored WHERE model = 'gpt-daily-late'`)).toBe(2);
  });

  it('reads the stored rows alone when nothing is open, and the open minutes as soon as anything is', async () => {
    await refresh(...REFRESHABLE_VIEWS);
    await settle(...ALL);
    expect(await nothingOpen(store.client, db)).toBe(true);
    // nothing open: the stored rows alone answer what the whole query answers, on every path
    const cases = [...WINDOWS.flatMap((w) => GROUPS.map((by) => ({ ...w, by }))), ...FILTERED];
    for (const input of cases) {
      const params = parseUsageParams({ ...input, limit: 10_000 });
      for (const hourly of [true, false])
        expect(await queryUsage(store.client, db, params, queryNow, { hourly, closed: true }), JSON.stringify(input)).toEqual(
          await queryUsage(store.client, db, params, queryNow, { hourly, closed: false }),
        );
    }
    // a late call, decided, opens its minute, hour and day; no rollup has it yet
    const [late] = call(today - 2 * DAY + 3 * HOUR + 11 * 60_000, 600, { appOnly: true, model: 'gpt-daily-open' });
    await insertSpans(store, [late]);
    await refresh('llm_spans_count_once');
    expect(await nothingOpen(store.client, db)).toBe(false);
    const params = parseUsageParams({ since: '5d', by: 'model', model: 'gpt-daily-open', limit: 100 });
    const read = await queryUsage(store.client, db, params, queryNow);
    expect(read.map((r) => r.calls)).toEqual([1]);
    expect(read).toEqual(await queryUsage(store.client, db, params, queryNow, { closed: false }));
    // what the check is for: the stored rows alone do not have it yet
    expect(await queryUsage(store.client, db, params, queryNow, { closed: true })).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUsageQuery, parseUsageParams, queryUsage, resolveWindow, usageColumns, usageCsv, UsageParamsError } from '../../common/usage.js';
import { tempStore, type TempStore } from '../helpers/store.js';
import { insertSpans, refreshViews, seedSpans } from '../cli/seed.js';

const NOW = new Date('2025-08-01T12:00:00Z');

function problems(input: unknown): string[] {
  try {
    const p = parseUsageParams(input);
    resolveWindow(p, NOW);
  } catch (err) {
    if (err instanceof UsageParamsError) return err.problems;
    throw err;
  }
  return [];
}

describe('usage parameters', () => {
  it.each([
    [{}, []],
    [{ since: '15m', by: 'model,provider' }, []],
    [{ since: '2025-07-01T00:00:00Z', until: '2025-07-02' }, []],
    [{ since: '30d', by: ['team', 'key'], limit: '50' }, []],
    [{ by: '' }, []],
    [{ since: '1x' }, ['since: a window like 15m, 1h, 24h, 7d or 30d, or an ISO date-time such as 2025-08-01T00:00:00Z']],
    [{ by: 'model,colour' }, [expect.stringMatching(/^by\.1: must be among model, provider/)]],
    [{ by: 'model,model' }, ['by: lists a dimension twice']],
    [{ limit: 0 }, [expect.stringMatching(/^limit:/)]],
    [{ model: '' }, ['model: must not be empty']],
    [{ bogus: 1 }, [expect.stringMatching(/bogus/)]],
    [{ since: '1x', by: 'x', limit: -1 }, [expect.stringMatching(/^since:/), expect.stringMatching(/^by\.0:/), expect.stringMatching(/^limit:/)]],
    [{ since: '2025-08-02T00:00:00Z' }, ['since: must be before until (or now)']],
    [{ since: '1000d' }, ['since: the window may span at most 400 days']],
  ])('%j → %j', (input, expected) => {
    expect(problems(input)).toEqual(expected);
  });

  it('binds every value and writes only whitelisted identifiers', () => {
    const evil = "x' OR 1=1 --";
    const { query, query_params } = buildUsageQuery('tracegate', parseUsageParams({ by: 'team,hour', model: evil, team: 'a\\b' }), NOW);
    expect(query).not.toContain(evil);
    expect(query).toContain('model = {f_model:String}');
    expect(query).toContain('toStartOfHour(minute) AS hour');
    expect(query_params).toMatchObject({ f_model: evil, f_team: 'a\\b', start: '2025-08-01T11:00:00.000Z', end: '2025-08-01T12:00:00.000Z', limit: 100 });
    expect(() => buildUsageQuery('tracegate; DROP', parseUsageParams({}), NOW)).toThrow(/identifier/);
  });

  it.each([
    [{ since: '30d', by: 'model,team' }, true],
    [{ since: '2h', by: 'hour' }, true],
    [{ since: '30d', by: 'minute,model' }, false],
    [{ since: '90m', by: 'model' }, false],
  ])('%j reads usage_hourly: %s', (input, hourly) => {
    const { query } = buildUsageQuery('tracegate', parseUsageParams(input), NOW);
    expect(query.includes('tracegate.usage_hourly')).toBe(hourly);
    expect(query).toContain('tracegate.usage_minutely');
    expect(buildUsageQuery('tracegate', parseUsageParams(input), NOW, { hourly: false }).query).not.toContain('usage_hourly');
  });

  it.each([
    [{ since: '30d', by: 'model,team' }, true],
    [{ since: '2d', by: 'day,key' }, true],
    [{ since: '30d', by: 'hour,model' }, false],
    [{ since: '30d', by: 'minute' }, false],
    [{ since: '47h', by: 'model' }, false],
  ])('%j reads usage_daily: %s', (input, daily) => {
    const { query } = buildUsageQuery('tracegate', parseUsageParams(input), NOW);
    expect(query.includes('tracegate.usage_daily_data')).toBe(daily);
    expect(buildUsageQuery('tracegate', parseUsageParams(input), NOW, { daily: false }).query).not.toContain('usage_daily');
  });

  it('writes CSV with a header even without rows', () => {
    expect(usageCsv([], usageColumns({ by: ['model'] }))).toBe('model,calls,errors,prompt_tokens,completion_tokens,cache_read_tokens,total_tokens,cost_usd,latency_p50_ms,latency_p95_ms\n');
    expect(usageCsv([{ model: 'a,"b"', calls: 1 }], ['model', 'calls'])).toBe('model,calls\n"a,""b""",1\n');
  });
});

describe('usage from the rollups', () => {
  let store: TempStore;

  beforeAll(async () => {
    store = await tempStore();
    await insertSpans(store.client, store.database, seedSpans(Date.now()));
    await refreshViews(store.client, store.database);
  });
  afterAll(async () => store?.destroy());

  it('counts each call once, by model', async () => {
    const rows = await queryUsage(store.client, store.database, parseUsageParams({ since: '1h', by: 'model' }));
    const byModel = Object.fromEntries(rows.map((r) => [r.model, r]));
    // the app's LLM spans and the gateway's spans of the same two calls count once
    expect(byModel['tracegate-sim-1']).toMatchObject({ calls: 2, prompt_tokens: 300, completion_tokens: 70, total_tokens: 370, errors: 0 });
    expect(byModel['gpt-4o-mini']).toMatchObject({ calls: 2, prompt_tokens: 1010, completion_tokens: 100, errors: 1 });
    expect(Number(byModel['gpt-4o-mini'].cost_usd)).toBeGreaterThan(0);
    expect(Number(byModel['tracegate-sim-1'].latency_p95_ms)).toBeGreaterThan(0);
    // ordered by cost, most expensive first
    expect(rows[0].model).toBe('gpt-4o-mini');
  });

  it('groups by team and key, and filters', async () => {
    const rows = await queryUsage(store.client, store.database, parseUsageParams({ since: '1h', by: 'team,key', provider: 'openai' }));
    expect(rows).toEqual([expect.objectContaining({ team: 'billing', key: 'k-billing', calls: 2 })]);
  });

  it('gives totals without a group-by, and nothing for an empty window', async () => {
    const total = await queryUsage(store.client, store.database, parseUsageParams({ since: '1h', by: '' }));
    expect(total).toEqual([expect.objectContaining({ calls: 4, total_tokens: 1480 })]);
    const old = await queryUsage(store.client, store.database, parseUsageParams({ since: '2024-01-01T00:00:00Z', until: '2024-01-02T00:00:00Z', by: '' }));
    expect(old).toEqual([]);
  });

  it('buckets by hour', async () => {
    const rows = await queryUsage(store.client, store.database, parseUsageParams({ since: '2h', by: 'hour' }));
    expect(rows.reduce((n, r) => n + Number(r.calls), 0)).toBe(4);
    expect(String(rows[0].hour)).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:00:00$/);
  });
});
